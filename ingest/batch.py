"""A batch: the unit that becomes durable as a whole before its messages are acknowledged."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ingest.deadletters import DeadLetter
from ingest.records import DeviceMeta, DeviceStatus, Record


@dataclass(slots=True)
class SourceMessage:
    """Where a run of lines came from, so a line InfluxDB refuses can be dead-lettered."""

    topic: str
    payload: bytes
    received_ms: int
    device: str | None
    firmware: str
    first_line: int
    line_count: int


@dataclass(slots=True)
class Batch:
    lines: list[str] = field(default_factory=list)
    sources: list[SourceMessage] = field(default_factory=list)
    acks: list[tuple[int, int, int]] = field(default_factory=list)  # (mid, qos, connection generation)
    dead: list[DeadLetter] = field(default_factory=list)
    metas: list[DeviceMeta] = field(default_factory=list)
    statuses: list[DeviceStatus] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    fields: list[tuple[str, str, int]] = field(default_factory=list)  # new metric names: (device, name, ms)
    seqs: list[tuple[int, int, str, str]] = field(default_factory=list)  # (received_ms, seq, device, topic)
    stats: Counter = field(default_factory=Counter)  # (stage, reason_kind, firmware) -> messages
    messages: int = 0
    bytes: int = 0  # payload bytes of its messages
    opened_at: float = 0.0

    _LISTS = ("lines", "sources", "acks", "dead", "metas", "statuses", "records", "fields", "seqs")

    def marks(self) -> tuple:
        """Where the batch stands, to `rollback` to (counts by stage are not rolled back)."""
        return (len(self.lines), len(self.sources), len(self.acks), len(self.dead), len(self.metas),
                len(self.statuses), len(self.records), len(self.fields), len(self.seqs), self.messages, self.bytes)

    def rollback(self, marks: tuple) -> None:
        for name, length in zip(self._LISTS, marks):
            del getattr(self, name)[length:]
        self.messages, self.bytes = marks[-2:]

    def body(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode() if self.lines else b""

    def spooled(self) -> "SpooledBatch":
        return SpooledBatch(self.lines, self.sources)


@dataclass(slots=True)
class SpooledBatch:
    """What the disk spool keeps of a batch: the lines and their sources."""

    lines: list[str]
    sources: list[SourceMessage]

    def source_of(self, line_index: int) -> SourceMessage | None:
        for src in self.sources:
            if src.first_line <= line_index < src.first_line + src.line_count:
                return src
        return None
