"""The customer's satisfaction: a rating from 1 to 5 and a comment, once per ticket.

Recorded at closing by the technician on the customer's behalf
(`tickets.workflow.Workflow.close`), or by the customer through a signed
one-time link: `issue_link` stores a random nonce on a closed or resolved
customer-reported ticket and returns ``<ticket>.<nonce>.<signature>``
(HMAC-SHA256 of ``<ticket>.<nonce>`` under the configured secret);
`rate_by_link` checks the signature, then records the rating in one UPDATE
that also clears the nonce, so a link works once and a newer link voids an
older one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Callable

from sqlalchemy import Engine, select, update

from tickets import history, store
from tickets.models import DONE_STATES, TicketRow
from tickets.ticket import Ticket

T = TicketRow.__table__
RATINGS = range(1, 6)
MAX_COMMENT = 2_000


class SatisfactionError(ValueError):
    """A rating, comment or link is invalid; `status` is the HTTP answer (422, 403, 409)."""

    def __init__(self, field: str, reason: str, status: int = 422):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.status = field, reason, status


def check_rating(rating) -> int:
    """A whole number from 1 to 5.

    >>> check_rating(4)
    4
    >>> check_rating(6)
    Traceback (most recent call last):
    ...
    tickets.satisfaction.SatisfactionError: satisfaction: must be a whole number from 1 to 5, not 6
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise SatisfactionError("satisfaction", f"must be a whole number from 1 to 5, not {rating!r}")
    return rating


def _signature(secret: str, ticket_id: int, nonce: str) -> str:
    return hmac.new(secret.encode(), f"{ticket_id}.{nonce}".encode(), hashlib.sha256).hexdigest()


def issue_link(engine: Engine, ticket_id: int, secret: str) -> str:
    """A one-time token for the customer of a resolved or closed customer-reported ticket."""
    if not secret:
        raise SatisfactionError("secret", "satisfaction links are off (no secret configured)", 409)
    nonce = secrets.token_urlsafe(24)
    with engine.begin() as conn:
        ticket = store.get(conn, ticket_id)
        if ticket.source != "customer":
            raise SatisfactionError("ticket", "satisfaction is asked for customer-reported tickets only", 409)
        if ticket.state not in DONE_STATES or ticket.satisfaction is not None:
            raise SatisfactionError("ticket", f"ticket {ticket_id} is {ticket.state}"
                                    + (" and already rated" if ticket.satisfaction is not None else ""), 409)
        conn.execute(update(T).where(T.c.id == ticket_id).values(satisfaction_nonce=nonce))
    return f"{ticket_id}.{nonce}.{_signature(secret, ticket_id, nonce)}"


def rate_by_link(engine: Engine, token: str, secret: str, rating, comment: str | None, *,
                 now: Callable[[], int]) -> Ticket:
    """Record the customer's rating through the link; a used, voided or forged link is refused."""
    rating = check_rating(rating)
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise SatisfactionError("comment", f"is longer than {MAX_COMMENT} characters")
    ticket_id, nonce = _verified(token, secret)
    at = now()
    with engine.begin() as conn:
        done = conn.execute(update(T).where(T.c.id == ticket_id, T.c.satisfaction_nonce == nonce,
                                            T.c.satisfaction.is_(None)).values(
            satisfaction=rating, satisfaction_comment=comment, satisfaction_by="customer",
            satisfaction_nonce=None))
        if done.rowcount != 1:
            raise SatisfactionError("token", "this link was already used or replaced by a newer one", 409)
        return history.record(conn, ticket_id, "rated", "customer", {"satisfaction": rating}, at, outbox=False)


def _verified(token: str, secret: str) -> tuple[int, str]:
    """The ticket id and nonce of a token signed with `secret`; a forged one is refused (403)."""
    parts = token.split(".")
    if not secret or len(parts) != 3 or not parts[0].isdigit():
        raise SatisfactionError("token", "is not a satisfaction link", 403)
    ticket_id, nonce, signature = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(signature, _signature(secret, ticket_id, nonce)):
        raise SatisfactionError("token", "is not a satisfaction link", 403)
    return ticket_id, nonce


def link_ticket(engine: Engine, token: str, secret: str) -> Ticket:
    """The ticket a link may still rate (for the customer's page); forged 403, used or replaced 409."""
    ticket_id, nonce = _verified(token, secret)
    with engine.connect() as conn:
        ticket = store.get(conn, ticket_id)
        current = conn.execute(select(T.c.satisfaction_nonce).where(T.c.id == ticket_id)).scalar()
    if current != nonce or ticket.satisfaction is not None:
        raise SatisfactionError("token", "this link was already used or replaced by a newer one", 409)
    return ticket
