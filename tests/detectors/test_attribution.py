"""Narrowing a cohort needs evidence that the excess is concentrated, not only too little evidence elsewhere."""

from detectors.attribution import explain

SITE = (None, None, "sh-05", None)
PUMPS_AT_SITE = ("PX-200", None, "sh-05", None)
CELLS = {SITE: frozenset({"pump", "chiller"}), PUMPS_AT_SITE: frozenset({"pump"})}


def no_excess_without_pumps(tested, _left_out):
    return "pump" in tested  # the chillers alone are not significant (yet)


def test_without_a_concentration_test_the_pumps_are_named():
    assert explain([PUMPS_AT_SITE, SITE], CELLS, no_excess_without_pumps, lambda c: True) == [PUMPS_AT_SITE]


def test_the_site_stays_named_while_its_other_devices_fault_at_the_pumps_rate():
    same_rate = lambda rest, child: False  # noqa: E731 - the rest's count is what the pumps' rate predicts
    assert explain([PUMPS_AT_SITE, SITE], CELLS, no_excess_without_pumps, lambda c: True, same_rate) == [SITE]


def test_a_clearly_concentrated_excess_is_narrowed():
    clearly_fewer = lambda rest, child: rest == frozenset({"chiller"})  # noqa: E731
    assert explain([PUMPS_AT_SITE, SITE], CELLS, no_excess_without_pumps, lambda c: True,
                   clearly_fewer) == [PUMPS_AT_SITE]
