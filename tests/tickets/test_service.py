"""Open-or-update by alert key, recurrence, grouping and auto-resolve on real SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from support.tickets import make_alert
from tickets import store
from tickets.service import TicketService
from tickets.workflow import Workflow

DAY = 86_400


@pytest.fixture
def service(engine, clock):
    return TicketService(engine, None, None, None, now=clock, recurrence_days=7)


@pytest.fixture
def workflow(engine, clock):
    return Workflow(engine, now=clock)


def test_first_alert_opens_a_ticket_and_repeats_update_it(service, engine, clock):
    t1 = service.apply(make_alert(count=1))
    clock.advance(30)
    t2 = service.apply(make_alert(count=4, t_ms=clock() , severity="critical", flapping=True))
    assert t1.id == t2.id and t2.state == "open"
    assert (t2.count, t2.alert_count, t2.severity, t2.flapping) == (2, 4, "critical", True)
    assert t2.last_seen_ms == clock() and t2.opened_ms == t1.opened_ms
    assert [h.kind for h in store.history(engine, t1.id)] == ["opened", "updated"]
    assert store.count_tickets(engine) == 1


def test_severity_never_drops_on_a_repeat(service):
    service.apply(make_alert(severity="critical"))
    assert service.apply(make_alert(severity="minor")).severity == "critical"


def test_silenced_and_pending_alerts_open_nothing(service, engine):
    assert service.apply(make_alert(silenced_by="maint-1")) is None
    assert service.apply(make_alert(state="pending")) is None
    assert store.count_tickets(engine) == 0


def test_recurrence_within_window_reopens_the_same_ticket(service, workflow, clock):
    t = service.apply(make_alert())
    workflow.resolve(t.id, "alice", "loose connector", "reseated the connector")
    clock.advance(6 * DAY)
    again = service.apply(make_alert(t_ms=clock()))
    assert again.id == t.id and again.episode == 1
    assert (again.state, again.recurrences, again.reopened_ms) == ("reopened", 1, clock())
    assert again.root_cause is None and again.resolved_ms is None


def test_recurrence_after_window_opens_a_new_ticket(service, workflow, engine, clock):
    t = service.apply(make_alert())
    workflow.resolve(t.id, "alice", "loose connector", "reseated the connector")
    clock.advance(8 * DAY)
    new = service.apply(make_alert(t_ms=clock()))
    assert new.id != t.id and (new.episode, new.state, new.recurrences, new.count) == (2, "open", 0, 1)
    assert store.get_ticket(engine, t.id).state == "resolved"
    assert store.find_by_key(engine, t.key).id == new.id


def test_resolved_alert_auto_resolves_an_unacknowledged_ticket(service, clock):
    t = service.apply(make_alert())
    clock.advance(600)
    done = service.apply(make_alert(state="resolved", t_ms=clock()))
    assert done.id == t.id and done.state == "resolved"
    assert done.root_cause == "auto-resolved: quiet" and done.resolved_ms == clock()


def test_resolved_alert_leaves_an_acknowledged_ticket_to_the_technician(service, workflow):
    t = service.apply(make_alert())
    workflow.ack(t.id, "bob")
    after = service.apply(make_alert(state="resolved"))
    assert (after.state, after.alert_state, after.root_cause) == ("acknowledged", "resolved", None)


def test_auto_resolve_can_be_turned_off(engine, clock):
    svc = TicketService(engine, None, None, None, now=clock, auto_resolve=False)
    t = svc.apply(make_alert())
    assert svc.apply(make_alert(state="resolved")).state == "open"
    assert t.alert_state == "firing"


COHORT = "model=PX-200,firmware=2.1.0"


def cohort_alert(**kw):
    return make_alert(COHORT, scope="cohort", detector="cohort_fault_rate", attribution="firmware=2.1.0",
                      devices=("pump-1", "pump-2"), **kw)


def test_child_after_parent_joins_the_parent_ticket(service, engine):
    parent = service.apply(cohort_alert())
    got = service.apply(make_alert("pump-9", parent_key=parent.key))
    assert got.id == parent.id and got.devices == ("pump-1", "pump-2", "pump-9")
    assert store.count_tickets(engine) == 1
    assert (got.model, got.firmware) == ("PX-200", "2.1.0")


def test_child_before_parent_is_attached_when_the_parent_opens(service, engine):
    parent_key = cohort_alert().key
    assert service.apply(make_alert("pump-9", parent_key=parent_key)) is None
    parent = service.apply(cohort_alert())
    assert "pump-9" in parent.devices and store.count_tickets(engine) == 1


def test_child_ticket_opened_alone_is_folded_into_the_parent(service, engine):
    alone = service.apply(make_alert("pump-9"))
    parent = service.apply(cohort_alert())
    got = service.apply(make_alert("pump-9", parent_key=parent.key))
    folded = store.get_ticket(engine, alone.id)
    assert (folded.state, folded.merged_into) == ("closed", parent.id)
    assert "pump-9" in got.devices
    assert [t.id for t in store.list_tickets(engine)] == [parent.id]
    assert "child_attached" in [h.kind for h in store.history(engine, parent.id)]


def test_child_ticket_opened_alone_is_folded_when_a_pending_child_is_claimed(service, engine):
    alone = service.apply(make_alert("pump-9"))
    assert service.apply(make_alert("pump-9", parent_key=cohort_alert().key)) is None
    parent = service.apply(cohort_alert())
    assert store.get_ticket(engine, alone.id).merged_into == parent.id
    assert "pump-9" in parent.devices


def test_merged_key_firing_alone_again_opens_a_new_episode(service, engine):
    alone = service.apply(make_alert("pump-9"))
    parent = service.apply(cohort_alert())
    service.apply(make_alert("pump-9", parent_key=parent.key))
    again = service.apply(make_alert("pump-9"))
    assert again.id != alone.id and again.episode == 2


def test_a_resolved_child_changes_nothing(service, engine):
    parent = service.apply(cohort_alert())
    service.apply(make_alert("pump-9", parent_key=parent.key))
    assert service.apply(make_alert("pump-9", parent_key=parent.key, state="resolved")) is None
    after = store.get_ticket(engine, parent.id)
    assert (after.state, after.version) == ("open", 2) and "pump-9" in after.devices


def test_new_devices_of_a_cohort_alert_join_its_ticket(service, engine):
    t = service.apply(cohort_alert())
    later = service.apply(make_alert(COHORT, scope="cohort", detector="cohort_fault_rate",
                                     devices=("pump-2", "pump-3")))
    assert later.devices == ("pump-1", "pump-2", "pump-3")
    assert store.history(engine, t.id)[-1].detail == {"devices_added": ["pump-3"]}


def test_a_recurrence_moves_the_incident_onset(service, workflow, clock):
    first = make_alert(t_ms=clock())
    t = service.apply(first)
    workflow.resolve(t.id, "alice", "loose connector", "reseated the connector")
    clock.advance(3 * DAY)
    again = service.apply(make_alert(t_ms=clock()))
    assert again.onset_ms == clock() - 60_000 and again.alert_starts_ms == clock() - 60_000
    assert again.evidence.window_start_ms > first.anomaly.onset_ms  # evidence looks at the new incident
    late_repeat = service.apply(make_alert(t_ms=clock() - 30_000))  # an older start never moves it back
    assert late_repeat.onset_ms == again.onset_ms


def test_a_pending_child_is_claimed_at_the_parents_next_repeat(service, engine, clock):
    from sqlalchemy import insert

    from tickets.models import PendingChildRow

    parent = service.apply(cohort_alert())
    # a child that slipped in between the parent's claim and its commit leaves a pending row behind
    with engine.begin() as conn:
        conn.execute(insert(PendingChildRow.__table__).values(
            parent_key=parent.key, child_key=make_alert("pump-9").key, device="pump-9", ts_ms=clock()))
    assert "pump-9" not in store.get_ticket(engine, parent.id).devices
    assert "pump-9" in service.apply(cohort_alert()).devices


def test_a_ticket_reopened_by_a_person_is_not_auto_resolved(service, workflow, clock):
    t = service.apply(make_alert())
    service.apply(make_alert(state="resolved"))  # auto-resolved
    workflow.reopen(t.id, "ann", "the customer still sees faults")
    after = service.apply(make_alert(state="resolved"))
    assert (after.state, after.root_cause) == ("reopened", None)
    clock.advance(DAY)
    service.apply(make_alert(t_ms=clock()))  # still the same ticket, not a recurrence
    recurred_then_quiet = service.apply(make_alert(state="resolved", t_ms=clock()))
    assert recurred_then_quiet.state == "reopened"


def test_a_ticket_reopened_by_a_recurrence_is_auto_resolved_when_quiet(service, workflow, clock):
    t = service.apply(make_alert())
    workflow.resolve(t.id, "ann", "cable", "replaced")
    clock.advance(DAY)
    assert service.apply(make_alert(t_ms=clock())).state == "reopened"
    assert service.apply(make_alert(state="resolved", t_ms=clock())).root_cause == "auto-resolved: quiet"
