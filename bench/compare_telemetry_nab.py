"""Univariate detectors compared under NAB's layout and standard scoring: the telemetry detector
(shipped defaults) against River's GaussianScorer (a windowed Gaussian) and StandardAbsoluteDeviation.

``.venv/bin/python -m bench.compare_telemetry_nab [DIR]``: DIR (or ``NAB_DIR``)
is a corpus with ``data/`` and ``labels/combined_windows.json``; without one,
three synthetic corpora (`bench.synthetic_nab`, seeds 0-2) are written to a
temporary folder. Every detector is streamed prequentially, its scores
turned into episodes by the same `EpisodeGate` (60 quiet readings) with a
fixed threshold, River's at two thresholds each; alarm onsets are scored by
`detectors.eval_nab`. With a synthetic corpus, the share of each kind of
anomaly caught by the telemetry detector is printed too.
"""

from __future__ import annotations

import bisect
import json
import os
import sys
import tempfile
from pathlib import Path

from river import anomaly

from bench.synthetic_nab import write_corpus
from detectors.eval_nab import BASELINES, evaluate_nab, river_detector
from detectors.eval_skab import TelemetryParams, alarms, read_series, time_ms


DETECTORS = {  # the same-files references `faultline eval --nab` prints, and each at a second threshold
    **BASELINES,
    "River GaussianScorer (windowed Gaussian, 1,000 rows, score ≥ 0.9999)": river_detector(
        lambda: anomaly.GaussianScorer(window_size=1000, grace_period=100), 0.9999),
    "River StandardAbsoluteDeviation (10 deviations)": river_detector(anomaly.StandardAbsoluteDeviation, 10.0),
}


def kinds_caught(root: Path) -> dict[str, str]:
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    kinds = json.loads((root / "kinds.json").read_text())
    caught: dict[str, list[int]] = {}
    for name, wins in labels.items():
        rows = list(read_series(root / "data" / name, "timestamp", ["value"]))
        times = [time_ms(r[0]) for r in rows]
        _, alarm = alarms([r[1] for r in rows], TelemetryParams(), train=0, times_ms=times)
        onsets = [i for i in range(1, len(alarm)) if alarm[i] and not alarm[i - 1]]
        for (a, b), kind in zip(wins, kinds[name]):
            s, e = bisect.bisect_left(times, time_ms(a)), bisect.bisect_right(times, time_ms(b))
            c = caught.setdefault(kind, [0, 0])
            c[0] += any(s <= p < e for p in onsets)
            c[1] += 1
    return {k: f"{v[0]}/{v[1]}" for k, v in sorted(caught.items())}


def compare(roots: list[Path]) -> dict:
    out: dict = {}
    for name, det in [("telemetry detector, shipped defaults", None), *DETECTORS.items()]:
        results = [evaluate_nab(root, detector=det) for root in roots]
        out[name] = [{"score": r.score, "detected": f"{r.detected}/{r.windows}", "false_onsets": r.false_onsets}
                     for r in results]
    if all((root / "kinds.json").exists() for root in roots):
        out["telemetry detector: anomalies caught by kind"] = [kinds_caught(root) for root in roots]
    return out


def main() -> None:
    given = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NAB_DIR", "")
    if given:
        print(json.dumps(compare([Path(given)]), indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        roots = [write_corpus(Path(tmp) / f"seed{s}", s) for s in range(3)]
        print(json.dumps(compare(roots), indent=2))


if __name__ == "__main__":
    main()
