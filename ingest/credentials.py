"""Broker credentials of devices and of Faultline's own service users, kept in the registry's database.

A device's MQTT user name is its device id; its password is issued here
(`provision`, `rotate`), shown once and stored only as a Mosquitto
``$7$`` hash (PBKDF2-SHA512, the format of ``mosquitto_passwd``), so the
broker's password file is generated from this table (`faultline.broker_auth`).
`revoke` keeps the row (and its audit trail) but drops it from the password
file. Service users (kind ``service``) are named ``faultline-*``; a device id
may not start with that prefix, so no device can take a Faultline client id.
Every change is written to ``device_audit``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import BigInteger, Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from database import Base

SERVICE_PREFIX = "faultline-"
DEVICE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes; the salt and the 64-byte digest carry the strength


class CredentialError(ValueError):
    """A provisioning request that cannot be done, worded for the operator."""


class CredentialRow(Base):
    __tablename__ = "broker_credentials"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AuditRow(Base):
    __tablename__ = "device_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(64))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class Credential:
    name: str
    kind: str
    password_hash: str
    revoked: bool


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A ``$7$`` password hash as ``mosquitto_passwd`` writes it.

    >>> mosquitto_hash("secret", base64.b64decode("BSg9WkKIKhvV8/Na"))[:44]
    '$7$101$BSg9WkKIKhvV8/Na$BzrFkwh2iFpp2dbqrtjL'
    """
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def hash_matches(password: str, stored: str) -> bool:
    """Whether `password` is the one behind a ``$7$`` hash."""
    _, _, iterations, salt, _ = stored.split("$")
    return hmac.compare_digest(mosquitto_hash(password, base64.b64decode(salt), int(iterations)), stored)


def check_name(name: str, kind: str) -> str:
    if not DEVICE_ID.fullmatch(name):
        raise CredentialError(f"bad {kind} name {name!r}: expected 1 to 64 of A-Z a-z 0-9 _ . : -")
    if kind == "device" and name.lower().startswith(SERVICE_PREFIX):
        raise CredentialError(f"bad device id {name!r}: ids starting with {SERVICE_PREFIX!r} belong to Faultline")
    if kind == "service" and not name.startswith(SERVICE_PREFIX):
        raise CredentialError(f"bad service user {name!r}: service users are named {SERVICE_PREFIX}*")
    return name


def audit(conn, device: str, ts_ms: int, actor: str, action: str, detail: dict) -> None:
    conn.execute(AuditRow.__table__.insert().values(device=device, ts_ms=ts_ms, actor=actor, action=action,
                                                    detail=json.dumps(detail, sort_keys=True)))


def issue(engine: Engine, name: str, kind: str, now_ms: int, actor: str, *, replace: bool) -> str:
    """A new password for `name` (created, or rotated when `replace`); the plain password, shown once."""
    check_name(name, kind)
    password = secrets.token_urlsafe(24)
    hashed = mosquitto_hash(password)
    with engine.begin() as conn:
        row = conn.execute(select(CredentialRow).where(CredentialRow.name == name)).first()
        if row is not None and not replace and row.revoked_ms is None:
            raise CredentialError(f"{name} already has a credential; use rotate to issue a new one")
        if row is None and replace:
            raise CredentialError(f"{name} has no credential; provision it first")
        if row is None:
            conn.execute(CredentialRow.__table__.insert().values(
                name=name, kind=kind, password_hash=hashed, created_ms=now_ms, updated_ms=now_ms, revoked_ms=None))
        else:
            conn.execute(CredentialRow.__table__.update().where(CredentialRow.name == name).values(
                password_hash=hashed, updated_ms=now_ms, revoked_ms=None))
        audit(conn, name, now_ms, actor, "rotate" if replace else "provision", {"kind": kind})
    return password


def set_password(engine: Engine, name: str, kind: str, password: str, now_ms: int, actor: str) -> None:
    """Store a given password for `name` (created or replaced), e.g. a deployment's secret."""
    check_name(name, kind)
    hashed = mosquitto_hash(password)
    with engine.begin() as conn:
        row = conn.execute(select(CredentialRow).where(CredentialRow.name == name)).first()
        if row is None:
            conn.execute(CredentialRow.__table__.insert().values(
                name=name, kind=kind, password_hash=hashed, created_ms=now_ms, updated_ms=now_ms, revoked_ms=None))
        elif hash_matches(password, row.password_hash) and row.revoked_ms is None:
            return  # unchanged: nothing to audit
        else:
            conn.execute(CredentialRow.__table__.update().where(CredentialRow.name == name).values(
                password_hash=hashed, updated_ms=now_ms, revoked_ms=None))
        audit(conn, name, now_ms, actor, "set_password", {"kind": kind})


def revoke(engine: Engine, name: str, now_ms: int, actor: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(CredentialRow.__table__.update().where(
            CredentialRow.name == name, CredentialRow.revoked_ms.is_(None)).values(revoked_ms=now_ms)).rowcount
        if not done:
            raise CredentialError(f"{name} has no active credential")
        audit(conn, name, now_ms, actor, "revoke", {})


def active(engine: Engine) -> list[Credential]:
    """Credentials the broker should accept, by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(CredentialRow).where(CredentialRow.revoked_ms.is_(None))
                            .order_by(CredentialRow.name)).all()
    return [Credential(r.name, r.kind, r.password_hash, False) for r in rows]


def listing(engine: Engine) -> list[CredentialRow]:
    with engine.connect() as conn:
        return list(conn.execute(select(CredentialRow).order_by(CredentialRow.name)))


def audit_trail(engine: Engine, device: str) -> list[AuditRow]:
    with engine.connect() as conn:
        return list(conn.execute(select(AuditRow).where(AuditRow.device == device).order_by(AuditRow.id)))
