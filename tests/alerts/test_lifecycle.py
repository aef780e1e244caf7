"""The alert lifecycle driven by a hand-moved clock on a real SQLite store.

Test config: fire after 2 anomalies and 20 s pending, resolve after 120 s
quiet, re-arm at 0.8 × threshold, flapping from 6 changes in 30 min.
Anomalies arrive every 10 s (the detection window) while a fault holds.
"""

from __future__ import annotations


def every_10s(anomaly, start, stop):
    """An emit function: `anomaly` at each multiple of 10 s in [start, stop)."""
    return lambda t: [anomaly] if start <= t < stop and t % 10 == 0 else []


def firing_episodes(alerts):
    return sorted({a.starts_at_ms for a in alerts if a.state == "firing"})


def test_one_blip_does_not_fire(make_manager, make_anomaly, drive, recorder):
    manager = make_manager()
    out = drive(manager, 0, 600, lambda t: [make_anomaly()] if t == 0 else [])
    assert out == []
    assert manager.active() == []
    assert manager.get(make_anomaly().key).state == "resolved"  # an inactive blip, never handed off
    assert recorder.lines == []


def test_pending_then_firing_after_min_count_and_time(make_manager, make_anomaly, drive, recorder, clock):
    manager = make_manager()
    a = make_anomaly()
    out = drive(manager, 0, 15, every_10s(a, 0, 600))
    assert out == []
    assert [x.state for x in manager.active()] == ["pending"]
    out = drive(manager, 20, 60, every_10s(a, 0, 600))
    assert [(x.key, x.state) for x in out] == [(a.key, "firing")]
    fired = out[0]
    assert fired.starts_at_ms == clock.at(0).ms and fired.count == 3
    assert fired.severity == "major"  # 6 / 3 = 2x the threshold
    assert fired.parent_key is None and fired.silenced_by is None and not fired.flapping
    assert recorder.states(a.key) == ["firing"]


def test_quiet_period_resolves(make_manager, make_anomaly, drive, clock, recorder):
    manager = make_manager()
    a = make_anomaly()
    drive(manager, 0, 60, every_10s(a, 0, 60))  # last anomaly at 50 s
    assert drive(manager, 65, 165) == []  # 115 s of quiet: still firing
    assert [x.state for x in manager.active()] == ["firing"]
    out = drive(manager, 170, 400)
    assert [(x.state, x.ends_at_ms) for x in out] == [("resolved", clock.at(170).ms)]
    assert manager.active() == []
    assert recorder.states(a.key) == ["firing", "resolved"]


def test_hysteresis_between_rearm_level_and_threshold(make_manager, make_anomaly, drive):
    manager = make_manager()
    hot, hovering, low = make_anomaly(score=3.5), make_anomaly(score=2.6), make_anomaly(score=2.0)
    # hovering just under the threshold (3.0) but above re-arm (2.4) never opens an alert ...
    assert drive(manager, 0, 300, every_10s(hovering, 0, 300)) == []
    # ... but keeps a firing one firing, without resolve/re-open churn
    out = drive(manager, 305, 1100, lambda t: every_10s(hot, 310, 340)(t) + every_10s(hovering, 340, 1000)(t))
    assert [x.state for x in out] == ["firing"]
    assert [x.state for x in manager.active()] == ["firing"]
    # below the re-arm level counts as quiet: resolves 120 s after the last re-arming anomaly
    out = drive(manager, 1105, 1400, every_10s(low, 1000, 1400))
    assert [x.state for x in out] == ["resolved"]


def test_flapping_40s_on_40s_off_is_one_alert_marked_flapping(make_manager, make_anomaly, drive, recorder):
    manager = make_manager()
    a = make_anomaly()
    on_40_off_40 = lambda t: [a] if t < 8 * 80 and t % 80 < 40 and t % 10 == 0 else []  # noqa: E731
    out = drive(manager, 0, 8 * 80, on_40_off_40)
    assert len(firing_episodes(out)) == 1
    assert [x.state for x in out].count("resolved") == 0
    assert any(x.flapping for x in out)
    assert manager.get(a.key).flapping and manager.get(a.key).state == "firing"
    # the flap window drains, then it resolves once
    out = drive(manager, 8 * 80 + 5, 8 * 80 + 1900)
    assert [x.state for x in out] == ["resolved"]
    assert recorder.states(a.key).count("resolved") == 1


def test_flapping_holds_firing_when_gaps_outlast_the_quiet_period(make_manager, make_anomaly, drive):
    manager = make_manager()
    a = make_anomaly()
    on_40_off_160 = lambda t: [a] if t < 8 * 200 and t % 200 < 40 and t % 10 == 0 else []  # noqa: E731
    out = drive(manager, 0, 8 * 200, on_40_off_160)
    episodes = firing_episodes(out)
    assert len(episodes) == 3  # the first two gaps resolve; then flapping holds it firing
    flagged = [x for x in out if x.flapping]
    assert flagged and all(x.starts_at_ms == episodes[-1] for x in flagged)
    assert manager.get(a.key).state == "firing"


def test_recurrence_after_resolve_keeps_the_key(make_manager, make_anomaly, drive):
    manager = make_manager()
    a = make_anomaly()
    first = drive(manager, 0, 400, every_10s(a, 0, 60))
    second = drive(manager, 405, 4000, every_10s(a, 3000, 3060))
    assert [x.state for x in first] == ["firing", "resolved"]
    assert [x.state for x in second] == ["firing", "resolved"]
    assert {x.key for x in first + second} == {a.key}
    assert second[0].starts_at_ms > first[1].ends_at_ms


def test_severity_rises_within_an_episode_and_never_drops(make_manager, make_anomaly, drive):
    manager = make_manager()
    out = drive(manager, 0, 60, every_10s(make_anomaly(score=4.0), 0, 100))
    assert [x.severity for x in out] == ["minor"]
    out = drive(manager, 65, 90, lambda t: [make_anomaly(score=13.0)] if t == 70 else [make_anomaly(score=4.0)])
    assert [x.severity for x in out] == ["critical"]
    assert manager.get(make_anomaly().key).severity == "critical"


def test_repeat_hands_a_long_incident_to_tickets_again(make_manager, make_anomaly, drive):
    manager = make_manager(repeat_interval_s=300.0)
    out = drive(manager, 0, 700, every_10s(make_anomaly(), 0, 1000))
    assert [x.state for x in out] == ["firing"] * 3  # fired at 20 s, repeats at 320 s and 620 s
    assert len(firing_episodes(out)) == 1 and out[-1].count > out[0].count


def test_an_hourly_detector_is_not_resolved_between_its_windows(make_manager, make_anomaly, drive, clock):
    """The quiet period stretches to 1.5 detector steps, learnt from the anomalies' event times."""
    manager = make_manager(resolve_after_s=300.0)
    hourly = lambda t: ([make_anomaly(window_s=7200.0, ts_ms=clock.ms)]  # noqa: E731
                        if t < 4 * 3600 and t % 3600 == 0 else [])
    out = drive(manager, 0, 3 * 3600 + 5340, hourly, step=60)  # last anomaly at 3 h; quiet until 1.5 h later
    assert [x.state for x in out] == ["firing"] * 3  # fired at 1 h, then a repeat each hour (> 900 s)
    assert len(firing_episodes(out)) == 1
    out = drive(manager, 3 * 3600 + 5400, 4 * 3600 + 5400, step=60)
    assert [(x.state, x.ends_at_ms) for x in out] == [("resolved", clock.at(3 * 3600 + 5400).ms)]


def test_a_cohort_finding_resolves_only_after_its_whole_evidence_window(make_manager, make_anomaly, drive, clock):
    """A cohort score over a 6 h horizon that dips under its threshold between looks is one incident:
    the alert stays firing until 6 h passed without a finding, while a device alert with the same
    cadence resolves after the quiet period (the 24 h hold of cohort fault-rate findings is the next test's)."""
    manager = make_manager(resolve_after_s=300.0, cohort_hold_s=0.0)
    cohort = lambda: make_anomaly(scope="cohort", subject="firmware=2.1.0", window_s=6 * 3600.0,  # noqa: E731
                                  ts_ms=clock.ms)
    device = lambda: make_anomaly(window_s=300.0, ts_ms=clock.ms)  # noqa: E731
    looks = lambda t: [cohort(), device()] if t < 1800 and t % 300 == 0 else []  # noqa: E731
    out = drive(manager, 0, 5 * 3600, looks, step=60)  # last finding at 25 min; 4 h 35 min of dips
    assert {(x.scope, x.state) for x in out} == {("cohort", "firing"), ("device", "firing"), ("device", "resolved")}
    assert manager.get(cohort().key).state == "firing"
    out = drive(manager, 5 * 3600 + 60, 7 * 3600, step=60)
    assert [(x.scope, x.state, x.ends_at_ms) for x in out] == [("cohort", "resolved", clock.at(1500 + 6 * 3600).ms)]


def test_a_cohort_fault_rate_finding_that_fades_before_the_24h_test_confirms_it_stays_one_alert(
        make_manager, make_anomaly, drive, clock):
    """Found on the 6 h horizon, gone from it for 11 h, confirmed on the 24 h horizon: one alert, never resolved
    between, which resolves 24 h after its last finding; a site connectivity report still resolves on its window."""
    manager = make_manager(resolve_after_s=300.0)  # the default hold: 24 h
    fw = lambda h: make_anomaly(scope="cohort", subject="firmware=2.1.0", window_s=h * 3600.0,  # noqa: E731
                                ts_ms=clock.ms)
    site = lambda: make_anomaly(scope="cohort", subject="site=sh-03", detector="connectivity",  # noqa: E731
                                window_s=300.0, ts_ms=clock.ms, code="OFFLINE")
    early = lambda t: (([fw(6)] if t in (3600, 7200) else [])  # noqa: E731
                       + ([site()] if 3600 <= t <= 4200 else []))
    out = drive(manager, 0, 13 * 3600, early, step=60)
    assert sorted((x.subject, x.state) for x in out) == [("firmware=2.1.0", "firing"), ("site=sh-03", "firing"),
                                                         ("site=sh-03", "resolved")]
    started = next(x.starts_at_ms for x in out if x.subject == "firmware=2.1.0")
    late = lambda t: [fw(24)] if t in (14 * 3600, 15 * 3600) else []  # noqa: E731
    out = drive(manager, 13 * 3600 + 60, 15 * 3600 + 24 * 3600 + 600, late, step=60)
    mine = [x for x in out if x.subject == "firmware=2.1.0"]
    assert {x.starts_at_ms for x in mine} == {started}  # the same episode throughout: never fired anew
    assert [(x.state, x.ends_at_ms) for x in mine if x.state == "resolved"] == [
        ("resolved", clock.at(15 * 3600 + 24 * 3600).ms)]
    assert manager.get(fw(24).key).count == 4
    assert not any(x.flapping for x in mine)  # hours between findings are dips, not on/off changes


def test_a_firing_cohort_fault_rate_alert_with_hourly_dips_is_not_flapping(make_manager, make_anomaly, drive, clock):
    """Two hourly findings, three silent looks, again, for a day (a score hovering at its threshold): one alert,
    never flapping.
    A single finding does not fire: the hold starts only once the alert fires."""
    manager = make_manager(resolve_after_s=300.0)
    fw = lambda: make_anomaly(scope="cohort", subject="firmware=2.1.0", window_s=6 * 3600.0,  # noqa: E731
                              ts_ms=clock.ms)
    lone = lambda t: [make_anomaly(scope="cohort", subject="site=sh-09", window_s=6 * 3600.0,  # noqa: E731
                                   ts_ms=clock.ms)] if t == 600 else []
    every_other = lambda t: ([fw()] if t % 14400 in (0, 3600) and t < 24 * 3600 else []) + lone(t)  # noqa: E731
    out = drive(manager, 0, 30 * 3600, every_other, step=60)
    assert {(x.subject, x.state) for x in out} == {("firmware=2.1.0", "firing")}  # the lone one never fired
    assert not manager.get(fw().key).flapping and manager.get(fw().key).state == "firing"


def test_an_hourly_detector_flapping_is_seen_over_hours(make_manager, make_anomaly, drive, clock):
    manager = make_manager(resolve_after_s=300.0)
    on_1h_off_2h = lambda t: ([make_anomaly(window_s=3600.0, ts_ms=clock.ms)]  # noqa: E731
                              if t % 10800 in (0, 3600) else [])
    out = drive(manager, 0, 8 * 10800, on_1h_off_2h, step=60)
    assert len(firing_episodes(out)) == 3  # 8 cycles: two resolve, then flapping holds the third open
    assert manager.get(make_anomaly().key).flapping and manager.get(make_anomaly().key).state == "firing"


def test_a_fault_too_short_to_fire_but_recurring_fires_as_flapping(make_manager, make_anomaly, drive):
    manager = make_manager(pending_s=60.0)  # each 40 s burst ends before the pending time
    a = make_anomaly()
    on_40_off_40 = lambda t: [a] if t < 8 * 80 and t % 80 < 40 and t % 10 == 0 else []  # noqa: E731
    out = drive(manager, 0, 8 * 80, on_40_off_40)
    assert [(x.state, x.flapping) for x in out][:1] == [("firing", True)]
    assert len(firing_episodes(out)) == 1 and "resolved" not in [x.state for x in out]


def test_flapping_ends_when_the_fault_holds_steadily(make_manager, make_anomaly, drive):
    manager = make_manager(flap_window_s=600.0)
    a = make_anomaly()
    flap_then_steady = lambda t: [a] if t % 10 == 0 and (t >= 320 or t % 80 < 40) else []  # noqa: E731
    out = drive(manager, 0, 1200, flap_then_steady)
    assert [x.flapping for x in out if x.state == "firing"][-2:] == [True, False]
    assert len(firing_episodes(out)) == 1 and manager.get(a.key).state == "firing"


def test_an_episode_detector_fires_on_its_one_report(make_manager, make_anomaly, drive, recorder):
    """A detector that reports once per episode (telemetry) must reach tickets with that one report."""
    manager = make_manager()
    a = make_anomaly(detector="telemetry", code="", window_s=3600.0, emission="episode")
    out = drive(manager, 0, 30, lambda t: [a] if t == 0 else [])
    assert [(x.key, x.state, x.count) for x in out] == [(a.key, "firing", 1)]
    assert recorder.states(a.key) == ["firing"]
    # quiet for 1.5 episodes' worth of its window: the alert resolves on its own
    out = drive(manager, 30, 3 * 3600, step=60)
    assert [x.state for x in out] == ["resolved"]


def test_a_repeating_detector_still_needs_two_reports(make_manager, make_anomaly, drive):
    manager = make_manager()
    a = make_anomaly(window_s=3600.0)
    assert drive(manager, 0, 3 * 3600, lambda t: [a] if t == 0 else [], step=60) == []
