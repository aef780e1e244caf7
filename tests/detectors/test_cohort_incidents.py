"""One cohort incident keeps one subject while its explanation narrows or widens."""

from detectors.anomaly import Anomaly
from detectors.cohort_incidents import CohortIncidents

H = 3_600_000


def cohort(subject, attribution, devices, ts, code="P510"):
    return Anomaly("cohort_fault_rate", "cohort", subject, code, ts, ts - 6 * H, 5.0, 0.3, 0.01, 3.0, 21600.0,
                   "x", attribution=attribution, devices=tuple(devices))


def test_a_narrower_finding_on_the_same_devices_continues_the_incident():
    memory = CohortIncidents()
    first = cohort("site=sh-02", "site=sh-02", ["a", "b", "c", "d"], 0)
    narrower = cohort("model=PX-200,site=sh-02", "model=PX-200,site=sh-02", ["a", "b", "e"], H, code="E214")
    out = memory.stick([first], 0, H) + memory.stick([narrower], H, H)
    assert {(a.subject, a.attribution, a.code) for a in out} == {("site=sh-02", "site=sh-02", "P510")}
    assert out[1].devices == ("a", "b", "c", "d", "e")


def test_another_explanation_or_other_devices_stay_apart_and_old_incidents_are_forgotten():
    memory = CohortIncidents()
    memory.stick([cohort("model=PX-200,hw_rev=B", "hw_rev=B", ["a", "b", "c"], 0)], 0, H)
    fw = memory.stick([cohort("model=PX-200,firmware=2.1.0", "firmware=2.1.0", ["a", "b", "c"], H)], H, H)
    assert fw[0].subject == "model=PX-200,firmware=2.1.0"
    elsewhere = memory.stick([cohort("site=sh-05", "site=sh-05", ["x", "y", "z"], H)], H, H)
    assert elsewhere[0].subject == "site=sh-05"
    later = memory.stick([cohort("model=PX-200,site=sh-05", "model=PX-200,site=sh-05", ["x", "y"], 40 * H)], 40 * H, H)
    assert later[0].subject == "model=PX-200,site=sh-05"  # a day and more later: a new incident


def test_a_wider_cause_renames_the_attribution_but_keeps_the_key():
    memory = CohortIncidents()
    narrow = cohort("model=PX-200,firmware=2.0.3,site=sh-02", "firmware=2.0.3,site=sh-02", ["a", "b", "c"], 0)
    wide = cohort("site=sh-02", "site=sh-02", ["a", "b", "c", "d"], H)
    out = memory.stick([narrow], 0, H) + memory.stick([wide], H, H)
    assert [(a.subject, a.attribution) for a in out] == [
        ("model=PX-200,firmware=2.0.3,site=sh-02", "firmware=2.0.3,site=sh-02"),
        ("model=PX-200,firmware=2.0.3,site=sh-02", "site=sh-02")]
    assert out[1].key == out[0].key


def test_a_narrower_finding_whose_attribution_leaves_its_model_implied_continues_the_incident():
    # firmware 2.0.3 runs on pumps only: its attribution omits model=PX-200, its cohort does not
    memory = CohortIncidents()
    first = cohort("model=PX-200,site=sh-02", "model=PX-200,site=sh-02", ["a", "b", "c"], 0)
    narrower = cohort("model=PX-200,firmware=2.0.3,site=sh-02", "firmware=2.0.3,site=sh-02", ["a", "b"], 6 * H)
    out = memory.stick([first], 0, H) + memory.stick([narrower], 6 * H, H)
    assert [(a.subject, a.attribution) for a in out] == [("model=PX-200,site=sh-02", "model=PX-200,site=sh-02")] * 2
