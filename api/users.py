"""People who sign in to the workspace: a name, a role, an argon2 password hash.

Machines keep API keys (`api.keys`); people get a user, created with
``faultline user create --role ROLE --name NAME``. Passwords are hashed with
argon2id (argon2-cffi's defaults); a hash made with older parameters is
replaced at the next successful sign-in. An unknown name costs the same hash
verification as a wrong password, so timing does not tell which names exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import BigInteger, Engine, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from api.keys import ROLES
from database import Base
from runtime.clock import wall_ms

NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
MIN_PASSWORD, MAX_PASSWORD = 10, 256
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password of anyone")


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    disabled_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


@dataclass(frozen=True, slots=True)
class User:
    """A user as it may be shown: never the hash."""

    id: int
    name: str
    role: str
    created_ms: int
    disabled_ms: int | None


class UserError(ValueError):
    """A user cannot be created as asked (name taken, bad role, weak password)."""


def check_password(password: str) -> str:
    """A password of 10 to 256 characters.

    >>> check_password("correct horse")
    'correct horse'
    >>> check_password("short")
    Traceback (most recent call last):
    ...
    api.users.UserError: the password must have 10 to 256 characters
    """
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def _to_user(row: UserRow) -> User:
    return User(row.id, row.name, row.role, row.created_ms, row.disabled_ms)


class UserStore:
    """Users in the shared SQL database (table ``users``)."""

    def __init__(self, engine: Engine, now: Callable[[], int] = wall_ms):
        self.engine = engine
        self.now = now

    def create(self, name: str, role: str, password: str) -> User:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not NAME.fullmatch(name or ""):
            raise UserError("name must be 1 to 64 letters, digits or _ . @ -")
        digest = _hasher.hash(check_password(password))
        with Session(self.engine) as session, session.begin():
            if session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
                raise UserError(f"a user named {name!r} exists")
            row = UserRow(name=name, role=role, password_hash=digest, created_ms=self.now())
            session.add(row)
            session.flush()
            return _to_user(row)

    def list(self) -> list[User]:
        with Session(self.engine) as session:
            return [_to_user(r) for r in session.scalars(select(UserRow).order_by(UserRow.id))]

    def get(self, user_id: int) -> User | None:
        with Session(self.engine) as session:
            row = session.get(UserRow, user_id)
            return None if row is None or row.disabled_ms is not None else _to_user(row)

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user with that name and password, or None."""
        with Session(self.engine) as session, session.begin():
            row = session.scalar(select(UserRow).where(UserRow.name == name)) if NAME.fullmatch(name) else None
            try:
                _hasher.verify(row.password_hash if row is not None else _DUMMY, password[:MAX_PASSWORD])
            except (VerificationError, InvalidHashError):
                return None
            if row is None or row.disabled_ms is not None:
                return None
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
            return _to_user(row)
