"""The queue in SQL: filters, severity-then-age order, one page, counts per state, headline figures.

Nothing here loads more than one page of tickets; counts and means are SQL
aggregates over the same filter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Engine, and_, case, func, or_, select

from api.ticket_queries import TicketFilter
from tickets.models import TICKET_STATES, TicketRow
from tickets.ticket import Ticket

T = TicketRow.__table__
SEVERITIES = ("critical", "major", "minor", "info")
SEVERITY_ORDER = case(*[(T.c.severity == s, i) for i, s in enumerate(SEVERITIES)], else_=len(SEVERITIES))
PAGE_SIZE = 25
MAX_SEARCH = 200


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """What the queue's filter form asks for (every value an exact match except `q`)."""

    flt: TicketFilter
    source: str | None = None
    q: str = ""  # words that must all appear in the title, subject or explanation
    page: int = 1

    def conditions(self) -> list:
        cond = self.flt.conditions()
        if self.source:
            cond.append(T.c.source == self.source)
        for word in self.q.split()[:8]:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            cond.append(or_(T.c.title.ilike(pattern, escape="\\"), T.c.subject.ilike(pattern, escape="\\"),
                            T.c.explanation.ilike(pattern, escape="\\")))
        return cond


@dataclass(frozen=True, slots=True)
class QueuePage:
    tickets: list[Ticket]
    total: int
    counts: dict[str, int]  # per state, under every filter but the state
    newest_id: int


def queue_page(engine: Engine, query: QueueQuery) -> QueuePage:
    where = and_(True, *query.conditions())
    unstated = and_(True, *replace(query, flt=replace(query.flt, states=())).conditions())
    offset = (max(1, query.page) - 1) * PAGE_SIZE
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(T).where(where)).scalar_one()
        rows = conn.execute(select(T).where(where).order_by(SEVERITY_ORDER, T.c.opened_ms, T.c.id)
                            .limit(PAGE_SIZE).offset(offset)).all()
        counts = dict(conn.execute(select(T.c.state, func.count()).where(unstated).group_by(T.c.state)).all())
        newest = conn.execute(select(func.max(T.c.id))).scalar() or 0
    return QueuePage([Ticket.from_row(r) for r in rows], int(total),
                     {s: int(counts.get(s, 0)) for s in TICKET_STATES}, int(newest))


@dataclass(frozen=True, slots=True)
class Headline:
    """Figures over the tickets that are not folded into another: a few SQL aggregates."""

    active: int
    resolved: int
    mtta_s: float | None
    mttr_s: float | None


def headline(engine: Engine) -> Headline:
    start = func.coalesce(T.c.reopened_ms, T.c.opened_ms)
    by_person = and_(T.c.resolved_ms.is_not(None), T.c.resolved_by != "faultline")
    stmt = select(
        func.count().filter(T.c.state.in_(("open", "acknowledged", "reopened"))),
        func.count().filter(T.c.state.in_(("resolved", "closed"))),
        func.avg(T.c.acknowledged_ms - start).filter(T.c.acknowledged_ms.is_not(None)),
        func.avg(T.c.resolved_ms - start).filter(by_person),
    ).where(T.c.merged_into.is_(None))
    with engine.connect() as conn:
        active, resolved, mtta, mttr = conn.execute(stmt).one()
    return Headline(int(active), int(resolved), None if mtta is None else float(mtta) / 1000,
                    None if mttr is None else float(mttr) / 1000)
