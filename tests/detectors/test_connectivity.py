"""Connectivity: offline by status (last will) and by silence, back online, site grouping; through the engine."""

from detectors.connectivity import Connectivity
from detectors.engine import DetectorEngine, EngineConfig
from detectors.eval_sim import evaluate_scenario
from ingest.records import DeviceMeta, DeviceStatus, Telemetry

T0 = 1_767_225_600_000
MIN = 60_000
CELLS = {f"d{i}": ("PX-200", "2.0.3", "sh-01" if i < 4 else "sh-02") for i in range(6)}


def feed(det, devices, start_min, end_min, every_min=1):
    for m in range(start_min, end_min, every_min):
        for d in devices:
            det.seen(d, T0 + m * MIN)


def test_silence_beyond_the_learned_interval_is_offline_and_a_reading_ends_it():
    det = Connectivity()
    feed(det, ["d0", "d5"], 0, 60)
    assert det.check(T0 + 62 * MIN, CELLS, 300) == []  # two minutes late: within the rhythm
    feed(det, ["d5"], 60, 70)
    (a,) = det.check(T0 + 70 * MIN, CELLS, 300)
    assert (a.detector, a.scope, a.subject, a.code, a.emission) == ("connectivity", "device", "d0", "offline", "episode")
    assert a.onset_ms == T0 + 59 * MIN and "no telemetry for 11 min" in a.explanation
    assert a.score >= a.threshold
    det.seen("d0", T0 + 71 * MIN)
    assert det.check(T0 + 72 * MIN, CELLS, 300) == []


def test_a_device_that_reports_slowly_is_not_called_offline_for_it():
    det = Connectivity()
    feed(det, ["d0"], 0, 600, every_min=10)
    assert det.check(T0 + 620 * MIN, CELLS, 300) == []
    assert [a.subject for a in det.check(T0 + 660 * MIN, CELLS, 300)] == ["d0"]


def test_last_will_is_offline_at_once_and_online_ends_it():
    det = Connectivity()
    det.status("d1", T0, online=False)
    assert [a.subject for a in det.check(T0 + MIN, CELLS, 300)] == ["d1"]
    det.status("d1", T0 + 5 * MIN, online=True)
    assert det.check(T0 + 6 * MIN, CELLS, 300) == []


def test_several_devices_of_one_site_become_one_site_report():
    det = Connectivity()
    for d, t in (("d0", 0), ("d1", 2), ("d2", 4), ("d5", 3)):
        det.status(d, T0 + t * MIN, online=False)
    out = det.check(T0 + 10 * MIN, CELLS, 300)
    (site,) = [a for a in out if a.scope == "cohort"]
    assert (site.subject, site.attribution, site.devices) == ("site=sh-01", "site=sh-01", ("d0", "d1", "d2"))
    assert sorted(a.subject for a in out if a.scope == "device") == ["d0", "d1", "d2", "d5"]


def test_engine_reports_offline_while_the_rest_of_the_fleet_moves_event_time():
    engine = DetectorEngine(EngineConfig())
    out = []
    for d in ("a", "b"):
        engine.process(DeviceMeta(d, T0, model="PX-200", firmware="2.0.3", site="sh-01"))
    for m in range(0, 120):
        for d in ("a", "b"):
            if d == "a" or m < 60:
                out += engine.process(Telemetry(d, T0 + m * MIN, None, {"t": 20.0 + (m % 5) * 0.1}))
    offline = [a for a in out if a.detector == "connectivity"]
    assert offline and {a.subject for a in offline} == {"b"}
    assert min(a.ts_ms for a in offline) - (T0 + 59 * MIN) <= 10 * MIN  # found within minutes
    engine.process(DeviceStatus("b", T0 + 121 * MIN, True))
    later = []
    for m in range(121, 140):
        for d in ("a", "b"):
            later += engine.process(Telemetry(d, T0 + m * MIN, None, {"t": 20.0}))
    assert not [a for a in later if a.detector == "connectivity"]


def test_eval_scores_offline_incidents_with_site_attribution():
    result, _ = evaluate_scenario("offline", devices=60, duration_s=12 * 3600, seed=2)
    by_id = {inc.id: inc for inc in result.incidents}
    assert set(by_id) == {"site-power-loss", "planned-outage"}
    for inc in by_id.values():
        assert inc.detected and inc.attribution_correct and inc.delay_s <= 600, inc
    assert by_id["site-power-loss"].attribution_found.startswith("site=")
    assert result.false_alarms == 0


def test_a_tracker_checkpointed_before_its_learning_rate_was_kept_restores_and_learns():
    import pickle

    det = Connectivity()
    feed(det, ["d0", "d5"], 0, 30)
    state = pickle.loads(pickle.dumps(det)).__dict__
    del state["_rate"]
    old = Connectivity.__new__(Connectivity)
    old.__setstate__(state)
    feed(old, ["d0", "d5"], 30, 60)
    feed(old, ["d5"], 60, 70)
    assert [a.subject for a in old.check(T0 + 70 * MIN, CELLS, 300)] == ["d0"]
    old.seen("d0", T0 + 70 * MIN)
    old.seen("d0", T0 + 70 * MIN)  # the same instant twice: still online, the rhythm unchanged
    assert old.check(T0 + 71 * MIN, CELLS, 300) == [] and round(old.links["d0"].gap_ms) == MIN
