"""`faultline ingest --workers N`: N ingest processes on one shared subscription, supervised.

Python runs one thread of Python at a time, so one ingest process uses about
one core; N processes use N. Each worker is a full `faultline ingest` (its
own persistent session, its own spool) and acknowledges a message only after
it is durable, exactly as one process does. They share the device topics
through ``$share/<group>/<prefix>/#`` (the broker hands each message to one
of them) and the SQL database (SQLite in WAL mode or PostgreSQL).

Worker ``i`` (from 1) has the client id ``<FAULTLINE_MQTT_CLIENT_ID>-<i>``
and the spool ``<data dir>/spool-<i>``. Both are stable: a worker that dies
(crash, kill -9, OOM) is started again with the same client id, and the
broker delivers to it what its session held unacknowledged; duplicates land
on the same InfluxDB points (`ingest.points`), so they add none.

Each worker gets a pipe to the pool's `LedgerKeeper` (`ingest.ledger_keeper`),
named by ``--ledger-fd <fd>``: the workers keep no completeness ledger of
their own but hand the pool the seqs of every batch they make durable, and
the pool keeps the one ledger.

The pool migrates the database once before starting the workers, forwards
SIGTERM/SIGINT to them (each flushes and acknowledges what is durable) and
restarts a worker that ends while the pool is running, after a delay that
grows with restarts in quick succession (1 s, 2 s, 4 s ... up to 30 s).

>>> worker_env({"FAULTLINE_MQTT_CLIENT_ID": "fl"}, 2, "faultline-ingest", "ingest")
{'FAULTLINE_MQTT_CLIENT_ID': 'faultline-ingest-2', 'FAULTLINE_MQTT_SHARED_GROUP': 'ingest'}
>>> restart_delay(0), restart_delay(3), restart_delay(20)
(1.0, 8.0, 30.0)
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.ledger_keeper import LedgerKeeper
    from ingest.relay import Relay

log = logging.getLogger("faultline.ingest")
MAX_AUTO_WORKERS = 8  # ``--workers 0``: the cores, up to this many
DEFAULT_GROUP = "ingest"  # the shared-subscription group when FAULTLINE_MQTT_SHARED_GROUP is empty
STABLE_S = 60.0  # a worker that ran this long before it ended restarts after the shortest delay
STOP_GRACE_S = 60.0  # after SIGTERM, a worker still running this long is killed


def auto_workers() -> int:
    """The number of cores this process may use, capped at `MAX_AUTO_WORKERS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_AUTO_WORKERS))


def worker_env(env: dict[str, str], index: int, client_id: str, group: str) -> dict[str, str]:
    """The environment of worker `index` (the parent's, with its client id and the shared group)."""
    return {**env, "FAULTLINE_MQTT_CLIENT_ID": f"{client_id}-{index}", "FAULTLINE_MQTT_SHARED_GROUP": group}


def restart_delay(quick_restarts: int) -> float:
    return float(min(30, 2 ** quick_restarts))


@dataclass(slots=True)
class Worker:
    index: int
    proc: subprocess.Popen | None = None
    started: float = 0.0
    quick_restarts: int = 0
    restarts: int = 0
    due: float = 0.0  # monotonic time of the next start while it is down
    exits: list[int] = field(default_factory=list)


class WorkerPool:
    """Starts, watches and restarts the workers; `run` blocks until `stop` is set, then stops them."""

    def __init__(self, count: int, client_id: str, group: str, command: list[str], keeper: LedgerKeeper,
                 env: dict[str, str] | None = None, relay: Relay | None = None):
        """`command` starts one worker with its index and the end of a pipe to `keeper` appended
        (``faultline ingest --worker <i> --ledger-fd <fd>``); with `relay`, each worker is fed by it
        (``--relay <messages fd>,<acks fd>,<count>``) instead of a session of its own."""
        self.relay = relay
        self.count = count
        self.client_id = client_id
        self.group = group
        self.command = list(command)
        self.env = dict(os.environ if env is None else env)
        self.keeper = keeper
        self.workers = [Worker(i) for i in range(1, count + 1)]

    def start(self) -> None:
        for worker in self.workers:
            self._spawn(worker)

    def _spawn(self, worker: Worker) -> None:
        env = worker_env(self.env, worker.index, self.client_id, self.group)
        read_fd, write_fd = os.pipe()  # neither inherited by other workers: each pipe ends with its worker
        args, theirs, ours = [str(worker.index), "--ledger-fd", str(write_fd)], [write_fd], [read_fd]
        if self.relay is not None:
            messages_in, messages_out = os.pipe()
            acks_in, acks_out = os.pipe()
            args += ["--relay", f"{messages_in},{acks_out},{self.count}"]
            theirs += [messages_in, acks_out]
            ours += [messages_out, acks_in]
        try:
            worker.proc = subprocess.Popen(self.command + args, env=env, pass_fds=theirs)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:  # the worker's ends: a pipe reads as ended once its worker is gone
                os.close(fd)
        self.keeper.follow(str(worker.index), read_fd)
        if self.relay is not None:
            self.relay.attach(worker.index, ours[1], ours[2])
        worker.started = time.monotonic()
        log.info("ingest worker %d started (pid %d, client id %s)", worker.index, worker.proc.pid,
                 env["FAULTLINE_MQTT_CLIENT_ID"])

    def watch(self) -> None:
        """One round: note workers that ended, start those whose restart is due."""
        now = time.monotonic()
        for worker in self.workers:
            if worker.proc is not None:
                code = worker.proc.poll()
                if code is None:
                    continue
                worker.exits.append(code)
                worker.proc = None
                quick = now - worker.started < STABLE_S
                worker.quick_restarts = worker.quick_restarts + 1 if quick else 0
                delay = restart_delay(max(0, worker.quick_restarts - 1))
                worker.due = now + delay
                log.error("ingest worker %d ended with %s; restarting it in %.0f s (its session keeps what it "
                          "had not acknowledged)", worker.index, _exit_text(code), delay)
            elif now >= worker.due:
                worker.restarts += 1
                self._spawn(worker)

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        self.start()
        while not stop.wait(interval):
            self.watch()
        self.stop()

    def stop(self, grace_s: float = STOP_GRACE_S) -> list[int]:
        """SIGTERM to every running worker, wait (SIGKILL after `grace_s`); their exit codes."""
        running = [w for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for worker in running:
            worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        codes = []
        for worker in running:
            try:
                codes.append(worker.proc.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                log.error("ingest worker %d did not stop within %.0f s; killed", worker.index, grace_s)
                worker.proc.kill()
                codes.append(worker.proc.wait())
        return codes

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.proc is not None and w.proc.poll() is None]


def spool_dir(data_dir: Path, worker: int | None) -> Path:
    """The spool of one ingest process: ``spool`` alone, ``spool-<i>`` for worker i of a pool."""
    return data_dir / ("spool" if worker is None else f"spool-{worker}")


def _exit_text(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"exit code {code}"
