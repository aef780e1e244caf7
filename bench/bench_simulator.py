"""Simulator throughput: QoS 1 publish rate to a real Mosquitto, and generation speed.

Standalone: starts its own Mosquitto on a free port in a temp dir, publishes
a 1,000-device fleet as fast as the broker acknowledges (QoS 1, bounded in
flight), three times, and prints the medians as JSON. Also measures how many
simulated device-days per second ``Simulation.messages()`` produces for
events+logs only and with telemetry every 60 s.

    .venv/bin/python bench/bench_simulator.py [--devices 1000] [--messages 200000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from faultline.stack import Mosquitto, free_port
from simulators.fleet import Simulation
from simulators.publisher import publish

START = 1_764_000_000_000
TARGET_RATE = 5_000  # msg/s, QoS 1, 1,000 devices


class Capped:
    """The first ``n`` messages of a simulation (keeps the will devices of the run)."""

    def __init__(self, sim: Simulation, n: int):
        self.sim, self.n, self.scenario = sim, n, sim.scenario

    def messages(self):
        return itertools.islice(self.sim.messages(), self.n)

    def will_devices(self):
        return self.sim.will_devices()


def publish_rate(url: str, devices: int, messages: int) -> float:
    sim = Simulation("healthy", devices=devices, seed=1, duration_s=86400, start_ms=START)
    summary = publish(Capped(sim, messages), url, speed=0)
    return summary.rate


def generation_speed(devices: int, days: float, topics) -> float:
    sim = Simulation("firmware-regression", devices=devices, seed=1, duration_s=days * 86400,
                     start_ms=START, topics=topics)
    started = time.perf_counter()
    for _ in sim.messages():
        pass
    return devices * days / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp), free_port())
        broker.start()
        try:
            rates = [publish_rate(broker.url, args.devices, args.messages) for _ in range(args.runs)]
        finally:
            broker.stop()
    result = {
        "simulator_publish_rate": round(statistics.median(rates)),
        "simulator_publish_rates": [round(r) for r in rates],
        "simulator_publish_target": TARGET_RATE,
        "simulator_publish_ratio": round(statistics.median(rates) / TARGET_RATE, 2),
        "sim_device_days_per_s_events_logs": round(generation_speed(args.devices, 3, {"events", "logs"})),
        "sim_device_days_per_s_telemetry_60s": round(generation_speed(args.devices, 0.5, None), 1),
    }
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
