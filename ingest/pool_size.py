"""How many processes `faultline ingest` runs: the setting, the cores, and what the data dir remembers.

``--workers`` (``FAULTLINE_INGEST_WORKERS``) 1, the default, is one process
on a plain subscription; 0 means one worker per core, up to 8
(`ingest.workers.auto_workers`). The default is not 0 because Mosquitto
2.0.11 does not keep a shared subscription across its own restart: a
message published after the broker is back and before the workers have
subscribed again reaches no session and is lost (measured: 500 of 500;
a plain subscription of a persistent session loses none). Things the
broker does also make the automatic count unsafe to change on its own, so
it never does:

- A shared subscription's messages go to every session of the group in
  turn, connected or not: a pool that comes back with fewer workers (a
  smaller machine, a tighter CPU limit) leaves a share of the stream in
  sessions nobody reads. So the pool writes its size to
  ``<data dir>/ingest-workers``, and the automatic count is never below it.
- The group is the pool's alone: a pool of another deployment on the same
  broker, group and topics (another client id, the same default group
  ``ingest``) takes its turn of every message into its own sessions, read
  or not. Two pools on one broker need two groups
  (``FAULTLINE_MQTT_SHARED_GROUP``). A kill -9 of the whole pool over MQTT
  3.1.1 once kept half of a 50,000-message stream away from the restarted
  workers for that reason: another pool's sessions in the group ``ingest``
  on the same test broker (on a broker of its own: 0 lost in 6 of 6 runs).
- One process on a plain subscription (``--workers 1``, or `faultline run`)
  has a session of its own that holds what was published while it was
  stopped. A pool started in its place subscribes anew and never reads
  that session. So when the data dir shows one process ran there (its
  ``spool`` folder) and no pool did, the automatic count stays 1 and says
  why; docs/operators.md ("Going from one process to workers") tells how
  to move.

An explicit count is obeyed; fewer workers than the pool last ran is
logged as the risk it is.

>>> PoolSize.choose(0, cores=2, last=None, single_before=False)
PoolSize(count=2, note='', relay=False)
>>> PoolSize.choose(0, cores=2, last=4, single_before=False).count
4
>>> PoolSize.choose(0, cores=2, last=None, single_before=True).count
1
>>> PoolSize.choose(3, cores=2, last=None, single_before=True)
PoolSize(count=3, note='', relay=False)
>>> PoolSize.choose(0, cores=2, last=None, single_before=True, relay=True)
PoolSize(count=2, note='', relay=True)
>>> PoolSize.choose(0, cores=2, last=3, single_before=False, relay=True).relay  # a shared pool ran here
False
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

RECORD = "ingest-workers"  # in the data dir: the size of the pool last started there
SINGLE_SPOOL = "spool"  # in the data dir: the spool of one ingest process (`ingest.workers.spool_dir`)


@dataclass(frozen=True, slots=True)
class PoolSize:
    count: int
    note: str = ""  # why the count is not the one asked for or the cores, or the risk of the one asked for
    relay: bool = False  # the workers are fed by one session (`ingest.relay`), not a shared subscription

    @classmethod
    def choose(cls, requested: int, cores: int, last: int | None, single_before: bool,
               relay: bool = False) -> "PoolSize":
        """`requested` 0: automatic; `last`: the pool size recorded in the data dir; `single_before`: one
        process has run in the data dir; `relay`: workers may be fed by one session (`ingest.relay`: the
        session of one process, so none of the rules below applies) unless a shared pool ran here."""
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
        if single_before:
            return cls(1, "one process, as before with this data dir: a pool would not read what the single "
                          "process's session holds; to move to workers see docs/operators.md (\"Going from one "
                          "process to workers\"), then start with --workers N")
        return cls(cores)

    @classmethod
    def for_data_dir(cls, requested: int, data_dir: Path, cores: int, relay: bool = False) -> "PoolSize":
        return cls.choose(requested, cores, last_pool_size(data_dir), (Path(data_dir) / SINGLE_SPOOL).is_dir(),
                          relay)


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
