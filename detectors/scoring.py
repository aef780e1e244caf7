"""Scores for labelled series: point metrics and the NAB-style changepoint score.

Point metrics compare the alarm (0/1 per row) with the anomaly label:
precision, recall, F1, FAR = FP / (FP + TN) (share of normal rows flagged)
and MAR = FN / (FN + TP) (share of anomalous rows missed).

Changepoint score (NAB, standard profile: A_tp = 1, A_fp = -0.11,
A_fn = -1), with SKAB's conventions, exactly:

* predicted changepoints are the rows where the alarm changes value (rising
  and falling edges), because SKAB's labelled changepoints mark both the
  start and the end of each anomaly;
* each labelled changepoint ``c`` opens a detection window of ``window``
  rows *after* it (SKAB's "righter" windows; 60 rows = 60 s at 1 Hz), cut
  short at the next labelled changepoint;
* the first predicted changepoint inside a window scores
  ``A_tp * sigma(y)``, with ``y = (t - end) / length`` in [-1, 0) and NAB's
  scaled sigmoid ``sigma(y) = 2 / (1 + exp(5 y)) - 1``; later ones in the
  same window score 0;
* a window with no predicted changepoint scores ``A_fn``;
* a predicted changepoint outside every window scores
  ``A_fp * -sigma(y)`` with ``y`` its distance after the end of the previous
  window in window lengths (cheap just after a window, the full ``A_fp``
  further away), or ``A_fp`` if no window precedes it;
* over all files, ``100 * (S - S_null) / (S_perfect - S_null)`` where
  ``S_perfect = n_windows * A_tp`` and ``S_null = n_windows * A_fn``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

A_TP, A_FP, A_FN = 1.0, -0.11, -1.0


@dataclass(frozen=True, slots=True)
class PointMetrics:
    precision: float
    recall: float
    f1: float
    far: float
    mar: float
    tp: int
    fp: int
    fn: int
    tn: int


def point_metrics(truth: Sequence[int], alarm: Sequence[int]) -> PointMetrics:
    """Point precision/recall/F1 with FAR and MAR.

    >>> m = point_metrics([0, 0, 1, 1, 1, 0], [0, 1, 1, 1, 0, 0])
    >>> (m.tp, m.fp, m.fn, m.tn), round(m.f1, 3), m.far, round(m.mar, 3)
    ((2, 1, 1, 2), 0.667, 0.3333333333333333, 0.333)
    """
    tp = sum(1 for t, a in zip(truth, alarm) if t and a)
    fp = sum(1 for t, a in zip(truth, alarm) if not t and a)
    fn = sum(1 for t, a in zip(truth, alarm) if t and not a)
    tn = sum(1 for t, a in zip(truth, alarm) if not t and not a)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    far = fp / (fp + tn) if fp + tn else 0.0
    mar = fn / (fn + tp) if fn + tp else 0.0
    return PointMetrics(precision, recall, f1, far, mar, tp, fp, fn, tn)


def edges(alarm: Sequence[int]) -> list[int]:
    """Rows where the alarm changes value.

    >>> edges([0, 0, 1, 1, 0, 1])
    [2, 4, 5]
    """
    return [i for i in range(1, len(alarm)) if bool(alarm[i]) != bool(alarm[i - 1])]


def sigma(y: float) -> float:
    """NAB's scaled sigmoid.

    >>> round(sigma(-1.0), 4), sigma(0.0), round(sigma(1.0), 4)
    (0.9866, 0.0, -0.9866)
    """
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def nab_raw(true_cps: Sequence[int], predicted: Sequence[int], window: int) -> tuple[float, int]:
    """Raw NAB score of one file and its number of windows (see module docstring).

    >>> nab_raw([10], [10], 60)[0] == sigma(-1.0)
    True
    >>> nab_raw([10], [], 60)
    (-1.0, 1)
    >>> round(nab_raw([10], [5, 40], 60)[0], 4)  # one FP before the window, one TP half-way
    0.7383
    """
    cps = sorted(true_cps)
    wins = [(c, min(c + window, cps[i + 1]) if i + 1 < len(cps) else c + window) for i, c in enumerate(cps)]
    return windows_raw(wins, predicted)


def windows_raw(wins: Sequence[tuple[int, int]], predicted: Sequence[int]) -> tuple[float, int]:
    """Raw NAB score of predicted rows against explicit windows ``[start, end)`` (sorted, disjoint).

    >>> windows_raw([(10, 20)], [10])[0] == sigma(-1.0)
    True
    >>> windows_raw([(10, 20)], [])
    (-1.0, 1)
    """
    wins = sorted(wins)
    hit = [False] * len(wins)
    score = 0.0
    for p in sorted(predicted):
        inside = next((i for i, (s, e) in enumerate(wins) if s <= p < e), None)
        if inside is not None:
            if not hit[inside]:
                s, e = wins[inside]
                score += A_TP * sigma((p - e) / (e - s))
                hit[inside] = True
            continue
        before = [(s, e) for s, e in wins if e <= p]
        if before:
            s, e = before[-1]
            score += A_FP * -sigma((p - e + 1) / (e - s))
        else:
            score += A_FP
    score += A_FN * hit.count(False)
    return score, len(wins)


def nab_score(files: Sequence[tuple[Sequence[int], Sequence[int]]], window: int = 60) -> float:
    """Normalised NAB score over files given as (true changepoints, predicted changepoints).

    >>> nab_score([([10], [10])]) > 98
    True
    >>> nab_score([([10], [])])
    0.0
    """
    raw, n = 0.0, 0
    for true_cps, predicted in files:
        s, k = nab_raw(true_cps, predicted, window)
        raw, n = raw + s, n + k
    if n == 0:
        return 0.0
    perfect, null = n * A_TP, n * A_FN
    return 100.0 * (raw - null) / (perfect - null)
