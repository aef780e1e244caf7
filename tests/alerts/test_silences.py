"""Silences: stored in SQL (SQLite and PostgreSQL), matched by the manager, expiring on time."""

from __future__ import annotations

import pytest

from alerts.silences import (Matcher, SilenceError, SilenceNotFound, create_silence, expire_silence, get_silence,
                             list_silences)
from database import make_engine

HOUR_MS = 3_600_000


def every_10s(anomalies, start, stop):
    return lambda t: list(anomalies) if start <= t < stop and t % 10 == 0 else []


@pytest.fixture
def sql_engine(sql_url):
    eng = make_engine(sql_url)
    yield eng
    eng.dispose()


def test_create_list_expire_round_trip(sql_engine):
    s = create_silence(sql_engine, ["device=pump-7", "code=~E2.."], starts_at_ms=1000, ends_at_ms=1000 + HOUR_MS,
                       now_ms=1000, created_by="ana", comment="bearing swap")
    assert get_silence(sql_engine, s.id) == s
    assert [str(m) for m in s.matchers] == ["device=pump-7", "code=~E2.."]
    assert list_silences(sql_engine, active_at_ms=2000) == [s]
    assert list_silences(sql_engine, active_at_ms=1000 + HOUR_MS) == []
    expired = expire_silence(sql_engine, s.id, now_ms=5000)
    assert expired.ends_at_ms == 5000 and expired.state(5000) == "expired"
    assert expire_silence(sql_engine, s.id, now_ms=9000) == expired  # idempotent
    assert list_silences(sql_engine, include_expired=False, now_ms=6000) == []
    assert list_silences(sql_engine) == [expired]
    assert expired.to_json(6000)["state"] == "expired"


def test_bad_silences_are_refused_with_a_reason(sql_engine):
    with pytest.raises(SilenceError, match="colour"):
        create_silence(sql_engine, ["colour=red"], starts_at_ms=0, ends_at_ms=10, now_ms=0)
    with pytest.raises(SilenceError, match="regular expression"):
        create_silence(sql_engine, ["code=~E2(("], starts_at_ms=0, ends_at_ms=10, now_ms=0)
    with pytest.raises(SilenceError, match="end after it starts"):
        create_silence(sql_engine, ["code=E2"], starts_at_ms=10, ends_at_ms=10, now_ms=0)
    with pytest.raises(SilenceError, match="at least one matcher"):
        create_silence(sql_engine, [], starts_at_ms=0, ends_at_ms=10, now_ms=0)
    with pytest.raises(SilenceNotFound):
        expire_silence(sql_engine, "no-such-id", now_ms=0)
    assert list_silences(sql_engine) == []


@pytest.mark.parametrize("text,labels,hit", [
    ("device=pump-7", {"device": "pump-7"}, True),
    ("device=pump-7", {"device": "pump-70"}, False),
    ("code=~E2[0-9]{2}", {"code": "E214"}, True),
    ("code=~E2[0-9]{2}", {"code": "E2140"}, False),  # anchored
    ("site!~sh-0[12]", {"site": "sh-03"}, True),
    ("firmware!=2.1.0", {"firmware": "2.1.0"}, False),
    ("model=", {}, True),  # an absent label is the empty string
])
def test_matchers(text, labels, hit):
    assert Matcher.parse(text).matches(labels) is hit


def test_silenced_alert_never_reaches_tickets_but_is_recorded(make_manager, make_anomaly, drive, engine, recorder,
                                                               clock):
    create_silence(engine, ["device=pump-7", "code=E214"], starts_at_ms=clock.ms, ends_at_ms=clock.ms + HOUR_MS,
                   now_ms=clock.ms, comment="maintenance")
    manager = make_manager()
    silenced, other = make_anomaly(subject="pump-7"), make_anomaly(subject="pump-8")
    out = drive(manager, 0, 600, every_10s([silenced, other], 0, 100))
    assert [(a.subject, a.state) for a in out] == [("pump-8", "firing"), ("pump-8", "resolved")]
    assert recorder.states(silenced.key) == ["firing", "resolved"]  # transitions still recorded
    assert "silenced by" in recorder.texts(silenced.key)[0]


def test_regex_silence_and_expiry_hands_the_alert_over(make_manager, make_anomaly, drive, engine, clock):
    s = create_silence(engine, ["code=~E2.*", "model=PX-200"], starts_at_ms=clock.ms,
                       ends_at_ms=clock.ms + HOUR_MS, now_ms=clock.ms)
    manager = make_manager()
    hit, miss = make_anomaly(model="PX-200"), make_anomaly(subject="pump-9", code="E300", model="PX-200")
    out = drive(manager, 0, 100, every_10s([hit, miss], 0, 10_000))
    assert [a.key for a in out] == [miss.key]
    assert {a.key: a.silenced_by for a in manager.active()} == {hit.key: s.id, miss.key: None}
    expire_silence(engine, s.id, now_ms=clock.at(102).ms)
    out = drive(manager, 105, 110, every_10s([hit, miss], 0, 10_000))
    assert [(a.key, a.state, a.silenced_by) for a in out] == [(hit.key, "firing", None)]


def test_silence_ending_on_its_own_releases_the_alert(make_manager, make_anomaly, drive, engine, clock):
    create_silence(engine, ["subject=pump-7"], starts_at_ms=clock.ms, ends_at_ms=clock.ms + 60_000, now_ms=clock.ms)
    manager = make_manager()
    out = drive(manager, 0, 55, every_10s([make_anomaly()], 0, 10_000))
    assert out == []
    out = drive(manager, 60, 65, every_10s([make_anomaly()], 0, 10_000))
    assert [a.state for a in out] == ["firing"]


def test_an_alert_silenced_after_it_was_announced_still_resolves_its_ticket(make_manager, make_anomaly, drive,
                                                                             engine, clock, recorder):
    manager = make_manager()
    a = make_anomaly()
    out = drive(manager, 0, 60, every_10s([a], 0, 100))
    assert [x.state for x in out] == ["firing"]
    s = create_silence(engine, ["device=pump-7"], starts_at_ms=clock.at(62).ms, ends_at_ms=clock.ms + HOUR_MS,
                       now_ms=clock.ms)
    out = drive(manager, 65, 400, every_10s([a], 0, 100))
    assert [(x.state, x.silenced_by) for x in out] == [("resolved", None)]  # repeats muted, the end is not
    assert manager.get(a.key).silenced_by == s.id
    assert recorder.texts(a.key)[1].startswith("silenced")


@pytest.mark.timeout(60)  # with a backtracking engine this match would not end in our lifetime
def test_a_catastrophic_pattern_against_a_device_label_answers_in_linear_time():
    hostile = "a" * 200_000 + "!"
    for pattern in ("(a+)+", "(a|aa)+", "(a*)*b"):
        matcher = Matcher.parse(f"device=~{pattern}")
        assert matcher.matches({"device": "a" * 64}) is (pattern != "(a*)*b")
        assert matcher.matches({"device": hostile[-1000:]}) is False
        assert Matcher.parse(f"device!~{pattern}").matches({"device": hostile}) is True  # over the label limit


def test_matchers_are_bounded_and_speak_re2():
    with pytest.raises(SilenceError, match="too long"):
        Matcher.parse("device=~" + "a" * 300)
    with pytest.raises(SilenceError, match="no backreferences"):
        Matcher.parse(r"device=~(a)\1")
    assert Matcher.parse("site=~sh-0[1-3]").matches({"site": "sh-02"})
