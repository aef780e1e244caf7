"""Device fault-rate detectors compared on synthetic per-window fault counts.

Standalone: ``.venv/bin/python bench/compare_fault_rate.py``. 1,000 devices
x 30 days of hourly windows, Poisson faults at 0.3 per device-day; 20 devices
step to ``--factor`` times their rate at day 15. Prints JSON per detector:
incidents detected, median delay in windows, false alarms per 1,000
device-days, pickled state bytes per device.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import statistics

from river import drift

from detectors.device_rate import DeviceFaultRate


def poisson(rng: random.Random, mu: float) -> int:
    k, p, u = 0, pow(2.718281828459045, -mu), rng.random()
    s = p
    while u > s:
        k += 1
        p *= mu / k
        s += p
    return k


class AdwinAlarm:
    """ADWIN on the count stream; an alarm is a detected change upwards."""

    def __init__(self):
        self.adwin = drift.ADWIN()

    def step(self, k: int) -> bool:
        before = self.adwin.estimation
        self.adwin.update(k)
        return self.adwin.drift_detected and self.adwin.estimation > before


class SurpriseAlarm:
    def __init__(self, threshold: float):
        self.det = DeviceFaultRate()
        self.threshold = threshold

    def step(self, k: int) -> bool:
        x = {"count": k, "prior_rate": 0.0125}
        alarm = self.det.score_one(x) >= self.threshold
        self.det.learn_one(x)
        return alarm


def run(make, devices: int, days: int, factor: float, seed: int) -> dict:
    rng = random.Random(seed)
    windows, step_at, base = days * 24, days * 12, 0.3 / 24
    faulty = set(range(20))
    delays, false_alarms, state = [], 0, 0
    for d in range(devices):
        det = make()
        found = None
        for w in range(windows):
            mu = base * factor if (d in faulty and w >= step_at) else base
            if det.step(poisson(rng, mu)):
                if d in faulty and w >= step_at:
                    found = w - step_at if found is None else found
                else:
                    false_alarms += 1
        if d in faulty and found is not None:
            delays.append(found)
        state += len(pickle.dumps(det))
    return {
        "detected": f"{len(delays)}/{len(faulty)}",
        "median_delay_windows": statistics.median(delays) if delays else None,
        "false_alarms_per_1000_device_days": round(false_alarms / (devices * days) * 1000, 3),
        "state_bytes_per_device": state // devices,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--factor", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    a = parser.parse_args()
    out = {
        "adwin": run(AdwinAlarm, a.devices, a.days, a.factor, a.seed),
        "surprise_6": run(lambda: SurpriseAlarm(6.0), a.devices, a.days, a.factor, a.seed),
        "surprise_5": run(lambda: SurpriseAlarm(5.0), a.devices, a.days, a.factor, a.seed),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
