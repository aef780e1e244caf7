"""NAB layout and standard scoring with the shipped defaults; the real corpus when present."""

import json
import os
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from faultline.commands.detect import evaluate
from detectors.eval_nab import BASELINES, baseline_scores, evaluate_nab

NAB = Path(os.environ.get("NAB_DIR", "") or "/nonexistent")  # a copy of NAB (data/, labels/), not vendored


def _write_corpus(root: Path) -> None:
    """Two NAB-format files: one with a level shift inside its labelled window, one without anomalies."""
    rng = random.Random(4)
    t0 = datetime(2024, 1, 1)
    labels = {}
    for name, shift_at in (("realTest/shift.csv", 3000), ("realTest/quiet.csv", None)):
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["timestamp,value"]
        for i in range(4000):
            level = 50.0 if shift_at is None or i < shift_at else 80.0
            lines.append(f"{(t0 + timedelta(minutes=5 * i)):%Y-%m-%d %H:%M:%S},{level + rng.gauss(0, 1):.3f}")
        path.write_text("\n".join(lines) + "\n")
        labels[name] = [] if shift_at is None else [[f"{t0 + timedelta(minutes=5 * (shift_at - 10)):%Y-%m-%d %H:%M:%S}.000000",
                                                     f"{t0 + timedelta(minutes=5 * (shift_at + 190)):%Y-%m-%d %H:%M:%S}.000000"]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_a_shift_inside_its_window_scores_high_and_the_quiet_file_costs_nothing(tmp_path):
    _write_corpus(tmp_path)
    result = evaluate_nab(tmp_path)
    assert (result.files, result.windows, result.detected) == (2, 1, 1)
    assert result.false_onsets == 0 and result.score > 90
    out = CliRunner().invoke(evaluate, ["--nab", str(tmp_path)])
    assert out.exit_code == 0 and "standard score" in out.output and "Numenta HTM 70.1" in out.output


def test_part_of_the_corpus_is_scored_beside_baselines_on_the_same_files(tmp_path):
    _write_corpus(tmp_path)
    labels = json.loads((tmp_path / "labels" / "combined_windows.json").read_text())
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps({**labels, "realOther/absent.csv": []}))
    result = evaluate_nab(tmp_path)
    assert (result.files, result.labelled, result.partial) == (2, 3, True)
    same = baseline_scores(tmp_path)
    assert set(same) == set(BASELINES) and all(-100 <= v <= 100 for v in same.values())
    out = CliRunner().invoke(evaluate, ["--nab", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "2 of the 3 labelled files" in out.output and "River GaussianScorer" in out.output
    whole = evaluate_nab(tmp_path, categories=["realTest"])
    assert whole.partial  # one category is a part of the corpus too


@pytest.mark.skipif(not (NAB / "labels" / "combined_windows.json").exists(),
                    reason="NAB corpus not present (set NAB_DIR to a directory with data/ and labels/)")
def test_the_nab_corpus_with_the_shipped_defaults():
    result = evaluate_nab(NAB)
    assert result.files > 0 and result.windows >= result.files / 2
    assert result.score > 0  # better than the null detector
