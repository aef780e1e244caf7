"""Ticket KPIs: MTTA, MTTR, recurrence rate, open tickets — overall and by model, firmware or site.

A pure function over tickets (`compute_kpis`), so any figure can be checked
by hand. Definitions:

- **population**: the tickets given, less those folded into another ticket
  (``merged_into`` set). Pass the tickets of the period you want (e.g.
  opened in the last 30 days); nothing here filters by time.
- **response cycle**: from ``opened_ms`` — or from ``reopened_ms`` when the
  ticket was reopened, since a reopen restarts acknowledgement and
  resolution — to the cycle's ``acknowledged_ms`` / ``resolved_ms``.
- **MTTA** (mean time to acknowledge, seconds): mean of
  ``acknowledged_ms − cycle start`` over tickets with an acknowledgement in
  their current cycle. None when there is none.
- **MTTR** (mean time to resolve, seconds): mean of
  ``resolved_ms − cycle start`` over tickets resolved by a person in their
  current cycle (closed tickets keep their ``resolved_ms`` and count).
  Tickets auto-resolved when their alert went quiet are left out — the
  alert's duration is not a repair time — and counted in ``auto_resolved``.
- **recurrence rate**: share of tickets whose key came back within the
  recurrence window at least once (``recurrences ≥ 1``). None for no tickets.
- **open**: tickets in ``open``, ``acknowledged`` or ``reopened``.

Grouping by an attribute puts tickets without a value under ``"unknown"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tickets.models import ACTIVE_STATES

GROUPINGS = ("model", "firmware", "site", "team", "assignee", "source")
AUTO_RESOLVER = "faultline"


@dataclass(frozen=True, slots=True)
class Kpis:
    tickets: int
    open: int
    acknowledged: int  # tickets with an acknowledgement in their current cycle
    resolved: int  # resolved by a person in their current cycle
    auto_resolved: int
    recurred: int
    mtta_s: float | None
    mttr_s: float | None
    recurrence_rate: float | None


@dataclass(frozen=True, slots=True)
class KpiReport:
    overall: Kpis
    by: str | None = None
    groups: tuple[tuple[str, Kpis], ...] = ()  # (attribute value, KPIs), by value


def _mean_s(spans_ms: list[int]) -> float | None:
    return round(sum(spans_ms) / len(spans_ms) / 1000, 3) if spans_ms else None


def kpis_of(tickets: Iterable) -> Kpis:
    """KPIs of one population (see the module docstring).

    >>> from types import SimpleNamespace as T
    >>> a = T(merged_into=None, state="resolved", opened_ms=0, reopened_ms=None, acknowledged_ms=60_000,
    ...       resolved_ms=600_000, resolved_by="ann", recurrences=1)
    >>> b = T(merged_into=None, state="open", opened_ms=0, reopened_ms=None, acknowledged_ms=None,
    ...       resolved_ms=None, resolved_by=None, recurrences=0)
    >>> k = kpis_of([a, b])
    >>> k.mtta_s, k.mttr_s, k.recurrence_rate, k.open
    (60.0, 600.0, 0.5, 1)
    """
    pop = [t for t in tickets if t.merged_into is None]
    acks, fixes, auto = [], [], 0
    for t in pop:
        start = t.reopened_ms if t.reopened_ms is not None else t.opened_ms
        if t.acknowledged_ms is not None:
            acks.append(t.acknowledged_ms - start)
        if t.resolved_ms is not None:
            if t.resolved_by == AUTO_RESOLVER:
                auto += 1
            else:
                fixes.append(t.resolved_ms - start)
    recurred = sum(1 for t in pop if t.recurrences > 0)
    return Kpis(
        tickets=len(pop), open=sum(1 for t in pop if t.state in ACTIVE_STATES),
        acknowledged=len(acks), resolved=len(fixes), auto_resolved=auto, recurred=recurred,
        mtta_s=_mean_s(acks), mttr_s=_mean_s(fixes),
        recurrence_rate=round(recurred / len(pop), 4) if pop else None)


def compute_kpis(tickets: Iterable, by: str | None = None) -> KpiReport:
    """Overall KPIs and, with `by` (one of `GROUPINGS`), one set per value."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"cannot group KPIs by {by!r}; choose one of {', '.join(GROUPINGS)}")
    items = list(tickets)
    if by is None:
        return KpiReport(kpis_of(items))
    groups: dict[str, list] = {}
    for t in items:
        groups.setdefault(getattr(t, by) or "unknown", []).append(t)
    return KpiReport(kpis_of(items), by, tuple((v, kpis_of(ts)) for v, ts in sorted(groups.items())))
