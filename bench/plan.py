"""How much each benchmark does in quick and full mode."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    reps: int
    drain_n: int  # main drain (1,000 devices), paired with the raw subscriber
    sweep_n: int  # receive-maximum / batch-size sweep
    sweep: tuple[tuple[int, int], ...]  # (FAULTLINE_MQTT_MAX_INFLIGHT, FAULTLINE_BATCH_SIZE) besides the default
    shared_n: int
    shared_reps: int
    rss_n: int  # drain from 10,000 devices
    rss_reps: int
    live_n: int
    live_reps: int
    detector_sizes: tuple[tuple[int, float], tuple[int, int], tuple[int, int]]  # simulated, faults, telemetry
    latency_incidents: int  # 0: skipped
    api_tickets: int
    api_seconds: float
    api_reps: int
    sim_messages: int
    peer: bool
    kill_n: int  # kill -9 of one worker of --workers 2 under load: messages published
    kill_rate: float  # their rate, msg/s
    kill_reps: int
    peer_n: int = 100_000  # the peer's scenario A backlog
    peer_inflight: int = 20000  # Faultline's receive maximum against the tuned Node-RED flow (the sweep's best)


QUICK = Plan("quick", reps=3, drain_n=10_000, sweep_n=0, sweep=(), shared_n=10_000, shared_reps=1,
             rss_n=10_000, rss_reps=1, live_n=0, live_reps=0,
             detector_sizes=((200, 1), (300, 24), (50, 300)), latency_incidents=0,
             api_tickets=20_000, api_seconds=1.0, api_reps=1, sim_messages=15_000, peer=False,
             kill_n=12_000, kill_rate=4000, kill_reps=1)

FULL = Plan("full", reps=3, drain_n=100_000, sweep_n=40_000,
            sweep=((1000, 5000), (5000, 5000), (20000, 5000), (20000, 20000)), shared_n=150_000, shared_reps=3,
            rss_n=40_000, rss_reps=3, live_n=40_000, live_reps=3,
            detector_sizes=((1000, 2), (1000, 48), (200, 500)), latency_incidents=6,
            api_tickets=100_000, api_seconds=4.0, api_reps=3, sim_messages=100_000, peer=True,
            kill_n=60_000, kill_rate=5000, kill_reps=3)
