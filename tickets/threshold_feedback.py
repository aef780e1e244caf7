"""No-fault-found feedback: a detector that keeps raising false tickets on one cohort gets a higher bar there.

Bounds (documented in the README, *Feedback*): when a detector-raised ticket
is resolved as ``no_fault_found`` and the same detector has had
``NFF_LIMIT`` (5) such tickets on the same cohort (model, firmware and site
of the ticket) resolved within ``WINDOW_DAYS`` (7) — counting only those
since the cohort's last raise — that detector's threshold for that cohort
is multiplied by ``STEP`` (1.5), never beyond ``MAX_FACTOR`` (3×) the
detector's own. A rule (``rule:<name>``) is raised the same way. Each raise
is a row of ``threshold_adjustments`` (which tickets, the factor) and an
audit line ``threshold_raised`` on the ticket that tipped it; `revert`
undoes one (``threshold_reverted`` on that ticket), restoring the previous
factor.

`ThresholdGate` applies the factors between the detectors and the alert
stage: an anomaly of an adjusted (detector, cohort) passes only when its
score reaches ``threshold × factor``; what it holds back is counted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Connection, Engine, insert, select, update

from tickets import history
from tickets.models import ThresholdAdjustmentRow, TicketRow

A = ThresholdAdjustmentRow.__table__
T = TicketRow.__table__
NFF = "no_fault_found"
NFF_LIMIT = 5
WINDOW_DAYS = 7
STEP = 1.5
MAX_FACTOR = 3.0
SYSTEM_USER = "faultline"


@dataclass(frozen=True, slots=True)
class Adjustment:
    id: int
    detector: str
    cohort: str
    factor: float
    tickets: tuple[int, ...]
    created_ms: int
    reverted_ms: int | None
    reverted_by: str | None


def cohort_label(model: str, firmware: str, site: str) -> str:
    """The cohort an adjustment applies to.

    >>> cohort_label("PX-200", "2.1.0", "")
    'model=PX-200,firmware=2.1.0'
    """
    return ",".join(f"{k}={v}" for k, v in (("model", model), ("firmware", firmware), ("site", site)) if v)


def next_factor(current: float) -> float | None:
    """The raised factor, or None at the bound.

    >>> next_factor(1.0), next_factor(1.5), next_factor(2.25), next_factor(3.0)
    (1.5, 2.25, 3.0, None)
    """
    raised = min(round(current * STEP, 4), MAX_FACTOR)
    return raised if raised > current else None


def _adjustment(row) -> Adjustment:
    m = dict(row._mapping)
    return Adjustment(**{**m, "tickets": tuple(json.loads(m["tickets"]))})


def _active(conn: Connection, detector: str, cohort: str):
    return conn.execute(select(A).where(A.c.detector == detector, A.c.cohort == cohort, A.c.reverted_ms.is_(None))
                        .order_by(A.c.id.desc())).first()


def on_resolved(conn: Connection, ticket, now_ms: int, *, outbox: bool = False) -> int | None:
    """After a resolution: raise the detector's threshold for the ticket's cohort when the bound is met."""
    if ticket.root_cause_category != NFF or ticket.source != "detector":
        return None
    cohort = cohort_label(ticket.model, ticket.firmware, ticket.site)
    active = _active(conn, ticket.detector, cohort)
    since = max(now_ms - WINDOW_DAYS * 86_400_000, active.created_ms + 1 if active is not None else 0)
    ids = conn.execute(select(T.c.id).where(
        T.c.detector == ticket.detector, T.c.model == ticket.model, T.c.firmware == ticket.firmware,
        T.c.site == ticket.site, T.c.root_cause_category == NFF, T.c.source == "detector",
        T.c.merged_into.is_(None), T.c.resolved_ms >= since).order_by(T.c.id)).scalars().all()
    current = active.factor if active is not None else 1.0
    factor = next_factor(current)
    if len(ids) < NFF_LIMIT or factor is None:
        return None
    adj = conn.execute(insert(A).values(detector=ticket.detector, cohort=cohort, factor=factor,
                                        tickets=json.dumps(list(ids)), created_ms=now_ms)).inserted_primary_key[0]
    history.record(conn, ticket.id, "threshold_raised", SYSTEM_USER, {
        "adjustment": adj, "detector": ticket.detector, "cohort": cohort, "factor": [current, factor],
        "no_fault_found_tickets": list(ids), "window_days": WINDOW_DAYS}, now_ms, outbox=outbox)
    return adj


def revert(engine: Engine, adjustment_id: int, user: str, now_ms: int) -> Adjustment:
    """Undo one raise (its audit line goes on the ticket that tipped it); KeyError when unknown or undone."""
    with engine.begin() as conn:
        done = conn.execute(update(A).where(A.c.id == adjustment_id, A.c.reverted_ms.is_(None))
                            .values(reverted_ms=now_ms, reverted_by=user))
        if done.rowcount != 1:
            raise KeyError(f"no active threshold adjustment {adjustment_id}")
        adj = _adjustment(conn.execute(select(A).where(A.c.id == adjustment_id)).one())
        history.record(conn, adj.tickets[-1], "threshold_reverted", user, {
            "adjustment": adj.id, "detector": adj.detector, "cohort": adj.cohort, "factor": adj.factor},
            now_ms, outbox=False)
    return adj


def adjustments(engine: Engine, *, since_ms: int | None = None) -> list[Adjustment]:
    """Every raise (reverted ones too), oldest first; with `since_ms`, those made or undone since."""
    q = select(A).order_by(A.c.id)
    if since_ms is not None:
        q = q.where((A.c.created_ms >= since_ms) | (A.c.reverted_ms >= since_ms))
    with engine.connect() as conn:
        return [_adjustment(r) for r in conn.execute(q)]


def active_factors(engine: Engine) -> dict[tuple[str, str], float]:
    """(detector, cohort) → the factor in force (the latest raise not undone)."""
    out: dict[tuple[str, str], float] = {}
    for adj in adjustments(engine):
        if adj.reverted_ms is None:
            out[(adj.detector, adj.cohort)] = adj.factor
    return out


class ThresholdGate:
    """Holds back anomalies below a raised threshold; factors re-read at most every `refresh_s`."""

    def __init__(self, engine: Engine, refresh_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.engine, self.refresh_s, self.clock = engine, refresh_s, clock
        self.held = 0
        self._factors: dict[tuple[str, str], float] = {}
        self._read_at: float | None = None

    def admit(self, anomaly) -> bool:
        if self._read_at is None or self.clock() - self._read_at >= self.refresh_s:
            self._factors, self._read_at = active_factors(self.engine), self.clock()
        factor = self._factors.get((anomaly.detector, cohort_label(anomaly.model, anomaly.firmware, anomaly.site)))
        if factor is None or anomaly.score >= anomaly.threshold * factor:
            return True
        self.held += 1
        return False
