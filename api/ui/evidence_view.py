"""What the ticket and device pages show, prepared from the stored evidence and InfluxDB.

The ticket page reads only the ticket's stored evidence (no InfluxDB query);
the device page reads the device's newest telemetry, logs and events and
says so when InfluxDB does not answer instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from api.device_data import Window, device_events, events_query, log_lines, logs_query, telemetry_points, \
    telemetry_query
from api.ui import charts
from tickets.evidence import LogEntry
from tickets.ticket import Ticket

LEVEL_RANK = {"FATAL": 0, "ERROR": 1, "WARN": 2, "INFO": 3, "DEBUG": 4}
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class LogView:
    entry: LogEntry
    root_cause: bool  # carries the code the ticket is about (or, without one, an ERROR/FATAL line)


@dataclass(frozen=True, slots=True)
class TicketView:
    sentence: str
    cohort_chart: Markup | None
    metric_chart: Markup | None
    logs: list[LogView]


def sentence(t: Ticket) -> str:
    """The explanation in one sentence.

    >>> from types import SimpleNamespace as N
    >>> sentence(N(source="detector", scope="cohort", subject="firmware=2.1.0", explanation="E214 rate 12 vs 1 expected",
    ...          detector_attribution="firmware=2.1.0"))
    'Cohort firmware=2.1.0: E214 rate 12 vs 1 expected; the detector attributes it to firmware=2.1.0.'
    >>> sentence(N(source="detector", scope="device", subject="pump-1", explanation="pump-1: 9 faults.",
    ...          detector_attribution=""))
    'pump-1: 9 faults.'
    """
    text = (t.explanation or "").strip().rstrip(".")
    if t.source == "customer":
        return f"{text}."
    blame = f"; the detector attributes it to {t.detector_attribution}" if t.detector_attribution else ""
    named = t.subject in text.split(":", 1)[0]
    return f"{text}{blame}." if named else f"{t.scope.capitalize()} {t.subject}: {text}{blame}."


def ordered_logs(logs, code: str) -> list[LogView]:
    """ERROR/FATAL first, then by time; lines with the ticket's code are the root-cause lines.

    >>> lines = [LogEntry(2, "d", "INFO", "m", "", "ok"), LogEntry(3, "d", "ERROR", "m", "E1", "bad"),
    ...          LogEntry(1, "d", "FATAL", "m", "E9", "worse")]
    >>> [(v.entry.level, v.root_cause) for v in ordered_logs(lines, "E1")]
    [('FATAL', False), ('ERROR', True), ('INFO', False)]
    """
    def flagged(e: LogEntry) -> bool:
        return e.code == code if code else e.level in ("ERROR", "FATAL")

    ranked = sorted(logs, key=lambda e: (0 if e.level in ("ERROR", "FATAL") else 1, e.ts_ms))
    return [LogView(e, flagged(e)) for e in ranked]


def of(t: Ticket) -> TicketView:
    ev = t.evidence
    if ev is None:
        return TicketView(sentence(t), None, None, [])
    cohort = charts.bars([(f"{r.attribute}={r.value}", r.rate, r.flagged) for r in ev.cohort],
                         "fault rate per device") if ev.cohort else None
    metrics = charts.paired_bars([(m.metric, m.subject.mean, m.reference.mean) for m in ev.metrics],
                                 "metric window: mean over the incident window",
                                 names=(t.subject[:30] or "subject", ev.reference or "reference")
                                 ) if ev.metrics else None
    return TicketView(sentence(t), cohort, metrics, ordered_logs(ev.logs, t.code))


@dataclass(frozen=True, slots=True)
class DeviceView:
    meta: object
    charts: list[Markup]
    logs: list[dict]
    events: list[dict]
    error: str


def device(ctx, name: str) -> DeviceView | None:
    """The device page's data; None for a device the registry does not know."""
    from ingest.fields import field_names
    from ingest.registry import lookup

    meta = lookup(ctx.engine, name)
    if meta is None:
        return None
    now = ctx.now()
    window = Window(now - 30 * DAY_MS, now + 3_600_000, 300)
    shown, logs, events, error = [], [], [], ""
    try:
        names = field_names(ctx.engine, {"device": name})[:4]
        if names:
            points = telemetry_points(ctx.influx.rows(*telemetry_query(name, window, names)))
            for metric in names:
                series = [(p["time_ms"], float(p["metrics"][metric])) for p in points if metric in p["metrics"]]
                shown.append(charts.line(series, metric))
        logs = list(reversed(log_lines(ctx.influx.rows(*logs_query(name, Window(window.start_ms, window.end_ms, 50))))))
        events = list(reversed(device_events(ctx.influx.rows(*events_query(name, Window(window.start_ms, window.end_ms, 50))))))
    except Exception as exc:  # the page still shows the registry and the tickets
        error = f"InfluxDB did not answer: {type(exc).__name__}"
    return DeviceView(meta, shown, logs, events, error)
