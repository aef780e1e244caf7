"""Where alert state lives between restarts: one SQL row per alert key.

`AlertStateStore` is the seam the manager depends on; `SqlAlertStore` keeps
each `AlertRecord` as JSON in the ``alert_states`` table (Alembic branch
``alerts``) and reads the silences from ``alert_silences``, so a restarted
process continues every episode where the previous one left it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import BigInteger, Engine, String, Text, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from alerts.lifecycle import AlertRecord
from alerts.silences import Silence, list_silences
from detectors.anomaly import Anomaly
from faultline.db import Base


_UPSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


class AlertStateStore(Protocol):
    """Persistence for alert records and the silences in force."""

    def load(self) -> dict[str, AlertRecord]: ...

    def save(self, records: Iterable[AlertRecord], now_ms: int) -> None: ...

    def delete(self, keys: Iterable[str]) -> None: ...

    def silences(self, now_ms: int) -> list[Silence]: ...


class AlertStateRow(Base):
    __tablename__ = "alert_states"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(AlertRecord))
_ANOMALY_FIELDS = tuple(f.name for f in dataclasses.fields(Anomaly))


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
    """`AlertStateStore` on a SQLAlchemy engine (tables created by `faultline.db.migrate`)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def load(self) -> dict[str, AlertRecord]:
        with Session(self.engine) as session:
            return {row.key: record_from_json(row.body) for row in session.scalars(select(AlertStateRow))}

    def save(self, records: Iterable[AlertRecord], now_ms: int) -> None:
        rows = [{"key": r.key, "state": r.state, "updated_at_ms": now_ms, "body": record_to_json(r)} for r in records]
        if not rows:
            return
        table = AlertStateRow.__table__
        with self.engine.begin() as conn:
            insert = _UPSERTS.get(conn.dialect.name)
            if insert is None:  # any other database: replace the rows
                conn.execute(delete(table).where(table.c.key.in_([r["key"] for r in rows])))
                conn.execute(table.insert(), rows)
                return
            stmt = insert(table)
            conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={
                "state": stmt.excluded.state, "updated_at_ms": stmt.excluded.updated_at_ms,
                "body": stmt.excluded.body}), rows)

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        with Session(self.engine) as session, session.begin():
            session.execute(delete(AlertStateRow).where(AlertStateRow.key.in_(keys)))

    def silences(self, now_ms: int) -> list[Silence]:
        return list_silences(self.engine, include_expired=False, now_ms=now_ms)
