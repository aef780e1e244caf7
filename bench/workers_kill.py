"""kill -9 of one worker of `faultline ingest --workers 2` under load: nothing lost, nothing stored twice.

One repetition: a fresh broker and database; the relay subscribes and both
workers start; a publisher sends N QoS 1 telemetry messages at a fixed
rate (1,000 devices, ``ts`` unique per message, ``seq`` per device); once a
share of them is stored, worker 1 gets SIGKILL: the relay hands what it had
not acknowledged to worker 2 and starts worker 1 again.
When InfluxDB holds every message, or nothing more arrives, it counts:

- ``points``: ``count(seq)``, one per stored point (a redelivery lands on
  the point it already wrote: same device, same ``ts``);
- ``distinct``: the distinct ``seq`` per device, summed;
- lost = N − distinct; duplicates = points − distinct (a redelivery stored
  as a point of its own would show here).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.services import FAULTLINE, Child, Services, faultline_env, wait_count
from bench.traffic import run_child
from influx.client import InfluxClient

READY = "fed by the relay"  # a worker of the relay, started


@dataclass
class KillRun:
    n: int
    rate: float  # offered msg/s
    sent: int = 0
    stored_at_kill: int | None = None
    points: int | None = None
    distinct: int | None = None
    lost: int | None = None
    duplicates: int | None = None
    restarted: bool = False  # the killed worker started again
    back_s: float | None = None  # kill → the killed worker started again
    lag_s: float | None = None  # publisher's last ack → all stored
    error: str | None = None

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def worker_pids(pid: int) -> list[int]:
    """The children of the pool (its workers)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _wait(pred, timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(poll)
    return False


def stored_points(client: InfluxClient) -> tuple[int, int]:
    """(points, distinct seqs summed over devices) in the telemetry measurement."""
    points = client.rows('SELECT count("seq") FROM "telemetry"')
    distinct = client.rows('SELECT count(distinct("seq")) AS n FROM "telemetry" GROUP BY "device"')
    return (int(points[0]["count"]) if points else 0), sum(int(r["n"]) for r in distinct)


def kill_one_worker(services: Services, work: Path, n: int, rate: float, kill_at: float = 0.3,
                    timeout: float = 300.0) -> KillRun:
    """One repetition; `kill_at`: the share of N stored when worker 1 is killed."""
    run = KillRun(n, rate)
    services.fresh_broker()
    db = services.new_database("kill")
    cid = f"fl-kill-{uuid.uuid4().hex[:6]}"
    pool = Child([FAULTLINE, "ingest", "--workers", "2"], faultline_env(services, db, work / cid, cid),
                 work / f"{cid}.log").start()
    published: dict = {}
    try:
        if not _wait(lambda: pool.log_text().count(READY) >= 2, 60):
            raise RuntimeError(f"the relay's workers did not both start: {pool.log_text()[-1500:]}")
        base_ms = int(time.time() * 1000) - n - 60_000
        publisher = threading.Thread(target=lambda: published.update(run_child(
            ["publish", "--url", services.mosquitto.url, "--n", str(n), "--devices", "1000", "--base-ms",
             str(base_ms), "--inflight", "1000", "--rate", str(rate)])), daemon=True)
        publisher.start()
        if not _wait(lambda: (services.count(db) or 0) >= kill_at * n, timeout):
            raise RuntimeError(f"fewer than {kill_at * n:.0f} stored before the kill")
        victim = f"worker 1 {READY}"
        target = next(p for p in worker_pids(pool.pid) if _client_id_of(p) == f"{cid}-1")
        os.kill(target, signal.SIGKILL)
        t_kill = time.time()
        run.stored_at_kill = services.count(db)
        if (run.stored_at_kill or 0) >= n:
            raise RuntimeError("the kill landed after everything was stored: raise N or lower kill_at")
        run.restarted = _wait(lambda: pool.log_text().count(READY) >= 3
                              and victim in pool.log_text().rsplit("ended with signal 9", 1)[-1], 90)
        run.back_s = time.time() - t_kill if run.restarted else None
        publisher.join(timeout)
        run.sent = int(published.get("acked") or 0)
        t_done, _ = wait_count(services, db, n, timeout)
        if t_done is not None and published.get("t_end"):
            run.lag_s = max(0.0, t_done - published["t_end"])
        time.sleep(1.0)  # anything still arriving would be a duplicate: count after it
        run.points, run.distinct = stored_points(InfluxClient(services.influxd.url, db, timeout=60))
        run.lost, run.duplicates = n - run.distinct, run.points - run.distinct
        if run.sent < n:
            run.error = f"the broker acknowledged {run.sent} of {n} publishes"
    finally:
        pool.stop()
        services.drop_database(db)
        shutil.rmtree(work / cid, ignore_errors=True)
    return run


def _client_id_of(pid: int) -> str:
    """FAULTLINE_MQTT_CLIENT_ID of a worker, from its environment."""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return ""
    return next((item.split(b"=", 1)[1].decode() for item in env if item.startswith(b"FAULTLINE_MQTT_CLIENT_ID=")), "")
