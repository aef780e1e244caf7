"""The on-disk spool: batches InfluxDB could not take yet, kept in order across `kill -9`.

One file per batch under ``<data dir>/spool``, written to a temporary name,
fsynced, renamed, and the directory fsynced; so a batch is either wholly in
the spool or not at all. Bounded by bytes: `append` raises `SpoolFull` and the
caller applies backpressure (stops acknowledging) instead of dropping.

One process at a time: a spool takes an exclusive lock on ``<dir>/.lock``
(released when its process ends, however it ends) and waits for it, so a
worker started again while the one before it still finishes (a worker
orphaned by a pool killed with -9 writes what it holds first) never numbers
a batch over one of the other's.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import threading
from pathlib import Path

from ingest.batch import SpooledBatch


log = logging.getLogger("faultline.ingest")


class SpoolFull(RuntimeError):
    """The spool reached its size bound."""


class Spool:
    def __init__(self, directory: Path, max_bytes: int):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._owner = _take(self.directory)
        self._lock = threading.Lock()
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink()  # a write interrupted before its rename never counted
        self._files = sorted(self.directory.glob("*.batch"))
        self._bytes = sum(f.stat().st_size for f in self._files)
        self._next = int(self._files[-1].stem) + 1 if self._files else 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def append(self, batch: SpooledBatch) -> None:
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._files and self._bytes + len(data) > self.max_bytes:
                raise SpoolFull(f"spool holds {self._bytes} bytes, bound {self.max_bytes}")
            path = self.directory / f"{self._next:020d}.batch"
            self._next += 1
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, path)
            self._fsync_dir()
            self._files.append(path)
            self._bytes += len(data)

    def peek(self) -> tuple[Path, SpooledBatch] | None:
        """The oldest batch, left in place until `pop`."""
        with self._lock:
            if not self._files:
                return None
            path = self._files[0]
        with open(path, "rb") as fh:
            return path, pickle.load(fh)

    def pop(self, path: Path) -> None:
        with self._lock:
            size = path.stat().st_size
            path.unlink()
            self._fsync_dir()
            self._files.remove(path)
            self._bytes -= size

    def close(self) -> None:
        """Let another process use the spool (a spool opened again in this process shares the lock too)."""
        with _HELD_LOCK:
            owner = _HELD.pop(str(self.directory.resolve()), None)
        if owner is not None:
            owner.close()

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_HELD: dict[str, object] = {}  # spool directory -> its lock file, held by this process for as long as it runs
_HELD_LOCK = threading.Lock()


def _take(directory: Path):
    """The spool's lock file, locked by this process (waiting while another process holds it; a spool opened
    again in the same process shares the lock it already holds)."""
    key = str(directory.resolve())
    with _HELD_LOCK:
        owner = _HELD.get(key)
        if owner is not None:
            return owner
        owner = open(directory / ".lock", "a+b")
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("the spool %s is in use by another process; waiting for it to end", directory)
            fcntl.flock(owner, fcntl.LOCK_EX)
        _HELD[key] = owner
        return owner
