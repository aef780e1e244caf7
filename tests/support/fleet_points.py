"""Detections for the live dashboard test, and the real alert stage run on them.

The real detectors raise nothing on a two-hour fleet of thirty devices (their
fault-rate windows need more history than that), so the detections are made
here, as `Anomaly` records shaped like the detectors' output. From there on
the real code runs: `detectors.sink.AnomalySink` writes them to
``anomalies``, and `alerts.manager.AlertManager` turns them into transitions
written to ``alert_events``, on a clock that follows the simulated time.
"""

from __future__ import annotations

from detectors.anomaly import Anomaly

WINDOW_S = 300.0


def detections(device: str, model: str, firmware: str, site: str, start_ms: int, end_ms: int) -> list[Anomaly]:
    """A telemetry episode in the first third that ends, and a fault-rate incident over the last third."""
    span = end_ms - start_ms
    step = int(WINDOW_S * 1000)
    cohort = f"model={model},firmware={firmware}"
    out = []
    for i, ts in enumerate(range(start_ms + span // 4, start_ms + span // 4 + 4 * step, step)):
        out.append(Anomaly("telemetry", "device", device, "", ts, start_ms + span // 4, 14.0 + i, 58.0 + i, 44.0, 10.0,
                           WINDOW_S, "temp_c 14 standard deviations above this pump's learned level",
                           model=model, firmware=firmware, site=site))
    for i, ts in enumerate(range(start_ms + 2 * span // 3, end_ms - step, step)):
        out.append(Anomaly("device_fault_rate", "device", device, "E214", ts, start_ms + 2 * span // 3, 7.0 + i * 0.2,
                           3.0 + i * 0.1, 0.3, 6.0, WINDOW_S, f"{3 + i * 0.1:.1f} E214 faults/h against a learned 0.3/h",
                           model=model, firmware=firmware, site=site))
        out.append(Anomaly("cohort_fault_rate", "cohort", cohort, "E214", ts, start_ms + 2 * span // 3, 9.0 + i * 0.3,
                           0.8, 0.2, 5.0, WINDOW_S, "faults per active device 4x the rest of the fleet",
                           attribution=f"firmware={firmware}", devices=(device,), model=model, firmware=firmware))
    return sorted(out, key=lambda a: a.ts_ms)


def run_detection_stages(anomalies: list[Anomaly], settings, client, end_ms: int) -> list[str]:
    """Write the anomalies and run the alert stage over them; returns the keys firing at the end."""
    from alerts.config import AlertConfig
    from alerts.events import InfluxEventWriter
    from alerts.manager import AlertManager
    from alerts.store import SqlAlertStore
    from detectors.sink import AnomalySink
    from database import make_engine, migrate

    sink = AnomalySink(client)
    sink.write(anomalies)
    assert sink.flush() and sink.written == len(anomalies)
    migrate(settings.sql_url)
    engine = make_engine(settings.sql_url)
    clock = [anomalies[0].ts_ms]
    manager = AlertManager(AlertConfig.from_settings(settings), SqlAlertStore(engine), InfluxEventWriter(client),
                           now=lambda: clock[0])
    pending = list(anomalies)
    # The alert stage ticks every few seconds; the run stops just after the
    # last detection, where the simulated fleet's time ends.
    for now in range(anomalies[0].ts_ms, min(end_ms, anomalies[-1].ts_ms + 60_000), 10_000):
        clock[0] = now
        while pending and pending[0].ts_ms <= now:
            manager.observe(pending.pop(0))
        manager.tick()
    firing = sorted(a.key for a in manager.active() if a.state == "firing")
    engine.dispose()
    return firing
