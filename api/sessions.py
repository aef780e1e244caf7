"""Signed-in sessions kept on the server, their CSRF tokens, and the sign-in throttle.

The browser holds only a random token (cookie ``faultline_session``:
HttpOnly, SameSite=Lax, Secure when the request came over https); the server
keeps its SHA-256 with the user, the session's CSRF token and its expiry
(table ``ui_sessions``), so signing out or expiring ends it everywhere.
Every form carries the session's CSRF token; a POST without the right one is
refused (403).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import BigInteger, Engine, ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from database import Base

COOKIE = "faultline_session"
LOGIN_CSRF_COOKIE = "faultline_login_csrf"


class SessionRow(Base):
    __tablename__ = "ui_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class UiSession:
    user_id: int
    csrf: str
    expires_ms: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_token(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; a missing token never matches.

    >>> same_token("abc", "abc"), same_token("abc", "abd"), same_token(None, None), same_token("", "")
    (True, False, False, False)
    """
    return bool(expected) and bool(presented) and hmac.compare_digest(expected, presented)


class SessionStore:
    """Server-side sessions that last `ttl_s` after sign-in."""

    def __init__(self, engine: Engine, now: Callable[[], int], ttl_s: float = 12 * 3600):
        self.engine = engine
        self.now = now
        self.ttl_ms = int(ttl_s * 1000)

    def start(self, user_id: int) -> tuple[str, UiSession]:
        """A new session for the user: (cookie token, session)."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.now()
        with self.engine.begin() as conn:
            conn.execute(delete(SessionRow.__table__).where(SessionRow.expires_ms < now))
            conn.execute(SessionRow.__table__.insert().values(
                token_hash=_digest(token), user_id=user_id, csrf=csrf, created_ms=now, expires_ms=now + self.ttl_ms))
        return token, UiSession(user_id, csrf, now + self.ttl_ms)

    def find(self, token: str | None) -> UiSession | None:
        if not token or len(token) > 100:
            return None
        S = SessionRow.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(S).where(S.c.token_hash == _digest(token))).first()
        if row is None or row.expires_ms <= self.now():
            return None
        return UiSession(row.user_id, row.csrf, row.expires_ms)

    def end(self, token: str | None) -> None:
        if token:
            with self.engine.begin() as conn:
                conn.execute(delete(SessionRow.__table__).where(SessionRow.token_hash == _digest(token)))


class SignInThrottle:
    """At most `limit` failed sign-ins per user name and per client address within `window_s`.

    Kept in the process (the workspace is served by one API process); a
    successful sign-in does not reset the client's count.

    >>> t = SignInThrottle(limit=2, window_s=60, now=lambda: 0.0)
    >>> t.fail("ann", "10.0.0.1"); t.fail("ann", "10.0.0.2"); t.retry_after("ann", "10.0.0.3")
    60
    >>> t.retry_after("bob", "10.0.0.3")
    0
    """

    def __init__(self, limit: int = 5, window_s: float = 300, now: Callable[[], float] = time.monotonic):
        self.limit, self.window_s, self.now = limit, window_s, now
        self._fails: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque:
        q = self._fails.setdefault(key, deque())
        while q and self.now() - q[0] >= self.window_s:
            q.popleft()
        return q

    def retry_after(self, name: str, client: str) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        with self._lock:
            waits = [self.window_s - (self.now() - q[0]) for q in (self._recent("u:" + name), self._recent("c:" + client))
                     if len(q) >= self.limit]
        return int(max(waits) + 0.999) if waits else 0

    def fail(self, name: str, client: str) -> None:
        with self._lock:
            if len(self._fails) > 100_000:  # bound memory under a spray of names
                self._fails.clear()
            for key in ("u:" + name, "c:" + client):
                self._recent(key).append(self.now())
