"""Workflow transitions, their errors and history, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from support.tickets import make_alert
from tickets import store
from tickets.service import TicketService
from tickets.workflow import InvalidInput, InvalidTransition, Workflow


@pytest.fixture
def flow(engine, clock):
    return Workflow(engine, now=clock)


@pytest.fixture
def ticket(engine, clock):
    return TicketService(engine, None, None, None, now=clock).apply(make_alert())


def test_the_whole_path_keeps_timestamps_and_history(flow, ticket, engine, clock):
    clock.advance(60)
    acked = flow.ack(ticket.id, "ann")
    assert (acked.state, acked.acknowledged_ms) == ("acknowledged", clock())
    flow.assign(ticket.id, "ben", "field-service", user="ann")
    flow.comment(ticket.id, "ben", "on site, phase B cable burnt")
    clock.advance(600)
    done = flow.resolve(ticket.id, "ben", "burnt cable on phase B", "replaced the cable")
    assert (done.state, done.resolved_ms, done.resolved_by, done.assignee, done.team) == \
        ("resolved", clock(), "ben", "ben", "field-service")
    closed = flow.close(ticket.id, "ann")
    assert (closed.state, closed.closed_ms, closed.root_cause) == ("closed", clock(), "burnt cable on phase B")
    again = flow.reopen(ticket.id, "ann", "the cable burnt again")
    assert (again.state, again.recurrences, again.root_cause, again.resolved_ms) == ("reopened", 0, None, None)
    kinds = [(h.version, h.kind) for h in store.history(engine, ticket.id)]
    assert kinds == [(1, "opened"), (2, "acknowledged"), (3, "assigned"), (4, "commented"), (5, "resolved"),
                     (6, "closed"), (7, "reopened")]
    assert [(c.user, c.text) for c in store.comments(engine, ticket.id)] == [("ben", "on site, phase B cable burnt")]


@pytest.mark.parametrize("action", ["ack_twice", "close_open", "reopen_open", "assign_resolved"])
def test_transitions_the_state_forbids_raise(flow, ticket, action):
    with pytest.raises(InvalidTransition) as err:
        if action == "ack_twice":
            flow.ack(ticket.id, "ann")
            flow.ack(ticket.id, "ann")
        elif action == "close_open":
            flow.close(ticket.id, "ann")
        elif action == "reopen_open":
            flow.reopen(ticket.id, "ann", "why not")
        else:
            flow.resolve(ticket.id, "ann", "x", "y")
            flow.assign(ticket.id, "ben")
    assert f"ticket {ticket.id} is" in str(err.value)


@pytest.mark.parametrize("root_cause,resolution,field", [("", "fixed", "root_cause"), ("cause", "  ", "resolution"),
                                                           (None, "fixed", "root_cause")])
def test_resolve_requires_root_cause_and_resolution(flow, ticket, engine, root_cause, resolution, field):
    with pytest.raises(InvalidInput) as err:
        flow.resolve(ticket.id, "ann", root_cause, resolution)
    assert err.value.field == field
    assert store.get_ticket(engine, ticket.id).state == "open"


def test_unknown_ticket_is_not_found(flow):
    with pytest.raises(store.TicketNotFound):
        flow.ack(4242, "ann")
    with pytest.raises(store.TicketNotFound):
        flow.comment(4242, "ann", "hello")


def test_a_folded_ticket_cannot_be_reopened(engine, clock, flow):
    svc = TicketService(engine, None, None, None, now=clock)
    alone = svc.apply(make_alert("pump-9"))
    parent = svc.apply(make_alert("model=PX-200", scope="cohort", detector="cohort_fault_rate"))
    svc.apply(make_alert("pump-9", parent_key=parent.key))
    with pytest.raises(InvalidTransition, match="merged"):
        flow.reopen(alone.id, "ann", "try")


def test_names_longer_than_the_column_are_refused(flow, ticket):
    with pytest.raises(InvalidInput) as err:
        flow.assign(ticket.id, "x" * 129)
    assert err.value.field == "assignee"
    assert flow.assign(ticket.id, "x" * 128).assignee == "x" * 128
