"""The KPIs of `tickets.kpis`, computed by the database: one aggregate query, grouped or not.

Same definitions and rounding as `tickets.kpis.kpis_of` (which stays the
readable reference and checks these on SQLite and PostgreSQL in the tests);
only sums and counts cross the wire, so 100,000 tickets cost one scan in
the database rather than 100,000 rows in Python, and the result is reused
until a ticket changes (`tickets.aggregates`).
"""

from __future__ import annotations

from sqlalchemy import Engine, and_, case, func, literal, or_, select

from tickets.aggregates import cache_of
from tickets.after_sales import PERIODS
from tickets.after_sales_queries import period_date, period_start, report_filter
from tickets.kpis import AUTO_RESOLVER, KpiReport, Kpis
from tickets.models import ACTIVE_STATES, TicketRow

T = TicketRow.__table__


def _one(expr):
    return func.coalesce(func.sum(case((expr, 1), else_=0)), 0)


def _columns():
    start = func.coalesce(T.c.reopened_ms, T.c.opened_ms)
    done = T.c.resolved_ms.is_not(None)
    auto = and_(done, T.c.resolved_by == AUTO_RESOLVER)
    by_person = and_(done, or_(T.c.resolved_by.is_(None), T.c.resolved_by != AUTO_RESOLVER))
    return (
        func.count().label("tickets"),
        _one(T.c.state.in_(ACTIVE_STATES)).label("open"),
        func.count(T.c.acknowledged_ms).label("acknowledged"),
        func.sum(T.c.acknowledged_ms - start).label("ack_ms"),
        _one(by_person).label("resolved"),
        func.sum(case((by_person, T.c.resolved_ms - start), else_=None)).label("fix_ms"),
        _one(auto).label("auto_resolved"),
        _one(T.c.recurrences > 0).label("recurred"),
    )


def _kpis(row) -> Kpis:
    def mean(total, n):
        return round(float(total) / int(n) / 1000, 3) if n else None

    n = int(row.tickets)
    return Kpis(tickets=n, open=int(row.open), acknowledged=int(row.acknowledged), resolved=int(row.resolved),
                auto_resolved=int(row.auto_resolved), recurred=int(row.recurred),
                mtta_s=mean(row.ack_ms, row.acknowledged), mttr_s=mean(row.fix_ms, row.resolved),
                recurrence_rate=round(int(row.recurred) / n, 4) if n else None)


def kpi_report(engine: Engine, by: str | None = None, *, opened_from_ms: int | None = None,
               opened_to_ms: int | None = None) -> KpiReport:
    """Overall KPIs of the tickets opened in ``[from, to)`` and, with `by`, one set per value."""
    where = report_filter(by, opened_from_ms, opened_to_ms)

    def compute(conn) -> KpiReport:
        overall = _kpis(conn.execute(select(*_columns()).where(*where)).one())
        if by is None:
            return KpiReport(overall)
        if by in PERIODS:  # the day or Monday-week (UTC) of the opening, as its first date
            key = period_start(by).label("key")
            rows = conn.execute(select(key, *_columns()).where(*where).group_by(key).order_by(key)).all()
            return KpiReport(overall, by, tuple((period_date(r.key), _kpis(r)) for r in rows))
        key = func.coalesce(func.nullif(T.c[by], ""), literal("unknown")).label("key")
        rows = conn.execute(select(key, *_columns()).where(*where).group_by(key)).all()
        return KpiReport(overall, by, tuple(sorted((r.key, _kpis(r)) for r in rows)))

    with engine.connect() as conn:
        return cache_of(engine).get(conn, ("kpis", by, opened_from_ms, opened_to_ms), compute)
