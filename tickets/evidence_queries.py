"""The InfluxQL behind a ticket's evidence (schema: DESIGN §3).

Tag values travel as bound parameters; identifiers are quoted with
`quote_ident`; time bounds come from `time_range` (epoch ms). Each function
takes a client with ``rows(q, params)`` and raises what it raises
(`influx.errors.InfluxError` says whether a retry can help). Statements on
``telemetry`` name the metrics they read (the subject's own, from the
metric-name catalogue): ``*`` there would read every field key any device
ever wrote.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

from influx.query import quote_ident, time_range
from tickets.evidence import CohortRow, LogEntry, MetricWindow, Stats

Filter = Mapping[str, "str | tuple[str, ...]"]
SEVERE = "(level = 'ERROR' OR level = 'FATAL')"
NOT_SEVERE = "level != 'ERROR' AND level != 'FATAL' AND level != 'DEBUG'"
MAX_MSG = 500  # characters of a log message kept in the evidence


def where(filters: Filter) -> tuple[str, dict]:
    """An InfluxQL condition on tags with bound parameters; a tuple value means any of.

    >>> where({"device": ("a", "b"), "model": "PX"})
    ('("device" = $p0 OR "device" = $p1) AND "model" = $p2', {'p0': 'a', 'p1': 'b', 'p2': 'PX'})
    >>> where({})
    ('true', {})
    """
    parts, params = [], {}
    for tag, value in filters.items():
        values = value if isinstance(value, tuple) else (value,)
        ors = []
        for v in values:
            name = f"p{len(params)}"
            params[name] = v
            ors.append(f"{quote_ident(tag)} = ${name}")
        parts.append(ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")")
    return (" AND ".join(parts) if parts else "true"), params


def _cond(filters: Filter, start_ms: int, end_ms: int) -> tuple[str, dict]:
    cond, params = where(filters)
    tr = time_range(start_ms, end_ms)
    return (tr if cond == "true" else f"{tr} AND {cond}"), params


def log_slice(client, filters: Filter, onset_ms: int, start_ms: int, end_ms: int, limit: int
              ) -> tuple[LogEntry, ...]:
    """ERROR/FATAL lines first, then WARN/INFO; each group the lines nearest onset, in time order.

    At most `limit` lines in all, messages cut at `MAX_MSG` characters. Within a group, up to half the room goes to
    the lines just before onset (the lead-up) and the rest to those from
    onset on; a side with fewer lines leaves its room to the other.
    """
    severe = _around(client, filters, SEVERE, onset_ms, start_ms, end_ms, limit)
    rest = limit - len(severe)
    others = _around(client, filters, NOT_SEVERE, onset_ms, start_ms, end_ms, rest) if rest > 0 else []
    return tuple(LogEntry(int(r["time"]), r.get("device") or "", r.get("level") or "", r.get("component") or "",
                          r.get("code") or "", (r.get("msg") or "")[:MAX_MSG]) for r in severe + others)


def _around(client, filters: Filter, level: str, onset_ms: int, start_ms: int, end_ms: int, limit: int) -> list:
    cols = "msg, code, device, level, component"
    onset = min(max(onset_ms, start_ms), end_ms)
    before = after = []
    if onset > start_ms:
        cond, params = _cond(filters, start_ms, onset)
        before = client.rows(f"SELECT {cols} FROM device_logs WHERE {cond} AND {level} "
                             f"ORDER BY time DESC LIMIT {int(limit)}", params)
    if end_ms > onset:
        cond, params = _cond(filters, onset, end_ms)
        after = client.rows(f"SELECT {cols} FROM device_logs WHERE {cond} AND {level} LIMIT {int(limit)}", params)
    n_after = min(len(after), limit - min(len(before), limit // 2))
    n_before = min(len(before), limit - n_after)
    return before[:n_before][::-1] + after[:n_after]


def _stats(client, filters: Filter, start_ms: int, end_ms: int, names: Sequence[str]) -> dict[str, Stats]:
    names = [n for n in names if n != "seq"]
    if not names:
        return {}
    cond, params = _cond(filters, start_ms, end_ms)
    columns = ", ".join(f"{fn}({quote_ident(n)}) AS {quote_ident(f'{fn}_{i}')}"
                        for i, n in enumerate(names) for fn in ("min", "mean", "max"))
    rows = client.rows(f"SELECT {columns} FROM telemetry WHERE {cond}", params)
    if not rows:
        return {}
    row = rows[0]
    return {n: Stats(row.get(f"min_{i}"), row.get(f"mean_{i}"), row.get(f"max_{i}")) for i, n in enumerate(names)
            if row.get(f"mean_{i}") is not None}


def metric_window(client, subject: Filter, reference: Filter, start_ms: int, end_ms: int,
                  names: Sequence[str] = ()) -> tuple[MetricWindow, ...]:
    """min/mean/max of the subject's metrics (`names`) for the subject and for its reference group."""
    mine = _stats(client, subject, start_ms, end_ms, names)
    theirs = _stats(client, reference, start_ms, end_ms, sorted(mine))
    empty = Stats(None, None, None)
    return tuple(MetricWindow(m, mine.get(m, empty), theirs.get(m, empty)) for m in sorted(mine))


def _per_device(client, measurement: str, extra: str, attribute: str, cond: str, params: dict,
                fields: Sequence[str] = ("seq",)) -> dict[tuple[str, str], int]:
    """count of points per (attribute value, device)."""
    counted = {"device_events": ["code"], "device_logs": ["msg"]}.get(measurement, list(dict.fromkeys(fields)))
    field = ", ".join(f"count({quote_ident(f)})" for f in counted)
    q = (f"SELECT {field} FROM {measurement} WHERE {cond}{extra} "
         f"GROUP BY {quote_ident(attribute)}, device")
    out = {}
    for r in client.rows(q, params):
        counts = [v for k, v in r.items() if k.startswith("count") and isinstance(v, (int, float))]
        out[(r.get(attribute) or "", r.get("device") or "")] = int(max(counts, default=0))
    return out


def cohort_table(client, attribution: str, within: Filter, start_ms: int, end_ms: int,
                 fields: Sequence[str] = ()) -> tuple[CohortRow, ...]:
    """Faults per active device for each value of the attributed attribute, highest rate first.

    ``attribution`` is ``"firmware=2.1.0"`` (attribute firmware, flagged value
    2.1.0; firmware when empty). Faults are fault events plus ERROR/FATAL log
    lines (the measure of the cohort detector); a device is active when it
    sent telemetry, logs or events in the window. ``within`` narrows the
    comparison (e.g. the same model); telemetry activity is counted on ``seq`` and `fields`.
    """
    attribute, _, flagged = (attribution or "firmware=").partition("=")
    cond, params = _cond(within, start_ms, end_ms)
    events = _per_device(client, "device_events", " AND type = 'fault'", attribute, cond, params)
    errors = _per_device(client, "device_logs", f" AND {SEVERE}", attribute, cond, params)
    seen = set(_per_device(client, "telemetry", "", attribute, cond, params, ["seq", *fields]))
    seen |= set(_per_device(client, "device_logs", "", attribute, cond, params)) | set(events)
    devices, faults = defaultdict(set), defaultdict(int)
    for value, device in seen:
        devices[value].add(device)
    for counts in (events, errors):
        for (value, _device), n in counts.items():
            faults[value] += n
    rows = [CohortRow(attribute, v, len(devices[v]), faults[v], round(faults[v] / len(devices[v]), 4),
                      v == flagged) for v in devices if v]
    return tuple(sorted(rows, key=lambda r: (-r.rate, r.value)))
