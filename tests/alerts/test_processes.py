"""Two alerting processes on one database (separate engines): neither overwrites the other."""

from __future__ import annotations

from alerts.config import AlertConfig
from alerts.manager import AlertManager
from alerts.store import SqlAlertStore
from database import make_engine

CONFIG = AlertConfig(min_count=2, pending_s=20.0, resolve_after_s=120.0)


def test_a_stale_process_never_resolves_what_another_keeps_firing(sql_url, make_anomaly, clock, recorder):
    a = make_anomaly()
    engines = [make_engine(sql_url), make_engine(sql_url)]
    live = AlertManager(CONFIG, SqlAlertStore(engines[0]), recorder, now=clock)
    handed = []
    for t in range(0, 60, 10):
        handed += live.observe(a)
        handed += live.tick()
        clock.at(t + 10)
    stale = AlertManager(CONFIG, SqlAlertStore(engines[1]), recorder, now=clock)  # loads the firing alert
    for t in range(60, 600, 5):  # `live` keeps seeing the fault; `stale` only ticks
        clock.at(t)
        if t % 10 == 0 and t < 400:
            handed += live.observe(a)
        handed += live.tick()
        handed += stale.tick()
    resolved = [x for x in handed if x.state == "resolved"]
    assert len(resolved) == 1 and resolved[0].ends_at_ms == clock.at(510).ms  # 120 s after the last, once
    assert len({x.starts_at_ms for x in handed}) == 1
    assert recorder.states(a.key).count("resolved") == 1
    for engine in engines:
        engine.dispose()


def test_two_processes_seeing_the_same_alert_fire_it_once_and_count_everything(sql_url, make_anomaly, clock,
                                                                                 recorder):
    a = make_anomaly()
    engines = [make_engine(sql_url), make_engine(sql_url)]
    managers = [AlertManager(CONFIG, SqlAlertStore(e), recorder, now=clock) for e in engines]
    handed = []
    for i, t in enumerate(range(0, 200, 10)):
        clock.at(t)
        handed += managers[i % 2].observe(a)  # each anomaly reaches one of the two
    fired = [x for x in handed if x.state == "firing"]
    assert len({x.starts_at_ms for x in fired}) == 1 and len(fired) == 1
    assert SqlAlertStore(engines[0]).load()[a.key].count == 20
    assert recorder.states(a.key) == ["firing"]
    for engine in engines:
        engine.dispose()
