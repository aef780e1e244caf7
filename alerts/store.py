"""Where alert state lives between restarts: one SQL row per alert key.

`AlertStateStore` is the seam the manager depends on; `SqlAlertStore` keeps
each `AlertRecord` as JSON in the ``alert_states`` table (Alembic branch
``alerts``) and reads the silences from ``alert_silences``, so a restarted
process continues every episode where the previous one left it.

Every row carries a version, a random number drawn anew by every write. A
write is a compare-and-set against the version this store last read or wrote: when another process changed the row
in between, the write is refused and the key reported back, so the manager
takes the other process's state instead of overwriting it (and, for
instance, never resolves an alert that the other process keeps firing).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import BigInteger, Engine, String, Text, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from alerts.lifecycle import AlertRecord
from alerts.silences import Silence, list_silences
from detectors.anomaly import Anomaly
from database import Base

_INSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


class AlertStateStore(Protocol):
    """Persistence for alert records and the silences in force."""

    def load(self) -> dict[str, AlertRecord]: ...

    def reload(self, keys: Iterable[str]) -> dict[str, AlertRecord]: ...

    def save(self, records: Iterable[AlertRecord], now_ms: int) -> set[str]:
        """Write the records; return the keys refused because another process changed them."""

    def delete(self, keys: Iterable[str]) -> None: ...

    def silences(self, now_ms: int) -> list[Silence]: ...


class AlertStateRow(Base):
    __tablename__ = "alert_states"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(AlertRecord))
_ANOMALY_FIELDS = tuple(f.name for f in dataclasses.fields(Anomaly))
T = AlertStateRow.__table__
_ROW = {"state": bindparam("st"), "updated_at_ms": bindparam("ts"), "body": bindparam("b"), "version": bindparam("nv")}
_UPDATE = update(T).where(T.c.key == bindparam("k"), T.c.version == bindparam("v")).values(**_ROW)


def _insert(dialect_insert):
    """Insert a new row; where the dialect allows, leave an existing one alone (another process was first)."""
    if dialect_insert is None:
        return T.insert().values(key=bindparam("k"), **_ROW)
    return dialect_insert(T).values(key=bindparam("k"), **_ROW).on_conflict_do_nothing(index_elements=["key"])


def record_to_json(rec: AlertRecord) -> str:
    """The record as JSON (the anomaly nested, tuples as lists)."""
    data = {name: getattr(rec, name) for name in _RECORD_FIELDS}
    data["anomaly"] = {name: getattr(rec.anomaly, name) for name in _ANOMALY_FIELDS}
    return json.dumps(data, separators=(",", ":"))


def record_from_json(text: str) -> AlertRecord:
    """The inverse of `record_to_json`."""
    data = json.loads(text)
    anomaly = data.pop("anomaly")
    anomaly["devices"] = tuple(anomaly.get("devices", ()))
    data["changes"] = tuple(data.get("changes", ()))
    return AlertRecord(anomaly=Anomaly(**anomaly), **{k: v for k, v in data.items() if k in _RECORD_FIELDS})


class SqlAlertStore:
    """`AlertStateStore` on a SQLAlchemy engine (tables created by `database.migrate`)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._versions: dict[str, int] = {}

    def load(self) -> dict[str, AlertRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(T.c.key, T.c.version, T.c.body)).all()
        self._versions = {r.key: r.version for r in rows}
        return {r.key: record_from_json(r.body) for r in rows}

    def reload(self, keys: Iterable[str]) -> dict[str, AlertRecord]:
        """The current rows of `keys` (absent ones left out), as another process left them."""
        keys = list(keys)
        with self.engine.connect() as conn:
            rows = conn.execute(select(T.c.key, T.c.version, T.c.body).where(T.c.key.in_(keys))).all()
        for key in keys:
            self._versions.pop(key, None)
        self._versions.update({r.key: r.version for r in rows})
        return {r.key: record_from_json(r.body) for r in rows}

    def save(self, records: Iterable[AlertRecord], now_ms: int) -> set[str]:
        rows = {r.key: {"k": r.key, "st": r.state, "ts": now_ms, "b": record_to_json(r)} for r in records}
        if not rows:
            return set()
        want = {key: secrets.randbits(62) + 1 for key in rows}  # unique per write: no ABA, no ties
        known = [dict(p, v=self._versions[k], nv=want[k]) for k, p in rows.items() if k in self._versions]
        fresh = [dict(p, nv=want[k]) for k, p in rows.items() if k not in self._versions]
        with self.engine.begin() as conn:
            if known:
                conn.execute(_UPDATE, known)
            if fresh:
                conn.execute(_insert(_INSERTS.get(conn.dialect.name)), fresh)
            stored = dict(conn.execute(select(T.c.key, T.c.version).where(T.c.key.in_(list(rows)))).all())
        # our version is there, or another process got there first
        refused = {key for key in rows if stored.get(key) != want[key]}
        self._versions.update({key: want[key] for key in rows if key not in refused})
        return refused

    def delete(self, keys: Iterable[str]) -> None:
        keys = [k for k in keys if k in self._versions]
        if not keys:
            return
        with self.engine.begin() as conn:
            for key in keys:
                conn.execute(delete(T).where(T.c.key == key, T.c.version == self._versions[key]))
        for key in keys:
            self._versions.pop(key, None)

    def silences(self, now_ms: int) -> list[Silence]:
        return list_silences(self.engine, include_expired=False, now_ms=now_ms)
