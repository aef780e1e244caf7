"""Test data for the ticket store (importable as `ticket_support`): alerts and a hand-moved clock."""

from __future__ import annotations

from alerts.alert import Alert
from detectors.anomaly import Anomaly


class Clock:
    """An injected clock: epoch ms that a test moves by hand."""

    def __init__(self, start_ms: int = 1_700_000_000_000):
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def make_alert(key_subject: str = "pump-7", *, scope: str = "device", code: str = "E214",
               detector: str = "device_fault_rate", state: str = "firing", severity: str = "major",
               count: int = 1, t_ms: int = 1_700_000_000_000, flapping: bool = False,
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
    service = TicketService(engine, None, None, None, now=lambda: 1_700_000_000_000)
    if barrier is not None:
        barrier.wait()
    try:
        return [service.apply(make_alert(count=i + 1)).id for i in range(calls)]
    finally:
        engine.dispose()
