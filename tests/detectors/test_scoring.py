"""The eval scorer against small cases computed by hand."""

import math

import pytest

from detectors.scoring import edges, nab_raw, nab_score, point_metrics


def test_point_metrics_by_hand():
    truth = [0, 0, 1, 1, 1, 0, 0, 1]
    alarm = [0, 1, 1, 0, 1, 0, 0, 0]
    m = point_metrics(truth, alarm)
    # TP rows 2, 4; FP row 1; FN rows 3, 7; TN rows 0, 5, 6
    assert (m.tp, m.fp, m.fn, m.tn) == (2, 1, 2, 3)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(0.5)
    assert m.f1 == pytest.approx(4 / 7)  # 2PR / (P + R) = (2/3) / (7/6)
    assert m.far == pytest.approx(0.25)
    assert m.mar == pytest.approx(0.5)


def test_flagging_every_row_gives_recall_one_and_far_one():
    m = point_metrics([0, 1, 1, 0], [1, 1, 1, 1])
    assert (m.recall, m.far, m.mar) == (1.0, 1.0, 0.0)
    assert m.f1 == pytest.approx(2 / 3)


def test_nab_by_hand():
    # windows [10, 30) and [100, 120) (20 rows after each changepoint)
    # 5   before any window:                      A_fp               = -0.11
    # 15  first in window 0, y = (15-30)/20 = -0.75: 2/(1+e^-3.75) - 1 = +0.954046
    # 25  second in window 0:                                          0
    # 50  after window 0, y = (50-29)/20 = 1.05:  -0.11 * -(2/(1+e^5.25) - 1) = -0.108852
    # 110 first in window 1, y = -0.5:            2/(1+e^-2.5) - 1    = +0.848284
    raw, n = nab_raw([10, 100], [5, 15, 25, 50, 110], window=20)
    assert n == 2
    assert raw == pytest.approx(-0.11 + 0.954046 - 0.108852 + 0.848284, abs=1e-5)
    # normalised: 100 * (S - S_null) / (S_perfect - S_null), S_null = -2, S_perfect = 2
    assert nab_score([([10, 100], [5, 15, 25, 50, 110])], window=20) == pytest.approx(
        100 * (raw + 2) / 4)


def test_nab_windows_are_cut_at_the_next_changepoint_and_misses_cost_a_fn():
    raw, n = nab_raw([10, 15], [12], window=60)  # windows [10, 15) and [15, 75)
    expected = (2 / (1 + math.exp(5 * (12 - 15) / 5)) - 1) - 1.0
    assert (raw, n) == (pytest.approx(expected), 2)


def test_null_and_perfect_detectors():
    assert nab_score([([10, 50], [])]) == 0.0
    assert nab_score([([10, 50], [10, 50])]) > 98.0
    assert edges([0, 1, 1, 0, 0, 1]) == [1, 3, 5]
