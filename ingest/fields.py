"""The metric-name catalogue: which telemetry fields each device writes, and how many it may.

InfluxDB keeps the field keys of a measurement as one set for all series;
a device that invents metric names without end makes every query on
``telemetry`` slow for every other device (a ``*`` expands to every key
ever written). So each device may write at most ``max_per_device`` distinct
metric names (``FAULTLINE_MAX_METRICS_PER_DEVICE``), and, for the models an
allow-list names (``FAULTLINE_METRIC_ALLOWLIST_FILE``), only the names it
allows. A reading that brings a name past the cap, or one the allow-list
refuses, is dead-lettered whole with the reason (`admit` says which
names), the device's other readings are stored as usual.

The catalogue lives in SQL (table ``device_fields``): readers name a
device's own fields from it (`field_names`) instead of ``SELECT *``.
Memory holds the devices in use (`evict_idle`).

>>> cat = FieldCatalogue(None, max_per_device=2)
>>> cat.admit("d1", "PX", ["a", "b"], 0), cat.admit("d1", "PX", ["a", "c"], 0), cat.admit("d1", "PX", ["b"], 0)
((), ('c',), ())
>>> cat.take_new()
[('d1', 'a', 0), ('d1', 'b', 0)]
"""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import yaml
from sqlalchemy import BigInteger, Engine, String, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from database import Base
from ingest.idle_cache import IdleCache, wall_ms

MAX_NAMES_READ = 200  # metric names a reader asks InfluxDB for at once
MAX_SHARED_SETS = 10_000


class DeviceFieldRow(Base):
    __tablename__ = "device_fields"

    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_ms: Mapped[int] = mapped_column(BigInteger, default=0)


def load_allowlist(path: str | Path) -> dict[str, tuple[str, ...]]:
    """``{model: [name or glob pattern, ...]}`` from YAML; models not listed are limited by the cap only."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(doc, dict) or not all(isinstance(v, list) for v in doc.values()):
        raise ValueError(f"{path}: expected a mapping of model -> list of metric names or patterns")
    return {str(model): tuple(str(p) for p in names) for model, names in doc.items()}


class FieldCatalogue:
    def __init__(self, engine: Engine | None, max_per_device: int = 100,
                 allow: Mapping[str, Sequence[str]] | None = None, now=wall_ms):
        self.engine = engine
        self.max_per_device = max_per_device
        self.allow = dict(allow or {})
        stored = None
        if engine is not None:
            with engine.connect() as conn:
                stored = conn.scalars(select(DeviceFieldRow.device).distinct()).all()
        self._names: IdleCache[str, frozenset[str]] = IdleCache(self._load, now, stored, lambda _: frozenset())
        self._new: list[tuple[str, str, int]] = []
        self._shared: dict[frozenset[str], frozenset[str]] = {}

    def admit(self, device: str, model: str, names: Iterable[str], received_ms: int) -> tuple[str, ...]:
        """Register the new names of one reading; the names refused (the reading is not stored then)."""
        known = self._names.get(device)
        if known.issuperset(names):
            return ()
        new = [n for n in names if n not in known]
        patterns = self.allow.get(model)
        if patterns is not None:
            refused = tuple(n for n in new if not any(fnmatch.fnmatchcase(n, p) for p in patterns))
            if refused:
                return refused
        room = self.max_per_device - len(known)
        if len(new) > room:
            return tuple(new[max(room, 0):])
        names = known | {sys.intern(n) for n in new}
        if len(self._shared) < MAX_SHARED_SETS:  # devices of a model write the same names: one set for all
            names = self._shared.setdefault(names, names)
        self._names.put(device, names)
        self._new.extend((device, n, received_ms) for n in new)
        return ()

    def refusal(self, device: str, model: str, refused: Sequence[str]) -> str:
        """The dead-letter reason for a refused reading."""
        shown = ", ".join(repr(n[:40]) for n in refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
        if model in self.allow and any(not any(fnmatch.fnmatchcase(n, p) for p in self.allow[model]) for n in refused):
            return f"metric names not in the allow-list of model {model!r}: {shown}"
        return f"metric names past the device's limit of {self.max_per_device}: {shown}"

    def take_new(self) -> list[tuple[str, str, int]]:
        """The names registered since the last call (the pipeline puts them in the batch)."""
        new, self._new = self._new, []
        return new

    def evict_idle(self, before_ms: int) -> int:
        return self._names.evict_idle(before_ms)

    def advance(self) -> None:
        self._names.advance()

    def _load(self, device: str) -> frozenset[str]:
        if self.engine is None:
            return frozenset()
        with self.engine.connect() as conn:
            names = frozenset(sys.intern(n) for n in conn.scalars(
                select(DeviceFieldRow.name).where(DeviceFieldRow.device == device)))
        return self._shared.get(names, names)


def persist(engine: Engine, new: list[tuple[str, str, int]]) -> None:
    """Store newly seen names durably (before their messages are acknowledged)."""
    if not new:
        return
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    rows = [{"device": d, "name": n, "first_ms": ms} for d, n, ms in new]
    with engine.begin() as conn:
        conn.execute(insert(DeviceFieldRow).on_conflict_do_nothing(index_elements=["device", "name"]), rows)


def field_names(engine: Engine, filters: Mapping[str, "str | tuple[str, ...]"], limit: int = MAX_NAMES_READ) -> list[str]:
    """The metric names written by the devices matching tag `filters` (device, model, firmware, site),
    most widely used first, at most `limit`."""
    from ingest.registry import DeviceRow

    stmt = select(DeviceFieldRow.name, func.count().label("n")).group_by(DeviceFieldRow.name)
    for tag, value in filters.items():
        values = value if isinstance(value, tuple) else (value,)
        if tag == "device":
            stmt = stmt.where(DeviceFieldRow.device.in_(values))
        elif tag in ("model", "firmware", "site"):
            devices = select(DeviceRow.device).where(getattr(DeviceRow, tag).in_(values))
            stmt = stmt.where(DeviceFieldRow.device.in_(devices))
        else:
            raise ValueError(f"no field names by {tag!r}")
    stmt = stmt.order_by(func.count().desc(), DeviceFieldRow.name).limit(limit)
    with engine.connect() as conn:
        return [row.name for row in conn.execute(stmt)]
