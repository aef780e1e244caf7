"""Keeping a ticket's evidence current: gathered on open, refreshed on update.

Gathering runs outside any transaction. It is redone when the ticket opens
or reopens; on a repeat of the alert, when the stored evidence is older than
``refresh_s`` (or than ``retry_s`` when it is incomplete because InfluxDB was
down). `refresh_incomplete` is the
scheduler job that retries incomplete evidence without waiting for an alert.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Callable

from sqlalchemy import Engine, select, update

from alerts.alert import Alert
from tickets import store
from tickets.evidence import Evidence, EvidenceRequest, Explanation
from tickets.models import ACTIVE_STATES, TicketRow
from tickets.case_text import case_text
from tickets.similar import CaseText, find_similar
from tickets.ticket import Ticket

T = TicketRow.__table__


def request_for(ticket: Ticket, alert: Alert | None) -> EvidenceRequest:
    """What to gather for `ticket`; the alert's anomaly, when given, supplies the numbers."""
    if alert is not None:
        a = alert.anomaly
        expl = Explanation(a.explanation, a.observed, a.expected, a.score, a.threshold, a.attribution)
    elif ticket.evidence is not None:
        expl = ticket.evidence.explanation
    else:
        expl = Explanation(ticket.explanation, 0.0, 0.0, 0.0, 0.0)
    return EvidenceRequest(
        key=ticket.key, scope=ticket.scope, subject=ticket.subject, code=ticket.code, devices=ticket.devices,
        model=ticket.model, firmware=ticket.firmware, site=ticket.site, attribution=expl.attribution,
        onset_ms=ticket.onset_ms, last_seen_ms=ticket.last_seen_ms, explanation=expl)


class EvidenceRefresher:
    """Complete evidence is refreshed every `refresh_s`; incomplete evidence is retried every
    `retry_s`, so a down InfluxDB costs an alert repeat at most one attempt per interval."""

    def __init__(self, engine: Engine, source, now: Callable[[], int], refresh_s: float = 300.0,
                 retry_s: float = 60.0):
        self.engine = engine
        self.source = source
        self.now = now
        self.refresh_s = refresh_s
        self.retry_s = retry_s

    def due(self, ticket: Ticket, now: int) -> bool:
        if ticket.evidence is None or ticket.evidence_ms is None:
            return True
        interval = self.refresh_s if ticket.evidence_complete else self.retry_s
        return now - ticket.evidence_ms >= interval * 1000

    def refresh(self, ticket_id: int, alert: Alert | None, *, force: bool = False) -> Ticket:
        """Gather and store evidence when due (or forced); the ticket as stored."""
        ticket = store.get_ticket(self.engine, ticket_id)
        now = self.now()
        if not (force or self.due(ticket, now)):
            return ticket
        evidence = self.gather(ticket, alert, now)
        with self.engine.begin() as conn:
            conn.execute(update(T).where(T.c.id == ticket_id).values(
                evidence=json.dumps(evidence.to_dict()), evidence_complete=evidence.complete, evidence_ms=now))
            return store.get(conn, ticket_id)

    def gather(self, ticket: Ticket, alert: Alert | None, now: int) -> Evidence:
        request = request_for(ticket, alert)
        if self.source is None:
            evidence = Evidence(now, True, (), request.onset_ms, request.last_seen_ms, request.explanation,
                                devices=request.devices)
        else:
            evidence = self.source.gather(request, now)
        msgs = [f"{e.code} {e.msg}" for e in evidence.logs]
        query = CaseText(ticket.id, case_text(ticket.title, ticket.explanation, None, msgs),
                         ticket.code, ticket.model, ticket.firmware)
        with self.engine.connect() as conn:
            return replace(evidence, similar=find_similar(conn, query))

    def refresh_incomplete(self, limit: int = 50) -> int:
        """Retry incomplete evidence of active tickets; how many were refreshed."""
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(select(T.c.id).where(
                T.c.state.in_(ACTIVE_STATES), T.c.evidence_complete.is_(False)).order_by(T.c.id).limit(limit))]
        for ticket_id in ids:
            self.refresh(ticket_id, None, force=True)
        return len(ids)
