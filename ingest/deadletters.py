"""The dead-letter store: every message Faultline could not store, with why.

Raw payload bytes, topic, device and firmware when known, time of receipt,
the stage that refused it (``decode``, ``validate``, ``write``) and the
reason. A payload over the size limit is kept as its first
``OVERSIZED_HEAD`` bytes, its size and its SHA-256 (it could never be
replayed anyway). Listed, replayed with the current code, purged by age.

Bounded (`DeadLetterStore`): at most ``max_per_device`` letters per device
(letters without a device count as one device) and ``max_bytes`` of stored
payload in all, enforced in the transaction that adds letters: the oldest
go first. Letters older than the retention period are removed by `prune`.
What the bounds remove is counted (``ingest_stats``, stage ``deadletter``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, Engine, Integer, LargeBinary, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from database import Base
from database.pages import page_where_equal

MAX_STORED_PAYLOAD = 1_048_576
OVERSIZED_HEAD = 1024


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
    payload_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


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
    size: int | None = None  # of the whole payload, when only its head is kept
    sha256: str | None = None

    @classmethod
    def oversized(cls, received_ms: int, topic: str, payload: bytes, reason: str, device: str | None,
                  firmware: str | None) -> "DeadLetter":
        """A letter for a payload over the size limit: its head, size and digest only."""
        return cls(received_ms, topic, payload[:OVERSIZED_HEAD], "decode", "size", reason, device, firmware,
                   len(payload), hashlib.sha256(payload).hexdigest())

    def row(self) -> dict:
        payload = self.payload[:MAX_STORED_PAYLOAD]
        return {
            "received_ms": self.received_ms, "topic": self.topic[:4096], "device": self.device,
            "firmware": self.firmware or None, "stage": self.stage, "reason_kind": self.reason_kind,
            "reason": self.reason[:4000], "payload": payload,
            "payload_size": self.size if self.size is not None else len(self.payload),
            "payload_sha256": self.sha256,
        }


def add(engine: Engine, letters: list[DeadLetter]) -> None:
    """Store dead letters durably (one transaction), without bounds."""
    if letters:
        with engine.begin() as conn:
            conn.execute(DeadLetterRow.__table__.insert(), [d.row() for d in letters])


class DeadLetterStore:
    """The bounded store: per device, by bytes, by age (see the module docstring)."""

    def __init__(self, engine: Engine, max_per_device: int = 1000, max_bytes: int = 1 << 30,
                 retention_ms: int = 30 * 86_400_000):
        self.engine = engine
        self.max_per_device = max_per_device
        self.max_bytes = max_bytes
        self.retention_ms = retention_ms
        self._bytes: int | None = None  # stored payload bytes, counted once, then kept up to date

    def add(self, letters: list[DeadLetter]) -> Counter:
        """Store `letters` and enforce the bounds in the same transaction; what was removed, by cause."""
        removed: Counter = Counter()
        if not letters:
            return removed
        rows = [d.row() for d in letters]
        try:
            with self.engine.begin() as conn:
                if self._bytes is None:
                    self._bytes = _stored_bytes(conn)
                conn.execute(DeadLetterRow.__table__.insert(), rows)
                self._bytes += sum(len(r["payload"]) for r in rows)
                for device, over in self._over_cap(conn, {d.device for d in letters}).items():
                    removed["device_cap"] += self._cap_device(conn, device, over)
                removed["bytes_cap"] += self._cap_bytes(conn)
        except Exception:
            self._bytes = None  # rolled back: count again next time
            raise
        return +removed

    def prune(self, now_ms: int) -> Counter:
        """Remove letters older than the retention period; recount the stored bytes."""
        with self.engine.begin() as conn:
            expired = conn.execute(delete(DeadLetterRow).where(
                DeadLetterRow.received_ms < now_ms - self.retention_ms)).rowcount
            self._bytes = _stored_bytes(conn)
            capped = self._cap_bytes(conn)
        return +Counter(expired=expired, bytes_cap=capped)

    def _over_cap(self, conn: Connection, devices: set[str | None]) -> dict[str | None, int]:
        """How many letters each of `devices` holds past its cap (one query for all of them)."""
        named = [d for d in devices if d is not None]
        stmt = select(DeadLetterRow.device, func.count()).where(DeadLetterRow.device.in_(named)).group_by(DeadLetterRow.device)
        counts = {device: n for device, n in conn.execute(stmt)} if named else {}
        if None in devices:
            counts[None] = conn.execute(select(func.count()).where(DeadLetterRow.device.is_(None))).scalar_one()
        return {d: n - self.max_per_device for d, n in counts.items() if n > self.max_per_device}

    def _cap_device(self, conn: Connection, device: str | None, over: int) -> int:
        same = DeadLetterRow.device == device if device is not None else DeadLetterRow.device.is_(None)
        return self._delete(conn, select(DeadLetterRow.id, func.length(DeadLetterRow.payload))
                            .where(same).order_by(DeadLetterRow.id).limit(over))

    def _cap_bytes(self, conn: Connection) -> int:
        removed = 0
        while self._bytes > self.max_bytes:
            oldest = select(DeadLetterRow.id, func.length(DeadLetterRow.payload)).order_by(DeadLetterRow.id).limit(500)
            count = self._delete(conn, oldest, until_bytes=int(self.max_bytes * 0.9))
            if not count:
                break
            removed += count
        return removed

    def _delete(self, conn: Connection, candidates, until_bytes: int | None = None) -> int:
        ids = []
        for row_id, size in conn.execute(candidates):
            if until_bytes is not None and self._bytes <= until_bytes:
                break
            ids.append(row_id)
            self._bytes -= size or 0
        if ids:
            conn.execute(delete(DeadLetterRow).where(DeadLetterRow.id.in_(ids)))
        return len(ids)


def _stored_bytes(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(func.length(DeadLetterRow.payload)), 0))).scalar_one())


def query(engine: Engine, *, limit: int = 100, offset: int = 0, reason_kind: str | None = None,
          device: str | None = None, ids: list[int] | None = None, after_id: int = 0) -> list[DeadLetterRow]:
    stmt = select(DeadLetterRow).where(DeadLetterRow.id > after_id).order_by(DeadLetterRow.id)
    if reason_kind:
        stmt = stmt.where(DeadLetterRow.reason_kind == reason_kind)
    if device:
        stmt = stmt.where(DeadLetterRow.device == device)
    if ids is not None:
        stmt = stmt.where(DeadLetterRow.id.in_(ids))
    with engine.connect() as conn:
        return list(conn.execute(stmt.limit(limit).offset(offset)))


def page(engine: Engine, *, limit: int, offset: int, **equal) -> tuple[list[DeadLetterRow], int]:
    """One page of dead letters in id order, and the total: those whose columns equal the given values
    (``reason_kind=``, ``device=``, ``firmware=``, ``stage=``; None: any)."""
    return page_where_equal(engine, DeadLetterRow, DeadLetterRow.id, limit=limit, offset=offset, **equal)


def unknown_ids(engine: Engine, ids: list[int]) -> list[int]:
    """The ids among `ids` that name no dead letter, sorted."""
    with engine.connect() as conn:
        known = set(conn.scalars(select(DeadLetterRow.id).where(DeadLetterRow.id.in_(ids))))
    return sorted(set(ids) - known)


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
