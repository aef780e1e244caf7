"""Ticket reads beyond `tickets.store`: filtered pages with a total, children, merges, counts by state.

Every filter value is a bound parameter (exact match), so quotes, backslashes
and SQL fragments in a value match only a ticket that has exactly that value.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, exists, func, null, or_, select

from tickets.aggregates import cache_of
from tickets.models import ACTIVE_STATES, TicketDeviceRow, TicketRow
from tickets.ticket import Ticket

T = TicketRow.__table__
D = TicketDeviceRow.__table__


@dataclass(frozen=True, slots=True)
class TicketFilter:
    states: tuple[str, ...] = ()  # "active" stands for open, acknowledged and reopened
    severities: tuple[str, ...] = ()
    device: str | None = None
    model: str | None = None
    firmware: str | None = None
    site: str | None = None
    assignee: str | None = None
    team: str | None = None
    code: str | None = None
    include_merged: bool = False

    def conditions(self) -> list:
        cond = []
        states = {s for name in self.states for s in (ACTIVE_STATES if name == "active" else (name,))}
        if states:
            cond.append(T.c.state.in_(sorted(states)))
        if self.severities:
            cond.append(T.c.severity.in_(self.severities))
        for column in ("model", "firmware", "site", "assignee", "team", "code"):
            value = getattr(self, column)
            if value is not None:
                cond.append(T.c[column] == value)
        if self.device is not None:
            attached = exists().where(D.c.ticket_id == T.c.id, D.c.device == self.device)
            cond.append(or_(and_(T.c.scope == "device", T.c.subject == self.device), attached))
        if not self.include_merged:
            cond.append(T.c.merged_into.is_(None))
        return cond


# a list shows summaries: the evidence document (up to tens of kB a ticket, parsed into objects) stays in SQL
SUMMARY_COLUMNS = (*(c for c in T.c if c.name != "evidence"), null().label("evidence"))


def page_of_tickets(engine: Engine, flt: TicketFilter, limit: int, offset: int) -> tuple[list[Ticket], int]:
    """One page of matching tickets, newest first, and how many match in all."""
    where = and_(True, *flt.conditions())
    with engine.connect() as conn:
        total = cache_of(engine).get(conn, ("list-total", flt),
                                     lambda c: c.execute(select(func.count()).select_from(T).where(where)).scalar_one())
        rows = conn.execute(select(*SUMMARY_COLUMNS).where(where).order_by(T.c.id.desc())
                            .limit(limit).offset(offset)).all()
        devices: dict[int, list[str]] = {}
        if rows:
            pairs = conn.execute(select(D.c.ticket_id, D.c.device).where(D.c.ticket_id.in_([r.id for r in rows]))
                                 .order_by(D.c.device))
            for ticket_id, device in pairs:
                devices.setdefault(ticket_id, []).append(device)
        return [Ticket.from_row(r, tuple(devices.get(r.id, ()))) for r in rows], int(total)


def children_of(engine: Engine, ticket_id: int) -> list[dict]:
    """The affected devices of a ticket, with the child alert that attached each (if any)."""
    with engine.connect() as conn:
        rows = conn.execute(select(D.c.device, D.c.child_key, D.c.attached_ms)
                            .where(D.c.ticket_id == ticket_id).order_by(D.c.attached_ms, D.c.device))
        return [{"device": r.device, "child_key": r.child_key, "attached_ms": r.attached_ms} for r in rows]


def merged_into(engine: Engine, ticket_id: int) -> list[int]:
    """Ids of the tickets folded into this one."""
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(T.c.id).where(T.c.merged_into == ticket_id).order_by(T.c.id))]


def counts_by_state(engine: Engine) -> dict[str, int]:
    """Tickets per state (merged ones excluded), for metrics."""
    with engine.connect() as conn:
        rows = conn.execute(select(T.c.state, func.count()).where(T.c.merged_into.is_(None)).group_by(T.c.state))
        return {state: int(n) for state, n in rows}
