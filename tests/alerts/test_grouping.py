"""Cohort grouping: 50 device alerts and one cohort alert, in either order, make one parent."""

from __future__ import annotations

DEVICES = [f"pump-{i:02d}" for i in range(50)]
ATTRS = dict(model="PX-200", firmware="2.1.0", site="sh-03")


def device_anomalies(make_anomaly, t, start, stop):
    if start <= t < stop and t % 10 == 0:
        return [make_anomaly(subject=d, **ATTRS) for d in DEVICES]
    return []


def cohort_anomaly(make_anomaly, t, start, stop):
    if start <= t < stop and t % 10 == 0:
        return [make_anomaly(subject="model=PX-200,firmware=2.1.0", scope="cohort", devices=tuple(DEVICES),
                             model="PX-200", firmware="2.1.0")]
    return []


def device_alerts(alerts):
    return [a for a in alerts if a.scope == "device"]


def test_cohort_alert_10s_after_device_alerts_parents_all_of_them(make_manager, make_anomaly, drive, recorder):
    manager = make_manager()
    out = drive(manager, 0, 300, lambda t: device_anomalies(make_anomaly, t, 0, 300)
                + cohort_anomaly(make_anomaly, t, 10, 300))
    cohort = [a for a in out if a.scope == "cohort"]
    assert [a.state for a in cohort] == ["firing"]
    devices = device_alerts(out)
    assert {a.subject for a in devices} == set(DEVICES)
    # every hand-off of a device alert already names the parent: no ticket of their own
    assert all(a.parent_key == cohort[0].key for a in devices)
    assert all(a.parent_key == cohort[0].key for a in manager.active() if a.scope == "device")
    # alert_events still records each device alert's own transitions: fired, then grouped
    key = f"device_fault_rate|device|{DEVICES[0]}|E214"
    assert recorder.states(key) == ["firing", "firing"]
    assert recorder.texts(key)[0].startswith("fired:") and recorder.texts(key)[1].startswith("grouped (child of")


def test_device_alerts_handed_off_before_the_cohort_fires_are_reparented(make_manager, make_anomaly, drive):
    manager = make_manager()
    before = drive(manager, 0, 60, lambda t: device_anomalies(make_anomaly, t, 0, 400))
    assert len(device_alerts(before)) == 50 and all(a.parent_key is None for a in before)
    after = drive(manager, 65, 200, lambda t: device_anomalies(make_anomaly, t, 0, 400)
                  + cohort_anomaly(make_anomaly, t, 70, 400))
    cohort_key = next(a.key for a in after if a.scope == "cohort")
    reparented = device_alerts(after)
    assert {a.subject for a in reparented} == set(DEVICES)
    assert all(a.parent_key == cohort_key and a.state == "firing" for a in reparented)
    assert {a.starts_at_ms for a in reparented} == {before[0].starts_at_ms}  # same episode, now a child


def test_cohort_first_device_alerts_never_open_their_own(make_manager, make_anomaly, drive):
    manager = make_manager()
    out = drive(manager, 0, 300, lambda t: cohort_anomaly(make_anomaly, t, 0, 300)
                + device_anomalies(make_anomaly, t, 60, 300))
    cohort_key = next(a.key for a in out if a.scope == "cohort")
    devices = device_alerts(out)
    assert len(devices) == 50
    assert all(a.parent_key == cohort_key for a in devices)


def test_devices_outside_the_cohort_or_with_another_code_stay_on_their_own(make_manager, make_anomaly, drive):
    manager = make_manager()
    others = [make_anomaly(subject="pump-x", model="PX-200", firmware="2.0.9", site="sh-03"),
              make_anomaly(subject="pump-01", code="E999", **ATTRS)]
    out = drive(manager, 0, 300, lambda t: cohort_anomaly(make_anomaly, t, 0, 300)
                + (others if 60 <= t < 300 and t % 10 == 0 else []))
    assert sorted((a.subject, a.parent_key) for a in device_alerts(out)) == [("pump-01", None), ("pump-x", None)]


def test_device_alerts_waiting_for_a_cohort_that_never_fires_are_handed_off(make_manager, make_anomaly, drive):
    manager = make_manager()
    out = drive(manager, 0, 300, lambda t: device_anomalies(make_anomaly, t, 0, 300)
                + cohort_anomaly(make_anomaly, t, 10, 11))  # one cohort blip
    assert len(device_alerts(out)) == 50
    assert all(a.parent_key is None for a in out)


def test_a_storm_folded_in_one_call_groups_the_same(make_manager, make_anomaly, clock, engine):
    from alerts.store import SqlAlertStore

    manager = make_manager()
    out = []
    for t in range(0, 60, 10):
        clock.at(t)
        out += manager.observe_many(device_anomalies(make_anomaly, t, 0, 60) + cohort_anomaly(make_anomaly, t, 10, 60))
        out += manager.tick()
    cohort_key = next(a.key for a in out if a.scope == "cohort")
    assert len(device_alerts(out)) == 50 and all(a.parent_key == cohort_key for a in device_alerts(out))
    stored = SqlAlertStore(engine).load()  # one transaction per call, all of it persisted
    assert len(stored) == 51 and all(r.parent_key == cohort_key for r in stored.values() if r.key != cohort_key)
