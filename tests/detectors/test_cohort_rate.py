"""Cohort scan: significance with false-alarm control, and attribution on synthetic fleets."""

import random

from detectors.cohort_rate import CohortScan

MODELS = ("PX-200", "CH-50")
SITES = ("s1", "s2", "s3", "s4")


def fleet(rng, bad=lambda cell: False, p=0.08, p_bad=0.6, per_cell=12):
    """Cell counts for one horizon: (active, faulty) per (model, firmware, site)."""
    counts = {}
    for model in MODELS:
        for fw in ("2.0.3", "2.1.0"):
            for site in SITES:
                cell = (model, fw, site)
                q = p_bad if bad(cell) else p
                counts[cell] = (per_cell, sum(rng.random() < q for _ in range(per_cell)))
    return counts


def run(bad, scans=40, seed=1):
    rng = random.Random(seed)
    scan = CohortScan(horizons=(6, 24))
    found = []
    for i in range(scans):
        counts = {h: fleet(rng, bad if i >= scans - 5 else (lambda c: False)) for h in (6, 24)}
        found.append(scan.scan(counts))
    return found


def test_healthy_fleet_raises_nothing_over_many_scans_and_seeds():
    for seed in range(5):
        assert not any(run(lambda c: False, scans=60, seed=seed)), seed


def test_firmware_regression_across_sites_is_attributed_to_the_firmware():
    found = run(lambda c: c[1] == "2.1.0")
    last = found[-1]
    assert [f.key for f in last] == [(None, "2.1.0", None)]
    assert last[0].faulty > last[0].expected * last[0].active


def test_regression_on_one_model_only_is_narrowed_to_model_and_firmware():
    found = run(lambda c: c[0] == "PX-200" and c[1] == "2.1.0")
    assert [f.key for f in found[-1]] == [("PX-200", "2.1.0", None)]


def test_site_problem_is_attributed_to_the_site():
    found = run(lambda c: c[2] == "s3")
    assert [f.key for f in found[-1]] == [(None, None, "s3")]


def test_guard_small_cohorts_are_not_tested():
    scan = CohortScan(min_devices=5)
    counts = {h: {("PX-200", "9.9.9", "s1"): (3, 3), ("PX-200", "2.0.3", "s1"): (50, 1)} for h in (6, 24)}
    assert scan.scan(counts) == []


def test_long_run_rate_strengthens_a_small_reference():
    """10 of 20 devices on firmware 2.1 faulted against 2 of 30 on 2.0: too few reference devices alone."""
    cells = {("PX", "2.1", "s1"): (10, 5), ("PX", "2.1", "s2"): (10, 5), ("PX", "2.0", "s1"): (15, 1),
             ("PX", "2.0", "s2"): (15, 1), ("CH", "1.0", "s1"): (20, 1), ("CH", "1.0", "s2"): (20, 1)}
    counts = {6: cells, 24: cells}
    assert CohortScan().scan(counts) == []
    long_run = {c: (20.0, 2000.0) for c in cells}  # 1 % of device-windows faulted, over a long past
    (finding,) = CohortScan().scan(counts, long_run)
    assert finding.key == (None, "2.1", None) and finding.faulty == 10 and finding.active == 20
