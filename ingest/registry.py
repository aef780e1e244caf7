"""The device registry: cohort attributes from `meta`, online state from `status`.

Persisted in the SQL database so cohort tags survive restarts; an in-memory
map of the devices in use serves the hot path (`cohort_of`), read from SQL
the first time a device speaks and dropped when it goes quiet
(`evict_idle`). A stored value that breaks the tag rule (written before the
rule was enforced) is read as empty, so it can never poison a point.

Authority: cohort attributes an operator pinned (`faultline devices
provision --model/--firmware/--site`) win over the device's own ``meta``
when the registry is authoritative (``FAULTLINE_REGISTRY_AUTHORITATIVE``):
a ``meta`` that contradicts them is stored in ``device_meta_claims``,
flagged in ``device_audit``, counted (ingest stage ``meta_contradiction``)
and leaves the cohort unchanged. Every change of a device's cohort is
audited, whoever made it.
"""

from __future__ import annotations

import logging

import orjson
from sqlalchemy import Boolean, BigInteger, Engine, Integer, String, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from database import Base
from database.pages import page_where_equal
from ingest.decode import tag_value_problem
from ingest.idle_cache import IdleCache, wall_ms
from ingest.records import UNKNOWN_COHORT, Cohort, DeviceMeta, DeviceStatus

log = logging.getLogger("faultline.ingest")


class DeviceRow(Base):
    __tablename__ = "devices"

    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(256), default="")
    firmware: Mapped[str] = mapped_column(String(256), default="")
    site: Mapped[str] = mapped_column(String(256), default="")
    hw_rev: Mapped[str] = mapped_column(String(256), default="")
    customer: Mapped[str] = mapped_column(String(256), default="")
    tier: Mapped[str] = mapped_column(String(256), default="")
    extra: Mapped[str] = mapped_column(Text, default="{}")
    meta_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    online: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    status_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)  # cohort attributes set by an operator


def _upsert(engine: Engine, values: list[dict], columns: list[str]) -> None:
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.begin() as conn:
        for row in values:
            stmt = insert(DeviceRow).values(**row)
            stmt = stmt.on_conflict_do_update(index_elements=["device"], set_={c: stmt.excluded[c] for c in columns})
            conn.execute(stmt)


def lookup(engine: Engine, device: str) -> DeviceMeta | None:
    """The registered attributes of one device."""
    row = registered(engine, device)
    return _meta_of(row) if row else None


def list_devices(engine: Engine, limit: int = 1000, offset: int = 0) -> list[DeviceRow]:
    with engine.connect() as conn:
        return list(conn.execute(select(DeviceRow).order_by(DeviceRow.device).limit(limit).offset(offset)))


def device_page(engine: Engine, *, limit: int, offset: int, **equal) -> tuple[list[DeviceRow], int]:
    """One page of the registry in device order, and the total: devices whose columns equal the given
    values (``model=``, ``firmware=``, ``site=``, ``online=``; None: any)."""
    return page_where_equal(engine, DeviceRow, DeviceRow.device, limit=limit, offset=offset, **equal)


def registered(engine: Engine, device: str) -> DeviceRow | None:
    """The registry row of one device, or None."""
    with engine.connect() as conn:
        return conn.execute(select(DeviceRow).where(DeviceRow.device == device)).first()


def _meta_of(row) -> DeviceMeta:
    return DeviceMeta(row.device, row.meta_ms, row.model, row.firmware, row.site, row.hw_rev,
                      row.customer, row.tier, orjson.loads(row.extra or "{}"))


class MetaClaimRow(Base):
    __tablename__ = "device_meta_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(64))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    claimed: Mapped[str] = mapped_column(Text)
    contradicts: Mapped[str] = mapped_column(String(64))


COHORT_FIELDS = ("model", "firmware", "site")


def contradiction(pinned: Cohort | None, meta: DeviceMeta) -> str:
    """The pinned attributes `meta` contradicts, comma-separated ("" when none or nothing is pinned).

    >>> contradiction(Cohort("PX-200", "", "sh-03"), DeviceMeta("d", 0, "PX-200", "9.9", "sh-09"))
    'site'
    """
    if pinned is None:
        return ""
    return ",".join(f for f in COHORT_FIELDS if getattr(pinned, f) and getattr(meta, f) != getattr(pinned, f))


class DeviceRegistry:
    """Cohort lookup for the hot path, backed by the `devices` table."""

    def __init__(self, engine: Engine, now=wall_ms, authoritative: bool = False):
        self.engine = engine
        self.authoritative = authoritative
        with engine.connect() as conn:
            stored = conn.scalars(select(DeviceRow.device)).all()
        self._cohorts: IdleCache[str, Cohort] = IdleCache(self._load, now, stored, lambda _: UNKNOWN_COHORT)

    def _load(self, device: str) -> Cohort:
        with self.engine.connect() as conn:
            row = conn.execute(select(DeviceRow.model, DeviceRow.firmware, DeviceRow.site)
                               .where(DeviceRow.device == device)).first()
        if row is None:
            return UNKNOWN_COHORT
        values = []
        for name, value in zip(("model", "firmware", "site"), row):
            problem = tag_value_problem(value or "")
            if problem:
                log.warning("registry: %s of %s is unusable as a tag (%s); read as empty", name, device, problem)
            values.append("" if problem else value or "")
        return Cohort(*values)

    def cohort_of(self, device: str) -> Cohort:
        return self._cohorts.get(device)

    def firmware_of(self, device: str | None) -> str:
        return self._cohorts.get(device).firmware if device else ""

    def pinned(self, device: str) -> Cohort | None:
        """The operator-pinned cohort of `device`, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(DeviceRow.model, DeviceRow.firmware, DeviceRow.site)
                               .where(DeviceRow.device == device, DeviceRow.pinned.is_(True))).first()
        return Cohort(*row) if row else None

    def refused(self, meta: DeviceMeta) -> str:
        """The pinned attributes `meta` contradicts when the registry is authoritative ("" otherwise)."""
        return contradiction(self.pinned(meta.device), meta) if self.authoritative else ""

    def note_meta(self, meta: DeviceMeta) -> str:
        """Update the in-memory view at once (later messages get the new tags), unless the registry
        is authoritative and `meta` contradicts it; the contradicted attributes ("" when applied)."""
        refused = self.refused(meta)
        if not refused:
            self._cohorts.put(meta.device, meta.cohort)
        return refused

    def evict_idle(self, before_ms: int) -> int:
        return self._cohorts.evict_idle(before_ms)

    def advance(self) -> None:
        self._cohorts.advance()

    def __len__(self) -> int:
        return len(self._cohorts)

    def persist(self, metas: list[DeviceMeta], statuses: list[DeviceStatus]) -> None:
        """Write registry changes durably (called before the messages are acknowledged)."""
        metas = self._audited(metas)
        if metas:
            _upsert(self.engine, [{
                "device": m.device, "model": m.model, "firmware": m.firmware, "site": m.site,
                "hw_rev": m.hw_rev, "customer": m.customer, "tier": m.tier,
                "extra": orjson.dumps(dict(m.extra)).decode(), "meta_ms": m.ts_ms,
            } for m in metas], ["model", "firmware", "site", "hw_rev", "customer", "tier", "extra", "meta_ms"])
        if statuses:
            _upsert(self.engine, [{"device": s.device, "online": s.online, "status_ms": s.ts_ms} for s in statuses],
                    ["online", "status_ms"])

    def _audited(self, metas: list[DeviceMeta]) -> list[DeviceMeta]:
        """Flag and store the refused metas, audit cohort changes; the metas to apply."""
        from ingest.credentials import audit  # the audit trail lives with the credentials

        applied = []
        with self.engine.begin() as conn:
            for meta in metas:
                refused = self.refused(meta)
                claimed = {f: getattr(meta, f) for f in COHORT_FIELDS}
                if refused:
                    conn.execute(MetaClaimRow.__table__.insert().values(
                        device=meta.device, ts_ms=meta.ts_ms, claimed=orjson.dumps(claimed).decode(),
                        contradicts=refused))
                    audit(conn, meta.device, meta.ts_ms, "meta", "meta_flagged",
                          {"claimed": claimed, "contradicts": refused})
                    continue
                before = conn.execute(select(DeviceRow.model, DeviceRow.firmware, DeviceRow.site)
                                      .where(DeviceRow.device == meta.device)).first()
                if before is not None and tuple(before) != tuple(claimed.values()):
                    audit(conn, meta.device, meta.ts_ms, "meta", "cohort",
                          {"before": dict(zip(COHORT_FIELDS, before)), "after": claimed, "source": "meta"})
                applied.append(meta)
        return applied
