"""Live ingest: one `faultline ingest` process (``--workers 1``) while the simulator publishes as fast as it can.

The simulator's messages (1,000 devices, telemetry, logs, events, meta,
status; QoS 1) are generated and counted before the clock starts. Lag is the
time from the broker's last acknowledgement to the publisher until InfluxDB
holds every telemetry point, log line and event; the publisher's rate is the
offered load.
"""

from __future__ import annotations

import itertools
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.services import FAULTLINE, Child, Services, faultline_env
from simulators.fleet import Simulation
from simulators.publisher import publish

MEASUREMENTS = {"telemetry": "telemetry", "logs": "device_logs", "events": "device_events"}
READY = r"faultline ingest: subscribed to"


class Fixed:
    """A fixed list of simulator messages, published like a simulation."""

    def __init__(self, sim: Simulation, messages: list):
        self.sim, self.scenario, self.list = sim, sim.scenario, messages

    def messages(self):
        return iter(self.list)

    def will_devices(self):
        return self.sim.will_devices()


@dataclass
class LiveRun:
    messages: int
    publish_rate: float | None = None
    lag_s: float | None = None
    stored: int = 0
    expected: int = 0
    error: str | None = None

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def expected_points(messages) -> dict[str, int]:
    out = dict.fromkeys(MEASUREMENTS.values(), 0)
    for m in messages:
        kind = m.topic.rsplit("/", 1)[-1]
        if kind in MEASUREMENTS:
            doc = orjson.loads(m.payload)
            out[MEASUREMENTS[kind]] += len(doc) if isinstance(doc, list) else 1
    return out


def live_once(services: Services, work: Path, n: int, devices: int = 1000, timeout: float = 300.0) -> LiveRun:
    services.fresh_broker()
    db = services.new_database("live")
    sim = Simulation("healthy", devices=devices, seed=int(time.time()) % 1000, duration_s=86400,
                     start_ms=int(time.time() * 1000) - 2 * 86_400_000)
    msgs = [m for m in itertools.islice(sim.messages(), n) if not m.will]
    want = expected_points(msgs)
    run = LiveRun(len(msgs), expected=sum(want.values()))
    cid = f"fl-live-{uuid.uuid4().hex[:6]}"
    child = Child([FAULTLINE, "ingest", "--workers", "1"], faultline_env(services, db, work / cid, cid),
                  work / f"{cid}.log").start()
    try:
        child.wait_for(READY)
        summary = publish(Fixed(sim, msgs), services.mosquitto.url, speed=0)
        t_last = time.time()
        run.publish_rate = summary.rate
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = {m: services.count(db, m) for m in want}
            run.stored = sum(c or 0 for c in counts.values())
            if all((counts[m] or 0) >= want[m] for m in want):
                run.lag_s = time.time() - t_last
                break
            time.sleep(0.1)
        else:
            run.error = f"{run.stored} of {run.expected} points stored after {timeout:.0f}s"
    finally:
        child.stop()
        services.drop_database(db)
        shutil.rmtree(work / cid, ignore_errors=True)
    return run
