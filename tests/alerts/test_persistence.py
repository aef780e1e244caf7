"""A restart midway through an incident continues the episode (SQLite file and PostgreSQL)."""

from __future__ import annotations

from alerts.config import AlertConfig
from alerts.manager import AlertManager
from alerts.store import SqlAlertStore
from database import make_engine

CONFIG = AlertConfig(min_count=2, pending_s=20.0, resolve_after_s=120.0)


def every_10s(anomaly, start, stop):
    return lambda t: [anomaly] if start <= t < stop and t % 10 == 0 else []


def test_new_manager_on_the_same_store_continues_the_episode(sql_url, make_anomaly, drive, clock, recorder):
    config = CONFIG
    a = make_anomaly()
    first_engine = make_engine(sql_url)
    first = AlertManager(config, SqlAlertStore(first_engine), recorder, now=clock)
    before = drive(first, 0, 100, every_10s(a, 0, 1000))
    assert [x.state for x in before] == ["firing"]
    first_engine.dispose()  # the process stops

    second_engine = make_engine(sql_url)
    second = AlertManager(config, SqlAlertStore(second_engine), recorder, now=clock)
    assert [(x.key, x.state, x.starts_at_ms) for x in second.active()] == [(a.key, "firing", before[0].starts_at_ms)]
    during = drive(second, 105, 300, every_10s(a, 0, 200))
    # no second episode: the restarted process only re-announces the one in progress, once
    assert [(x.state, x.starts_at_ms) for x in during] == [("firing", before[0].starts_at_ms)]
    after = drive(second, 305, 500)
    assert [(x.state, x.starts_at_ms) for x in after] == [("resolved", before[0].starts_at_ms)]
    assert after[0].count == 20  # anomalies from both processes folded into one episode
    assert recorder.states(a.key) == ["firing", "resolved"]
    second_engine.dispose()


def test_flap_history_and_children_survive_a_restart(sql_url, make_anomaly, drive, clock, recorder):
    config = CONFIG
    cohort = make_anomaly(subject="model=PX-200", scope="cohort", model="PX-200")
    device = make_anomaly(subject="pump-7", model="PX-200")
    on_off = lambda t: [device, cohort] if t % 80 < 40 and t % 10 == 0 else []  # noqa: E731
    engine = make_engine(sql_url)
    drive(AlertManager(config, SqlAlertStore(engine), recorder, now=clock), 0, 200, on_off)
    engine.dispose()
    engine = make_engine(sql_url)
    manager = AlertManager(config, SqlAlertStore(engine), recorder, now=clock)
    out = drive(manager, 205, 400, on_off)
    assert manager.get(device.key).parent_key == cohort.key
    assert manager.get(device.key).flapping  # changes seen by the first process count
    assert all(x.state == "firing" for x in out)
    fired = [t for t in recorder.texts(device.key) + recorder.texts(cohort.key) if t.startswith("fired")]
    assert len(fired) == 2  # one episode each, across both processes
    engine.dispose()


def test_a_resolve_just_before_a_restart_is_announced_again(sqlite_url, make_anomaly, drive, clock, recorder):
    a = make_anomaly()
    engine = make_engine(sqlite_url)
    out = drive(AlertManager(CONFIG, SqlAlertStore(engine), recorder, now=clock), 0, 200, every_10s(a, 0, 60))
    assert [x.state for x in out] == ["firing", "resolved"]  # resolved at 170 s; then the process stops
    engine.dispose()
    engine = make_engine(sqlite_url)
    again = drive(AlertManager(CONFIG, SqlAlertStore(engine), recorder, now=clock), 205, 600)
    assert [(x.state, x.ends_at_ms) for x in again] == [("resolved", out[1].ends_at_ms)]
    assert recorder.states(a.key) == ["firing", "resolved"]  # alert_events not duplicated
    engine.dispose()
