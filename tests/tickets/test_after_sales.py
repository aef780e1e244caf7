"""After-sales KPIs on tickets made by the real service and workflow, on SQLite and PostgreSQL:
hand-computed figures, the SQL query equal to the reference definitions, satisfaction by the
technician and through the one-time link."""

from __future__ import annotations

import pytest

from ingest.records import DeviceMeta
from support.tickets import make_alert
from tickets import satisfaction as sat, store
from tickets.after_sales import GROUPINGS, PERIODS, after_sales_of
from tickets.after_sales_queries import after_sales_report
from tickets.reports import CustomerReport, open_report
from tickets.service import TicketService
from tickets.workflow import InvalidInput, Workflow

SECRET = "s3cret-for-links"


@pytest.fixture
def loop(engine, clock):
    """Five tickets, times in seconds after t0 (the figures below are worked out from these).

    Detector tickets open 60 s after their onset (``make_alert``'s evidence).
    """
    registry = {d: DeviceMeta(d, 0, "PX-200", "2.1.0", "sh-03", "B", "acme", "gold") for d in ("pump-d", "pump-e")}
    svc = TicketService(engine, None, None, None, now=clock, recurrence_days=7, registry=registry.get)
    flow = Workflow(engine, now=clock)
    t0 = clock()

    def at(seconds):
        clock.ms = t0 + seconds * 1000

    a = svc.apply(make_alert("fw-cohort", scope="cohort", firmware="2.1.0", attribution="firmware=2.1.0"))
    b = svc.apply(make_alert("pump-b", firmware="2.0.3"))
    c = svc.apply(make_alert("pump-c", firmware="2.0.3", site="sh-09"))
    at(30); flow.comment(a.id, "alice", "looking at the rollout")  # A: first response 30 s (a comment)
    at(120); flow.ack(a.id, "alice"); flow.assign(a.id, "alice", "field")
    at(300); flow.ack(b.id, "bob"); flow.assign(b.id, "bob", "field")  # B: first response 300 s
    at(3600); flow.resolve(a.id, "alice", "2.1.0 motor loop", "rolled back", category="firmware",
                           attribution="confirmed")  # A: handled 3600 s, confirmed, cause firmware=2.1.0
    at(7200); flow.resolve(b.id, "bob", "worn bearing", "replaced", category="hardware",
                           confirmed_attribute="pump-b/bearing", attribution="corrected")  # B: 7200 s, wrong
    at(7300); flow.reopen(b.id, "bob", "noise is back")  # B reopened by a person
    at(9000); flow.resolve(b.id, "bob", "bearing seat", "reseated", category="hardware",
                           confirmed_attribute="pump-b/bearing", attribution="corrected")  # B: handled 9000 s
    at(1800); flow.resolve(c.id, "carol", "nothing found", "none", category="no_fault_found",
                           attribution="rejected")  # C: 1800 s, false alarm (not judged, lowers precision)
    at(86_400)  # one day later: a customer of the same firmware reports; it is found to be the same cause
    d = open_report(svc, CustomerReport("pump-d", "ACME", clock.ms - 600_000, "stops at night", "daily",
                                        "degraded", "ops@acme.example"))
    at(86_400 + 60); flow.ack(d.id, "alice")  # D: first response 60 s
    at(86_400 + 1200); flow.resolve(d.id, "alice", "2.1.0 motor loop", "rolled back", category="firmware",
                                    confirmed_attribute="firmware=2.1.0", attribution="confirmed")  # D: 1200 s
    at(86_400 + 1300); flow.close(d.id, "alice", satisfaction=4, satisfaction_comment="quick")
    e = open_report(svc, CustomerReport("pump-e", "Beta", clock.ms - 600_000, "leaks", "once", "none",
                                        "ops@beta.example"))
    at(86_400 + 2000); flow.ack(e.id, "bob")  # E (opened at 86_400 + 1300): first response 700 s
    return {"ids": (a.id, b.id, c.id, d.id, e.id), "flow": flow, "clock": clock,
            "tickets": store.list_tickets(engine)}


def test_hand_computed_after_sales_kpis(loop, engine):
    k = after_sales_report(engine).overall
    assert k.tickets == 5
    assert k.first_response_s == (30 + 300 + 60 + 700) / 4 == 272.5  # A commented first, C never answered
    assert k.handling_s == (3600 + 9000 + 1800 + 1200) / 4 == 3900.0
    assert (k.detected, k.time_to_detect_s) == (3, 60.0)  # A, B, C: onset 60 s before the opening
    assert (k.judged, k.confirmed, k.localisation_accuracy) == (3, 2, 0.6667)  # A, D right; B corrected
    assert (k.classified, k.no_fault_found, k.detector_precision) == (3, 1, 0.6667)  # A, B, C; C found nothing
    assert (k.recurred_any, k.recurrence_any_rate) == (1, 0.2)  # D repeats A's cause a day later
    assert (k.ever_resolved, k.reopened, k.reopen_rate) == (4, 1, 0.25)
    assert (k.rated, k.satisfaction) == (1, 4.0)


@pytest.mark.parametrize("by", (None,) + GROUPINGS + PERIODS)
def test_the_query_gives_the_reference_figures(loop, engine, by):
    report = after_sales_report(engine, by)
    assert report.overall == after_sales_of(loop["tickets"])
    if by in GROUPINGS:
        for value, kpis in report.groups:
            group = [t for t in loop["tickets"] if (getattr(t, by) or "unknown") == value]
            assert kpis == after_sales_of(group, everything=loop["tickets"]), value
        assert sum(k.tickets for _, k in report.groups) == 5
    elif by in PERIODS:
        assert [k.tickets for _, k in report.groups] == ([3, 2] if by == "day" else [5])
        assert report.groups[0][0] == ("2023-11-14" if by == "day" else "2023-11-13")  # t0 is a Tuesday


def test_grouping_is_checked(engine):
    with pytest.raises(ValueError, match="customer"):
        after_sales_report(engine, "customer")
    empty = after_sales_report(engine, opened_from_ms=10**15).overall
    assert empty.tickets == 0 and empty.localisation_accuracy is None and empty.satisfaction is None


def test_satisfaction_is_for_customer_tickets_and_in_range(loop):
    a, _, c, _, e = loop["ids"]
    flow = loop["flow"]
    with pytest.raises(InvalidInput, match="customer-reported tickets only"):
        flow.close(c, "carol", satisfaction=5)
    with pytest.raises(InvalidInput, match="1 to 5"):
        flow.close(a, "alice", satisfaction=0)


def test_the_one_time_link_rates_once(loop, engine):
    _, _, c, d, e = loop["ids"]
    with pytest.raises(sat.SatisfactionError, match="already rated"):
        sat.issue_link(engine, d, SECRET)  # rated at closing by the technician
    with pytest.raises(sat.SatisfactionError, match="customer-reported"):
        sat.issue_link(engine, c, SECRET)
    loop["flow"].resolve(e, "bob", "loose fitting", "tightened", category="installation")
    old = sat.issue_link(engine, e, SECRET)
    token = sat.issue_link(engine, e, SECRET)  # a newer link voids the older one
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    with pytest.raises(sat.SatisfactionError, match="not a satisfaction link") as refused:
        sat.rate_by_link(engine, forged, SECRET, 5, None, now=loop["clock"])
    assert refused.value.status == 403
    with pytest.raises(sat.SatisfactionError, match="already used or replaced"):
        sat.rate_by_link(engine, old, SECRET, 5, None, now=loop["clock"])
    rated = sat.rate_by_link(engine, token, SECRET, 2, " slow to come ", now=loop["clock"])
    assert (rated.satisfaction, rated.satisfaction_comment, rated.satisfaction_by) == (2, "slow to come", "customer")
    with pytest.raises(sat.SatisfactionError, match="already used"):
        sat.rate_by_link(engine, token, SECRET, 5, None, now=loop["clock"])
    assert after_sales_report(engine).overall.satisfaction == 3.0  # (4 + 2) / 2
