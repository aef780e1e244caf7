"""The technician's workflow: acknowledge, assign, comment, resolve, reopen, close.

States: ``open`` → ``acknowledged`` → ``resolved`` → ``closed``; ``resolved``
or ``closed`` → ``reopened`` (by a person here, or by a recurrence in
`tickets.service`), and ``reopened`` behaves like ``open``. A transition the
state does not allow raises `InvalidTransition` (HTTP 409); missing or empty
required input raises `InvalidInput` (HTTP 422); an unknown id raises
`tickets.store.TicketNotFound` (HTTP 404). Each change bumps the ticket's
version, appends to its history and, with webhooks on, queues a delivery.
"""

from __future__ import annotations

import time
from typing import Callable

from sqlalchemy import Engine, func, insert, update

from tickets import history, known_issues, root_cause as rc, satisfaction as sat, store, threshold_feedback
from tickets.kpis import AUTO_RESOLVER
from tickets.models import ACTIVE_STATES, DONE_STATES, CommentRow, TicketRow
from tickets.ticket import Ticket

T = TicketRow.__table__
MAX_TEXT = 10_000
MAX_NAME = 128
VERBS = {"acknowledged": "acknowledge", "assigned": "assign", "resolved": "resolve", "closed": "close",
         "reopened": "reopen"}


class InvalidTransition(Exception):
    """The ticket's state does not allow the action (HTTP 409)."""

    def __init__(self, ticket_id: int, state: str, action: str, allowed: tuple[str, ...]):
        super().__init__(f"ticket {ticket_id} is {state}: cannot {action} (allowed from {', '.join(allowed)})")
        self.ticket_id, self.state, self.action, self.allowed = ticket_id, state, action, allowed


class InvalidInput(ValueError):
    """A required field is missing or malformed (HTTP 422)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _name(field: str, value: str | None) -> str:
    """A user, assignee or team name: required, at most 128 characters."""
    value = _text(field, value)
    if len(value) > MAX_NAME:
        raise InvalidInput(field, f"is longer than {MAX_NAME} characters")
    return value


def _text(field: str, value: str | None, *, required: bool = True) -> str:
    """Stripped text, checked for presence and size.

    >>> _text("root_cause", "  bad crimp ")
    'bad crimp'
    >>> _text("root_cause", " ")
    Traceback (most recent call last):
    ...
    tickets.workflow.InvalidInput: root_cause: is required
    """
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(field, "is required")
    if len(value) > MAX_TEXT:
        raise InvalidInput(field, f"is longer than {MAX_TEXT} characters")
    return value


class Workflow:
    """Workflow actions on the ticket store; `outbox` set means webhooks are on."""

    def __init__(self, engine: Engine, outbox=None, *, now: Callable[[], int] = lambda: int(time.time() * 1000)):
        self.engine = engine
        self.outbox = outbox
        self.now = now

    def _transition(self, ticket_id: int, action: str, allowed: tuple[str, ...], user: str, values: dict,
                    detail: dict | None = None, *, search: bool | None = None) -> Ticket:
        """Apply `values` if the state is in `allowed` (checked in the UPDATE itself).

        `search` True indexes the ticket for similar cases, False takes it out, None leaves the index be.
        """
        now = self.now()
        values = {k: (now if v is _NOW else func.coalesce(T.c[k], now) if v is _FIRST else v)
                  for k, v in values.items()}
        with self.engine.begin() as conn:
            res = conn.execute(update(T).where(T.c.id == ticket_id, T.c.state.in_(allowed)).values(**values))
            if res.rowcount != 1:
                current = store.get(conn, ticket_id)  # raises TicketNotFound
                raise InvalidTransition(ticket_id, current.state, VERBS.get(action, action), allowed)
            if search is not None:
                _index(conn, ticket_id, search)
            return history.record(conn, ticket_id, action, user, detail or {}, now, outbox=self.outbox is not None)

    def ack(self, ticket_id: int, user: str) -> Ticket:
        """open/reopened → acknowledged."""
        user = _name("user", user)
        return self._transition(ticket_id, "acknowledged", ("open", "reopened"), user,
                                {"state": "acknowledged", "acknowledged_ms": _NOW, "first_response_ms": _FIRST})

    def assign(self, ticket_id: int, assignee: str, team: str | None = None, *, user: str = "") -> Ticket:
        """Set the assignee (and team) of an active ticket."""
        assignee = _name("assignee", assignee)
        values = {"assignee": assignee}
        if team is not None:
            values["team"] = _name("team", team)
        return self._transition(ticket_id, "assigned", ACTIVE_STATES, user or assignee, values, dict(values))

    def comment(self, ticket_id: int, user: str, text: str) -> Ticket:
        """Add a comment (any state)."""
        user, text = _name("user", user), _text("text", text)
        now = self.now()
        with self.engine.begin() as conn:
            store.get(conn, ticket_id)
            cid = conn.execute(insert(CommentRow.__table__).values(
                ticket_id=ticket_id, user=user, text=text, ts_ms=now)).inserted_primary_key[0]
            if user != AUTO_RESOLVER:  # a person's comment is a response to the customer
                conn.execute(update(T).where(T.c.id == ticket_id, T.c.first_response_ms.is_(None))
                             .values(first_response_ms=now))
            return history.record(conn, ticket_id, "commented", user, {"comment_id": cid, "text": text[:500]},
                                  now, outbox=self.outbox is not None)

    def resolve(self, ticket_id: int, user: str, root_cause: str, resolution: str, *,
                category: str | None = None, confirmed_attribute: str | None = None,
                attribution: str | None = None) -> Ticket:
        """open/acknowledged/reopened → resolved; root cause and resolution are required.

        `category`, `confirmed_attribute` and `attribution` record the finding
        against the detector's attribution (`tickets.root_cause.check`).
        """
        user = _name("user", user)
        root_cause, resolution = _text("root_cause", root_cause), _text("resolution", resolution)
        with self.engine.connect() as conn:
            blamed = store.get(conn, ticket_id).detector_attribution
        try:
            found = rc.check(category, confirmed_attribute, attribution, blamed)
        except rc.RootCauseError as exc:
            raise InvalidInput(exc.field, exc.reason) from None
        finding = {"root_cause_category": found.category, "confirmed_attribute": found.confirmed_attribute,
                   "attribution": found.attribution}
        ticket = self._transition(ticket_id, "resolved", ACTIVE_STATES, user, {
            "state": "resolved", "resolved_ms": _NOW, "resolved_by": user,
            "root_cause": root_cause, "resolution": resolution, **finding},
            {"root_cause": root_cause, "resolution": resolution,
             **{k: v for k, v in finding.items() if v is not None}}, search=True)
        return self._learn(ticket)

    def _learn(self, ticket: Ticket) -> Ticket:
        """What a resolution teaches: a known issue (`tickets.known_issues`), a threshold raised for a
        cohort after repeated no fault found (`tickets.threshold_feedback`)."""
        now = self.now()
        with self.engine.begin() as conn:
            known_issues.learn(conn, ticket, now)
            if threshold_feedback.on_resolved(conn, ticket, now, outbox=self.outbox is not None) is not None:
                ticket = store.get(conn, ticket.id)
        return ticket

    def close(self, ticket_id: int, user: str, *, satisfaction: int | None = None,
              satisfaction_comment: str | None = None) -> Ticket:
        """resolved → closed; the customer's rating (1–5) and comment may be recorded on their behalf."""
        user = _name("user", user)
        values: dict = {"state": "closed", "closed_ms": _NOW}
        detail = {}
        if satisfaction is not None or (satisfaction_comment or "").strip():
            try:
                rating = sat.check_rating(satisfaction)
            except sat.SatisfactionError as exc:
                raise InvalidInput(exc.field, exc.reason) from None
            comment = _text("satisfaction_comment", satisfaction_comment, required=False) or None
            with self.engine.connect() as conn:
                if store.get(conn, ticket_id).source != "customer":
                    raise InvalidInput("satisfaction", "is recorded for customer-reported tickets only")
            values.update(satisfaction=rating, satisfaction_comment=comment, satisfaction_by="technician",
                          satisfaction_nonce=None)
            detail = {"satisfaction": rating, "satisfaction_by": "technician"}
        return self._transition(ticket_id, "closed", ("resolved",), user, values, detail)

    def reopen(self, ticket_id: int, user: str, reason: str) -> Ticket:
        """resolved/closed → reopened (a person's decision; not counted as a recurrence)."""
        user, reason = _name("user", user), _text("reason", reason)
        with self.engine.connect() as conn:
            if store.get(conn, ticket_id).merged_into is not None:
                raise InvalidTransition(ticket_id, "merged", "reopen", DONE_STATES)
        return self._transition(ticket_id, "reopened", DONE_STATES, user, {
            "state": "reopened", "reopened_ms": _NOW, "reopens": T.c.reopens + 1, "acknowledged_ms": None,
            "resolved_ms": None, "closed_ms": None, "resolved_by": None, "root_cause": None, "resolution": None,
            "root_cause_category": None, "confirmed_attribute": None, "attribution": None}, {"reason": reason},
            search=False)


def _index(conn, ticket_id: int, add: bool) -> None:
    """Put a ticket a person resolved into the similar-case index, or take a reopened one out."""
    from tickets.case_text import case_text
    from tickets.similar_search import index_case, unindex

    if not add:
        unindex(conn, ticket_id)
        return
    row = conn.execute(T.select().where(T.c.id == ticket_id)).first()
    if row.merged_into is None:
        index_case(conn, ticket_id, case_text(row.title, row.explanation, row.evidence))


_NOW = object()  # placeholder for the action's time in `_transition` values
_FIRST = object()  # the action's time unless the column already holds one
