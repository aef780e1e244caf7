"""The technicians' queue in SQL: filters, severity-then-age order, one page, counts per state,
headline figures (the workspace's front page, `api.ui.pages`).

Nothing here loads more than one page of tickets; counts and means are SQL
aggregates over the same filter, recomputed only when a ticket changed
(`tickets.aggregates`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from sqlalchemy import Engine, and_, column, func, inspect, literal_column, or_, select, table

from tickets.aggregates import cache_of
from tickets.models import ACTIVE_STATES, TICKET_STATES, TicketRow
from tickets.ticket import Ticket
from tickets.ticket_queries import TicketFilter

T = TicketRow.__table__
SEARCH = table("ticket_search", column("rowid"), column("body"))  # SQLite: FTS5 trigram index (t0009_queue_search)
# PostgreSQL: the three texts as one, the expression of its trigram index (t0009_queue_search); a word (no
# whitespace) matches it exactly where it matches one of the three
SEARCH_TEXT = literal_column("(coalesce(title, '') || ' ' || coalesce(subject, '') || ' ' || coalesce(explanation, ''))")
SEVERITIES = ("critical", "major", "minor", "info")
PAGE_SIZE = 25
MAX_SEARCH = 200
SEARCH_CAP = 1000  # a search's matches counted and paged in one pass; more are counted and paged in SQL


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """What the queue's filter form asks for (every value an exact match except `q`)."""

    flt: TicketFilter
    source: str | None = None
    q: str = ""  # words that must all appear in the title, subject or explanation
    page: int = 1

    def conditions(self, search: str = "columns") -> list:
        """The WHERE terms. How a word is searched for (`search_mode`): ``columns``, in each text (a scan);
        ``text``, in the three as one (PostgreSQL's trigram index); ``fts5``, words of three characters or
        more in ``ticket_search`` (SQLite's trigram index). The same substring match, ignoring case, in each."""
        cond = self.flt.conditions()
        if self.source:
            cond.append(T.c.source == self.source)
        for word in self.q.split()[:8]:
            if search == "fts5" and len(word) >= 3:
                phrase = '"' + word.replace('"', '""') + '"'  # a quoted phrase: every character literal
                cond.append(T.c.id.in_(select(SEARCH.c.rowid).where(SEARCH.c.body.op("MATCH")(phrase))))
                continue
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            if search == "text":
                cond.append(SEARCH_TEXT.ilike(pattern, escape="\\"))
            else:
                cond.append(or_(T.c.title.ilike(pattern, escape="\\"), T.c.subject.ilike(pattern, escape="\\"),
                                T.c.explanation.ilike(pattern, escape="\\")))
        return cond


_MODES: dict[str, str] = {}


def search_mode(engine: Engine) -> str:
    """How this store searches the queue (`QueueQuery.conditions`): by its index where it has one."""
    url = str(engine.url)
    if url not in _MODES:
        if engine.dialect.name == "postgresql":
            _MODES[url] = "text"
        elif engine.dialect.name == "sqlite" and inspect(engine).has_table("ticket_search"):
            _MODES[url] = "fts5"
        else:
            _MODES[url] = "columns"
    return _MODES[url]


@dataclass(frozen=True, slots=True)
class QueuePage:
    tickets: list[Ticket]
    total: int
    counts: dict[str, int]  # per state, under every filter but the state
    newest_id: int


def _every_state(query: QueueQuery) -> QueueQuery:
    """The query under every filter but the state, page 1: what the counts per state are taken over."""
    return replace(query, flt=replace(query.flt, states=()), page=1)


def _tally(query: QueueQuery, search: str = "columns"):
    """{(state, severity): count} under every filter but the state (one GROUP BY)."""
    where = and_(True, *_every_state(query).conditions(search))

    def compute(conn):
        rows = conn.execute(select(T.c.state, T.c.severity, func.count()).where(where)
                            .group_by(T.c.state, T.c.severity))
        return {(state, severity): int(n) for state, severity, n in rows}
    return compute


def _chosen_states(query: QueueQuery) -> set[str] | None:
    names = query.flt.states
    return {s for n in names for s in (ACTIVE_STATES if n == "active" else (n,))} or None


def _walk(conn, where, per_severity: dict[str, int], skip: int) -> list:
    """The page's rows, each severity walked on the (severity, opened_ms, id) index up to what the page needs."""
    need, rows = PAGE_SIZE, []
    for severity in (*SEVERITIES, "other"):
        n = per_severity.get(severity, 0)
        if skip >= n:
            skip -= n
            continue
        same = T.c.severity == severity if severity != "other" else T.c.severity.not_in(SEVERITIES)
        rows += conn.execute(select(T).where(where, same).order_by(T.c.opened_ms, T.c.id)
                             .limit(need).offset(skip)).all()
        skip, need = 0, PAGE_SIZE - len(rows)
        if need <= 0:
            break
    return rows


def _search_matches(conn, query: QueueQuery, search: str) -> list[tuple[str, str, int]] | None:
    """A search's matches under every filter but the state, in the queue's order (severity, then age):
    (state, severity, id) each; None when there are more than `SEARCH_CAP` (then counted and paged in SQL).
    One search serves the counts and the page."""
    where = and_(True, *_every_state(query).conditions(search))
    found = conn.execute(select(T.c.id, T.c.state, T.c.severity, T.c.opened_ms).where(where)
                         .limit(SEARCH_CAP + 1)).all()
    if len(found) > SEARCH_CAP:
        return None
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    found.sort(key=lambda r: (rank.get(r.severity, len(SEVERITIES)), r.opened_ms, r.id))
    return [(r.state, r.severity, r.id) for r in found]


def queue_page(engine: Engine, query: QueueQuery) -> QueuePage:
    """One page, critical first then oldest first: each severity is walked on the
    (severity, opened_ms, id) index up to the page's rows; the counts come
    from one cached GROUP BY (`tickets.aggregates`). A search counts and pages
    its matches in one pass (`_search_matches`); one with very many matches
    is counted and walked like the unfiltered queue, where 25 matching rows
    are soon found."""
    key = ("queue", _every_state(query))
    search = search_mode(engine) if query.q else "columns"
    where = and_(True, *query.conditions(search))
    chosen = _chosen_states(query)
    with engine.connect() as conn:
        matches = _search_matches(conn, query, search) if query.q else None
        if matches is not None:
            tally = dict(Counter((state, severity) for state, severity, _ in matches))
        else:
            tally = cache_of(engine).get(conn, key, _tally(query, search))
        per_severity: dict[str, int] = {}
        for (state, severity), n in tally.items():
            if chosen is None or state in chosen:
                bucket = severity if severity in SEVERITIES else "other"
                per_severity[bucket] = per_severity.get(bucket, 0) + n
        skip = (max(1, query.page) - 1) * PAGE_SIZE
        if matches is not None:
            ids = [i for state, _, i in matches if chosen is None or state in chosen][skip:skip + PAGE_SIZE]
            found = {r.id: r for r in conn.execute(select(T).where(T.c.id.in_(ids)))} if ids else {}
            rows = [found[i] for i in ids if i in found]
        else:  # no search, or one with very many matches: the first rows of each severity in its index order
            rows = _walk(conn, where, per_severity, skip)
        newest = conn.execute(select(func.max(T.c.id))).scalar() or 0
    counts = {s: sum(n for (state, _), n in tally.items() if state == s) for s in TICKET_STATES}
    return QueuePage([Ticket.from_row(r) for r in rows], sum(per_severity.values()), counts, int(newest))


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
        active, resolved, mtta, mttr = cache_of(engine).get(conn, ("headline",), lambda c: tuple(c.execute(stmt).one()))
    return Headline(int(active), int(resolved), None if mtta is None else float(mtta) / 1000,
                    None if mttr is None else float(mttr) / 1000)
