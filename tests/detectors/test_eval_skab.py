"""SKAB and CSV scoring use the telemetry detector's shipped defaults: one configuration everywhere."""

import math
import os
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from detectors.engine import EngineConfig
from detectors.eval_skab import TelemetryParams, evaluate_skab, score_csv

SKAB = Path(os.environ.get("SKAB_DIR", "") or "/nonexistent")  # the SKAB data folder (GPL-3.0, not vendored)


def test_params_are_the_live_engine_defaults():
    config = EngineConfig()
    assert TelemetryParams() == TelemetryParams.from_config(config)
    assert (TelemetryParams().threshold, TelemetryParams().halflife) == (
        config.telemetry_threshold, config.telemetry_halflife)


def test_csv_scoring_flags_a_level_shift_once(tmp_path):
    rows = ["timestamp,value"] + [f"{i},{10.0 + (i % 5) * 0.1 if i < 600 else 25.0}" for i in range(900)]
    path = tmp_path / "series.csv"
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "scores.csv"
    assert score_csv(path, out, "timestamp", None) == (900, "rows")  # row numbers: one row a second
    alarms = [int(line.rsplit(",", 1)[1]) for line in out.read_text().splitlines()[1:]]
    assert sum(alarms[:600]) == 0
    rises = [i for i in range(1, len(alarms)) if alarms[i] and not alarms[i - 1]]
    assert rises == [600]


@pytest.mark.skipif(not (SKAB / "valve1").is_dir(), reason="SKAB data not found: set SKAB_DIR to the folder holding valve1/, valve2/, other/")
def test_skab_with_the_shipped_defaults():
    result = evaluate_skab(SKAB)
    assert result.files == 34 and result.rows > 20_000
    assert result.free_far < 0.05  # the anomaly-free recording stays (almost) quiet
    assert result.point.precision > 0.5


def test_csv_delimiter_is_sniffed(tmp_path):
    rows = ["time;a;b"] + [f"{i};{1.0 + (i % 3) * 0.01};{2.0 + (i % 4) * 0.01}" for i in range(200)]
    path = tmp_path / "semicolon.csv"
    path.write_text("\n".join(rows) + "\n")
    assert score_csv(path, tmp_path / "out.csv", "time", None) == (200, "rows")


def _daily_series(path, style):
    """Ten days at five minutes of a daily cycle (20 noise deviations) with a 3-hour step of 20 on day nine."""
    rng, start = random.Random(4), 1_700_006_400  # a midnight, UTC
    lines = ["timestamp,value"]
    for i in range(288 * 10):
        value = 50 + 20 * math.sin(2 * math.pi * (i % 288) / 288) + rng.gauss(0, 1) + (20 if 2404 <= i < 2440 else 0)
        t = start + 300 * i
        stamp = {"iso": datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                 "epoch": str(t), "row": str(i)}[style]
        lines.append(f"{stamp},{value:.4f}")
    path.write_text("\n".join(lines) + "\n")


def _onsets(out):
    alarms = [int(line.rsplit(",", 1)[1]) for line in out.read_text().splitlines()[1:]]
    return [i for i in range(1, len(alarms)) if alarms[i] and not alarms[i - 1]]


@pytest.mark.parametrize("style", ["iso", "epoch"])
def test_a_csv_is_scored_at_the_times_of_its_time_column(tmp_path, style):
    path, out = tmp_path / "daily.csv", tmp_path / "scores.csv"
    _daily_series(path, style)
    assert score_csv(path, out, "timestamp", None) == (2880, "times")
    assert _onsets(out) == [2404]  # the daily cycle removed: the step, at once, and nothing else


def test_row_numbers_for_times_score_one_row_a_second_where_a_daily_cycle_hides_the_step(tmp_path):
    path, out = tmp_path / "daily.csv", tmp_path / "scores.csv"
    _daily_series(path, "row")
    assert score_csv(path, out, "timestamp", None) == (2880, "rows")
    assert _onsets(out) == []


def test_cells_that_are_not_numbers_are_missing_values(tmp_path):
    rows = ["timestamp,a,label"] + [f"{i},{1.0 + (i % 3) * 0.01},{'ok' if i % 2 else ''}" for i in range(100)]
    path = tmp_path / "labelled.csv"
    path.write_text("\n".join(rows) + "\n")
    assert score_csv(path, tmp_path / "out.csv", "timestamp", None) == (100, "rows")
    assert score_csv(path, tmp_path / "out.csv", "datetime", ["a"]) == (100, "missing")
