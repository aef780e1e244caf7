"""KPIs against a hand-computed case, with the tickets made by the real service and workflow on SQL."""

from __future__ import annotations

import pytest

from support.tickets import make_alert
from tickets import store
from tickets.kpis import Kpis, compute_kpis
from tickets.service import TicketService
from tickets.workflow import Workflow


@pytest.fixture
def tickets(engine, clock):
    """Four tickets, times in seconds after t0 (every figure below is worked out from these)."""
    svc = TicketService(engine, None, None, None, now=clock, recurrence_days=7)
    flow = Workflow(engine, now=clock)
    t0 = clock()

    def at(seconds):
        clock.ms = t0 + seconds * 1000

    a = svc.apply(make_alert("pump-a", firmware="2.1.0"))
    b = svc.apply(make_alert("pump-b", firmware="2.0.3"))
    c = svc.apply(make_alert("fan-c", model="PX-100", firmware="1.0.0"))
    d = svc.apply(make_alert("pump-d", firmware="2.1.0"))
    at(60); flow.assign(a.id, "alice")  # assignment is not acknowledgement
    at(120); flow.ack(a.id, "alice")  # A: acknowledged after 120 s
    at(300); flow.ack(b.id, "bob")  # B: acknowledged after 300 s, still being worked
    at(600); svc.apply(make_alert("fan-c", model="PX-100", firmware="1.0.0", state="resolved"))  # C: auto
    at(1800); flow.resolve(a.id, "alice", "cable", "replaced cable")  # A: resolved after 1800 s
    at(3600); flow.resolve(d.id, "bob", "sensor", "recalibrated")  # D: first cycle, 3600 s, no ack
    at(2 * 86_400); svc.apply(make_alert("pump-d", firmware="2.1.0"))  # D recurs: a new cycle starts
    at(2 * 86_400 + 60); flow.ack(d.id, "bob")  # D: acknowledged 60 s into its new cycle
    at(2 * 86_400 + 240); flow.resolve(d.id, "bob", "sensor", "replaced sensor")  # D: resolved after 240 s
    return store.list_tickets(engine)


def test_overall_kpis_match_the_hand_computed_case(tickets):
    # MTTA = (120 + 300 + 60) / 3 = 160 s; MTTR over people's resolutions = (1800 + 240) / 2 = 1020 s
    # (C's auto-resolution is left out); D recurred: 1 of 4 tickets; B is the one still open.
    assert compute_kpis(tickets).overall == Kpis(
        tickets=4, open=1, acknowledged=3, resolved=2, auto_resolved=1, recurred=1,
        mtta_s=160.0, mttr_s=1020.0, recurrence_rate=0.25)


def test_kpis_by_model_and_firmware(tickets):
    by_model = dict(compute_kpis(tickets, by="model").groups)
    assert by_model["PX-200"] == Kpis(3, 1, 3, 2, 0, 1, 160.0, 1020.0, 0.3333)
    assert by_model["PX-100"] == Kpis(1, 0, 0, 0, 1, 0, None, None, 0.0)
    by_fw = dict(compute_kpis(tickets, by="firmware").groups)
    # 2.1.0: A and D — MTTA (120 + 60) / 2 = 90, MTTR (1800 + 240) / 2 = 1020, D recurred
    assert by_fw["2.1.0"] == Kpis(2, 0, 2, 2, 0, 1, 90.0, 1020.0, 0.5)
    assert by_fw["2.0.3"] == Kpis(1, 1, 1, 0, 0, 0, 300.0, None, 0.0)
    assert sorted(by_fw) == ["1.0.0", "2.0.3", "2.1.0"]


def test_grouping_is_checked():
    with pytest.raises(ValueError, match="customer"):
        compute_kpis([], by="customer")
    assert compute_kpis([]).overall.recurrence_rate is None


@pytest.mark.parametrize("by", [None, "model", "firmware", "site"])
def test_the_sql_aggregation_gives_the_reference_figures(tickets, engine, by):
    from tickets.kpi_queries import kpi_report

    assert kpi_report(engine, by) == compute_kpis(tickets, by)
    assert kpi_report(engine, by, opened_from_ms=10**15).overall == compute_kpis([]).overall
