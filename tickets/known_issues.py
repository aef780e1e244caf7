"""Known issues: a confirmed cohort root cause, with its fix, recognised on later tickets.

When a technician resolves a cohort ticket with a verdict of ``confirmed``
or ``corrected`` and a *cohort* attribute (``firmware=2.1.0``, ``hw_rev=B``,
``site=sh-03``, ``model=…``; not a single device) and a root cause other than
no fault found, the signature — fault code, confirmed attribute and the
pattern of the first ERROR/FATAL log line of the evidence (digits
generalised) — becomes a known issue carrying the root cause and the fix
(`learn`; the first confirmation stays, later ones of the same signature do
not overwrite it).

A ticket that opens later (`link`, called by the ticket service in the
transaction that opens it) is linked to the known issue whose code it has
and whose attribute its cohort carries (the cohort subject's ``key=value``
pairs and the ticket's model, firmware and site); when both sides have a
log pattern they must agree; of several, the one most tickets confirmed
(resolved with its attribute and code), then the oldest. The link is on the ticket (``known_issue_id``)
and in its history (``known_issue_linked`` with the fix), so the technician
starts from the fix instead of from scratch. `fix_record` says how often the
fix worked: linked tickets resolved by a person with the same confirmed
attribute and never reopened or recurred, out of those resolved by a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from tickets import history
from tickets.models import KnownIssueRow, TicketRow

K = KnownIssueRow.__table__
T = TicketRow.__table__
COHORT_KEYS = ("model", "firmware", "site", "hw_rev")
SYSTEM_USER = "faultline"


@dataclass(frozen=True, slots=True)
class KnownIssue:
    id: int
    code: str
    attribute: str
    category: str
    log_pattern: str | None
    root_cause: str
    fix: str
    ticket_id: int
    created_ms: int


def pairs(text: str) -> set[str]:
    return {p.strip() for p in (text or "").split(",") if "=" in p}


def is_cohort_attribute(attribute: str | None) -> bool:
    """``firmware=2.1.0`` or ``model=PX-200,site=sh-03`` yes; ``device=pump-7`` or free text no.

    >>> is_cohort_attribute("firmware=2.1.0"), is_cohort_attribute("device=pump-7"), is_cohort_attribute("cable")
    (True, False, False)
    """
    found = pairs(attribute or "")
    return bool(found) and all(p.split("=", 1)[0] in COHORT_KEYS for p in found)


def log_pattern(ticket) -> str | None:
    """The first ERROR/FATAL log message of the evidence with its numbers generalised, or None.

    >>> from types import SimpleNamespace as N
    >>> log = N(level="ERROR", msg="motor ctl: overcurrent 12.5 A on phase 2")
    >>> log_pattern(N(evidence=N(logs=(log,))))
    'motor ctl: overcurrent # A on phase #'
    """
    evidence = getattr(ticket, "evidence", None)
    for entry in (evidence.logs if evidence is not None else ()):
        if entry.level in ("ERROR", "FATAL") and entry.msg:
            return re.sub(r"\d+(\.\d+)?", "#", entry.msg)[:512]
    return None


def signature_of(ticket) -> set[str]:
    """The cohort a ticket carries: its subject's pairs (cohort tickets) and its model, firmware, site."""
    found = pairs(ticket.subject) if ticket.scope == "cohort" else set()
    found.update(f"{k}={getattr(ticket, k)}" for k in ("model", "firmware", "site") if getattr(ticket, k, ""))
    return found


def learn(conn: Connection, ticket, now_ms: int) -> int | None:
    """After a resolution: record the ticket's confirmed cohort root cause as a known issue; its id or None."""
    if (ticket.scope != "cohort" or ticket.attribution not in ("confirmed", "corrected") or not ticket.code
            or ticket.root_cause_category in (None, "no_fault_found")
            or not is_cohort_attribute(ticket.confirmed_attribute)):
        return None
    attribute = ",".join(sorted(pairs(ticket.confirmed_attribute)))
    existing = conn.execute(select(K.c.id).where(K.c.code == ticket.code, K.c.attribute == attribute)).scalar()
    if existing is not None:
        return existing
    return conn.execute(insert(K).values(
        code=ticket.code, attribute=attribute, category=ticket.root_cause_category, log_pattern=log_pattern(ticket),
        root_cause=ticket.root_cause or "", fix=ticket.resolution or "", ticket_id=ticket.id,
        created_ms=now_ms)).inserted_primary_key[0]


def match(conn: Connection, ticket) -> KnownIssue | None:
    """The known issue a ticket's signature carries (the oldest, when several do)."""
    carried = signature_of(ticket)
    pattern = log_pattern(ticket)
    found = [KnownIssue(**row._mapping) for row in conn.execute(
        select(K).where(K.c.code == ticket.code, K.c.ticket_id != ticket.id).order_by(K.c.id))
        if pairs(row.attribute) <= carried and (pattern is None or row.log_pattern is None or pattern == row.log_pattern)]
    if len(found) < 2:
        return found[0] if found else None
    confirmed = dict(conn.execute(select(T.c.confirmed_attribute, func.count()).where(
        T.c.code == ticket.code, T.c.confirmed_attribute.in_([k.attribute for k in found]),
        T.c.attribution.in_(("confirmed", "corrected"))).group_by(T.c.confirmed_attribute)).all())
    return max(found, key=lambda k: (confirmed.get(k.attribute, 0), -k.id))


def link(conn: Connection, ticket_id: int, now_ms: int, *, outbox: bool = False) -> KnownIssue | None:
    """Link a newly opened ticket to its known issue, with an audit line carrying the fix."""
    from tickets import store

    ticket = store.get(conn, ticket_id)
    issue = match(conn, ticket) if ticket.known_issue_id is None and ticket.code else None
    if issue is None:
        return None
    conn.execute(update(T).where(T.c.id == ticket_id).values(known_issue_id=issue.id))
    history.record(conn, ticket_id, "known_issue_linked", SYSTEM_USER, {
        "known_issue": issue.id, "signature": f"{issue.code} {issue.attribute}", "root_cause": issue.root_cause,
        "fix": issue.fix, "first_ticket": issue.ticket_id}, now_ms, outbox=outbox)
    return issue


def get(engine: Engine, issue_id: int) -> KnownIssue | None:
    with engine.connect() as conn:
        row = conn.execute(select(K).where(K.c.id == issue_id)).first()
    return KnownIssue(**row._mapping) if row is not None else None


def fix_record(engine: Engine, issue: KnownIssue) -> tuple[int, int]:
    """(worked, tried): linked tickets the fix resolved for good, of those resolved by a person."""
    tried = and_(T.c.known_issue_id == issue.id, T.c.resolved_ms.is_not(None), T.c.resolved_by != SYSTEM_USER)
    worked = and_(tried, T.c.confirmed_attribute == issue.attribute, T.c.reopens == 0, T.c.recurrences == 0)
    with engine.connect() as conn:
        n_tried = conn.execute(select(func.count()).where(tried)).scalar()
        n_worked = conn.execute(select(func.count()).where(worked)).scalar()
    return int(n_worked), int(n_tried)
