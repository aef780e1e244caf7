"""Recording a ticket change: bump the version, append history, queue the webhook.

Every change a consumer should hear about goes through `record`, inside the
transaction that made the change, so history and outbox never disagree with
the ticket.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, insert, update

from tickets import store
from tickets.models import EventRow, OutboxRow, TicketRow
from tickets.ticket import Ticket

T = TicketRow.__table__


def idempotency_key(ticket: Ticket) -> str:
    """Stable per ticket version: the same change is never delivered as two.

    >>> idempotency_key(type("T", (), {"key": "a|b|c|E1", "episode": 1, "version": 3})())
    'a|b|c|E1#1@v3'
    """
    return f"{ticket.key}#{ticket.episode}@v{ticket.version}"


def webhook_payload(ticket: Ticket, kind: str, user: str, detail: dict, now_ms: int) -> str:
    """The JSON body sent for one change (evidence summarised, not copied)."""
    body = ticket.to_dict()
    ev = ticket.evidence
    body["evidence"] = None if ev is None else {
        "complete": ev.complete, "grafana_url": ev.grafana_url, "log_lines": len(ev.logs),
        "similar": [s.ticket_id for s in ev.similar]}
    return json.dumps({"event": kind, "user": user, "detail": detail, "ts_ms": now_ms,
                       "idempotency_key": idempotency_key(ticket), "ticket": body},
                      sort_keys=True, separators=(",", ":"))


def record(conn: Connection, ticket_id: int, kind: str, user: str, detail: dict, now_ms: int,
           *, outbox: bool) -> Ticket:
    """Bump the version of `ticket_id`, write the history row and (optionally) the outbox row."""
    conn.execute(update(T).where(T.c.id == ticket_id).values(version=T.c.version + 1, updated_ms=now_ms))
    ticket = store.get(conn, ticket_id)
    conn.execute(insert(EventRow.__table__).values(
        ticket_id=ticket_id, version=ticket.version, kind=kind, user=user,
        detail=json.dumps(detail, sort_keys=True), ts_ms=now_ms))
    if outbox:
        conn.execute(insert(OutboxRow.__table__).values(
            ticket_id=ticket_id, idempotency_key=idempotency_key(ticket), event=kind,
            payload=webhook_payload(ticket, kind, user, detail, now_ms), created_ms=now_ms,
            attempts=0, next_attempt_ms=now_ms, dead=False))
    return ticket
