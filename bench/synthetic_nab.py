"""A synthetic corpus in NAB's layout, for checks where no public corpus is at hand.

``write_corpus(root, seed)`` writes ``data/synth/*.csv`` (``timestamp,value``,
5-minute rows) and ``labels/combined_windows.json`` with NAB's windows (10 %
of a file's length shared by its anomalies, centred on each), plus
``kinds.json`` naming each anomaly's kind. Normal behaviour varies per file:
Gaussian, heavy-tailed (Student t, 3 degrees of freedom), occasional normal
spikes, a random walk, quantised readings; half the files carry a daily
cycle of 3 noise deviations. Anomalies: a lasting shift up (6 deviations) or
down (5), a temporary shift (6 deviations for 5 hours), a single spike (12),
a wider spread (3 deviations more for 150 rows), a ramp (0.04 deviations a
row for 200 rows). It is our own construction, not a benchmark: it shows
which kinds of change a detector catches, not how it ranks on real data.
"""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

KINDS = ("shift", "spike", "variance", "temp_shift", "ramp", "dip")
NOISES = ("gauss", "t3", "spiky", "walk", "quant")


def _series(rng: random.Random, n: int, noise: str, season: bool, anomalies: list[tuple[int, str]]) -> list[float]:
    level = rng.uniform(5, 500)
    sd = level * rng.uniform(0.01, 0.1)
    walk, out = 0.0, []
    for i in range(n):
        e = rng.gauss(0, 1)
        if noise == "t3":
            e = rng.gauss(0, 1) / math.sqrt(max(rng.gammavariate(1.5, 2) / 3, 1e-3)) * 0.6
        elif noise == "spiky" and rng.random() < 0.01:
            e += rng.uniform(3, 8)
        elif noise == "walk":
            walk += rng.gauss(0, 0.2)
            e += walk
        x = level + sd * e
        if season:
            x += 3 * sd * math.sin(2 * math.pi * i / 288)
        for p, kind in anomalies:
            if kind == "shift" and i >= p:
                x += 6 * sd
            elif kind == "dip" and i >= p:
                x -= 5 * sd
            elif kind == "temp_shift" and p <= i < p + 60:
                x += 6 * sd
            elif kind == "spike" and i == p:
                x += 12 * sd
            elif kind == "variance" and p <= i < p + 150:
                x += sd * 3 * rng.gauss(0, 1)
            elif kind == "ramp" and i >= p:
                x += sd * min(i - p, 200) * 0.04
        if noise == "quant":
            x = round(x / sd) * sd
        out.append(x)
    return out


def write_corpus(root: Path, seed: int = 0, files: int = 24, rows: int = 4000) -> Path:
    rng = random.Random(seed)
    t0 = datetime(2024, 1, 1)
    labels, kinds = {}, {}

    def stamp(i: int) -> str:
        return f"{t0 + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S}"

    for f in range(files):
        noise, season = rng.choice(NOISES), rng.random() < 0.5
        pos = sorted(rng.sample(range(int(0.2 * rows), rows - 100), rng.choice([1, 2, 2, 3])))
        pos = [p for i, p in enumerate(pos) if i == 0 or p - pos[i - 1] > 400]
        half = int(0.1 * rows / len(pos)) // 2
        anomalies = [(p, rng.choice(KINDS)) for p in pos]
        values = _series(rng, rows, noise, season, anomalies)
        name = f"synth/f{f:02d}_{noise}{'_season' if season else ''}.csv"
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("timestamp,value\n" + "".join(f"{stamp(i)},{v:.4f}\n" for i, v in enumerate(values)))
        kinds[name] = [k for _, k in anomalies]
        labels[name] = [[stamp(max(p - half, 0)) + ".000000", stamp(min(p + half, rows - 1)) + ".000000"]
                        for p, _ in anomalies]
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels, indent=1))
    (root / "kinds.json").write_text(json.dumps(kinds))
    return root
