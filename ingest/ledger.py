"""The completeness ledger: per device and topic, what `seq` says arrived.

Rules (documented in the README):

- the next expected ``seq`` is the last one + 1; a jump opens a gap (the
  missing range); a later arrival inside an open gap fills it (counted as late);
- a ``seq`` at or below the last one that fills no gap is a duplicate (QoS 1
  redelivery, a retry);
- a ``seq`` of 0 or 1 after a higher one, or one that falls back by more than
  ``reset_margin``, is a reset (the device rebooted), not a duplicate; a reset
  closes the open gaps (they stay counted in ``gaps_total``);
- a gap still open ``grace_ms`` after it opened is confirmed: reported once
  (InfluxDB ``ingest_gaps``) and kept in the ledger.

>>> ledger = Ledger(grace_ms=1000)
>>> for seq in (1, 2, 5, 3, 3): ledger.observe("d1", "telemetry", seq, 0)
>>> entry = ledger.entries()[0]
>>> entry.received, entry.missing, entry.duplicates, entry.late, entry.gaps_total
(5, [[4, 4]], 1, 1, 2)
>>> ledger.confirmed_gaps(5000)
[Gap(device='d1', topic='telemetry', from_seq=4, to_seq=4, opened_ms=0)]
>>> ledger.observe("d1", "telemetry", 0, 6000); ledger.entries()[0].resets
1
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from sqlalchemy import BigInteger, Engine, Integer, String, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from faultline.db import Base

MAX_OPEN_RANGES = 256


class LedgerRow(Base):
    __tablename__ = "ingest_ledger"

    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    late: Mapped[int] = mapped_column(BigInteger, default=0)
    resets: Mapped[int] = mapped_column(Integer, default=0)
    gaps_total: Mapped[int] = mapped_column(BigInteger, default=0)
    missing: Mapped[str] = mapped_column(Text, default="[]")


@dataclass(frozen=True, slots=True)
class Gap:
    device: str
    topic: str
    from_seq: int
    to_seq: int
    opened_ms: int


@dataclass(slots=True)
class Stream:
    device: str
    topic: str
    last_seq: int | None = None
    received: int = 0
    duplicates: int = 0
    late: int = 0
    resets: int = 0
    gaps_total: int = 0
    missing: list[list[int]] = field(default_factory=list)  # [from, to, opened_ms, reported]

    def view(self) -> "Stream":
        return Stream(self.device, self.topic, self.last_seq, self.received, self.duplicates, self.late,
                      self.resets, self.gaps_total, [[r[0], r[1]] for r in self.missing])

    @property
    def missing_count(self) -> int:
        return sum(r[1] - r[0] + 1 for r in self.missing)


class Ledger:
    def __init__(self, grace_ms: int = 60_000, reset_margin: int = 100_000):
        self.grace_ms = grace_ms
        self.reset_margin = reset_margin
        self._streams: dict[tuple[str, str], Stream] = {}
        self._dirty: set[tuple[str, str]] = set()

    def observe(self, device: str, topic: str, seq: int, now_ms: int) -> None:
        key = (device, topic)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = Stream(device, topic)
        self._dirty.add(key)
        stream.received += 1
        last = stream.last_seq
        if last is None or seq == last + 1:
            stream.last_seq = seq
        elif seq > last + 1:
            self._open_gap(stream, last + 1, seq - 1, now_ms)
            stream.last_seq = seq
        elif (seq <= 1 < last) or seq < last - self.reset_margin:
            stream.resets += 1
            stream.last_seq = seq
            stream.missing.clear()
        elif self._fill(stream, seq):
            stream.late += 1
        else:
            stream.duplicates += 1

    def _open_gap(self, stream: Stream, lo: int, hi: int, now_ms: int) -> None:
        stream.gaps_total += hi - lo + 1
        stream.missing.append([lo, hi, now_ms, False])
        if len(stream.missing) > MAX_OPEN_RANGES:
            stream.missing.pop(0)

    @staticmethod
    def _fill(stream: Stream, seq: int) -> bool:
        for i, rng in enumerate(stream.missing):
            lo, hi = rng[0], rng[1]
            if lo <= seq <= hi:
                pieces = [[lo, seq - 1, rng[2], rng[3]]] if seq > lo else []
                pieces += [[seq + 1, hi, rng[2], rng[3]]] if seq < hi else []
                stream.missing[i:i + 1] = pieces
                return True
        return False

    def confirmed_gaps(self, now_ms: int) -> list[Gap]:
        """Gaps open longer than the grace period and not yet reported (reported once)."""
        out = []
        for key in list(self._dirty | {k for k, s in self._streams.items() if s.missing}):
            stream = self._streams[key]
            for rng in stream.missing:
                if not rng[3] and now_ms - rng[2] >= self.grace_ms:
                    rng[3] = True
                    out.append(Gap(stream.device, stream.topic, rng[0], rng[1], rng[2]))
        return out

    def entries(self, device: str | None = None) -> list[Stream]:
        return [s.view() for k, s in sorted(self._streams.items()) if device is None or k[0] == device]

    def load(self, engine: Engine) -> None:
        with engine.connect() as conn:
            for row in conn.execute(select(LedgerRow)):
                missing = [[lo, hi, 0, True] for lo, hi in orjson.loads(row.missing)]
                self._streams[(row.device, row.topic)] = Stream(
                    row.device, row.topic, row.last_seq, row.received, row.duplicates, row.late,
                    row.resets, row.gaps_total, missing)

    def save(self, engine: Engine) -> None:
        """Write the streams changed since the last save."""
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        rows = [self._row(self._streams[k]) for k in dirty]
        stmt = insert(LedgerRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["device", "topic"],
            set_={c: stmt.excluded[c] for c in rows[0] if c not in ("device", "topic")})
        with engine.begin() as conn:
            conn.execute(stmt, rows)

    @staticmethod
    def _row(s: Stream) -> dict:
        return {"device": s.device, "topic": s.topic, "last_seq": s.last_seq, "received": s.received,
                "duplicates": s.duplicates, "late": s.late, "resets": s.resets, "gaps_total": s.gaps_total,
                "missing": orjson.dumps([[r[0], r[1]] for r in s.missing]).decode()}


def load_entries(engine: Engine, device: str | None = None) -> list[LedgerRow]:
    """The persisted ledger (for the CLI and API)."""
    stmt = select(LedgerRow).order_by(LedgerRow.device, LedgerRow.topic)
    if device:
        stmt = stmt.where(LedgerRow.device == device)
    with engine.connect() as conn:
        return list(conn.execute(stmt))
