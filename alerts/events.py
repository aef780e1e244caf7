"""``alert_events``: every alert transition as a point in InfluxDB.

Tags ``alert`` (the key), ``severity``, ``state`` (``firing``/``resolved``);
fields ``text``, ``ticket`` (may be empty) and ``subject``. Grafana draws
them as annotations. The manager hands lines to an injected `EventWriter`.
"""

from __future__ import annotations

from typing import Protocol


from alerts.alert import Alert
from influx.line_protocol import encode_line

MEASUREMENT = "alert_events"


class EventWriter(Protocol):
    """Where alert events go: lines of line protocol with millisecond timestamps.

    A failure raises; an exception with ``retryable = False`` (InfluxDB refused
    the points for good) makes the manager drop the lines instead of retrying.
    """

    def write_lines(self, lines: list[str]) -> None: ...


class LineWriter(Protocol):
    """The part of `influx.client.InfluxClient` the event writer needs."""

    def write(self, body: bytes | str, precision: str = "ms") -> None: ...


class InfluxEventWriter:
    """`EventWriter` onto InfluxDB through `influx.client.InfluxClient` (errors pass through)."""

    def __init__(self, client: LineWriter):
        self.client = client

    def write_lines(self, lines: list[str]) -> None:
        if lines:
            self.client.write("\n".join(lines), precision="ms")


def event_text(alert: Alert, change: str) -> str:
    """One line for a technician: what changed, then the detector's explanation.

    >>> from detectors.anomaly import Anomaly
    >>> a = Anomaly("device_fault_rate", "device", "pump-7", "E214", 0, 0, 6.0, 6.0, 1.0, 3.0, 60.0, "6 faults/min vs 1")
    >>> al = Alert(a.key, a.detector, a.scope, a.subject, a.code, "major", "firing", 0, 0, None, 2, True, a,
    ...            parent_key="cohort_fault_rate|cohort|model=PX-200|E214")
    >>> event_text(al, "fired")
    'fired (flapping; child of cohort_fault_rate|cohort|model=PX-200|E214): 6 faults/min vs 1'
    """
    notes = []
    if alert.flapping:
        notes.append("flapping")
    if alert.parent_key:
        notes.append(f"child of {alert.parent_key}")
    if alert.silenced_by:
        notes.append(f"silenced by {alert.silenced_by}")
    head = f"{change} ({'; '.join(notes)})" if notes else change
    return f"{head}: {alert.anomaly.explanation}" if alert.anomaly.explanation else head


def event_line(alert: Alert, change: str, ts_ms: int, ticket: str = "") -> str:
    """The ``alert_events`` point for `alert` after `change`.

    >>> from detectors.anomaly import Anomaly
    >>> a = Anomaly("telemetry", "device", "pump-7", "", 0, 0, 2.0, 2.0, 1.0, 1.0, 60.0, "")
    >>> al = Alert(a.key, a.detector, a.scope, a.subject, a.code, "major", "resolved", 0, 0, 5, 2, False, a)
    >>> event_line(al, "resolved", 1700000000000)
    'alert_events,alert=telemetry|device|pump-7|,severity=major,state=resolved subject="pump-7",text="resolved",ticket="" 1700000000000'
    """
    tags = {"alert": alert.key, "severity": alert.severity, "state": alert.state}
    fields = {"text": event_text(alert, change), "ticket": ticket, "subject": alert.subject}
    return encode_line(MEASUREMENT, tags, fields, ts_ms)
