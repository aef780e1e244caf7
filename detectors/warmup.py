"""Cold start from InfluxDB history: replay past faults and activity into a fresh engine.

Read over ``[since_ms, until_ms)``: fault events (``device_events`` with
``type = 'fault'``), ERROR/FATAL lines (``device_logs``), and activity per
device and window (counts of ``telemetry`` and ``device_logs`` points, so that
quiet windows count as windows without faults). Each is turned back into a
record with the cohort from its tags and fed to the engine in time order.
A warm-up discards the anomalies of the replay (they describe the past); a
catch-up after a crash (`catch_up`) returns them, since they were lost with
the process. Telemetry activity is counted on named fields (the metric
names of the catalogue, ``seq`` when none are given), never ``*``, which
would read every field key of the measurement.
"""

from __future__ import annotations

import logging

from typing import Sequence

from detectors.engine import DetectorEngine
from influx.query import quote_ident
from ingest.records import Cohort, DeviceEvent, DeviceStatus, LogLine

log = logging.getLogger("faultline.detectors")


def _cohort(row: dict) -> Cohort:
    return Cohort(row.get("model") or "", row.get("firmware") or "", row.get("site") or "")


def history_records(client, since_ms: int, until_ms: int, window_ms: int, fields: Sequence[str] = ()) -> list:
    span = f"time >= {int(since_ms)}ms AND time < {int(until_ms)}ms"
    group = f"GROUP BY time({int(window_ms)}ms), \"device\""
    records: list = []
    for row in client.rows(f"SELECT \"code\", \"device\", \"severity\", \"model\", \"firmware\", \"site\" "
                           f"FROM \"device_events\" WHERE \"type\" = 'fault' AND {span}"):
        records.append(DeviceEvent(row["device"], int(row["time"]), None, "fault", row.get("code") or "",
                                   row.get("severity") or "major", "{}", _cohort(row)))
    for row in client.rows(f"SELECT \"code\", \"device\", \"level\", \"component\", \"model\", \"firmware\", \"site\" "
                           f"FROM \"device_logs\" WHERE (\"level\" = 'ERROR' OR \"level\" = 'FATAL') AND {span}"):
        records.append(LogLine(row["device"], int(row["time"]), None, row["level"], row.get("component") or "",
                               row.get("code") or "", "", _cohort(row)))
    counted = ", ".join(f"count({quote_ident(f)})" for f in dict.fromkeys(["seq", *fields]))
    for what in (f"SELECT {counted} FROM \"telemetry\"", "SELECT count(\"msg\") FROM \"device_logs\""):
        for row in client.rows(f"{what} WHERE {span} {group}"):
            if any(isinstance(v, (int, float)) and v > 0 for k, v in row.items() if k.startswith("count")):
                records.append(DeviceStatus(row["device"], int(row["time"]), True))
    records.sort(key=lambda r: r.ts_ms)
    return records


def warm_up(engine: DetectorEngine, client, since_ms: int, until_ms: int, fields: Sequence[str] = ()) -> int:
    """Replay history into ``engine``; returns the number of records replayed."""
    records = history_records(client, since_ms, until_ms, engine.window_ms, fields)
    for record in records:
        engine.process(record)
    log.info("detectors warmed up from %d historical records", len(records))
    return len(records)


def catch_up(engine: DetectorEngine, client, until_ms: int, fields: Sequence[str] = ()) -> list:
    """Feed ``engine`` (restored from a checkpoint) what InfluxDB holds after its newest event time;
    the anomalies that raises (lost with the crash, so not yet reported)."""
    since = engine.latest_ms + 1
    if engine.latest_ms <= 0 or since >= until_ms:
        return []
    records = history_records(client, since, until_ms, engine.window_ms, fields)
    found = []
    for record in records:
        found += engine.process(record)
    log.info("detectors caught up on %d records stored after the last checkpoint", len(records))
    return found
