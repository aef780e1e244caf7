"""Pooled fault counts per cohort against time at risk: fast for new cohorts, sensitive for weak drifts.

The devices-with-a-fault test (`detectors.cohort_rate`) is robust (a
flapping device counts once) but slow in two cases: a cohort that has just
formed (a firmware rollout) is diluted by faults its devices had before
they joined it, and a weak excess (×2–3 in a small share of a model) needs
more than a day of devices-with-a-fault to show. This test counts *faults*
per cohort since each device joined it (a firmware update starts the count
again), over horizons of 24 and 168 windows (established cohorts of one or
two attributes also over the last 1, 3 and 8: an onset at one site or in
one hardware batch, not yet diluted by a day of background), against the
time at risk
(device-windows in the cohort) times the fault rate of the same model's
devices outside it (their long-run rate per device-window). Each device
contributes at most ``cap`` faults per horizon (one if its own fault-rate
detector flagged it lately: it is explained on its own), and at least
``min_affected`` devices must have faulted, so one flapping device cannot
make its cohort look bad. The tail is negative binomial (the reference rate
is known only as well as its exposure is large).

False-alarm control: three families, each at family-wise ``alpha`` per
window (Bonferroni over its tests): *young* cohorts (tested at every look
into the open windows, so times the looks per window), whose devices all
moved into them (a firmware update) within ``young_windows`` (a rollout:
few tests, so a strong early signal passes soon); the established ones over
a day and a week, and their *onsets* over the last hours (both tested when
a window closes, over horizons that slide with it; the onsets only in
cohorts of one or two attributes, so a family of a few dozen tests rather
than every combination). A cohort's best test, each scaled by its family's
factor, is its score. Cohorts with the same devices are one test.
A cohort once found is re-tested at every look until its score falls below
``rearm`` times the threshold, and reported meanwhile (hysteresis: the alert
stage keeps one alert alive instead of seeing it blink at each window); at a
look each horizon reaches as far back as at the last close and on into the
open window, so an onset found over one closed window is re-tested on that
window and what followed, not on a horizon that slid past it, its family's
tests times the looks per window.
Attribution follows `detectors.attribution` on the same pooled counts; a
cohort is narrowed to one inside it only when the rest has clearly fewer
faults than the narrower cohort's rate would give it (equal rates tested
given the total), not merely too few to be significant on their own.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate
from typing import Iterable, Mapping

from detectors.attribution import Cell, CohortKey, explain, generality, keys_of, label
from detectors.fleet import DeviceState
from detectors.tails import binomial_cdf, negbin_sf, surprise

HORIZONS = (24, 168)  # the last 6 windows are the devices-with-a-fault test's; a young cohort's whole life is in 24
ONSET_HORIZONS = (1, 3, 8)  # at a window close, established cohorts only: an onset not yet diluted by a day
ONSET_GENERALITY = 2  # ... in cohorts of one or two attributes (a site, a hardware revision, a model at a site)
CONCENTRATED_P = 0.05  # a cohort is narrowed only if the rest's count is this unlikely at the narrower cohort's rate


@dataclass(frozen=True, slots=True)
class PooledFinding:
    key: CohortKey
    cells: frozenset
    horizon: int
    devices: int
    faulty: int
    faults: int
    exposure_windows: float
    expected: float  # expected faults
    score: float
    threshold: float


@dataclass(slots=True)
class _Agg:
    devices: int = 0
    faulty: int = 0
    faults: int = 0
    exposure: float = 0.0  # device-windows
    born_ms: int = 1 << 62  # earliest join among its devices


def pooled_counts(devices: Mapping[str, DeviceState], w: int, now_ms: int, window_ms: int,
                  open_faults: Mapping[str, int] | None = None, cap: int = 3,
                  horizons: tuple[int, ...] = HORIZONS, only: Iterable[str] | None = None) -> dict[int, dict[Cell, _Agg]]:
    """Per horizon and cell: devices, faulty devices, capped faults and device-windows since joining.

    ``open_faults``: at a look, each device's faults in the windows still
    open; ``only``: the devices to count (default: all).
    """
    tables: list[tuple[int, dict]] = [((w - h + 1) * window_ms, {}) for h in horizons]
    stale = now_ms - 2 * window_ms
    plain: dict[Cell, list] = {}  # per cell, the devices without a fault to count: [born, join times]
    for device in (devices if only is None else only):
        st = devices[device]
        cell = st.cell
        if not cell[0] or st.last_seen_ms < stale:
            continue  # silent devices add no time at risk
        extra = open_faults.get(device, 0) if open_faults else 0
        fws, joined = st.fault_windows, st.joined_ms
        # a device that has been in its cell since it was first seen makes the cell established
        born = joined if joined > st.first_seen_ms else -(1 << 62)
        if not fws and not extra:  # most of a fleet: only their time at risk, summed per cell below
            if joined < now_ms:
                slot = plain.get(cell)
                if slot is None:
                    plain[cell] = [born, [joined]]
                else:
                    slot[1].append(joined)
                    if born < slot[0]:
                        slot[0] = born
            continue
        limit = 1 if st.flagged_ms >= tables[-1][0] else cap
        for horizon_start, table in tables:
            start = joined if joined > horizon_start else horizon_start
            if start >= now_ms:
                continue
            faults = extra
            if fws:
                first = start // window_ms
                faults += sum(n for fw, n in fws if fw >= first)
            agg = table.get(cell)
            if agg is None:
                agg = table[cell] = [0, 0, 0, 0, born]
            agg[0] += 1
            agg[1] += faults > 0
            # a device its own detector flagged is explained on its own: it counts once, not `cap` times
            agg[2] += faults if faults < limit else limit
            agg[3] += now_ms - start
            if born < agg[4]:
                agg[4] = born
    for cell, (born, joins) in plain.items():
        joins.sort()
        n = len(joins)
        latest = list(accumulate(reversed(joins)))  # latest[i]: the sum of the i + 1 latest join times
        for horizon_start, table in tables:
            if horizon_start >= now_ms:
                continue
            since = n - bisect_right(joins, horizon_start)  # joined after the horizon started: at risk since then
            agg = table.get(cell)
            if agg is None:
                agg = table[cell] = [0, 0, 0, 0, born]
            agg[0] += n
            agg[3] += (n - since) * (now_ms - horizon_start) + (since * now_ms - latest[since - 1] if since else 0)
            if born < agg[4]:
                agg[4] = born
    return {h: {c: _Agg(a[0], a[1], a[2], a[3] / window_ms, a[4]) for c, a in table.items()}
            for h, (_, table) in zip(horizons, tables)}


class PooledScan:
    """Tests every cohort's pooled fault count against its model's devices outside it."""

    concentrated_p = CONCENTRATED_P  # for a scan restored from a checkpoint written before this setting

    def __init__(self, alpha: float = 1e-3, min_devices: int = 5, min_affected: int = 3,
                 young_windows: int = 24, min_reference: float = 200.0, rearm: float = 0.8,
                 concentrated_p: float = CONCENTRATED_P):
        self.alpha = alpha
        self.min_devices = min_devices
        self.min_affected = min_affected
        self.young_windows = young_windows
        self.min_reference = min_reference  # device-windows of reference needed to test
        self.rearm = rearm  # a cohort found stays reported down to this share of the threshold
        self.concentrated_p = concentrated_p
        self.watched: dict[CohortKey, frozenset] = {}  # cohorts found, re-tested at every look until they clear

    def scan(self, counts: dict[int, dict[Cell, _Agg]], long_run: Mapping[Cell, tuple[float, float]],
             now_ms: int, window_ms: int, looks: int = 1, young_only: bool = False,
             occupied: set | None = None) -> list[PooledFinding]:
        """``long_run``: per cell (faults, device-windows), exponentially forgetting.

        ``young_only``: a look into the open windows; ``counts`` holds only the
        young cells and those of cohorts found, and only cohorts whose
        occupied cells (``occupied``: the cells with devices counted anywhere;
        default: every cell ever seen) are all counted are tested.
        """
        model_totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for cell, (faults, windows) in long_run.items():
            model_totals[cell[0]][0] += faults
            model_totals[cell[0]][1] += windows

        def p_value(h: int, cells: frozenset, left_out: frozenset) -> tuple[float, tuple]:
            aggs = [(c, counts[h][c]) for c in cells if c in counts[h]]
            n, m = sum(a.devices for _, a in aggs), sum(a.faulty for _, a in aggs)
            if n < self.min_devices or m < self.min_affected:
                return 1.0, ()
            return self._tail(aggs, cells | left_out, long_run, model_totals)

        cells_of: dict[CohortKey, frozenset] = {}
        for cell in counts[max(counts)]:
            for key in keys_of(cell):
                cells_of[key] = cells_of.get(key, frozenset()) | {cell}
        candidates: dict[CohortKey, list] = {}
        families = {"young": 0, "established": 0, "onset": 0}
        # a cell its devices all left (a firmware update) keeps a long-run rate but has no devices to count
        known = (set(long_run) if occupied is None else occupied) | set(counts[max(counts)])

        young_set = young_cells(counts, now_ms, window_ms, self.young_windows)

        def young(cells: frozenset) -> bool:
            return cells <= young_set

        def testable(key: CohortKey) -> bool:
            """At a look, the young cohorts and those found, counted whole (only their devices are counted)."""
            return not young_only or ((young(cells_of[key]) or key in self.watched)
                                      and all(c in cells_of[key] for c in known if _matches(key, c)))

        representatives = {}  # cohorts with the same devices are one test (firmware 2.1.0 = PX-200 on 2.1.0)
        # at a look only some devices are counted, so more cohorts coincide: one found is re-tested under its name
        for key in sorted(cells_of, key=lambda k: (young_only and k not in self.watched, generality(k), label(k))):
            representatives.setdefault(cells_of[key], key)
        for cells, key in representatives.items():
            if not testable(key):
                continue
            young_cohort = young(cells)
            seen = set()
            for h in sorted(counts):
                if young_cohort and h < self.young_windows:
                    continue  # a young cohort is counted since its devices joined it
                family = "young" if young_cohort else "onset" if h in ONSET_HORIZONS else "established"
                if family == "onset" and generality(key) > ONSET_GENERALITY:
                    continue
                p, stats = p_value(h, cells, frozenset())
                if not stats or stats in seen:
                    continue  # nothing to test, or the same counts as a shorter horizon
                seen.add(stats)
                families[family] += 1
                candidates.setdefault(key, []).append((p, h, stats, family))
        # Bonferroni: a family's tests, times the looks per window where it is tested at every look
        factor = {family: max(1, n) * (max(1, looks) if family == "young" or young_only else 1)
                  for family, n in families.items()}
        tests = {key: min(found, key=lambda t: t[0] * factor[t[3]]) for key, found in candidates.items()}
        threshold = surprise(self.alpha)
        significant = sorted((k for k, t in tests.items() if t[0] * factor[t[3]] <= self.alpha),
                             key=lambda k: tests[k][0])
        if not significant:
            return self._carry_over(tests, factor, cells_of, threshold, [])
        # the strictest correction in play; at a look, that of the families found significant, so a rollout's
        # test is not held to the looks' re-tests of cohorts found earlier
        worst = max(factor[tests[k][3]] for k in significant) if young_only else max(factor.values())

        def excess(cells: frozenset, left_out: frozenset) -> bool:
            return any(p_value(h, cells, left_out)[0] * worst <= self.alpha for h in counts)

        def enough(cells: frozenset) -> bool:
            return sum(counts[max(counts)][c].devices for c in cells if c in counts[max(counts)]) >= self.min_devices

        def concentrated(rest: frozenset, child: frozenset) -> bool:
            """The rest of a cohort has clearly fewer faults than ``child``'s rate would give it.

            Not merely too few to be significant: an hour into a site-wide
            fault, the site's chillers have too few faults to show an excess
            of their own while its pumps already do, yet as many as the pumps'
            rate predicts; the site, not its pumps, is the answer. Equal rates
            tested given the total (binomial), at the child's best horizon.
            """
            p, stats, h = min((p_value(h, child, frozenset()) + (h,) for h in counts), key=lambda t: t[0])
            aggs = [(c, counts[h][c]) for c in rest if c in counts[h]]
            reference = self._expected(aggs, rest | child, long_run, model_totals) if stats and aggs else None
            if reference is None:
                return False
            observed = sum(agg.faults for _, agg in aggs)
            total = observed + stats[2]
            share = reference[0] / (reference[0] + stats[4])  # the rest's share of the faults at equal rates
            return binomial_cdf(observed, total, share) <= self.concentrated_p

        findings = []
        for key in explain(significant, {k: cells_of[k] for k in tests}, excess, enough, concentrated):
            findings.append(self._finding(key, cells_of[key], tests[key], factor, threshold))

        def explained(cells: frozenset, young: frozenset) -> bool:
            """An established cohort's excess lies in the devices of a rollout found: nothing left without them."""
            return bool(cells & young) and not excess(cells - young, young)

        return self._carry_over(tests, factor, cells_of, threshold, findings, explained)

    def _finding(self, key, cells, test, factor, threshold) -> PooledFinding:
        p, h, (n, m, faults, exposure, expected), family = test
        return PooledFinding(key, cells, h, n, m, faults, exposure, expected, surprise(p * factor[family]), threshold)

    def _carry_over(self, tests, factor, cells_of, threshold, findings: list, explained=None) -> list[PooledFinding]:
        """Hysteresis: a cohort found before stays reported while it scores at least ``rearm`` x the threshold.

        ``explained(cells, young)``: whether an established cohort's excess is
        the devices of the rollouts reported with it (found now or before);
        such a cohort is not reported. A rollout is a change on its devices, a
        site or a hardware batch is not: when the updated pumps of one
        hardware revision fault, the revision is not a second incident.
        """
        found = {f.key for f in findings}
        for key in list(self.watched):
            if key in found:
                continue
            test = tests.get(key)
            if test is None or surprise(test[0] * factor[test[3]]) < self.rearm * threshold:
                del self.watched[key]
                continue
            findings.append(self._finding(key, cells_of[key], test, factor, threshold))
        if explained is not None:
            young = frozenset().union(*(f.cells for f in findings if tests[f.key][3] == "young"))
            if young:
                for f in [f for f in findings if tests[f.key][3] != "young" and explained(f.cells, young)]:
                    findings.remove(f)
                    self.watched.pop(f.key, None)
        for f in findings:
            self.watched[f.key] = f.cells
        return findings

    def _tail(self, aggs, excluded: frozenset, long_run, model_totals) -> tuple[float, tuple]:
        """Negative-binomial tail of the pooled count against the same models' devices outside ``excluded``."""
        observed = sum(agg.faults for _, agg in aggs)
        if observed < self.min_affected:
            return 1.0, ()
        reference = self._expected(aggs, excluded, long_run, model_totals)
        if reference is None:
            return 1.0, ()
        expected, ref_windows = reference
        total_exposure = sum(agg.exposure for _, agg in aggs)
        n, m = sum(a.devices for _, a in aggs), sum(a.faulty for _, a in aggs)
        stats = (n, m, observed, round(total_exposure, 3), expected)
        rate = ref_windows / total_exposure
        return negbin_sf(observed, expected * rate, rate), stats

    def _expected(self, aggs, excluded: frozenset, long_run, model_totals) -> tuple[float, float] | None:
        """(expected faults, reference device-windows) at the rate of the same models' devices outside ``excluded``."""
        exposure_by_model: dict[str, float] = defaultdict(float)
        for cell, agg in aggs:
            exposure_by_model[cell[0]] += agg.exposure
        out_of_reference: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for cell in excluded:
            if cell in long_run:
                slot = out_of_reference[cell[0]]
                slot[0] += long_run[cell][0]
                slot[1] += long_run[cell][1]
        expected = ref_windows = 0.0
        for model, exposure in exposure_by_model.items():
            faults, windows = model_totals.get(model, (0.0, 0.0))
            faults -= out_of_reference[model][0]
            windows -= out_of_reference[model][1]
            if windows < self.min_reference:
                return None
            expected += exposure * (max(faults, 0.0) + 0.5) / windows
            ref_windows += windows
        return expected, ref_windows


def _matches(key: CohortKey, cell: Cell) -> bool:
    """Whether ``cell`` belongs to cohort ``key``.

    >>> _matches((None, "2.1.0", None), ("PX-200", "2.1.0", "sh-01")), _matches(("CH-50", None, None), ("PX-200", "", ""))
    (True, False)
    """
    return all(v is None or v == cell[i] for i, v in enumerate(key))


def young_cells(counts: dict[int, dict[Cell, _Agg]], now_ms: int, window_ms: int, young_windows: int) -> set:
    """Cells whose devices all moved into them within ``young_windows``."""
    top = counts[max(counts)]
    return {c for c, a in top.items() if a.born_ms >= now_ms - young_windows * window_ms}
