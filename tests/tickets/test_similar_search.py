"""Similar cases drawn from the database's full-text index (SQLite FTS5, PostgreSQL tsvector), on both databases."""

from __future__ import annotations

from support.tickets import make_alert
from tickets.service import TicketService
from tickets.similar import CaseText, find_similar
from tickets.similar_search import candidates
from tickets.workflow import Workflow


def test_resolved_cases_are_found_by_their_words_and_leave_the_index_when_reopened(engine, clock):
    svc, flow = TicketService(engine, None, now=clock), Workflow(engine, now=clock)
    bearing = svc.apply(make_alert("pump-1", code="E214"))
    flow.resolve(bearing.id, "alice", "worn motor bearing", "replaced the bearing")
    filters = [svc.apply(make_alert(f"fan-{i}", code="E500", model="PX-100")) for i in range(3)]
    for t in filters:
        flow.resolve(t.id, "alice", "dust filter clogged", "cleaned the filter")
    open_one = svc.apply(make_alert("pump-9", code="E777"))  # not resolved: never a candidate
    with engine.connect() as conn:
        assert candidates(conn, "E214 on pump-1", 10) == [bearing.id]
        assert set(candidates(conn, "E500 fan", 10)) == {t.id for t in filters}
        assert candidates(conn, "E777", 10) == [] and candidates(conn, "", 10) == []
        found = find_similar(conn, CaseText(open_one.id, "E214 overcurrent", "E214", "PX-200", "2.1.0"))
    assert [s.ticket_id for s in found] == [bearing.id] and found[0].resolution == "replaced the bearing"
    flow.reopen(bearing.id, "bob", "it is back")
    with engine.connect() as conn:
        assert candidates(conn, "E214", 10) == []
    flow.resolve(bearing.id, "bob", "cracked housing", "new housing")
    with engine.connect() as conn:
        assert candidates(conn, "E214", 10) == [bearing.id]
