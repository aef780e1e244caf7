"""Reading tickets: by id, by alert key, filtered lists, comments and history."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, func, select

from tickets.models import CommentRow, EventRow, TicketDeviceRow, TicketRow
from tickets.ticket import Ticket

T = TicketRow.__table__
D = TicketDeviceRow.__table__


class TicketNotFound(LookupError):
    """No ticket with that id (the API answers 404)."""

    def __init__(self, ticket_id: int):
        super().__init__(f"no ticket with id {ticket_id}")
        self.ticket_id = ticket_id


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    ticket_id: int
    user: str
    text: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: int
    kind: str
    user: str
    detail: dict
    ts_ms: int


def devices_of(conn: Connection, ticket_id: int) -> tuple[str, ...]:
    rows = conn.execute(select(D.c.device).where(D.c.ticket_id == ticket_id).order_by(D.c.device))
    return tuple(r[0] for r in rows)


def get(conn: Connection, ticket_id: int) -> Ticket:
    row = conn.execute(select(T).where(T.c.id == ticket_id)).first()
    if row is None:
        raise TicketNotFound(ticket_id)
    return Ticket.from_row(row, devices_of(conn, ticket_id))


def current_row(conn: Connection, key: str):
    """The latest episode's row for an alert key, or None."""
    return conn.execute(select(T).where(T.c.key == key).order_by(T.c.episode.desc()).limit(1)).first()


def episode_over(row, now_ms: int, window_ms: int) -> bool:
    """Whether a key firing at `now_ms` needs a new episode rather than this ticket.

    True for a folded ticket, and for one resolved (or closed) more than
    `window_ms` ago; within the window a recurrence reopens it.
    """
    if row.merged_into is not None:
        return True
    if row.state not in ("resolved", "closed"):
        return False
    done_ms = row.resolved_ms if row.resolved_ms is not None else (row.closed_ms or row.updated_ms)
    return now_ms - done_ms > window_ms


def get_ticket(engine: Engine, ticket_id: int) -> Ticket:
    """The ticket with that id; `TicketNotFound` otherwise."""
    with engine.connect() as conn:
        return get(conn, ticket_id)


def find_by_key(engine: Engine, key: str) -> Ticket | None:
    """The current (latest episode) ticket of an alert key."""
    with engine.connect() as conn:
        row = current_row(conn, key)
        return None if row is None else Ticket.from_row(row, devices_of(conn, row.id))


def list_tickets(engine: Engine, *, state: str | tuple[str, ...] | None = None, assignee: str | None = None,
                 team: str | None = None, model: str | None = None, site: str | None = None,
                 firmware: str | None = None, include_merged: bool = False,
                 limit: int = 100, offset: int = 0) -> list[Ticket]:
    """Tickets, newest first, filtered on the given attributes."""
    cond = []
    if state:
        cond.append(T.c.state.in_((state,) if isinstance(state, str) else state))
    for col, value in (("assignee", assignee), ("team", team), ("model", model), ("site", site),
                       ("firmware", firmware)):
        if value is not None:
            cond.append(T.c[col] == value)
    if not include_merged:
        cond.append(T.c.merged_into.is_(None))
    stmt = select(T).where(and_(True, *cond)).order_by(T.c.id.desc()).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [Ticket.from_row(r, devices_of(conn, r.id)) for r in conn.execute(stmt)]


def count_tickets(engine: Engine, *, state: str | tuple[str, ...] | None = None) -> int:
    stmt = select(func.count()).select_from(T)
    if state:
        stmt = stmt.where(T.c.state.in_((state,) if isinstance(state, str) else state))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def comments(engine: Engine, ticket_id: int) -> list[Comment]:
    C = CommentRow.__table__
    with engine.connect() as conn:
        get(conn, ticket_id)
        rows = conn.execute(select(C).where(C.c.ticket_id == ticket_id).order_by(C.c.id))
        return [Comment(r.id, r.ticket_id, r.user, r.text, r.ts_ms) for r in rows]


def history(engine: Engine, ticket_id: int) -> list[HistoryEntry]:
    E = EventRow.__table__
    with engine.connect() as conn:
        get(conn, ticket_id)
        rows = conn.execute(select(E).where(E.c.ticket_id == ticket_id).order_by(E.c.version, E.c.id))
        return [HistoryEntry(r.version, r.kind, r.user, json.loads(r.detail), r.ts_ms) for r in rows]


def insert_ignore(conn: Connection, table, values: dict, index_elements: list[str]) -> bool:
    """INSERT that yields to a concurrent or earlier row with the same unique key.

    True when this call inserted the row. Uses ``ON CONFLICT DO NOTHING`` on
    SQLite and PostgreSQL; other databases fall back to a savepoint.
    """
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        stmt = dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=index_elements)
        return conn.execute(stmt.returning(table.c.id)).first() is not None
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(**values))
        return True
    except IntegrityError:
        return False


def kpi_rows(engine: Engine, *, opened_from_ms: int | None = None, opened_to_ms: int | None = None) -> list:
    """Light rows (no evidence) of the tickets opened in a period, for `tickets.kpis.compute_kpis`."""
    cols = [T.c[n] for n in ("id", "state", "opened_ms", "reopened_ms", "acknowledged_ms", "resolved_ms",
                             "resolved_by", "recurrences", "merged_into", "model", "firmware", "site")]
    stmt = select(*cols)
    if opened_from_ms is not None:
        stmt = stmt.where(T.c.opened_ms >= opened_from_ms)
    if opened_to_ms is not None:
        stmt = stmt.where(T.c.opened_ms < opened_to_ms)
    with engine.connect() as conn:
        return list(conn.execute(stmt.order_by(T.c.id)))
