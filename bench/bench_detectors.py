"""Detector throughput and state size (a benchmark, not a test).

Standalone: ``.venv/bin/python bench/bench_detectors.py``. Builds the records
first (so only the detectors are timed), runs each measurement three times
and prints the medians as JSON, with the targets as ratios:

* ``detector_fault_rate_eps``: the simulator's ``healthy`` fleet without
  telemetry (1,000 devices, 2 days: log lines, events, meta, status, decoded
  beforehand) through `DetectorEngine.process`, hourly windows closing and
  cohort scans included; target 200,000/s. ``detector_fault_rate_eps_heavy``
  is a synthetic stream with 25x the faults (about 8 per device-day), where
  window closes and tail sums weigh more;
* ``detector_telemetry_rps``: telemetry rows of 8 metrics through
  `DetectorEngine.process`; target 20,000/s. Its devices are young (1,500
  readings each, against a youth of 2,880): ``detector_telemetry_rps_grown``
  runs the same rows with devices grown after 60 readings
  (``telemetry_young=60``), where each metric's short-term level is scored too;
* ``detector_state_bytes_per_device``: pickled device table per device,
  telemetry run plus fault-rate run (an upper bound for a device carrying
  both); limit 16 KB.
"""

from __future__ import annotations

import json
import pickle
import random
import statistics
import time

from detectors.engine import DetectorEngine, EngineConfig
from ingest.records import Cohort, DeviceEvent, DeviceMeta, DeviceStatus, LogLine, Telemetry

T0 = 1_767_225_600_000
CONFIG = EngineConfig(telemetry_grace=60)
GROWN = EngineConfig(telemetry_grace=60, telemetry_young=60)  # devices grown after 60 readings: level scored
METRICS = ("temp_c", "vibration_rms", "current_a", "pressure_bar", "flow_lpm", "rpm", "voltage_v", "humidity")


def fleet(devices: int) -> list:
    return [DeviceMeta(f"d{i:05d}", T0, model=f"M{i % 3}", firmware=f"1.{i % 4}", site=f"s{i % 12}")
            for i in range(devices)]


def fault_records(devices: int, hours: int, seed: int = 1) -> list:
    """Per device-hour: activity, and a fault (event + ERROR line) at about 8 per device-day."""
    rng = random.Random(seed)
    out = fleet(devices)
    for h in range(hours):
        for i in range(devices):
            d, t = f"d{i:05d}", T0 + h * 3_600_000 + i
            cohort = Cohort(f"M{i % 3}", f"1.{i % 4}", f"s{i % 12}")
            out.append(DeviceStatus(d, t, True))
            for _ in range(rng.randrange(0, 5) if rng.random() < 0.3 else 0):
                out.append(DeviceEvent(d, t + 1, None, "fault", "E214", "major", "{}", cohort))
                out.append(LogLine(d, t + 1, None, "ERROR", "motor", "E214", "overcurrent", cohort))
    return out


def simulated_records(devices: int, days: float) -> list:
    from ingest.decode import decode_message
    from simulators.fleet import Simulation

    sim = Simulation("healthy", devices=devices, seed=1, duration_s=days * 86400, start_ms=T0,
                     topics=("logs", "events", "meta", "status"))
    out = []
    for m in sim.messages():
        out += decode_message(m.topic, m.payload, m.ts_ms)
    return out


def telemetry_records(devices: int, readings: int, seed: int = 2) -> list:
    rng = random.Random(seed)
    out = fleet(devices)
    for k in range(readings):
        for i in range(devices):
            x = {m: round(10.0 * j + rng.gauss(0, 1), 3) for j, m in enumerate(METRICS)}
            out.append(Telemetry(f"d{i:05d}", T0 + k * 60_000 + i, None, x))
    return out


def timed(records: list, config: EngineConfig) -> tuple[float, DetectorEngine]:
    engine = DetectorEngine(config)
    start = time.perf_counter()
    for r in records:
        engine.process(r)
    return len(records) / (time.perf_counter() - start), engine


def main() -> None:
    simulated = simulated_records(1000, 2)
    faults = fault_records(1000, 24 * 7)
    rows = telemetry_records(200, 1500)
    fault_eps, heavy_eps, tele_rps, grown_rps, state = [], [], [], [], []
    for _ in range(3):
        fault_eps.append(timed(simulated, CONFIG)[0])
        eps, engine = timed(faults, CONFIG)
        heavy_eps.append(eps)
        rps, tele_engine = timed(rows, CONFIG)
        tele_rps.append(rps)
        grown_rps.append(timed(rows, GROWN)[0])
        # a device carrying both: telemetry state (8 metrics) plus a full week of fault-rate state
        state.append(len(pickle.dumps(tele_engine.devices)) / len(tele_engine.devices)
                     + len(pickle.dumps(engine.devices)) / len(engine.devices))
    out = {
        "detector_fault_rate_eps": round(statistics.median(fault_eps)),
        "detector_fault_rate_eps_heavy": round(statistics.median(heavy_eps)),
        "detector_telemetry_rps": round(statistics.median(tele_rps)),
        "detector_telemetry_rps_grown": round(statistics.median(grown_rps)),
        "detector_state_bytes_per_device": round(max(state)),
        "fault_rate_records": len(simulated),
        "fault_rate_records_heavy": len(faults),
        "telemetry_rows": len(rows) - 200,
    }
    out["ratios"] = {"fault_rate_vs_200k": round(out["detector_fault_rate_eps"] / 200_000, 2),
                     "telemetry_vs_20k": round(out["detector_telemetry_rps"] / 20_000, 2),
                     "telemetry_grown_vs_20k": round(out["detector_telemetry_rps_grown"] / 20_000, 2),
                     "state_vs_16KB": round(out["detector_state_bytes_per_device"] / 16_384, 3)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
