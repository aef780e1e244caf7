"""Improvement suggestions for the review, derived from the period's tickets (each sentence cites its numbers).

- per model, the confirmed root cause behind most of its tickets ("firmware=2.1.0
  caused 64 % of PX-200 tickets with a confirmed root cause (7 of 11)"), its
  known fix with how often it held, and how the daily rate of such tickets
  moved once that fix was known;
- localisation accuracy under the 95 % target, with the attribute it was
  most often corrected to;
- detectors whose classified tickets were mostly no fault found, with the
  thresholds raised for them;
- first response or handling time more than 20 % worse than the previous period.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, and_, func, select

from tickets.known_issues import fix_record, get, is_cohort_attribute
from tickets.models import KnownIssueRow, TicketRow

T = TicketRow.__table__
K = KnownIssueRow.__table__
TARGET_ACCURACY = 0.95
SHARE = 0.2  # a cohort root cause behind at least this share of a model's tickets is worth a line
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def _share(n: int, d: int) -> str:
    return f"{n / d:.0%}" if d else "–"


def _cause_lines(engine: Engine, review) -> list[str]:
    found = and_(T.c.merged_into.is_(None), T.c.opened_ms >= review.from_ms, T.c.opened_ms < review.to_ms,
                 T.c.attribution.in_(("confirmed", "corrected")), T.c.confirmed_attribute.is_not(None),
                 T.c.root_cause_category != "no_fault_found")
    with engine.connect() as conn:
        rows = conn.execute(select(T.c.model, T.c.confirmed_attribute, func.count(), func.min(T.c.resolved_ms))
                            .where(found).group_by(T.c.model, T.c.confirmed_attribute)).all()
        lines = []
        by_model: dict[str, list] = {}
        for model, attr, n, _ in rows:
            by_model.setdefault(model or "unknown", []).append((int(n), attr))
        for model, items in sorted(by_model.items()):
            total = sum(n for n, _ in items)
            cohort = [(n, attr) for n, attr in items if is_cohort_attribute(attr)]
            if not cohort:
                continue
            n, attr = max(cohort)
            if total < 3 or n / total < SHARE:
                continue
            line = f"{attr} caused {_share(n, total)} of {model} tickets with a confirmed root cause ({n} of {total})"
            issue_id = conn.execute(select(K.c.id).where(K.c.attribute == attr).order_by(K.c.id)).scalar()
            first_fix = None
            if issue_id is not None:
                issue = get(engine, issue_id)
                worked, tried = fix_record(engine, issue)
                first_fix = issue.created_ms
                line += f"; known fix: \"{issue.fix}\"" + (f" (held {worked} of {tried} times)" if tried else "")
            if first_fix is not None and review.from_ms + DAY_MS <= first_fix <= review.to_ms - DAY_MS:
                line += _fix_effect(conn, review, issue, first_fix)
            lines.append(line + ".")
    return lines


def _fix_effect(conn, review, issue, fixed_ms: int) -> str:
    """How the daily rate of the issue's tickets at the first ticket's site moved once the fix was known
    (before: from the first such ticket there; after: to the end of the period)."""
    key, _, value = issue.attribute.partition("=")
    site = conn.execute(select(T.c.site).where(T.c.id == issue.ticket_id)).scalar()
    if key not in ("model", "firmware", "site") or "," in issue.attribute or not site:
        return ""
    same = and_(T.c.merged_into.is_(None), T.c[key] == value, T.c.site == site, T.c.opened_ms >= review.from_ms,
                T.c.opened_ms < review.to_ms)
    before, first = conn.execute(select(func.count(), func.min(T.c.opened_ms)).where(same, T.c.opened_ms < fixed_ms)).one()
    after = conn.execute(select(func.count()).where(same, T.c.opened_ms >= fixed_ms)).scalar()
    if not before or fixed_ms - first < HOUR_MS:
        return ""
    rate_before = before / ((fixed_ms - first) / DAY_MS)  # from the issue's first ticket there
    rate_after = after / ((review.to_ms - fixed_ms) / DAY_MS)
    change = 1 - rate_after / rate_before
    return (f"; at {site}, such tickets per day {'fell' if change >= 0 else 'rose'} by {abs(change):.0%} once the "
            f"fix was known ({rate_before:.2f} → {rate_after:.2f})")


def _accuracy_line(engine: Engine, review) -> list[str]:
    a = review.after
    if a.localisation_accuracy is None or a.localisation_accuracy >= TARGET_ACCURACY:
        return []
    with engine.connect() as conn:
        corrected = conn.execute(select(T.c.confirmed_attribute).where(
            T.c.merged_into.is_(None), T.c.opened_ms >= review.from_ms, T.c.opened_ms < review.to_ms,
            T.c.attribution == "corrected")).scalars().all()
    top = Counter(c for c in corrected if c).most_common(1)
    return [f"Localisation accuracy {a.localisation_accuracy:.1%} ({a.confirmed} of {a.judged}) is under the "
            f"{TARGET_ACCURACY:.0%} target" + (f"; most often corrected to {top[0][0]} ({top[0][1]} tickets)"
                                              if top else "") + "."]


def _nff_lines(review) -> list[str]:
    lines = []
    for detector, nff, classified in review.nff_by_detector:
        if classified >= 3 and nff / classified >= 0.2:
            raised = [a for a in review.adjustments if a.detector == detector and a.reverted_ms is None]
            extra = ("; thresholds raised for " + ", ".join(f"{a.cohort} (×{a.factor:g})" for a in raised)
                     if raised else "; review its threshold for the cohorts concerned")
            lines.append(f"{detector}: {nff} of {classified} classified tickets found no fault "
                         f"({_share(nff, classified)}){extra}.")
    return lines


def _trend_lines(review) -> list[str]:
    lines = []
    for name, now, before in (("First response", review.after.first_response_s, review.previous_after.first_response_s),
                              ("Handling time", review.after.handling_s, review.previous_after.handling_s)):
        if now is not None and before and now > 1.2 * before:
            lines.append(f"{name} rose from {before / 60:.0f} to {now / 60:.0f} min against the previous period.")
    return lines


def suggestions(engine: Engine, review) -> list[str]:
    return _cause_lines(engine, review) + _accuracy_line(engine, review) + _nff_lines(review) + _trend_lines(review)
