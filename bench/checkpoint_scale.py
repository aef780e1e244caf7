"""Per-device state at a million device ids (a benchmark, not a test).

Standalone: ``.venv/bin/python -m bench.checkpoint_scale [--devices N]``.
Every device id sends one meta and one telemetry reading (8 metrics) and,
once the window closes, has fault-rate state too: the most state a device
costs the detector engine. Prints as JSON: the RSS the engine adds, per
device; the checkpoint's size and the time to write and read it; the same
after the devices fall silent for ``device_idle_days`` (eviction); and the
RSS of ingest's per-device maps (ledger streams and metric names) for the
same ids, without SQL behind them.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

from detectors.engine import DetectorEngine, EngineConfig
from ingest.fields import FieldCatalogue
from ingest.ledger import Ledger
from ingest.records import Cohort, DeviceMeta, Telemetry

T0 = 1_767_225_600_000
HOUR = 3_600_000
METRICS = ("temp_c", "vibration_rms", "current_a", "pressure_bar", "flow_lpm", "rpm", "voltage_v", "humidity")


def rss_mb() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def checkpoint_figures(engine: DetectorEngine, path: Path) -> dict:
    t = time.perf_counter()
    engine.checkpoint(path)
    written = time.perf_counter() - t
    t = time.perf_counter()
    DetectorEngine(engine.config).restore(path)
    return {"checkpoint_mb": round(path.stat().st_size / 1_048_576, 1), "write_s": round(written, 2),
            "restore_s": round(time.perf_counter() - t, 2)}


def detector_state(devices: int, work: Path) -> dict:
    before = rss_mb()
    config = EngineConfig(max_devices=devices, idle_ms=7 * 24 * HOUR, lateness_s=0)
    engine = DetectorEngine(config)
    for i in range(devices):
        cohort = Cohort(f"PX-{i % 5}", f"2.{i % 3}.0", f"site-{i % 50}")
        engine.process(DeviceMeta(f"dev-{i:07d}", T0, cohort.model, cohort.firmware, cohort.site))
        engine.process(Telemetry(f"dev-{i:07d}", T0 + i % HOUR, 1, {m: float(i % 97) for m in METRICS}, cohort))
    engine.tick(T0 + 2 * HOUR)  # the window closes: every device gets fault-rate state
    added = rss_mb() - before
    out = {"devices": len(engine.devices), "rss_mb": round(added), "bytes_per_device": round(added * 1_048_576 / devices),
           **checkpoint_figures(engine, work / "state.pkl")}
    engine.process(Telemetry("dev-late", T0 + 8 * 24 * HOUR, 1, {"temp_c": 1.0}, Cohort("PX-0", "2.0.0", "site-0")))
    out["after_idle"] = {"devices": len(engine.devices), "evicted": engine.evicted,
                         **checkpoint_figures(engine, work / "state-idle.pkl")}
    return out


def ingest_maps(devices: int) -> dict:
    before = rss_mb()
    ledger, catalogue = Ledger(), FieldCatalogue(None)
    for i in range(devices):
        ledger.observe(f"dev-{i:07d}", "telemetry", 1, T0)
        catalogue.admit(f"dev-{i:07d}", "PX-0", METRICS, T0)
        catalogue.take_new()
    added = rss_mb() - before
    return {"rss_mb": round(added), "bytes_per_device": round(added * 1_048_576 / devices)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    devices = parser.parse_args().devices
    with tempfile.TemporaryDirectory() as tmp:
        result = {"detectors": detector_state(devices, Path(tmp)), "ingest_ledger_and_names": ingest_maps(devices)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
