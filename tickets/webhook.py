"""Outbound webhook: one signed JSON POST per ticket change, from a durable SQL outbox.

Each change is written to ``ticket_outbox`` in the transaction that made it
(`tickets.history.record`), so nothing is lost when the receiver, the network
or Faultline itself is down. `Outbox.deliver_due` — a scheduler job — posts
what is due:

- body: the exact JSON stored in the outbox (UTF-8);
- ``X-Faultline-Signature: t=<unix seconds>,sha256=<hex>``: HMAC-SHA256 with
  the secret over ``<t>.`` followed by the body, so a receiver can refuse a
  captured request replayed later (`verify` with a tolerance, 300 s by default);
- ``Idempotency-Key: <alert key>#<episode>@v<version>`` — the same for every
  retry of one change, different for each change (`tickets.history.idempotency_key`);
- ``X-Faultline-Event`` (opened, acknowledged, resolved, ...) and
  ``X-Faultline-Delivery`` (the outbox row id).

A 2xx answer delivers. A redirect is not followed and is not a delivery
(following it would turn the POST into a body-less GET and carry the
signature to another host): the row is marked ``dead`` with the status, so
the operator sets the final URL. Network errors, timeouts, 408, 425, 429 and 5xx
(`runtime.retry`) are retried with exponential backoff (``base_delay_s`` doubling per attempt, at
most ``max_delay_s``; a ``Retry-After`` is honoured when longer), up to
``max_attempts``; other answers (400, 401, 404, ...) will not change by
retrying and mark the row ``dead`` at once (`requeue_dead` sends them again
once the receiver is fixed). Deliveries are at least once and may arrive out
of order when an earlier one is being retried: receivers order by
``ticket.version`` and deduplicate on the idempotency key. A failing
receiver never blocks the pipeline: the ticket stage only inserts rows, and
each POST has a timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine, delete, select, update

from runtime.retry import parse_retry_after, retryable_status
from tickets.models import OutboxRow

O = OutboxRow.__table__
SIGNATURE_HEADER = "X-Faultline-Signature"


DEFAULT_TOLERANCE_S = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds).

    >>> sign("key", b'{"a":1}', 1767225600)
    't=1767225600,sha256=80f7b75f8618b9b24d72673996a625f1a43f7387a26b6739d667431724fe4d23'
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},sha256={mac}"


def verify(secret: str, body: bytes, header: str, now_s: float, tolerance_s: float = DEFAULT_TOLERANCE_S) -> bool:
    """True when `header` signs `body` and its timestamp lies within `tolerance_s` of `now_s`.

    >>> header = sign("k", b"x", 1000)
    >>> verify("k", b"x", header, 1100), verify("other", b"x", header, 1100), verify("k", b"y", header, 1100)
    (True, False, False)
    >>> verify("k", b"x", header, 1000 + 301), verify("k", b"x", "sha256=abc", 1000)  # replayed late; no time
    (False, False)
    """
    parts = dict(item.partition("=")[::2] for item in (header or "").split(","))
    timestamp, given = parts.get("t", ""), parts.get("sha256", "")
    if not timestamp.isdigit() or not given or abs(now_s - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, int(timestamp)), f"t={timestamp},sha256={given}")


def backoff_ms(attempts: int, base_delay_s: float, max_delay_s: float) -> int:
    """Delay after the `attempts`-th failed attempt.

    >>> [backoff_ms(n, 5, 60) for n in (1, 2, 3, 4, 5)]
    [5000, 10000, 20000, 40000, 60000]
    """
    return int(min(max_delay_s, base_delay_s * 2 ** (attempts - 1)) * 1000)


class DeliveryError(Exception):
    """A POST that failed; ``retryable`` says whether trying again can help."""

    def __init__(self, message: str, retryable: bool, retry_after_s: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    """POST with urllib, redirects not followed; raises `DeliveryError` (the URL's query string is never echoed)."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            resp.read(1024)
            if not 200 <= resp.status < 300:
                raise DeliveryError(f"webhook answered HTTP {resp.status}, not a 2xx", False)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise DeliveryError(f"webhook answered HTTP {exc.code} (a redirect, not followed: set "
                                "FAULTLINE_TICKETS_WEBHOOK_URL to the final URL)", False) from None
        wait = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        raise DeliveryError(f"webhook answered HTTP {exc.code}", retryable_status(exc.code), wait) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"webhook unreachable: {type(exc).__name__}: {reason}", True) from None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0


class Outbox:
    """Delivers due outbox rows to the configured webhook."""

    def __init__(self, engine: Engine, url: str, secret: str, *, now: Callable[[], int] = lambda: int(time.time() * 1000),
                 timeout: float = 5.0, max_attempts: int = 12, base_delay_s: float = 5.0,
                 max_delay_s: float = 3600.0, post: Callable[..., None] = post_json):
        if not secret:
            raise ValueError("a webhook needs a secret to sign with (FAULTLINE_TICKETS_WEBHOOK_SECRET)")
        self.engine = engine
        self.url = url
        self.secret = secret
        self.now = now
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.post = post

    def __repr__(self) -> str:  # the secret stays out of logs
        return f"Outbox(url={self.url!r}, max_attempts={self.max_attempts})"

    def deliver_due(self, now_ms: int | None = None, limit: int = 100) -> DeliveryReport:
        """POST every row due at `now_ms` (default: the clock), oldest first, at most `limit`."""
        now = self.now() if now_ms is None else now_ms
        with self.engine.connect() as conn:
            due = conn.execute(select(O.c.id, O.c.next_attempt_ms).where(
                O.c.delivered_ms.is_(None), O.c.dead.is_(False), O.c.next_attempt_ms <= now,
            ).order_by(O.c.id).limit(limit)).all()
        counts = {"delivered": 0, "retrying": 0, "dead": 0}
        for row_id, due_ms in due:
            outcome = self._deliver_one(row_id, due_ms, now)
            if outcome:
                counts[outcome] += 1
        return DeliveryReport(**counts)

    def _claim(self, row_id: int, due_ms: int, now: int):
        """Lease the row so a concurrent scheduler skips it; the row, or None if taken."""
        lease = now + int((self.timeout + 30) * 1000)
        with self.engine.begin() as conn:
            res = conn.execute(update(O).where(O.c.id == row_id, O.c.next_attempt_ms == due_ms,
                                               O.c.delivered_ms.is_(None)).values(next_attempt_ms=lease))
            if res.rowcount != 1:
                return None
            return conn.execute(select(O).where(O.c.id == row_id)).first()

    def _deliver_one(self, row_id: int, due_ms: int, now: int) -> str | None:
        row = self._claim(row_id, due_ms, now)
        if row is None:
            return None
        body = row.payload.encode()
        headers = {SIGNATURE_HEADER: sign(self.secret, body, now // 1000), "Idempotency-Key": row.idempotency_key,
                   "X-Faultline-Event": row.event, "X-Faultline-Delivery": str(row.id),
                   "User-Agent": "faultline-webhook/1"}
        attempts = row.attempts + 1
        try:
            self.post(self.url, body, headers, self.timeout)
        except DeliveryError as exc:
            return self._failed(row.id, attempts, now, exc)
        with self.engine.begin() as conn:
            conn.execute(update(O).where(O.c.id == row.id).values(
                delivered_ms=now, attempts=attempts, last_error=None))
        return "delivered"

    def _failed(self, row_id: int, attempts: int, now: int, exc: DeliveryError) -> str:
        dead = not exc.retryable or attempts >= self.max_attempts
        delay = backoff_ms(attempts, self.base_delay_s, self.max_delay_s)
        if exc.retry_after_s:
            delay = max(delay, int(exc.retry_after_s * 1000))
        with self.engine.begin() as conn:
            conn.execute(update(O).where(O.c.id == row_id).values(
                attempts=attempts, dead=dead, next_attempt_ms=now + delay, last_error=str(exc)[:500]))
        return "dead" if dead else "retrying"

    def requeue_dead(self, now_ms: int | None = None) -> int:
        """Give dead rows a fresh set of attempts; how many."""
        now = self.now() if now_ms is None else now_ms
        with self.engine.begin() as conn:
            return conn.execute(update(O).where(O.c.dead.is_(True), O.c.delivered_ms.is_(None)).values(
                dead=False, attempts=0, next_attempt_ms=now)).rowcount

    def prune(self, now_ms: int | None = None, keep_days: float = 7.0) -> int:
        """Delete deliveries older than `keep_days` that were delivered; how many."""
        now = self.now() if now_ms is None else now_ms
        cutoff = now - int(keep_days * 86_400_000)
        with self.engine.begin() as conn:
            return conn.execute(delete(O).where(O.c.delivered_ms.is_not(None), O.c.delivered_ms < cutoff)).rowcount
