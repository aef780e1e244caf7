"""The dead-letter store: every message Faultline could not store, with why.

Raw payload bytes, topic, device and firmware when known, time of receipt,
the stage that refused it (``decode``, ``validate``, ``write``) and the
reason. Listed, replayed with the current code, purged by age.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Engine, Integer, LargeBinary, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from faultline.db import Base

MAX_STORED_PAYLOAD = 1_048_576


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    topic: Mapped[str] = mapped_column(Text)
    device: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    firmware: Mapped[str | None] = mapped_column(String(256), nullable=True)
    stage: Mapped[str] = mapped_column(String(16))
    reason_kind: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message refused at some stage (what crosses into the store)."""

    received_ms: int
    topic: str
    payload: bytes
    stage: str
    reason_kind: str
    reason: str
    device: str | None = None
    firmware: str | None = None

    def row(self) -> dict:
        return {
            "received_ms": self.received_ms, "topic": self.topic[:4096], "device": self.device,
            "firmware": self.firmware or None, "stage": self.stage, "reason_kind": self.reason_kind,
            "reason": self.reason[:4000], "payload": self.payload[:MAX_STORED_PAYLOAD],
            "payload_size": len(self.payload),
        }


def add(engine: Engine, letters: list[DeadLetter]) -> None:
    """Store dead letters durably (one transaction)."""
    if letters:
        with engine.begin() as conn:
            conn.execute(DeadLetterRow.__table__.insert(), [d.row() for d in letters])


def query(engine: Engine, *, limit: int = 100, offset: int = 0, reason_kind: str | None = None,
          device: str | None = None, ids: list[int] | None = None) -> list[DeadLetterRow]:
    stmt = select(DeadLetterRow).order_by(DeadLetterRow.id)
    if reason_kind:
        stmt = stmt.where(DeadLetterRow.reason_kind == reason_kind)
    if device:
        stmt = stmt.where(DeadLetterRow.device == device)
    if ids is not None:
        stmt = stmt.where(DeadLetterRow.id.in_(ids))
    with engine.connect() as conn:
        return list(conn.execute(stmt.limit(limit).offset(offset)))


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count(DeadLetterRow.id))).scalar_one()


def counts_by(engine: Engine, column: str) -> dict[str, int]:
    """Dead letters per reason kind, firmware, stage or device."""
    col = getattr(DeadLetterRow, column)
    with engine.connect() as conn:
        return {k or "": n for k, n in conn.execute(select(col, func.count()).group_by(col))}


def remove(engine: Engine, ids: list[int]) -> int:
    if not ids:
        return 0
    with engine.begin() as conn:
        return conn.execute(delete(DeadLetterRow).where(DeadLetterRow.id.in_(ids))).rowcount


def purge(engine: Engine, older_than_ms: int) -> int:
    """Delete dead letters received before `older_than_ms`; returns how many."""
    with engine.begin() as conn:
        return conn.execute(delete(DeadLetterRow).where(DeadLetterRow.received_ms < older_than_ms)).rowcount
