"""The review (复盘) of a period, as data: what happened, how the KPIs moved, what to improve.

`gather` reads the ticket store with aggregate SQL (a period of a million
tickets costs a few scans, not a million rows in Python) and returns a
`Review`: the period's incidents (detector tickets not merged, the
``MAX_INCIDENTS`` with the most affected tickets' devices/alerts first),
tickets per day by source, top fault codes and cohorts by excess over
expectation (expectation: the previous period of the same length, scaled),
each KPI now and in the previous period, the tickets that reopened or
recurred, no-fault-found tickets by detector, the threshold raises and
undos of the period, and improvement suggestions (`suggestions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, case, func, or_, select

from tickets.after_sales import DAY_MS, NFF, AfterSales
from tickets.after_sales_queries import after_sales_report, period_start
from tickets.kpi_queries import kpi_report
from tickets.kpis import Kpis
from tickets.models import KnownIssueRow, TicketRow
from tickets.threshold_feedback import Adjustment, adjustments

T = TicketRow.__table__
K = KnownIssueRow.__table__
MAX_INCIDENTS = 50
TOP = 8


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    title: str
    opened_ms: int
    scope: str
    subject: str
    devices: int
    time_to_detect_s: float
    time_to_resolve_s: float | None
    root_cause: str  # category and confirmed attribute, or the state


@dataclass(frozen=True, slots=True)
class Excess:
    name: str  # a fault code, or a cohort attribute (firmware=2.1.0)
    tickets: int
    expected: float  # from the previous period, scaled to this one's length

    @property
    def excess(self) -> float:
        return self.tickets - self.expected


@dataclass(frozen=True, slots=True)
class Review:
    from_ms: int
    to_ms: int
    tickets: int
    incidents: tuple[Incident, ...]
    per_day: tuple[tuple[str, int, int], ...]  # (date, detector tickets, customer tickets)
    codes: tuple[Excess, ...]
    cohorts: tuple[Excess, ...]
    kpis: Kpis
    after: AfterSales
    previous_kpis: Kpis
    previous_after: AfterSales
    reopened: tuple[tuple[int, str, int, int], ...]  # (ticket, title, reopens, recurrences)
    nff_by_detector: tuple[tuple[str, int, int], ...]  # (detector, no fault found, classified)
    root_causes: tuple[tuple[str, int], ...]  # (category, tickets)
    adjustments: tuple[Adjustment, ...]
    suggestions: tuple[str, ...] = field(default=())


def _in(from_ms: int, to_ms: int):
    return and_(T.c.merged_into.is_(None), T.c.opened_ms >= from_ms, T.c.opened_ms < to_ms)


def _counts(conn, column, from_ms: int, to_ms: int) -> dict[str, int]:
    rows = conn.execute(select(column, func.count()).where(_in(from_ms, to_ms), column != "").group_by(column))
    return {k: int(n) for k, n in rows}


def _excess(now: dict[str, int], before: dict[str, int], scale: float, prefix: str = "") -> tuple[Excess, ...]:
    found = [Excess(prefix + k, n, round(before.get(k, 0) * scale, 2)) for k, n in now.items()]
    return tuple(sorted(found, key=lambda e: (-e.excess, e.name))[:TOP])


def _incidents(conn, from_ms: int, to_ms: int) -> tuple[Incident, ...]:
    from tickets.models import TicketDeviceRow

    D = TicketDeviceRow.__table__
    devices = select(func.count()).where(D.c.ticket_id == T.c.id).scalar_subquery()
    rows = conn.execute(select(T, devices.label("n_devices")).where(_in(from_ms, to_ms), T.c.source == "detector")
                        .order_by(devices.desc(), T.c.alert_count.desc(), T.c.id).limit(MAX_INCIDENTS)).all()
    out = []
    for r in rows:
        cause = (f"{r.root_cause_category.replace('_', ' ')}: {r.confirmed_attribute or r.root_cause or ''}"
                 if r.root_cause_category else (r.root_cause or r.state))
        out.append(Incident(r.id, r.title, r.opened_ms, r.scope, r.subject, max(int(r.n_devices), 1),
                            (r.opened_ms - r.onset_ms) / 1000,
                            (r.resolved_ms - r.opened_ms) / 1000 if r.resolved_ms is not None else None,
                            cause.strip().rstrip(":")))
    return tuple(sorted(out, key=lambda i: i.opened_ms))


def gather(engine: Engine, from_ms: int, to_ms: int, *, recurrence_days: float = 7) -> Review:
    """The review of the tickets opened in ``[from_ms, to_ms)``."""
    if to_ms <= from_ms:
        raise ValueError("the period must end after it starts")
    span = to_ms - from_ms
    prev_from = from_ms - span
    with engine.connect() as conn:
        day = period_start("day").label("day")
        per_day = conn.execute(select(day, func.sum(case((T.c.source == "detector", 1), else_=0)),
                                      func.count()).where(_in(from_ms, to_ms)).group_by(day).order_by(day)).all()
        codes = _excess(_counts(conn, T.c.code, from_ms, to_ms), _counts(conn, T.c.code, prev_from, from_ms), 1.0)
        cohorts = ()
        for attr in ("firmware", "model", "site"):
            cohorts += _excess(_counts(conn, T.c[attr], from_ms, to_ms),
                               _counts(conn, T.c[attr], prev_from, from_ms), 1.0, f"{attr}=")
        cohorts = tuple(sorted(cohorts, key=lambda e: (-e.excess, e.name))[:TOP])
        reopened = conn.execute(select(T.c.id, T.c.title, T.c.reopens, T.c.recurrences).where(
            _in(from_ms, to_ms), or_(T.c.reopens > 0, T.c.recurrences > 0))
            .order_by((T.c.reopens + T.c.recurrences).desc(), T.c.id).limit(MAX_INCIDENTS)).all()
        classified = and_(T.c.source == "detector", T.c.root_cause_category.is_not(None))
        nff = conn.execute(select(T.c.detector, func.sum(case((T.c.root_cause_category == NFF, 1), else_=0)),
                                  func.count()).where(_in(from_ms, to_ms), classified)
                           .group_by(T.c.detector).order_by(T.c.detector)).all()
        causes = conn.execute(select(T.c.root_cause_category, func.count()).where(
            _in(from_ms, to_ms), T.c.root_cause_category.is_not(None)).group_by(T.c.root_cause_category)
            .order_by(func.count().desc())).all()
        incidents = _incidents(conn, from_ms, to_ms)
        tickets = conn.execute(select(func.count()).where(_in(from_ms, to_ms))).scalar()
    from tickets.after_sales_queries import period_date

    review = Review(
        from_ms, to_ms, int(tickets), incidents,
        tuple((period_date(d), int(det or 0), int(n) - int(det or 0)) for d, det, n in per_day),
        codes, cohorts, kpi_report(engine, opened_from_ms=from_ms, opened_to_ms=to_ms).overall,
        after_sales_report(engine, opened_from_ms=from_ms, opened_to_ms=to_ms, recurrence_days=recurrence_days).overall,
        kpi_report(engine, opened_from_ms=prev_from, opened_to_ms=from_ms).overall,
        after_sales_report(engine, opened_from_ms=prev_from, opened_to_ms=from_ms,
                           recurrence_days=recurrence_days).overall,
        tuple((r.id, r.title, int(r.reopens), int(r.recurrences)) for r in reopened),
        tuple((d, int(n or 0), int(c)) for d, n, c in nff), tuple((c, int(n)) for c, n in causes),
        tuple(adjustments(engine, since_ms=from_ms)))
    from tickets.review_suggestions import suggestions

    return _with(review, suggestions(engine, review))


def _with(review: Review, found: list[str]) -> Review:
    from dataclasses import replace

    return replace(review, suggestions=tuple(found))


__all__ = ["DAY_MS", "Excess", "Incident", "Review", "gather"]
