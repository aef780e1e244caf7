"""Similar cases by signature (code sequence, cohort, metric shape), each fix with how often it worked."""

from __future__ import annotations

import json

from sqlalchemy import update

from support.tickets import make_alert
from tickets import store
from tickets.evidence import Evidence, Explanation, LogEntry, MetricWindow, Stats
from tickets.models import TicketRow
from tickets.service import TicketService
from tickets.signature_similar import similar_by_signature
from tickets.workflow import Workflow


def _evidence(codes: tuple[str, ...], temp_mean: float) -> str:
    logs = tuple(LogEntry(1000 + i, "d", "ERROR", "motor", c, f"{c} fault") for i, c in enumerate(codes))
    metrics = (MetricWindow("temp_c", Stats(40.0, temp_mean, 90.0), Stats(40.0, 50.0, 60.0)),)
    return json.dumps(Evidence(1, True, (), 0, 2, Explanation("x", 3.0, 1.0, 5.0, 4.0), logs, metrics).to_dict())


def test_signature_ranks_cases_and_counts_how_often_the_fix_worked(engine, clock):
    svc, flow = TicketService(engine, None, None, None, now=clock), Workflow(engine, now=clock)

    def case(device, model, firmware, site, codes, temp, fix=None):
        t = svc.apply(make_alert(device, model=model, firmware=firmware, site=site))
        with engine.begin() as conn:
            conn.execute(update(TicketRow.__table__).where(TicketRow.__table__.c.id == t.id)
                         .values(evidence=_evidence(codes, temp)))
        if fix:
            flow.resolve(t.id, "ann", "root cause", fix)
        return t.id

    a = case("pump-a", "PX-200", "2.1.0", "sh-01", ("E214", "E301"), 80.0, "roll back to 2.0.3")
    b = case("fan-b", "FX-10", "1.0.0", "sh-09", ("E214",), 45.0, "replaced the sensor")
    c = case("fan-c", "FX-10", "2.1.0", "sh-02", ("E214", "E301"), 82.0, "roll back to 2.0.3")
    flow.reopen(c, "ann", "came back")  # the rollback did not hold there
    flow.resolve(c, "ann", "root cause", "roll back to 2.0.3")
    query = store.get_ticket(engine, case("pump-q", "PX-200", "2.1.0", "sh-05", ("E214", "E301"), 85.0))
    with engine.connect() as conn:
        found = similar_by_signature(conn, query)
    assert [x.ticket_id for x in found] == [a, c, b]
    best = found[0]
    assert (best.codes, best.cohort) == (1.0, 0.5)  # same code sequence; model and firmware of three pairs each
    assert best.shape > 0.9 and found[2].shape < 0.7  # b's temperature sat below its reference: a different shape
    assert (best.fix, best.fix_worked, best.fix_tried) == ("roll back to 2.0.3", 1, 2)
    assert (found[2].fix_worked, found[2].fix_tried) == (1, 1)


def test_without_metric_windows_the_shape_is_left_out(engine, clock):
    svc, flow = TicketService(engine, None, None, None, now=clock), Workflow(engine, now=clock)
    past = svc.apply(make_alert("pump-1"))
    flow.resolve(past.id, "ann", "cable", "re-crimped")
    now = svc.apply(make_alert("pump-2"))
    with engine.connect() as conn:
        (hit,) = similar_by_signature(conn, store.get(conn, now.id))
    assert hit.ticket_id == past.id and hit.shape is None and hit.fix == "re-crimped"
