"""Similar past cases by *signature*, beside the text similarity of `tickets.similar`.

A ticket's signature: the sequence of fault codes (its own, then those of
its evidence's log lines in time order, repeats folded), its cohort
(``model=…``, ``firmware=…``, ``site=…`` and a cohort subject's pairs) and the
shape of its metric window (per metric, how far the subject's mean sits from
its reference group's, in units of the reference's range, squashed by tanh).
Score = 0.4 × Jaccard of code unigrams and bigrams + 0.3 × Jaccard of cohort
pairs + 0.3 × shape agreement over the metrics both have (weights spread over
the first two when either has no metric window). Each case carries its fix
and how often that fix worked: resolved tickets with the same code and the
same resolution text, resolved by a person, that never reopened or recurred,
out of all such tickets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from tickets.models import DONE_STATES, TicketRow
from tickets.ticket import Ticket

T = TicketRow.__table__
CANDIDATES = 2000
W_CODES, W_COHORT, W_SHAPE = 0.4, 0.3, 0.3


@dataclass(frozen=True, slots=True)
class SignatureCase:
    ticket_id: int
    title: str
    score: float
    codes: float
    cohort: float
    shape: float | None
    root_cause: str
    fix: str
    fix_worked: int
    fix_tried: int


def code_sequence(ticket) -> tuple[str, ...]:
    """The ticket's code, then its evidence's log codes in time order, consecutive repeats folded.

    >>> from types import SimpleNamespace as N
    >>> logs = (N(ts_ms=2, code="E7"), N(ts_ms=1, code="E5"), N(ts_ms=3, code="E7"), N(ts_ms=4, code=""))
    >>> code_sequence(N(code="E5", evidence=N(logs=logs)))
    ('E5', 'E7')
    """
    codes = [ticket.code] + [x.code for x in sorted(ticket.evidence.logs if ticket.evidence else (),
                                                    key=lambda x: x.ts_ms)]
    out: list[str] = []
    for c in codes:
        if c and (not out or out[-1] != c):
            out.append(c)
    return tuple(out)


def _grams(seq: tuple[str, ...]) -> set:
    return set(seq) | {(a, b) for a, b in zip(seq, seq[1:])}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def cohort_pairs(ticket) -> set[str]:
    found = {p for p in ticket.subject.split(",") if "=" in p} if ticket.scope == "cohort" else set()
    return found | {f"{k}={getattr(ticket, k)}" for k in ("model", "firmware", "site") if getattr(ticket, k)}


def shape(ticket) -> dict[str, float]:
    """Metric → tanh((subject mean − reference mean) / reference range)."""
    out = {}
    for m in (ticket.evidence.metrics if ticket.evidence else ()):
        s, r = m.subject, m.reference
        if None in (s.mean, r.mean, r.min, r.max):
            continue
        out[m.metric] = math.tanh((s.mean - r.mean) / max(r.max - r.min, 1e-9))
    return out


def shape_agreement(a: dict[str, float], b: dict[str, float]) -> float | None:
    """1 when the shared metrics deviate alike, 0 when opposite; None without a shared metric.

    >>> shape_agreement({"temp": 0.9, "rpm": -0.5}, {"temp": 0.9, "rpm": 0.5})
    0.75
    """
    shared = sorted(set(a) & set(b))
    if not shared:
        return None
    return round(1 - sum(abs(a[m] - b[m]) for m in shared) / (2 * len(shared)), 4)


def score(query: Ticket, other: Ticket) -> tuple[float, float, float, float | None]:
    codes = jaccard(_grams(code_sequence(query)), _grams(code_sequence(other)))
    cohort = jaccard(cohort_pairs(query), cohort_pairs(other))
    agree = shape_agreement(shape(query), shape(other))
    if agree is None:
        total = (W_CODES * codes + W_COHORT * cohort) / (W_CODES + W_COHORT)
    else:
        total = W_CODES * codes + W_COHORT * cohort + W_SHAPE * agree
    return round(total, 4), round(codes, 4), round(cohort, 4), agree


def _fix_record(conn: Connection, code: str, fix: str) -> tuple[int, int]:
    same = (T.c.code == code, T.c.resolution == fix, T.c.state.in_(DONE_STATES), T.c.resolved_by != "faultline",
            T.c.merged_into.is_(None))
    tried = conn.execute(select(func.count()).where(*same)).scalar()
    worked = conn.execute(select(func.count()).where(*same, T.c.reopens == 0, T.c.recurrences == 0)).scalar()
    return int(worked), int(tried)


def similar_by_signature(conn: Connection, query: Ticket, limit: int = 5) -> list[SignatureCase]:
    """Past tickets with a person's root cause, best signature match first (zero scores left out)."""
    rows = conn.execute(select(T).where(
        T.c.state.in_(DONE_STATES), T.c.id != query.id, T.c.merged_into.is_(None), T.c.root_cause.is_not(None),
        T.c.resolved_by != "faultline").order_by(T.c.id.desc()).limit(CANDIDATES)).all()
    scored = []
    for r in rows:
        other = Ticket.from_row(r)
        total, codes, cohort, agree = score(query, other)
        if total > 0:
            scored.append((total, other, codes, cohort, agree))
    scored.sort(key=lambda x: (-x[0], x[1].id))
    out = []
    for total, other, codes, cohort, agree in scored[:limit]:
        worked, tried = _fix_record(conn, other.code, other.resolution or "")
        out.append(SignatureCase(other.id, other.title, total, codes, cohort, agree, other.root_cause or "",
                                 other.resolution or "", worked, tried))
    return out
