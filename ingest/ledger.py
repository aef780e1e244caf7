"""The completeness ledger: per device and topic, what `seq` says arrived.

Rules (documented in the README):

- the next expected ``seq`` is the last one + 1; a jump opens a gap (the
  missing range); a later arrival inside an open gap fills it (counted as late);
- a ``seq`` at or below the last one that fills no gap is a duplicate (QoS 1
  redelivery, a retry, a retained message sent again): `observe` says so, and
  the pipeline keeps duplicates away from the detectors;
- a ``seq`` of 0 or 1 after a higher one, one that falls back by more than
  ``reset_margin``, or one that jumps ahead by more than ``reset_jump`` (no
  device sends 2^32 messages while offline: that is a new counter, not a
  gap) is a reset, not a duplicate; a reset closes the open gaps (they stay
  counted in ``gaps_total``);
- counters saturate at the largest value their SQL column holds, so no
  ``seq`` a device can send makes the ledger unsavable;
- a gap still open ``grace_ms`` after it opened is confirmed: reported once
  (InfluxDB ``ingest_gaps``) and kept in the ledger;
- with ``reorder_ms`` (the ledger of a pool of workers,
  `ingest.ledger_keeper`: two workers can take a device's consecutive
  readings in the other order), a ``seq`` of 0 or 1 that arrived at most
  ``reorder_ms`` after the one that set the last ``seq`` is a late arrival,
  not a reset: no device restarts that fast, and a device's first two
  readings counted in the other order open no gap that stays. Likewise a
  ``seq`` below the first one a new stream counted, arriving within
  ``reorder_ms``, is late, not a duplicate: the ledger never saw it (the
  seqs between the two are a gap, as in order).

Streams live in SQL; memory holds the ones in use (`evict_idle` drops the
others, and they are read back when their device speaks again).

>>> ledger = Ledger(grace_ms=1000)
>>> [ledger.observe("d1", "telemetry", seq, 0) for seq in (1, 2, 5, 3, 3)]
['next', 'next', 'gap', 'late', 'duplicate']
>>> entry = ledger.entries()[0]
>>> entry.received, entry.missing, entry.duplicates, entry.late, entry.gaps_total
(5, [[4, 4]], 1, 1, 2)
>>> ledger.confirmed_gaps(5000)
[Gap(device='d1', topic='telemetry', from_seq=4, to_seq=4, opened_ms=0)]
>>> ledger.observe("d1", "telemetry", 0, 6000), ledger.observe("d1", "telemetry", 2**62, 6000)
('reset', 'reset')
>>> pool = Ledger(reorder_ms=100)
>>> [pool.observe("d1", "telemetry", seq, ms) for seq, ms in ((2, 10), (3, 11), (1, 12), (1, 500))]
['next', 'next', 'late', 'reset']
>>> [pool.observe("d2", "telemetry", seq, ms) for seq, ms in ((7, 10), (5, 11), (6, 12), (5, 13))]
['next', 'late', 'late', 'duplicate']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from sqlalchemy import BigInteger, Engine, Integer, String, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from database import Base
from ingest.idle_cache import IdleCache, wall_ms

MAX_OPEN_RANGES = 256
BIG = (1 << 63) - 1  # BigInteger columns
SMALL = (1 << 31) - 1  # Integer columns (32 bits on PostgreSQL)


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
    last_ms: int = 0  # when the last seq arrived (not saved: 0 after a load)
    first_seq: int | None = None  # the lowest seq counted since the stream was new (not saved: None after a load)

    def view(self) -> "Stream":
        return Stream(self.device, self.topic, self.last_seq, self.received, self.duplicates, self.late,
                      self.resets, self.gaps_total, [[r[0], r[1]] for r in self.missing])

    @property
    def missing_count(self) -> int:
        return sum(r[1] - r[0] + 1 for r in self.missing)


class Ledger:
    def __init__(self, grace_ms: int = 60_000, reset_margin: int = 100_000, reset_jump: int = 1 << 32,
                 engine: Engine | None = None, now=wall_ms, reorder_ms: int = 0):
        self.grace_ms = grace_ms
        self.reset_margin = reset_margin
        self.reset_jump = reset_jump
        self.reorder_ms = reorder_ms
        self.engine = engine
        stored = None
        if engine is not None:
            with engine.connect() as conn:
                stored = [tuple(row) for row in conn.execute(select(LedgerRow.device, LedgerRow.topic))]
        self._streams: IdleCache[tuple[str, str], Stream] = IdleCache(self._load, now, stored,
                                                                      lambda key: Stream(*key))
        self._dirty: set[tuple[str, str]] = set()
        self._open: set[tuple[str, str]] = set()  # streams with gaps not yet reported

    def observe(self, device: str, topic: str, seq: int, now_ms: int) -> str:
        """Count one ``seq`` that arrived at `now_ms`: 'next', 'gap', 'late', 'duplicate' or 'reset'."""
        key = (device, topic)
        stream = self._streams.get(key)
        self._dirty.add(key)
        stream.received = min(stream.received + 1, BIG)
        last = stream.last_seq
        if last is None:
            stream.last_seq, stream.last_ms, stream.first_seq = seq, now_ms, seq
            return "next"
        if seq == last + 1:
            stream.last_seq, stream.last_ms = seq, now_ms
            return "next"
        if last + 1 < seq <= last + self.reset_jump:
            self._open_gap(stream, last + 1, seq - 1, now_ms)
            self._open.add(key)
            stream.last_seq, stream.last_ms = seq, now_ms
            return "gap"
        overtaken = 0 < self.reorder_ms and now_ms - stream.last_ms <= self.reorder_ms  # (not after a load)
        if seq > last or (seq <= 1 < last and not overtaken) or seq < last - self.reset_margin:
            stream.resets = min(stream.resets + 1, SMALL)
            stream.last_seq, stream.last_ms = seq, now_ms
            stream.missing.clear()
            return "reset"
        if self._fill(stream, seq) or self._before_first(stream, seq, overtaken, now_ms) or (seq <= 1 < last
                                                                                              and overtaken):
            stream.late = min(stream.late + 1, BIG)
            return "late"
        stream.duplicates = min(stream.duplicates + 1, BIG)
        return "duplicate"

    def _open_gap(self, stream: Stream, lo: int, hi: int, now_ms: int) -> None:
        stream.gaps_total = min(stream.gaps_total + hi - lo + 1, BIG)
        stream.missing.append([lo, hi, now_ms, False])
        if len(stream.missing) > MAX_OPEN_RANGES:
            stream.missing.pop(0)

    def _before_first(self, stream: Stream, seq: int, overtaken: bool, now_ms: int) -> bool:
        """A new stream's reading that a later one overtook: below every seq counted, so never a duplicate.

        Counted as if it had come first: the seqs between it and the first
        one counted are a gap (as they would have been in order).
        """
        first = stream.first_seq
        if not overtaken or first is None or seq >= first:
            return False
        if seq + 1 < first:
            self._open_gap(stream, seq + 1, first - 1, now_ms)
            self._open.add((stream.device, stream.topic))
        stream.first_seq = seq
        return True

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
        for key in list(self._open):
            stream = self._streams.peek(key)
            pending = False
            for rng in stream.missing if stream is not None else ():
                if not rng[3] and now_ms - rng[2] >= self.grace_ms:
                    rng[3] = True
                    out.append(Gap(stream.device, stream.topic, rng[0], rng[1], rng[2]))
                pending = pending or not rng[3]
            if not pending:
                self._open.discard(key)
        return out

    def entries(self, device: str | None = None) -> list[Stream]:
        """The streams in memory (all of them when nothing was evicted)."""
        return [s.view() for k, s in sorted(self._streams.items()) if device is None or k[0] == device]

    def evict_idle(self, before_ms: int) -> int:
        """Drop from memory the streams unused since `before_ms` that are saved and have nothing to report."""
        return self._streams.evict_idle(before_ms, keep=lambda k: k in self._dirty or k in self._open)

    def __len__(self) -> int:
        return len(self._streams)

    def advance(self) -> None:
        self._streams.advance()

    def _load(self, key: tuple[str, str]) -> Stream:
        if self.engine is None:
            return Stream(*key)
        with self.engine.connect() as conn:
            row = conn.execute(select(LedgerRow).where(LedgerRow.device == key[0], LedgerRow.topic == key[1])).first()
        if row is None:
            return Stream(*key)
        missing = [[lo, hi, 0, True] for lo, hi in orjson.loads(row.missing)]
        return Stream(row.device, row.topic, row.last_seq, row.received, row.duplicates, row.late,
                      row.resets, row.gaps_total, missing)

    def save(self) -> None:
        """Write the streams changed since the last save (kept dirty if the write fails)."""
        dirty, self._dirty = self._dirty, set()
        rows = [self._row(s) for s in (self._streams.peek(k) for k in dirty) if s is not None]
        if not rows or self.engine is None:
            return
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(LedgerRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["device", "topic"],
            set_={c: stmt.excluded[c] for c in rows[0] if c not in ("device", "topic")})
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt, rows)
        except Exception:
            self._dirty |= dirty
            raise

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
