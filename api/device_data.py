"""InfluxQL reads for one device's telemetry and logs, values always bound.

The device, level, component and code go in as bound parameters; the time
range and limit are integers validated at the edge; metric names are quoted
identifiers. The newest `limit` points of the range are returned, oldest first.
Every statement names its columns: ``*`` on a measurement shared by the
whole fleet would read every field key any device ever wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from influx.query import quote_ident, time_range

TAG_COLUMNS = ("device", "model", "firmware", "site")
LOG_COLUMNS = '"msg", "code", "seq", "level", "component"'
EVENT_COLUMNS = '"code", "detail", "seq", "type", "severity"'


@dataclass(frozen=True, slots=True)
class Window:
    start_ms: int
    end_ms: int
    limit: int


def telemetry_query(device: str, window: Window, metrics: Sequence[str]) -> tuple[str, dict]:
    """The statement and parameters for a device's telemetry (`metrics`: the fields to read).

    >>> q, p = telemetry_query("pump-1", Window(0, 1000, 10), ["temp_c"])
    >>> print(q)
    SELECT "temp_c", "seq" FROM "telemetry" WHERE "device" = $device AND time >= 0ms AND time < 1000ms ORDER BY time DESC LIMIT 10
    >>> p
    {'device': 'pump-1'}
    """
    fields = ", ".join([quote_ident(m) for m in metrics if m != "seq"] + ['"seq"'])
    q = (f'SELECT {fields} FROM "telemetry" WHERE "device" = $device AND '
         f"{time_range(window.start_ms, window.end_ms)} ORDER BY time DESC LIMIT {int(window.limit)}")
    return q, {"device": device}


def logs_query(device: str, window: Window, levels: Sequence[str] = (), component: str | None = None,
               code: str | None = None) -> tuple[str, dict]:
    """The statement and parameters for a device's log lines.

    >>> q, p = logs_query("pump-1", Window(0, 1000, 5), ["ERROR", "FATAL"], code="E'1")
    >>> print(q)
    SELECT "msg", "code", "seq", "level", "component" FROM "device_logs" WHERE "device" = $device AND ("level" = $level0 OR "level" = $level1) AND "code" = $code AND time >= 0ms AND time < 1000ms ORDER BY time DESC LIMIT 5
    >>> p == {"device": "pump-1", "level0": "ERROR", "level1": "FATAL", "code": "E'1"}
    True
    """
    params: dict[str, Any] = {"device": device}
    conditions = ['"device" = $device']
    if levels:
        names = [f"level{i}" for i in range(len(levels))]
        conditions.append("(" + " OR ".join(f'"level" = ${n}' for n in names) + ")")
        params.update(zip(names, levels))
    for column, value in (("component", component), ("code", code)):
        if value is not None:
            conditions.append(f'"{column}" = ${column}')
            params[column] = value
    conditions.append(time_range(window.start_ms, window.end_ms))
    q = (f'SELECT {LOG_COLUMNS} FROM "device_logs" WHERE {" AND ".join(conditions)} '
         f"ORDER BY time DESC LIMIT {int(window.limit)}")
    return q, params


def events_query(device: str, window: Window, types: Sequence[str] = (), severities: Sequence[str] = (),
                 code: str | None = None) -> tuple[str, dict]:
    """The statement and parameters for a device's events (faults, reboots, ...).

    >>> q, p = events_query("pump-1", Window(0, 1000, 5), ["fault"], ["major", "critical"])
    >>> print(q)
    SELECT "code", "detail", "seq", "type", "severity" FROM "device_events" WHERE "device" = $device AND ("type" = $type0) AND ("severity" = $severity0 OR "severity" = $severity1) AND time >= 0ms AND time < 1000ms ORDER BY time DESC LIMIT 5
    """
    params: dict[str, Any] = {"device": device}
    conditions = ['"device" = $device']
    for column, values in (("type", types), ("severity", severities)):
        if values:
            names = [f"{column}{i}" for i in range(len(values))]
            conditions.append("(" + " OR ".join(f'"{column}" = ${n}' for n in names) + ")")
            params.update(zip(names, values))
    if code is not None:
        conditions.append('"code" = $code')
        params["code"] = code
    conditions.append(time_range(window.start_ms, window.end_ms))
    q = (f'SELECT {EVENT_COLUMNS} FROM "device_events" WHERE {" AND ".join(conditions)} '
         f"ORDER BY time DESC LIMIT {int(window.limit)}")
    return q, params


def telemetry_points(rows: list[dict]) -> list[dict]:
    """Rows as ``{time_ms, seq, metrics}``, oldest first; absent fields left out.

    >>> telemetry_points([{"time": 2, "device": "d", "seq": 7, "temp_c": 41.5, "rpm": None},
    ...                   {"time": 1, "device": "d", "seq": 6, "temp_c": 40.0, "rpm": 900.0}])
    [{'time_ms': 1, 'seq': 6, 'metrics': {'temp_c': 40.0, 'rpm': 900.0}}, {'time_ms': 2, 'seq': 7, 'metrics': {'temp_c': 41.5}}]
    """
    points = []
    for row in reversed(rows):
        metrics = {k: v for k, v in row.items()
                   if k not in TAG_COLUMNS and k not in ("time", "seq") and v is not None}
        points.append({"time_ms": row["time"], "seq": row.get("seq"), "metrics": metrics})
    return points


def device_events(rows: list[dict]) -> list[dict]:
    """Rows as events, oldest first; ``detail`` parsed back from its JSON text."""
    out = []
    for r in reversed(rows):
        try:
            detail = json.loads(r.get("detail") or "{}")
        except ValueError:
            detail = {"raw": r.get("detail")}
        out.append({"time_ms": r["time"], "seq": r.get("seq"), "type": r.get("type") or "",
                    "severity": r.get("severity") or "", "code": r.get("code") or "", "detail": detail})
    return out


def log_lines(rows: list[dict]) -> list[dict]:
    """Rows as log lines, oldest first."""
    return [{"time_ms": r["time"], "seq": r.get("seq"), "level": r.get("level") or "",
             "component": r.get("component") or "", "code": r.get("code") or "", "msg": r.get("msg") or ""}
            for r in reversed(rows)]
