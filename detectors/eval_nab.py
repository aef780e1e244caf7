"""The Numenta Anomaly Benchmark (NAB) layout, scored the benchmark's way, with the shipped defaults.

A NAB directory holds ``data/<category>/<file>.csv`` (``timestamp,value``)
and ``labels/combined_windows.json`` (per file, the labelled anomaly
windows as timestamp pairs). Each labelled file is scored prequentially by
the telemetry detector with the live engine's defaults (`TelemetryParams`),
no training split: NAB is a streaming benchmark. Predictions are alarm
*onsets* (the rows where an episode opens). NAB's standard profile: the
first onset inside a window scores ``sigma`` of its position (earlier is
better), onsets outside windows cost 0.11 each (less just after a window),
missed windows cost 1; onsets in the probationary period (the first 15 % of
a file, at most 750 rows) are not counted. Normalised over all files to
0 (null detector) .. 100 (perfect), as in `detectors.scoring`.

Published reference scores (NAB v1.1 scoreboard, standard profile, all 58
files): Numenta HTM 70.1, Twitter ADVec 47.1, windowed Gaussian 39.6, Etsy
Skyline 35.7, Bayesian changepoint 17.7. They hold for the whole corpus
only: on a part of it (some categories), `BASELINES` scores River's
windowed Gaussian and absolute-deviation detectors on the same files, under
the same gate and scoring, as the reference measured in the same run.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from pathlib import Path

from river import anomaly

from detectors.eval_skab import TelemetryParams, alarms, read_series, time_ms
from detectors.scoring import A_FN, A_TP, windows_raw
from detectors.telemetry import EpisodeGate

PROBATION = 0.15
REFERENCES = (("Numenta HTM", 70.1), ("Twitter ADVec", 47.1), ("windowed Gaussian", 39.6),
              ("Etsy Skyline", 35.7), ("Bayesian changepoint", 17.7))


@dataclass(frozen=True, slots=True)
class NabResult:
    score: float
    files: int
    rows: int
    windows: int
    detected: int
    onsets: int
    false_onsets: int
    labelled: int = 0  # files the labels name: more than ``files`` when only part of the corpus is present

    @property
    def partial(self) -> bool:
        return self.files < self.labelled


def river_detector(make, threshold: float):
    """A River anomaly scorer as a ``detector`` for `score_file`: streamed, episodes by the same gate (fixed threshold)."""
    def run(values: list[dict], times_ms: list[int]) -> list[int]:
        model, gate, out = make(), EpisodeGate(threshold, 60, tail=1.0), []
        for x, ts in zip(values, times_ms):
            y = x["value"]
            gate.step(ts, model.score_one(None, y))
            model.learn_one(None, y)
            out.append(int(gate.active))
        return out
    return run


BASELINES = {
    "River GaussianScorer (windowed Gaussian, 1,000 rows, score ≥ 0.99999)": river_detector(
        lambda: anomaly.GaussianScorer(window_size=1000, grace_period=100), 0.99999),
    "River StandardAbsoluteDeviation (6 deviations)": river_detector(anomaly.StandardAbsoluteDeviation, 6.0),
}


def score_file(path: Path, windows: list[list[str]], params: TelemetryParams,
               detector=None) -> tuple[float, int, int, int, int]:
    """(raw score, windows, windows hit, onsets, onsets outside windows) of one file.

    ``detector(rows, times_ms) -> 0/1 alarm per row`` replaces the telemetry
    detector (to compare others under the same scoring).
    """
    rows = list(read_series(path, "timestamp", ["value"]))
    times_ms = [time_ms(r[0]) for r in rows]
    if detector is None:
        _, alarm = alarms([r[1] for r in rows], params, train=0, times_ms=times_ms)
    else:
        alarm = detector([r[1] for r in rows], times_ms)
    probation = min(int(PROBATION * len(rows)), 750)
    onsets = [i for i in range(max(1, probation), len(alarm)) if alarm[i] and not alarm[i - 1]]
    wins = [(bisect.bisect_left(times_ms, time_ms(a)), bisect.bisect_right(times_ms, time_ms(b))) for a, b in windows]
    raw, n = windows_raw(wins, onsets)
    inside = [any(s <= p < e for s, e in wins) for p in onsets]
    hit = sum(any(s <= p < e for p in onsets) for s, e in wins)
    return raw, n, hit, len(onsets), inside.count(False)


def evaluate_nab(root: Path, params: TelemetryParams = TelemetryParams(), categories=None,
                 detector=None) -> NabResult:
    """Score every labelled file under ``root`` (optionally only the given categories; ``detector`` as in `score_file`)."""
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    raw = 0.0
    files = rows = windows = detected = onsets = false = 0
    for name, wins in sorted(labels.items()):
        path = root / "data" / name
        if not path.exists() or categories and name.split("/")[0] not in categories:
            continue
        s, n, hit, k, fp = score_file(path, wins, params, detector)
        raw, files, windows, detected, onsets, false = raw + s, files + 1, windows + n, detected + hit, onsets + k, false + fp
        rows += sum(1 for _ in open(path)) - 1
    perfect, null = windows * A_TP, windows * A_FN
    score = 100.0 * (raw - null) / (perfect - null) if windows else 0.0
    return NabResult(round(score, 2), files, rows, windows, detected, onsets, false, len(labels))


def baseline_scores(root: Path, categories=None) -> dict[str, float]:
    """Each of `BASELINES` scored on the same files as `evaluate_nab` (the reference for a part of the corpus)."""
    return {name: evaluate_nab(root, categories=categories, detector=det).score for name, det in BASELINES.items()}
