"""Telemetry detectors compared on SKAB: River's HalfSpaceTrees against the z-score.

Standalone: ``.venv/bin/python bench/compare_telemetry_skab.py /path/to/skab``.
Same protocol for both (first 400 rows learned only, then prequential, the
same `EpisodeGate` turning scores into alarms, the same scorer). HalfSpaceTrees
runs on min-max scaled features (25 trees, height 8, window 100) with its
threshold at a quantile of its training scores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from river import anomaly, compose, preprocessing

from detectors.eval_skab import FAULT_DIRS, TRAIN_ROWS, evaluate_skab, read_series
from detectors.scoring import edges, nab_score, point_metrics
from detectors.telemetry import EpisodeGate


def files(root: Path):
    for sub in FAULT_DIRS:
        for path in sorted((root / sub).glob("*.csv")):
            rows = list(read_series(path, "datetime", None, ";"))
            xs = [{k: v for k, v in r[1].items() if k not in ("anomaly", "changepoint")} for r in rows]
            labels = [int(float(r[2]["anomaly"])) for r in rows][TRAIN_ROWS:]
            cps = [int(float(r[2]["changepoint"])) for r in rows][TRAIN_ROWS:]
            yield xs, labels, [i for i, c in enumerate(cps) if c]


def half_space_trees(root: Path, quantile: float) -> dict:
    truth, pred, cp_files = [], [], []
    for xs, labels, cps in files(root):
        model = compose.Pipeline(preprocessing.MinMaxScaler(),
                                 anomaly.HalfSpaceTrees(n_trees=25, height=8, window_size=100, seed=1))
        train = []
        for x in xs[:TRAIN_ROWS]:
            train.append(model.score_one(x))
            model.learn_one(x)
        ranked = sorted(train[100:])
        gate = EpisodeGate(ranked[int(quantile * (len(ranked) - 1))], 5, 0.9, tail=1.0)  # a fixed threshold
        alarm = []
        for i, x in enumerate(xs[TRAIN_ROWS:]):
            gate.step(i * 1000, model.score_one(x))
            model.learn_one(x)
            alarm.append(int(gate.active))
        truth += labels
        pred += alarm
        cp_files.append((cps, edges(alarm)))
    m = point_metrics(truth, pred)
    return {"nab": round(nab_score(cp_files), 2), "f1": round(m.f1, 3), "far": round(m.far, 3), "mar": round(m.mar, 3)}


def main() -> None:
    root = Path(sys.argv[1])
    z = evaluate_skab(root)
    out = {"zscore": {"nab": round(z.nab, 2), "f1": round(z.point.f1, 3), "far": round(z.point.far, 3),
                      "mar": round(z.point.mar, 3)}}
    for q in (0.99, 0.999):
        out[f"half_space_trees_q{q}"] = half_space_trees(root, q)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
