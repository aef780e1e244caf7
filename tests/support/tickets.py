"""Test data for the ticket store: alerts as the alert stage hands them over, and a concurrent worker."""

from __future__ import annotations

from alerts.alert import Alert
from detectors.anomaly import Anomaly

ALERT_MS = 1_700_000_000_000  # when `make_alert`'s alerts happen unless told; the tickets tests' clocks start there


def make_alert(key_subject: str = "pump-7", *, scope: str = "device", code: str = "E214",
               detector: str = "device_fault_rate", state: str = "firing", severity: str = "major",
               count: int = 1, t_ms: int = ALERT_MS, flapping: bool = False,
               parent_key: str | None = None, silenced_by: str | None = None, devices: tuple = (),
               model: str = "PX-200", firmware: str = "2.1.0", site: str = "sh-03",
               attribution: str = "") -> Alert:
    anomaly = Anomaly(detector, scope, key_subject, code, t_ms, t_ms - 60_000, 8.0, 12.0, 2.0, 5.0, 300.0,
                      f"{code} rate 12/5min against 2 expected", attribution, devices, model, firmware, site)
    return Alert(anomaly.key, detector, scope, key_subject, code, severity, state, t_ms - 60_000, t_ms,
                 t_ms if state == "resolved" else None, count, flapping, anomaly, parent_key, silenced_by)


def apply_many(url: str, calls: int, barrier=None) -> list[int]:
    """Worker for concurrency tests: apply `calls` repeats of one alert; the ticket ids seen."""
    from database import make_engine
    from tickets.service import TicketService

    engine = make_engine(url)
    service = TicketService(engine, None, None, None, now=lambda: ALERT_MS)
    if barrier is not None:
        barrier.wait()
    try:
        return [service.apply(make_alert(count=i + 1)).id for i in range(calls)]
    finally:
        engine.dispose()
