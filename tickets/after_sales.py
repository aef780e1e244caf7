"""After-sales KPIs: first response, handling time, time to detect, localisation accuracy,
detector precision, recurrence (same key or same confirmed root cause), reopen rate, satisfaction.

The readable reference (`after_sales_of`, pure, checked by hand below);
`tickets.after_sales_queries` computes the same figures in one SQL query.
Population: the tickets given, less those merged into another. Times are
from the *first* opening (a reopen does not restart them, unlike
`tickets.kpis`' MTTA/MTTR); "by a person" means ``resolved_by`` is not the
service itself (auto-resolution when an alert goes quiet).

- **first response** (s): mean of ``first_response_ms − opened_ms`` over the
  tickets with one; the first response is the first acknowledgement or the
  first comment by a person, whichever came first.
- **handling time** (s): mean of ``resolved_ms − opened_ms`` over tickets
  resolved by a person (closed ones included; for a reopened ticket, its
  latest resolution).
- **time to detect** (s): mean of ``opened_ms − onset_ms`` over
  detector-raised tickets, where ``onset_ms`` is the incident's onset from
  the evidence (the first abnormal point the detector found); a ticket
  whose onset a later alert episode moved past its opening is left out.
- **localisation accuracy**: ``confirmed / judged``, where *judged* are the
  tickets resolved by a person with a verdict on the attribution and a root
  cause other than ``no_fault_found``; ``corrected`` and ``rejected`` count
  as wrong.
- **detector precision**: ``1 − no_fault_found / classified`` over
  detector-raised tickets resolved by a person with a root-cause category.
- **recurrence rate (key or cause)**: share of tickets that recurred — their
  key came back (``recurrences ≥ 1``), or a later ticket with the same
  confirmed root cause (category and confirmed attribute, verdict confirmed
  or corrected) was opened within ``recurrence_days`` after this one was
  resolved.
- **reopen rate**: tickets reopened by a person at least once, over the
  tickets ever resolved (resolved now, or reopened).
- **satisfaction**: mean rating (1–5) over rated customer-reported tickets.

A share or mean without any ticket to take it over is None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tickets.kpis import AUTO_RESOLVER, GROUPINGS

NFF = "no_fault_found"
PERIODS = ("day", "week")
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class AfterSales:
    tickets: int
    responded: int
    first_response_s: float | None
    handled: int
    handling_s: float | None
    detected: int
    time_to_detect_s: float | None
    judged: int
    confirmed: int
    localisation_accuracy: float | None
    classified: int
    no_fault_found: int
    detector_precision: float | None
    recurred_any: int
    recurrence_any_rate: float | None
    ever_resolved: int
    reopened: int
    reopen_rate: float | None
    rated: int
    satisfaction: float | None


def by_person(t) -> bool:
    return t.resolved_ms is not None and t.resolved_by != AUTO_RESOLVER


def cause_of(t) -> tuple[str, str] | None:
    """The confirmed root cause a later ticket can repeat, or None."""
    if (by_person(t) and t.attribution in ("confirmed", "corrected") and t.confirmed_attribute
            and t.root_cause_category and t.root_cause_category != NFF):
        return t.root_cause_category, t.confirmed_attribute
    return None


def _mean(values: list, scale: float = 1000, digits: int = 3) -> float | None:
    return round(sum(values) / len(values) / scale, digits) if values else None


def _share(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def after_sales_of(tickets: Iterable, *, everything: Iterable | None = None,
                   recurrence_days: float = 7) -> AfterSales:
    """After-sales KPIs of one population; `everything` (default: the population) holds the later tickets.

    >>> from types import SimpleNamespace as T
    >>> def t(**kw):
    ...     base = dict(id=0, merged_into=None, source="detector", opened_ms=0, onset_ms=0, first_response_ms=None,
    ...                 resolved_ms=None, resolved_by=None, attribution=None, root_cause_category=None,
    ...                 confirmed_attribute=None, recurrences=0, reopens=0, satisfaction=None)
    ...     return T(**{**base, **kw})
    >>> a = t(id=1, onset_ms=-300_000, first_response_ms=60_000, resolved_ms=3_600_000, resolved_by="ann",
    ...       attribution="confirmed", root_cause_category="firmware", confirmed_attribute="firmware=2.1.0")
    >>> b = t(id=2, onset_ms=-100_000, first_response_ms=180_000, resolved_ms=7_200_000, resolved_by="bob",
    ...       attribution="corrected", root_cause_category="hardware", confirmed_attribute="hw_rev=B", reopens=1)
    >>> c = t(id=3, onset_ms=0, resolved_ms=600_000, resolved_by="ann", attribution="rejected",
    ...       root_cause_category="no_fault_found")
    >>> d = t(id=4, source="customer", opened_ms=86_400_000, onset_ms=86_400_000, satisfaction=4,
    ...       first_response_ms=86_460_000, resolved_ms=90_000_000, resolved_by="ann", attribution="confirmed",
    ...       root_cause_category="firmware", confirmed_attribute="firmware=2.1.0")
    >>> k = after_sales_of([a, b, c, d])
    >>> k.first_response_s  # (60 + 180 + 60) / 3
    100.0
    >>> k.handling_s  # (3600 + 7200 + 600 + 3600) / 4
    3750.0
    >>> k.time_to_detect_s  # detector tickets a, b, c: (300 + 100 + 0) / 3
    133.333
    >>> k.localisation_accuracy  # judged a, b, d (c is no fault found): a and d confirmed
    0.6667
    >>> k.detector_precision  # classified detector tickets a, b, c; c found nothing
    0.6667
    >>> k.recurrence_any_rate  # d repeats a's confirmed cause 1 day after a was resolved: a recurred
    0.25
    >>> k.reopen_rate, k.satisfaction  # b of the 4 resolved was reopened; d rated 4
    (0.25, 4.0)
    """
    pop = [t for t in tickets if t.merged_into is None]
    later: dict[tuple[str, str], list[int]] = {}
    for u in (pop if everything is None else [u for u in everything if u.merged_into is None]):
        if cause_of(u) is not None:
            later.setdefault(cause_of(u), []).append((u.id, u.opened_ms))
    window = recurrence_days * DAY_MS

    def recurred(t) -> bool:
        cause = cause_of(t)
        return t.recurrences > 0 or (cause is not None and any(
            uid != t.id and t.resolved_ms < opened <= t.resolved_ms + window for uid, opened in later.get(cause, ())))

    responses = [t.first_response_ms - t.opened_ms for t in pop if t.first_response_ms is not None]
    handled = [t.resolved_ms - t.opened_ms for t in pop if by_person(t)]
    detects = [t.opened_ms - t.onset_ms for t in pop if t.source == "detector" and t.onset_ms <= t.opened_ms]
    judged = [t for t in pop if by_person(t) and t.attribution and t.root_cause_category != NFF]
    confirmed = sum(1 for t in judged if t.attribution == "confirmed")
    classified = [t for t in pop if by_person(t) and t.source == "detector" and t.root_cause_category]
    nff = sum(1 for t in classified if t.root_cause_category == NFF)
    recurred_any = sum(1 for t in pop if recurred(t))
    ever = [t for t in pop if t.resolved_ms is not None or t.reopens > 0]
    reopened = sum(1 for t in ever if t.reopens > 0)
    ratings = [t.satisfaction for t in pop if t.source == "customer" and t.satisfaction is not None]
    return AfterSales(
        tickets=len(pop), responded=len(responses), first_response_s=_mean(responses),
        handled=len(handled), handling_s=_mean(handled), detected=len(detects), time_to_detect_s=_mean(detects),
        judged=len(judged), confirmed=confirmed, localisation_accuracy=_share(confirmed, len(judged)),
        classified=len(classified), no_fault_found=nff,
        detector_precision=_share(len(classified) - nff, len(classified)),
        recurred_any=recurred_any, recurrence_any_rate=_share(recurred_any, len(pop)),
        ever_resolved=len(ever), reopened=reopened, reopen_rate=_share(reopened, len(ever)),
        rated=len(ratings), satisfaction=_mean(ratings, 1, 2))
