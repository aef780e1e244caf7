"""Fault rate per cohort: the batch problem, with false-alarm control and attribution.

Unit of evidence: *devices*, not faults. Over a horizon of the last ``h``
windows, a cohort has ``N`` active devices (any record) of which ``m`` had at
least one fault. One flapping device therefore counts once and cannot make
its cohort look bad; the test is a binomial tail ``P(Bin(N, p0) >= m)``.

Expected fraction ``p0`` is the larger of

* the fleet outside the cohort over the same horizon (a regression shows
  against the devices that do not have it), and
* the cohort's own history (``CohortRate``, exponentially forgetting), pulled
  towards the fleet while young, so a chronically worse cohort is not
  re-reported forever.

Guards: at least ``min_devices`` active and ``min_affected`` faulty devices.
False-alarm control: every scan (one per closed window) tests many cohorts at
several horizons; the p-value is Bonferroni-multiplied by the number of tests
in that scan and compared with ``alpha``, the family-wise false-alarm
probability per scan. Scores are ``-log10`` of the adjusted p-value; the
threshold is ``-log10(alpha)``. Attribution follows `detectors.attribution`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from river.base import AnomalyDetector

from detectors.attribution import Cell, CohortKey, explain, keys_of
from detectors.tails import binomial_sf, surprise


class CohortRate(AnomalyDetector):
    """A cohort's faulty-device fraction against the fleet and its own history.

    ``x = {"active": N, "faulty": m, "fleet_rate": p}``.

    >>> det = CohortRate()
    >>> for _ in range(50):
    ...     det.learn_one({"active": 100, "faulty": 5, "fleet_rate": 0.05})
    >>> det.score_one({"active": 100, "faulty": 5, "fleet_rate": 0.05})
    0.0
    >>> det.score_one({"active": 100, "faulty": 30, "fleet_rate": 0.05}) > 10
    True
    """

    def __init__(self, memory_scans: int = 168, prior_devices: float = 50.0):
        self.memory_scans = memory_scans
        self.prior_devices = prior_devices
        self._faulty = 0.0
        self._active = 0.0

    def expected(self, x: dict) -> float:
        fleet = float(x.get("fleet_rate", 0.0))
        own = (self._faulty + self.prior_devices * fleet) / (self._active + self.prior_devices)
        return max(fleet, own)

    def p_value(self, x: dict) -> float:
        return binomial_sf(int(x["faulty"]), int(x["active"]), self.expected(x))

    def score_one(self, x: dict) -> float:
        return surprise(self.p_value(x))

    def learn_one(self, x: dict) -> None:
        keep = 1.0 - 1.0 / self.memory_scans
        self._faulty = self._faulty * keep + float(x["faulty"])
        self._active = self._active * keep + float(x["active"])


@dataclass(frozen=True, slots=True)
class CohortFinding:
    """One explained excess: the cohort that explains it and its evidence."""

    key: CohortKey
    cells: frozenset
    horizon: int
    active: int
    faulty: int
    expected: float  # expected faulty fraction
    score: float  # Bonferroni-adjusted surprise
    threshold: float


Counts = dict[Cell, tuple[int, int]]  # cell -> (active devices, faulty devices)


class CohortScan:
    """Tests every cohort at every horizon once per closed window."""

    def __init__(self, horizons: tuple[int, ...] = (6, 24), alpha: float = 1e-3, min_devices: int = 5,
                 min_affected: int = 3, memory_scans: int = 168, prior_devices: float = 50.0):
        self.horizons = horizons
        self.alpha = alpha
        self.min_devices = min_devices
        self.min_affected = min_affected
        self.memory_scans = memory_scans
        self.prior_devices = prior_devices
        self.history: dict[tuple, CohortRate] = {}

    def scan(self, counts: dict[int, Counts]) -> list[CohortFinding]:
        """``counts[h]`` are the cell counts over horizon ``h``; returns the explained excesses."""
        agg = {h: _aggregate(counts.get(h, {})) for h in self.horizons}
        totals = {h: _total(counts.get(h, {})) for h in self.horizons}
        tests: dict[CohortKey, tuple[float, int, dict]] = {}
        n_tests = 0
        for h in self.horizons:
            for key, (n, m, _cells) in agg[h].items():
                x = self._x(n, m, totals[h])
                det = self.history.get((key, h))
                if n >= self.min_devices and m >= self.min_affected:
                    n_tests += 1
                    p = (det or self._new()).p_value(x)
                    if key not in tests or p < tests[key][0]:
                        tests[key] = (p, h, x)
        for h in self.horizons:  # prequential: learn after scoring
            for key, (n, m, _cells) in agg[h].items():
                self.history.setdefault((key, h), self._new()).learn_one(self._x(n, m, totals[h]))
        threshold = surprise(self.alpha)
        cells_of = {k: frozenset(agg[h][k][2]) for k in tests for h in self.horizons if k in agg[h]}
        significant = sorted((k for k, (p, _, _) in tests.items() if surprise(p * n_tests) >= threshold),
                             key=lambda k: tests[k][0])
        if not significant:
            return []

        def excess(cells: frozenset, left_out: frozenset) -> bool:
            return any(self._residual_p(counts.get(h, {}), cells, left_out) * n_tests <= self.alpha
                       for h in self.horizons)

        def enough(cells: frozenset) -> bool:
            return sum(counts.get(max(self.horizons), {}).get(c, (0, 0))[0] for c in cells) >= self.min_devices

        findings = []
        for key in explain(significant, cells_of, excess, enough):
            p, h, x = tests[key]
            findings.append(CohortFinding(key, cells_of[key], h, x["active"], x["faulty"],
                                          self._expected_of(key, h, x), surprise(p * n_tests), threshold))
        return findings

    def _new(self) -> CohortRate:
        return CohortRate(self.memory_scans, self.prior_devices)

    def _expected_of(self, key, h, x) -> float:
        det = self.history.get((key, h))
        return det.expected(x) if det else x["fleet_rate"]

    @staticmethod
    def _x(n: int, m: int, total: tuple[int, int]) -> dict:
        rest_n, rest_m = total[0] - n, total[1] - m
        fleet = (rest_m + 0.5) / (rest_n + 1.0) if rest_n > 0 else (total[1] + 0.5) / (total[0] + 1.0)
        return {"active": n, "faulty": m, "fleet_rate": fleet}

    def _residual_p(self, counts: Counts, cells: frozenset, left_out: frozenset) -> float:
        n = sum(counts.get(c, (0, 0))[0] for c in cells)
        m = sum(counts.get(c, (0, 0))[1] for c in cells)
        if n < self.min_devices or m < self.min_affected:
            return 1.0
        base_n = sum(v[0] for c, v in counts.items() if c not in cells and c not in left_out)
        base_m = sum(v[1] for c, v in counts.items() if c not in cells and c not in left_out)
        return binomial_sf(m, n, (base_m + 0.5) / (base_n + 1.0))


def _aggregate(counts: Counts) -> dict[CohortKey, tuple[int, int, set]]:
    out: dict = defaultdict(lambda: [0, 0, set()])
    for cell, (n, m) in counts.items():
        for key in keys_of(cell):
            entry = out[key]
            entry[0] += n
            entry[1] += m
            entry[2].add(cell)
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def _total(counts: Counts) -> tuple[int, int]:
    return sum(v[0] for v in counts.values()), sum(v[1] for v in counts.values())
