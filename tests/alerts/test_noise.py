"""The Alertmanager noise scenarios (shared/peers/alertmanager), alerts → real ticket stage.

Alertmanager with a one-issue-per-group bridge opened 8 incidents for a
flapping fault and 2 tickets (8 device alerts leaked) for a cohort storm
whose cohort alert came 10 s late. Here each scenario must end as one ticket.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

DEVICES = [f"pump-{i:02d}" for i in range(50)]
ATTRS = dict(model="PX-200", firmware="2.1.0", site="sh-03")


@pytest.fixture
def pipeline(engine, clock):
    """A manager whose hand-offs are applied by the real TicketService on the same database."""
    from tickets.service import TicketService

    tickets = TicketService(engine, now=clock)

    def feed(manager, alerts):
        for alert in alerts:
            tickets.apply(alert)
        return alerts
    return feed


def tickets_in(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT key, state, flapping, recurrences, merged_into FROM tickets "
                                 "ORDER BY id")).all()


def run(manager, feed, drive, start, stop, emit):
    return feed(manager, drive(manager, start, stop, emit))


def storm(make_anomaly, t, device_from, cohort_from):
    out = []
    if t % 10 == 0 and t >= device_from:
        out += [make_anomaly(subject=d, **ATTRS) for d in DEVICES]
    if t % 10 == 0 and t >= cohort_from:
        out.append(make_anomaly(subject="model=PX-200,firmware=2.1.0", scope="cohort", devices=tuple(DEVICES),
                                model="PX-200", firmware="2.1.0"))
    return out if t < 300 else []


def test_steady_incident_is_one_ticket(make_manager, make_anomaly, drive, pipeline, engine):
    manager = make_manager()
    run(manager, pipeline, drive, 0, 600, lambda t: [make_anomaly()] if t < 300 and t % 10 == 0 else [])
    assert [(r.state, r.recurrences) for r in tickets_in(engine)] == [("resolved", 0)]


def test_flapping_fault_is_one_ticket_marked_flapping(make_manager, make_anomaly, drive, pipeline, engine):
    manager = make_manager()
    flap = lambda t: [make_anomaly()] if t < 640 and t % 80 < 40 and t % 10 == 0 else []  # noqa: E731
    run(manager, pipeline, drive, 0, 640, flap)
    [ticket] = tickets_in(engine)
    assert ticket.state == "open" and ticket.flapping and ticket.recurrences == 0


@pytest.mark.parametrize("device_from,cohort_from", [(0, 10), (10, 0), (0, 70)],
                         ids=["cohort-10s-late", "cohort-first", "cohort-after-device-tickets"])
def test_cohort_storm_is_one_parent_ticket(make_manager, make_anomaly, drive, pipeline, engine, device_from,
                                          cohort_from):
    manager = make_manager()
    run(manager, pipeline, drive, 0, 300, lambda t: storm(make_anomaly, t, device_from, cohort_from))
    open_tickets = [r for r in tickets_in(engine) if r.merged_into is None]
    assert [r.key for r in open_tickets] == ["cohort_fault_rate|cohort|model=PX-200,firmware=2.1.0|E214"]
    with engine.connect() as conn:
        attached = conn.execute(text("SELECT count(DISTINCT device) FROM ticket_devices")).scalar()
    assert attached == 50


def test_restart_midway_is_still_one_ticket(make_manager, make_anomaly, drive, pipeline, engine):
    steady = lambda t: [make_anomaly()] if t < 300 and t % 10 == 0 else []  # noqa: E731
    run(make_manager(), pipeline, drive, 0, 150, steady)
    run(make_manager(), pipeline, drive, 155, 600, steady)  # a new process on the same database
    assert [(r.state, r.recurrences) for r in tickets_in(engine)] == [("resolved", 0)]
