"""What devices can make the detector engine hold is bounded (devices, metric names per device, models),
silent devices leave it, and after a crash the state restored from the last checkpoint catches up on
the records InfluxDB stored since (the session's real InfluxDB)."""

from __future__ import annotations

from detectors.engine import DetectorEngine, EngineConfig
from detectors.warmup import catch_up
from influx.client import InfluxClient
from ingest.points import line_for
from ingest.records import Cohort, DeviceEvent, DeviceMeta, Telemetry

HOUR = 3_600_000
T0 = 1_767_225_600_000  # on an hour boundary
PX = Cohort("PX-200", "2.1.0", "s1")


def test_past_max_devices_the_longest_silent_are_dropped():
    engine = DetectorEngine(EngineConfig(max_devices=100, lateness_s=0))
    for i in range(250):
        engine.process(Telemetry(f"d{i}", T0 + i * 1000, 1, {"t": 1.0}, PX))
    assert len(engine.devices) <= 100 and engine.evicted >= 150
    assert "d249" in engine.devices and "d0" not in engine.devices
    engine.tick(T0 + 2 * HOUR)  # windows that counted dropped devices still close
    assert len(engine.devices) <= 100


def test_a_device_silent_for_the_idle_period_leaves_when_a_window_closes():
    engine = DetectorEngine(EngineConfig(idle_ms=3 * HOUR, lateness_s=0))
    engine.process(Telemetry("quiet", T0, 1, {"t": 1.0}, PX))
    for h in range(1, 6):
        engine.process(Telemetry("busy", T0 + h * HOUR, h, {"t": 1.0}, PX))
    assert set(engine.devices) == {"busy"} and engine.evicted == 1


def test_a_devices_telemetry_detector_tracks_at_most_max_metrics_names():
    engine = DetectorEngine(EngineConfig(max_metrics=5, telemetry_grace=1))
    for i in range(50):
        engine.process(Telemetry("bomb", T0 + i * 1000, i, {f"m{i}_{k}": float(k) for k in range(3)}, PX))
    state = engine.devices["bomb"]
    assert len(state.metrics) == 5 and set(state.telemetry.stds()) == state.metrics


def test_pooled_model_statistics_are_bounded():
    engine = DetectorEngine(EngineConfig(max_models=10))
    for i in range(40):
        engine.process(DeviceMeta(f"d{i}", T0, f"model-{i}", "1", "s"))
        engine.process(Telemetry(f"d{i}", T0 + 1000, 1, {"t": 1.0}, Cohort(f"model-{i}", "1", "s")))
    assert len(engine.telemetry_protos) <= 11  # ten models and the shared entry past the bound


def test_after_a_crash_the_checkpoint_catches_up_from_influxdb(stack, influx_db, tmp_path):
    client = InfluxClient(stack.influx_url, influx_db)
    live = DetectorEngine(EngineConfig(lateness_s=0))
    before = [DeviceEvent("p1", T0 + i * 60_000, i, "fault", "E214", "major", "{}", PX) for i in range(3)]
    after = [DeviceEvent("p1", T0 + (10 + i) * 60_000, 10 + i, "fault", "E214", "major", "{}", PX) for i in range(4)]
    client.write("\n".join(line_for(r) for r in before + after), precision="ns")
    for record in before:
        live.process(record)
    live.checkpoint(tmp_path / "state.pkl")  # ... then the process dies having seen `after` too
    restored = DetectorEngine(EngineConfig(lateness_s=0))
    assert restored.restore(tmp_path / "state.pkl") and restored.latest_ms == before[-1].ts_ms
    catch_up(restored, client, until_ms=T0 + HOUR - 1)
    faults = sum(slot[0] for slot in restored.devices["p1"].pending.values())
    assert faults == len(before) + len(after)  # each stored fault counted once
    assert restored.latest_ms == after[-1].ts_ms
