"""How many processes `faultline ingest` runs: the setting, the cores, and what the data dir remembers.

``--workers`` (``FAULTLINE_INGEST_WORKERS``) 0, the default, is one writer
per core, up to 8 (`ingest.workers.auto_workers`), fed by one session
(`ingest.relay`): that session is the one a single process has, so the count
may change from run to run and nothing below applies. 1 is one process.

Where the relay is not used (``FAULTLINE_MQTT_SHARED_GROUP`` or
``FAULTLINE_DETECTOR_HANDOFF`` set, or a shared pool ran with the data dir)
the workers are sessions on one shared subscription, and things the broker
does make their count unsafe to change on its own:

- A shared subscription's messages go to every session of the group in
  turn, connected or not: a pool that comes back with fewer workers (a
  smaller machine, a tighter CPU limit) leaves a share of the stream in
  sessions nobody reads. So the pool writes its size to
  ``<data dir>/ingest-workers``, and the automatic count is never below it.
- The group is the pool's alone: a pool of another deployment on the same
  broker, group and topics takes its turn of every message into its own
  sessions, read or not. Two pools on one broker need two groups.
- Mosquitto 2.0.11 does not keep a shared subscription across its own
  restart (what is published before the workers subscribe again is lost).

So there the automatic count is one process, as before workers were the
default, until a shared pool is asked for by its size (``--workers N``);
an explicit count is obeyed, and fewer workers than the pool last ran is
logged as the risk it is.

>>> PoolSize.choose(0, cores=2, last=None, relay=True)
PoolSize(count=2, note='', relay=True)
>>> PoolSize.choose(0, cores=2, last=None), PoolSize.choose(3, cores=2, last=None)
(PoolSize(count=1, note='', relay=False), PoolSize(count=3, note='', relay=False))
>>> PoolSize.choose(0, cores=2, last=4).count, PoolSize.choose(0, cores=2, last=3, relay=True).relay
(4, False)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

RECORD = "ingest-workers"  # in the data dir: the size of the pool last started there


@dataclass(frozen=True, slots=True)
class PoolSize:
    count: int
    note: str = ""  # why the count is not the one asked for or the cores, or the risk of the one asked for
    relay: bool = False  # the workers are fed by one session (`ingest.relay`), not a shared subscription

    @classmethod
    def choose(cls, requested: int, cores: int, last: int | None, relay: bool = False) -> "PoolSize":
        """`requested` 0: automatic; `last`: the size of the shared pool recorded in the data dir; `relay`: the
        workers may be fed by one session (`ingest.relay`), unless a shared pool ran here."""
        if relay and not last and requested != 1:
            count = requested or cores
            return cls(count, relay=count > 1)
        if requested > 0:
            if last and requested < last:
                return cls(requested, f"{requested} workers, fewer than the {last} last run with this data dir: "
                                      f"the sessions of workers {requested + 1}..{last} keep receiving their share "
                                      "of the stream and nobody reads it (docs/operators.md, \"Lowering N\")")
            return cls(requested)
        if last:
            if last > cores:
                return cls(last, f"{last} workers as last run with this data dir, though {cores} cores: "
                                 "fewer would leave a share of the stream in sessions nobody reads")
            return cls(cores)
        return cls(1)  # a shared pool is asked for by its size

    @classmethod
    def for_data_dir(cls, requested: int, data_dir: Path, cores: int, relay: bool = False) -> "PoolSize":
        return cls.choose(requested, cores, last_pool_size(data_dir), relay)


def last_pool_size(data_dir: Path) -> int | None:
    try:
        return max(1, int((Path(data_dir) / RECORD).read_text().strip()))
    except (OSError, ValueError):
        return None


def remember_pool_size(data_dir: Path, count: int) -> None:
    """Write the pool's size to the data dir (atomically: a new file renamed over the old one)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f"{RECORD}.tmp"
    tmp.write_text(f"{count}\n")
    os.replace(tmp, data_dir / RECORD)
