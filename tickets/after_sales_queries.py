"""The after-sales KPIs of `tickets.after_sales`, computed by the database in one aggregate query.

Same definitions and rounding as `tickets.after_sales.after_sales_of` (the
tests hold the two equal on SQLite and PostgreSQL). Grouped by an attribute
(`GROUPINGS`) or by period (``day``, or ``week`` starting Monday, UTC) of
the opening; recurrence by cause looks at every later ticket, inside the
period or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, and_, case, exists, func, literal, or_, select

from tickets.aggregates import cache_of
from tickets.after_sales import DAY_MS, GROUPINGS, NFF, PERIODS, AfterSales, _share
from tickets.kpis import AUTO_RESOLVER
from tickets.models import TicketRow

T = TicketRow.__table__
MONDAY_MS = 4 * DAY_MS  # 1970-01-05, the first Monday of the epoch


@dataclass(frozen=True, slots=True)
class AfterSalesReport:
    overall: AfterSales
    by: str | None = None
    groups: tuple[tuple[str, AfterSales], ...] = ()  # (attribute value or period start date, KPIs)


def _count(expr):
    return func.coalesce(func.sum(case((expr, 1), else_=0)), 0)


def _sum(expr, value):
    return func.sum(case((expr, value), else_=None))


def _cause_recurs(recurrence_days: float):
    u = T.alias("later")
    window = int(recurrence_days * DAY_MS)
    return and_(_has_cause(T), exists().where(
        _has_cause(u), u.c.id != T.c.id, u.c.merged_into.is_(None),
        u.c.root_cause_category == T.c.root_cause_category, u.c.confirmed_attribute == T.c.confirmed_attribute,
        u.c.opened_ms > T.c.resolved_ms, u.c.opened_ms <= T.c.resolved_ms + window))


def _person(t):
    return and_(t.c.resolved_ms.is_not(None), or_(t.c.resolved_by.is_(None), t.c.resolved_by != AUTO_RESOLVER))


def _has_cause(t):
    return and_(_person(t), t.c.attribution.in_(("confirmed", "corrected")), t.c.confirmed_attribute.is_not(None),
                t.c.confirmed_attribute != "", t.c.root_cause_category.is_not(None), t.c.root_cause_category != NFF)


def _columns(recurrence_days: float):
    person = _person(T)
    detector = T.c.source == "detector"
    detected = and_(detector, T.c.onset_ms <= T.c.opened_ms)
    judged = and_(person, T.c.attribution.is_not(None), or_(T.c.root_cause_category.is_(None),
                                                             T.c.root_cause_category != NFF))
    classified = and_(person, detector, T.c.root_cause_category.is_not(None))
    ever = or_(T.c.resolved_ms.is_not(None), T.c.reopens > 0)
    rated = and_(T.c.source == "customer", T.c.satisfaction.is_not(None))
    return (
        func.count().label("tickets"),
        func.count(T.c.first_response_ms).label("responded"),
        func.sum(T.c.first_response_ms - T.c.opened_ms).label("response_ms"),
        _count(person).label("handled"), _sum(person, T.c.resolved_ms - T.c.opened_ms).label("handling_ms"),
        _count(detected).label("detected"), _sum(detected, T.c.opened_ms - T.c.onset_ms).label("detect_ms"),
        _count(judged).label("judged"), _count(and_(judged, T.c.attribution == "confirmed")).label("confirmed"),
        _count(classified).label("classified"),
        _count(and_(classified, T.c.root_cause_category == NFF)).label("nff"),
        _count(or_(T.c.recurrences > 0, _cause_recurs(recurrence_days))).label("recurred"),
        _count(ever).label("ever"), _count(and_(ever, T.c.reopens > 0)).label("reopened"),
        _count(rated).label("rated"), _sum(rated, T.c.satisfaction).label("rating_sum"),
    )


def _kpis(r) -> AfterSales:
    def mean(total, n, scale=1000, digits=3):
        return round(float(total) / int(n) / scale, digits) if n else None

    return AfterSales(
        tickets=int(r.tickets), responded=int(r.responded), first_response_s=mean(r.response_ms, r.responded),
        handled=int(r.handled), handling_s=mean(r.handling_ms, r.handled),
        detected=int(r.detected), time_to_detect_s=mean(r.detect_ms, r.detected),
        judged=int(r.judged), confirmed=int(r.confirmed), localisation_accuracy=_share(int(r.confirmed), int(r.judged)),
        classified=int(r.classified), no_fault_found=int(r.nff),
        detector_precision=_share(int(r.classified) - int(r.nff), int(r.classified)),
        recurred_any=int(r.recurred), recurrence_any_rate=_share(int(r.recurred), int(r.tickets)),
        ever_resolved=int(r.ever), reopened=int(r.reopened), reopen_rate=_share(int(r.reopened), int(r.ever)),
        rated=int(r.rated), satisfaction=mean(r.rating_sum, r.rated, 1, 2))


def period_start(by: str):
    """SQL: the start (epoch ms, UTC) of the day or Monday-week a ticket was opened in."""
    if by == "day":
        return T.c.opened_ms - T.c.opened_ms % DAY_MS
    return T.c.opened_ms - (T.c.opened_ms - MONDAY_MS) % (7 * DAY_MS)


def period_date(ms: int) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).date().isoformat()


def report_filter(by: str | None, opened_from_ms: int | None, opened_to_ms: int | None) -> list:
    """The WHERE of a KPI report (tickets not folded into another, opened in ``[from, to)``); `by` checked."""
    if by is not None and by not in GROUPINGS + PERIODS:
        raise ValueError(f"cannot group KPIs by {by!r}; choose one of {', '.join(GROUPINGS + PERIODS)}")
    where = [T.c.merged_into.is_(None)]
    if opened_from_ms is not None:
        where.append(T.c.opened_ms >= opened_from_ms)
    if opened_to_ms is not None:
        where.append(T.c.opened_ms < opened_to_ms)
    return where


def after_sales_report(engine: Engine, by: str | None = None, *, opened_from_ms: int | None = None,
                       opened_to_ms: int | None = None, recurrence_days: float = 7) -> AfterSalesReport:
    """After-sales KPIs of the tickets opened in ``[from, to)``; with `by`, one set per value or period."""
    where = report_filter(by, opened_from_ms, opened_to_ms)
    columns = _columns(recurrence_days)

    def compute(conn) -> AfterSalesReport:
        overall = _kpis(conn.execute(select(*columns).where(*where)).one())
        if by is None:
            return AfterSalesReport(overall)
        if by in PERIODS:
            key = period_start(by).label("key")
        else:
            key = func.coalesce(func.nullif(T.c[by], ""), literal("unknown")).label("key")
        rows = conn.execute(select(key, *columns).where(*where).group_by(key).order_by(key)).all()
        groups = [(period_date(r.key) if by in PERIODS else r.key, _kpis(r)) for r in rows]
        return AfterSalesReport(overall, by, tuple(groups if by in PERIODS else sorted(groups)))

    with engine.connect() as conn:  # computed again only when a ticket changed (tickets.aggregates)
        return cache_of(engine).get(conn, ("after-sales", by, opened_from_ms, opened_to_ms, recurrence_days),
                                    compute)
