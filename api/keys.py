"""API keys: roles, hashed storage, creation, listing, revocation, lookup.

A key is ``flk_`` followed by 32 random bytes (URL-safe base64). Only its
SHA-256 is stored: a key of that entropy needs no slow hash, and a lookup by
hash is one indexed query. The stored and the presented digests are still
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import BigInteger, Engine, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database import Base
from runtime.clock import wall_ms

ROLES = ("viewer", "technician", "admin")  # each role can do what the ones before it can
KEY_PREFIX = "flk_"


def role_rank(role: str) -> int:
    """Position of `role` in the hierarchy; higher may do more.

    >>> role_rank("viewer") < role_rank("technician") < role_rank("admin")
    True
    """
    return ROLES.index(role)


def hash_key(key: str) -> str:
    """Hex SHA-256 of a presented key.

    >>> len(hash_key("flk_abc"))
    64
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key as it may be shown: never the key itself."""

    id: int
    name: str
    role: str
    prefix: str
    created_ms: int
    revoked_ms: int | None

    @property
    def active(self) -> bool:
        return self.revoked_ms is None


class UnknownApiKey(LookupError):
    """No API key with that id."""


def _to_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.id, row.name, row.role, row.prefix, row.created_ms, row.revoked_ms)


class KeyStore:
    """API keys in the shared SQL database (table ``api_keys``)."""

    def __init__(self, engine: Engine, now: Callable[[], int] = wall_ms):
        self.engine = engine
        self.now = now

    def create(self, name: str, role: str) -> tuple[ApiKey, str]:
        """Store a new key; return it with the plain key, which is shown only once."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("name must be 1 to 100 characters")
        plain = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(name=name, role=role, key_hash=hash_key(plain),
                        prefix=plain[: len(KEY_PREFIX) + 6], created_ms=self.now())
        with Session(self.engine) as session, session.begin():
            session.add(row)
            session.flush()
            key = _to_key(row)
        return key, plain

    def list(self) -> list[ApiKey]:
        with Session(self.engine) as session:
            return [_to_key(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key (idempotent); raise `UnknownApiKey` for an unknown id."""
        with Session(self.engine) as session, session.begin():
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise UnknownApiKey(f"API key {key_id} not found")
            if row.revoked_ms is None:
                row.revoked_ms = self.now()
            return _to_key(row)

    def authenticate(self, presented: str) -> ApiKey | None:
        """The active key matching `presented`, or None."""
        if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
            return None
        digest = hash_key(presented)
        with Session(self.engine) as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
            if row is None or not hmac.compare_digest(row.key_hash, digest):
                return None
            if row.revoked_ms is not None:
                return None
            return _to_key(row)
