"""Fault rate per cohort: the batch problem, with false-alarm control and attribution.

Unit of evidence: *devices*, not faults. Over a horizon of the last ``h``
windows, a cohort has ``N`` active devices (any record) of which ``m`` had at
least one fault. One flapping device therefore counts once and cannot make
its cohort look bad; the test is a binomial tail ``P(Bin(N, p0) >= m)``.

Expected fraction ``p0`` is the larger of

* the fleet outside the cohort over the same horizon, standardised by
  model (each device is compared with devices of its own model, because
  models differ in their inherent fault rates; a regression shows against
  the devices that do not have it), pooled with the same cells' long-run
  rate per device-window so that a small reference is not all noise, and
* the cohort's own history (``CohortRate``, exponentially forgetting), pulled
  towards the fleet while young. Scans in which the cohort is flagged are not
  learned, so an ongoing regression never becomes the cohort's own normal
  (learning them made a 4.5-day regression go quiet after 3 days). A cohort with no same-model devices outside it (a
  whole model) is compared with its own history only, once that history
  holds ``prior_devices`` device-observations; before that it is not tested.

Guards: at least ``min_devices`` active and ``min_affected`` faulty devices.
False-alarm control: every scan tests many cohorts at several horizons, and
there are ``looks`` scans per window (one every few minutes of event time,
the last when the window closes); the p-value is Bonferroni-multiplied by
the number of tests in the scan times the looks per window and compared
with ``alpha``, the family-wise false-alarm probability per window. Scores are ``-log10`` of the adjusted p-value; the
threshold is ``-log10(alpha)``. Attribution follows `detectors.attribution`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from river.base import AnomalyDetector

from detectors.attribution import Cell, CohortKey, explain, keys_of
from detectors.tails import betabinomial_sf, surprise


class CohortRate(AnomalyDetector):
    """A cohort's faulty-device fraction against the fleet and its own history.

    ``x = {"active": N, "faulty": m, "fleet_rate": p, "fleet_n": n}`` (``p`` None
    when there is no reference; ``n`` the reference's effective size).

    >>> det = CohortRate()
    >>> for _ in range(50):
    ...     det.learn_one({"active": 100, "faulty": 5, "fleet_rate": 0.05})
    >>> det.score_one({"active": 100, "faulty": 5, "fleet_rate": 0.05})
    0.0
    >>> det.score_one({"active": 100, "faulty": 30, "fleet_rate": 0.05, "fleet_n": 500}) > 8
    True
    """

    def __init__(self, memory_scans: int = 168, prior_devices: float = 50.0, lag: int = 1):
        self.memory_scans = memory_scans
        self.prior_devices = prior_devices
        self.lag = lag
        self._faulty = 0.0
        self._active = 0.0
        self._pending: list[tuple[float, float]] = []

    def expected(self, x: dict) -> float | None:
        """The expected faulty fraction; None without a fleet baseline or enough history."""
        fleet = x.get("fleet_rate")
        if fleet is None:
            if self._active < self.prior_devices:
                return None
            return (self._faulty + 0.5) / (self._active + 1.0)
        own = (self._faulty + self.prior_devices * fleet) / (self._active + self.prior_devices)
        return max(fleet, own)

    def p_value(self, x: dict) -> float:
        """Beta-binomial tail: the expected fraction is known only as well as its reference is large."""
        expected = self.expected(x)
        if expected is None:
            return 1.0
        fleet = x.get("fleet_rate")
        if fleet is not None and expected == fleet:
            size = float(x.get("fleet_n", 1e6))
        else:
            size = self._active + (self.prior_devices if fleet is not None else 0.0)
        return betabinomial_sf(int(x["faulty"]), int(x["active"]), expected * size + 0.5,
                               (1.0 - expected) * size + 0.5)

    def score_one(self, x: dict) -> float:
        return surprise(self.p_value(x))

    def learn_one(self, x: dict) -> None:
        # Horizon counts overlap from one scan to the next: each is learned
        # with weight 1/lag, and only once it is `lag` scans old, so the
        # history never contains the horizon being tested.
        self._pending.append((float(x["faulty"]), float(x["active"])))
        if len(self._pending) <= self.lag - 1:
            return
        faulty, active = self._pending.pop(0)
        keep = 1.0 - 1.0 / self.memory_scans
        self._faulty = self._faulty * keep + faulty / self.lag
        self._active = self._active * keep + active / self.lag


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
LongRun = dict[Cell, tuple[float, float]]  # cell -> (faulty device-windows, active device-windows)
LONG_RUN_WEIGHT = 4.0


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
        self._totals: dict[int, dict] = {}

    def scan(self, counts: dict[int, Counts], long_run: LongRun | None = None, *, learn: bool = True,
             looks: int = 1) -> list[CohortFinding]:
        """``counts[h]`` are the cell counts over horizon ``h``; returns the explained excesses.

        ``long_run`` (optional): per cell, (faulty device-windows, active
        device-windows) over a long, exponentially forgetting past.
        ``looks``: scans per window (sliding evaluation), part of the
        Bonferroni factor so that the family-wise rate stays ``alpha`` per
        window; ``learn=False`` for a look at a window still open (only a
        closed window teaches the cohorts' histories).
        """
        agg = {h: _aggregate(counts.get(h, {})) for h in self.horizons}
        self._totals = {}  # per horizon, for this scan only
        try:
            return self._scan(counts, agg, long_run, learn, max(1, looks))
        finally:
            self._totals = {}

    def _scan(self, counts: dict[int, Counts], agg: dict, long_run: LongRun | None, learn: bool,
              looks: int) -> list[CohortFinding]:
        tests, n_tests = self._test_all(counts, agg, long_run, learn, looks)
        threshold = surprise(self.alpha)
        cells_of = {k: frozenset(agg[h][k][2]) for k in tests for h in self.horizons if k in agg[h]}
        significant = sorted((k for k, t in tests.items() if surprise(t[0] * n_tests) >= threshold),
                             key=lambda k: tests[k][0])
        if not significant:
            return []

        def excess(cells: frozenset, left_out: frozenset) -> bool:
            return any(self._residual_p(counts.get(h, {}), cells, left_out, h, long_run) * n_tests <= self.alpha
                       for h in self.horizons)

        def enough(cells: frozenset) -> bool:
            return sum(counts.get(max(self.horizons), {}).get(c, (0, 0))[0] for c in cells) >= self.min_devices

        findings = []
        for key in explain(significant, cells_of, excess, enough):
            p, h, x, expected = tests[key]
            findings.append(CohortFinding(key, cells_of[key], h, x["active"], x["faulty"], expected,
                                          surprise(p * n_tests), threshold))
        return findings

    def _test_all(self, counts: dict[int, Counts], agg: dict, long_run: LongRun | None, learn: bool = True,
                  looks: int = 1) -> tuple[dict, int]:
        """Test every guarded cohort at every horizon (best horizon kept per cohort), then learn."""
        tests: dict[CohortKey, tuple] = {}  # key -> (p-value, horizon, x, expected fraction)
        xs: dict[tuple, dict] = {}
        n_tests = 0
        for h in self.horizons:
            for key, (n, m, cells) in agg[h].items():
                base = self._baseline(counts.get(h, {}), cells, frozenset(), h, long_run)
                x = xs[key, h] = {"active": n, "faulty": m, "fleet_rate": base[0] if base else None,
                                  "fleet_n": base[1] if base else 0.0}
                det = self.history.get((key, h)) or self._new(h)
                expected = det.expected(x)
                if n >= self.min_devices and m >= self.min_affected and expected is not None:
                    n_tests += 1
                    p = det.p_value(x)
                    if key not in tests or p < tests[key][0]:
                        tests[key] = (p, h, x, expected)
        n_tests *= looks
        flagged = {k for k, t in tests.items() if t[0] * n_tests <= self.alpha}
        for (key, h), x in (xs.items() if learn else ()):  # prequential: learn after scoring
            if key not in flagged:  # an excess never becomes the cohort's own normal
                self.history.setdefault((key, h), self._new(h)).learn_one(x)
        return tests, n_tests

    def _new(self, horizon: int) -> CohortRate:
        return CohortRate(self.memory_scans, self.prior_devices, lag=horizon)

    def _baseline(self, counts: Counts, cells, left_out: frozenset, h: int,
                  long_run: LongRun | None = None) -> tuple[float, float] | None:
        """Expected faulty fraction of ``cells`` from same-model devices outside them (and ``left_out``).

        Models differ in their inherent fault rates, so each cell is compared
        with the other devices of its model (indirect standardisation). The
        reference is the horizon's devices, pooled with the same cells'
        long-run rate per device-window (``long_run``, worth at most
        ``LONG_RUN_WEIGHT`` times the horizon's devices) so that a small
        reference is not all noise. None when some model has too few devices
        outside the cells to compare with. Returns (rate, effective size).
        """
        totals = self._totals.get(h)
        if totals is None:
            totals = self._totals[h] = _model_totals(counts, long_run)
        per_model = {k: list(v) for k, v in totals.items()}
        for c in set(cells) | set(left_out):  # the fleet's totals minus the tested and set-aside cells
            if c in counts and c[0] in per_model:
                ref = per_model[c[0]]
                ref[0] -= counts[c][0]
                ref[1] -= counts[c][1]
                if long_run and c in long_run:
                    ref[2] -= long_run[c][0]
                    ref[3] -= long_run[c][1]
        weights: dict[str, int] = defaultdict(int)
        for c in cells:
            weights[c[0]] += counts.get(c, (0, 0))[0]
        total = sum(weights.values())
        if not total:
            return None
        expected = variance_share = 0.0
        for model, n in weights.items():
            ref = per_model.get(model)
            if not n:
                continue
            if ref is None or ref[0] < self.min_devices:
                return None
            size, faulty = ref[0], ref[1]
            if ref[3] > 0:
                per_window = (ref[2] + 0.5) / (ref[3] + 1.0)
                size_long = min(ref[3] / h, LONG_RUN_WEIGHT * ref[0])
                faulty += size_long * (1.0 - (1.0 - per_window) ** h)
                size += size_long
            w = n / total
            expected += w * (faulty + 0.5) / (size + 1.0)
            variance_share += w * w / size
        return expected, 1.0 / variance_share

    def _residual_p(self, counts: Counts, cells: frozenset, left_out: frozenset, h: int,
                    long_run: LongRun | None) -> float:
        n = sum(counts.get(c, (0, 0))[0] for c in cells)
        m = sum(counts.get(c, (0, 0))[1] for c in cells)
        if n < self.min_devices or m < self.min_affected:
            return 1.0
        base = self._baseline(counts, cells, left_out, h, long_run)
        if base is None:
            return 1.0
        rate, size = base
        return betabinomial_sf(m, n, rate * size + 0.5, (1.0 - rate) * size + 0.5)


def _model_totals(counts: Counts, long_run: LongRun | None) -> dict[str, tuple[float, float, float, float]]:
    """Per model: active devices, faulty devices, long-run faulty and active device-windows."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for c, (n, m) in counts.items():
        ref = totals[c[0]]
        ref[0] += n
        ref[1] += m
        if long_run and c in long_run:
            ref[2] += long_run[c][0]
            ref[3] += long_run[c][1]
    return {k: tuple(v) for k, v in totals.items()}


def _aggregate(counts: Counts) -> dict[CohortKey, tuple[int, int, set]]:
    out: dict = defaultdict(lambda: [0, 0, set()])
    for cell, (n, m) in counts.items():
        for key in keys_of(cell):
            entry = out[key]
            entry[0] += n
            entry[1] += m
            entry[2].add(cell)
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


