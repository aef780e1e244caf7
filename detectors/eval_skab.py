"""SKAB evaluation of the telemetry detector, and scoring of any CSV series.

SKAB convention: in each file the first ``TRAIN_ROWS`` rows are learned
only; the rest is scored prequentially (score, then learn). The alarm per
row is the `EpisodeGate` state, so an episode that opens at a fault and
closes after it gives two predicted changepoints. Point metrics use the
``anomaly`` column over the scored rows of the faulty files (``valve1``,
``valve2``, ``other``); the NAB score uses the ``changepoint`` column (see
`detectors.scoring`); the ``anomaly-free`` file gives its own FAR.

Any CSV (`score_csv`) is scored at the times of its time column when they
are date-times (ISO 8601, UTC unless they say otherwise) or epoch seconds
or milliseconds, so the daily profile sees the series' own clock; otherwise
(row numbers, or times going back) one row a second, as SKAB's rows are.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from detectors.engine import EngineConfig
from detectors.scoring import PointMetrics, edges, nab_score, point_metrics
from detectors.telemetry import EpisodeGate, TelemetryZ
from ingest.timestamps import parse_ts

TRAIN_ROWS = 400
FAULT_DIRS = ("valve1", "valve2", "other")
MIN_EPOCH_S = 1e8  # a smaller number in a time column is a row number, not epoch seconds (1973)


@dataclass(frozen=True, slots=True)
class TelemetryParams:
    """The telemetry detector's settings: the live engine's defaults, the same for every data set."""

    halflife: float = EngineConfig().telemetry_halflife
    grace: int = EngineConfig().telemetry_grace
    threshold: float = EngineConfig().telemetry_threshold
    quiet: int = EngineConfig().telemetry_quiet

    @classmethod
    def from_config(cls, config: EngineConfig) -> "TelemetryParams":
        return cls(config.telemetry_halflife, config.telemetry_grace, config.telemetry_threshold,
                   config.telemetry_quiet)


@dataclass(frozen=True, slots=True)
class SkabResult:
    point: PointMetrics
    nab: float
    free_far: float
    files: int
    rows: int


def read_series(path: Path, time_column: str, value_columns: list[str] | None,
                delimiter: str | None = None) -> Iterator[tuple[str, dict[str, float], dict[str, str]]]:
    """Rows as (time text, values, the other columns); the delimiter (``,``, ``;`` or tab) is sniffed if not given.

    A cell that is not a number (empty, a label) is a missing value of that row.
    """
    with open(path, newline="") as fh:
        if delimiter is None:
            header = fh.readline()
            delimiter = max(",;\t", key=header.count)
            fh.seek(0)
        reader = csv.DictReader(fh, delimiter=delimiter)
        cols = value_columns or [c for c in reader.fieldnames or [] if c != time_column]
        for row in reader:
            values = {}
            for c in cols:
                try:
                    values[c] = float(row[c])
                except (KeyError, TypeError, ValueError):
                    pass
            yield row.get(time_column, ""), values, row


def time_ms(text: str) -> int | None:
    """Milliseconds since the epoch of an ISO 8601 date-time (UTC unless it gives an offset) or of epoch
    seconds or milliseconds (as devices send them, `ingest.timestamps`); None for anything else (a row number).

    >>> time_ms("2014-02-14 14:30:00"), time_ms("2014-02-14T14:30:00.000000Z"), time_ms("1392388200")
    (1392388200000, 1392388200000, 1392388200000)
    >>> time_ms("17") is None
    True
    """
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return round((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp() * 1000)
    return parse_ts(number) if MIN_EPOCH_S <= number < math.inf else None


def row_times(texts: Iterable[str]) -> list[int] | None:
    """The rows' times in milliseconds, or None unless every one is a time and none goes back."""
    out: list[int] = []
    for text in texts:
        ms = time_ms(text)
        if ms is None or out and ms < out[-1]:
            return None
        out.append(ms)
    return out


def alarms(rows: Iterable[dict[str, float]], params: TelemetryParams, train: int = TRAIN_ROWS,
           step_ms: int = 1000, times_ms: list[int] | None = None) -> tuple[list[float], list[int]]:
    """Scores and 0/1 alarms per row after ``train`` learn-only rows (times ``times_ms``, else one row per ``step_ms``)."""
    det = TelemetryZ(halflife=params.halflife, grace=params.grace, threshold=params.threshold)
    gate = EpisodeGate(params.threshold, params.quiet)
    scores, alarm = [], []
    for i, x in enumerate(rows):
        ts = times_ms[i] if times_ms is not None else i * step_ms
        if i < train:
            det.learn_one(x, ts)
            continue
        s = det.assess(x, ts_ms=ts).score
        gate.step(ts, s, not det.away)
        det.learn_one(x, ts)
        scores.append(s)
        alarm.append(int(gate.active))
    return scores, alarm


def evaluate_skab(root: Path, params: TelemetryParams = TelemetryParams(), window: int = 60) -> SkabResult:
    truth, pred, cp_files, n_files = [], [], [], 0
    for sub in FAULT_DIRS:
        for path in sorted((root / sub).glob("*.csv"), key=lambda p: (len(p.stem), p.stem)):
            rows = list(read_series(path, "datetime", None, ";"))
            values = [{k: v for k, v in r[1].items() if k not in ("anomaly", "changepoint")} for r in rows]
            _, alarm = alarms(values, params)
            labels = [int(float(r[2]["anomaly"])) for r in rows][TRAIN_ROWS:]
            cps = [int(float(r[2]["changepoint"])) for r in rows][TRAIN_ROWS:]
            truth += labels
            pred += alarm
            cp_files.append(([i for i, c in enumerate(cps) if c], edges(alarm)))
            n_files += 1
    free = root / "anomaly-free" / "anomaly-free.csv"
    free_far = 0.0
    if free.exists():
        values = [{k: v for k, v in r[1].items() if k not in ("anomaly", "changepoint")}
                  for r in read_series(free, "datetime", None, ";")]
        _, alarm = alarms(values, params)
        free_far = sum(alarm) / max(len(alarm), 1)
    return SkabResult(point_metrics(truth, pred), nab_score(cp_files, window), free_far, n_files, len(truth))


def score_csv(path: Path, out: Path, time_column: str, value_columns: list[str] | None,
              params: TelemetryParams = TelemetryParams(), train: int = 0) -> tuple[int, str]:
    """Score every row of a CSV with the telemetry detector; write time, score, alarm.

    Returns (rows scored, the clock): "times" (the time column's), "rows"
    (one a second: the column holds no times in order) or "missing" (one a
    second: there is no such column).
    """
    rows = list(read_series(path, time_column, value_columns))
    times = row_times(r[0] for r in rows)
    clock = "times" if times is not None else "rows" if rows and time_column in rows[0][2] else "missing"
    scores, alarm = alarms([r[1] for r in rows], params, train=train, times_ms=times)
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([time_column, "score", "alarm"])
        for (ts, _, _), s, a in zip(rows[train:], scores, alarm):
            writer.writerow([ts, f"{s:.6g}", a])
    return len(scores), clock
