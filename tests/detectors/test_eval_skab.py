"""SKAB and CSV scoring use the telemetry detector's shipped defaults: one configuration everywhere."""

import os
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
    assert score_csv(path, out, "timestamp", None) == 900
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
    assert score_csv(path, tmp_path / "out.csv", "time", None) == 200
