"""Silences: maintenance windows that keep matching alerts away from tickets.

A silence is a list of matchers (all must match) and a time range. Matchers
speak Alertmanager's four operators, ``=``, ``!=``, ``=~`` and ``!~``; regular
expressions are anchored (they must match the whole value). They run on RE2,
whose time is linear in the input, so no pattern (``(a+)+`` included) can
stall the detect thread on a label a device controls; RE2 has no
backreferences or lookaround. A matcher value holds at most
`MAX_MATCHER_CHARS` characters; label values longer than `MAX_LABEL_CHARS`
never match a regex (and always match a negated one). The labels an
alert offers are `ALERT_LABELS`: ``device`` is the subject of a device alert
(empty for a cohort alert), ``subject`` the subject of either scope.

Silences live in the SQL table ``alert_silences``. The functions here take an
`Engine` (they commit) or a `Session` (they flush; the caller commits), so the
CLI and the API share them.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import re2
from sqlalchemy import BigInteger, Engine, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from detectors.anomaly import Anomaly
from database import Base

ALERT_LABELS = ("device", "subject", "model", "firmware", "site", "code", "detector", "scope")
OPERATORS = ("=~", "!~", "!=", "=")  # longest first, for parsing
MAX_MATCHER_CHARS = 256
MAX_LABEL_CHARS = 1024
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the user's 422, not a line on stderr
_RE2_OPTIONS.max_mem = 1 << 20  # bytes per compiled pattern; a larger one is refused


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str):
    return re2.compile(pattern, _RE2_OPTIONS)


class SilenceError(ValueError):
    """A silence that cannot be created or changed, worded for the user."""


class SilenceNotFound(SilenceError, KeyError):
    """No silence with that id."""


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label.

    >>> m = Matcher.parse("code=~E2[0-9]+")
    >>> m.matches({"code": "E214"}), m.matches({"code": "E3"}), str(m)
    (True, False, 'code=~E2[0-9]+')
    >>> Matcher.parse("site!=sh-03").matches({"site": "sh-01"})
    True
    """

    name: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Read ``name<op>value`` (op one of ``=``, ``!=``, ``=~``, ``!~``) and validate it."""
        for op in OPERATORS:
            name, sep, value = text.partition(op)
            if sep and name and not name.endswith(("!", "=")):
                return cls.checked(name.strip(), op, value.strip())
        raise SilenceError(f"bad matcher {text!r}: expected label=value, label!=value, label=~regex or label!~regex")

    @classmethod
    def checked(cls, name: str, op: str, value: str) -> Matcher:
        if name not in ALERT_LABELS:
            raise SilenceError(f"bad matcher label {name!r}: expected one of {', '.join(ALERT_LABELS)}")
        if op not in OPERATORS:
            raise SilenceError(f"bad matcher operator {op!r}: expected =, !=, =~ or !~")
        if len(value) > MAX_MATCHER_CHARS:
            raise SilenceError(f"matcher value for {name} too long: {len(value)} characters, at most {MAX_MATCHER_CHARS}")
        if op in ("=~", "!~"):
            try:
                _compiled(value)
            except re2.error as exc:
                why = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
                raise SilenceError(f"bad regular expression {value!r} for {name} (RE2 syntax: no backreferences "
                                   f"or lookaround): {why}") from None
        return cls(name, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = len(actual) <= MAX_LABEL_CHARS and _compiled(self.value).fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


@dataclass(frozen=True, slots=True)
class Silence:
    """A maintenance window: `matchers` (all must match) between two times."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at_ms: int
    ends_at_ms: int
    created_by: str
    comment: str
    created_at_ms: int

    def state(self, now_ms: int) -> str:
        """``pending`` before the start, ``active`` inside the range, ``expired`` after."""
        if now_ms < self.starts_at_ms:
            return "pending"
        return "active" if now_ms < self.ends_at_ms else "expired"

    def silences(self, labels: Mapping[str, str], now_ms: int) -> bool:
        """Whether this silence mutes an alert with `labels` at `now_ms`."""
        return self.state(now_ms) == "active" and all(m.matches(labels) for m in self.matchers)

    def to_json(self, now_ms: int | None = None) -> dict:
        out = {
            "id": self.id, "matchers": [str(m) for m in self.matchers],
            "starts_at_ms": self.starts_at_ms, "ends_at_ms": self.ends_at_ms,
            "created_by": self.created_by, "comment": self.comment, "created_at_ms": self.created_at_ms,
        }
        if now_ms is not None:
            out["state"] = self.state(now_ms)
        return out


def alert_labels(anomaly: Anomaly) -> dict[str, str]:
    """The labels a silence can match for the alert of `anomaly`."""
    return {
        "device": anomaly.subject if anomaly.scope == "device" else "",
        "subject": anomaly.subject, "model": anomaly.model, "firmware": anomaly.firmware,
        "site": anomaly.site, "code": anomaly.code, "detector": anomaly.detector, "scope": anomaly.scope,
    }


def first_silence(silences: Sequence[Silence], anomaly: Anomaly, now_ms: int) -> str | None:
    """The id of the first silence muting the alert of `anomaly` at `now_ms`, if any."""
    labels = alert_labels(anomaly)
    return next((s.id for s in silences if s.silences(labels, now_ms)), None)


class SilenceRow(Base):
    __tablename__ = "alert_silences"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matchers: Mapped[str] = mapped_column(Text)
    starts_at_ms: Mapped[int] = mapped_column(BigInteger)
    ends_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)

    def to_silence(self) -> Silence:
        matchers = tuple(Matcher(m["name"], m["op"], m["value"]) for m in json.loads(self.matchers))
        return Silence(self.id, matchers, self.starts_at_ms, self.ends_at_ms,
                       self.created_by, self.comment, self.created_at_ms)


@contextmanager
def _session(bind: Engine | Session) -> Iterator[Session]:
    if isinstance(bind, Session):
        yield bind
        bind.flush()
        return
    with Session(bind) as session, session.begin():
        yield session


def create_silence(bind: Engine | Session, matchers: Sequence[Matcher | str], *, starts_at_ms: int,
                   ends_at_ms: int, now_ms: int, created_by: str = "", comment: str = "") -> Silence:
    """Store a new silence and return it; raise `SilenceError` when it is not valid."""
    parsed = tuple(m if isinstance(m, Matcher) else Matcher.parse(m) for m in matchers)
    parsed = tuple(Matcher.checked(m.name, m.op, m.value) for m in parsed)
    if not parsed:
        raise SilenceError("a silence needs at least one matcher")
    if ends_at_ms <= starts_at_ms:
        raise SilenceError(f"a silence must end after it starts (starts {starts_at_ms}, ends {ends_at_ms})")
    if ends_at_ms <= now_ms:
        raise SilenceError(f"a silence must end in the future (ends {ends_at_ms}, now {now_ms})")
    row = SilenceRow(
        id=str(uuid.uuid4()), starts_at_ms=starts_at_ms, ends_at_ms=ends_at_ms,
        matchers=json.dumps([{"name": m.name, "op": m.op, "value": m.value} for m in parsed]),
        created_by=created_by, comment=comment, created_at_ms=now_ms, updated_at_ms=now_ms,
    )
    with _session(bind) as session:
        session.add(row)
        return row.to_silence()


def list_silences(bind: Engine | Session, *, active_at_ms: int | None = None,
                  include_expired: bool = True, now_ms: int | None = None) -> list[Silence]:
    """Silences, newest first.

    With `active_at_ms`, only those in force at that time. With
    ``include_expired=False`` (needs `now_ms`), only pending and active ones.
    """
    query = select(SilenceRow).order_by(SilenceRow.created_at_ms.desc(), SilenceRow.id)
    if active_at_ms is not None:
        query = query.where(SilenceRow.starts_at_ms <= active_at_ms, SilenceRow.ends_at_ms > active_at_ms)
    if not include_expired:
        if now_ms is None:
            raise ValueError("include_expired=False needs now_ms")
        query = query.where(SilenceRow.ends_at_ms > now_ms)
    with _session(bind) as session:
        return [row.to_silence() for row in session.scalars(query)]


def get_silence(bind: Engine | Session, silence_id: str) -> Silence:
    """The silence with `silence_id`; raise `SilenceNotFound` when there is none."""
    with _session(bind) as session:
        row = session.get(SilenceRow, silence_id)
        if row is None:
            raise SilenceNotFound(f"no silence with id {silence_id!r}")
        return row.to_silence()


def expire_silence(bind: Engine | Session, silence_id: str, *, now_ms: int) -> Silence:
    """End a silence now (idempotent: an expired silence is returned unchanged)."""
    with _session(bind) as session:
        row = session.get(SilenceRow, silence_id)
        if row is None:
            raise SilenceNotFound(f"no silence with id {silence_id!r}")
        if row.ends_at_ms > now_ms:
            row.ends_at_ms = now_ms
            row.starts_at_ms = min(row.starts_at_ms, now_ms)
            row.updated_at_ms = now_ms
        return row.to_silence()
