"""Ingest drain: how fast `faultline ingest` empties a queued backlog into InfluxDB, against the raw limit.

One repetition: a fresh broker; the persistent sessions are registered (a
client connects once with each ingest process's client id, MQTT 5, a session
that never expires, subscribes to what Faultline subscribes to and
disconnects; the raw subscriber does the same with its own id); N QoS 1
telemetry messages from D devices are published and queued for every
session; then the raw subscriber drains its copy (messages per second from
CONNACK to the last message) and the ingest processes drain theirs (from the
moment they report being subscribed until InfluxDB holds all N points).
Ack after the durable write, so "stored" is the honest end. With ``v311``, a
`faultline ingest` with ``FAULTLINE_MQTT_PROTOCOL=3.1.1`` (its session
registered over MQTT 3.1.1) drains its own copy of the same backlog into a
database of its own, before or after the MQTT 5 one (``v311_first``).
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.services import FAULTLINE, Child, Services, cpu_s, faultline_env, rss_mb, wait_count
from bench.traffic import run_child

READY = r"faultline ingest: subscribed to"


@dataclass
class DrainRun:
    n: int
    devices: int
    inflight: int | None  # FAULTLINE_MQTT_MAX_INFLIGHT; None: the product default
    batch_size: int | None  # FAULTLINE_BATCH_SIZE; None: the product default
    processes: int
    rate: float | None = None  # msg/s, subscribed → all stored
    stored: int = 0
    raw_rate: float | None = None  # MQTT 5, receive maximum 1000, like Faultline's default
    raw_v311_rate: float | None = None  # MQTT 3.1.1 (the broker's max_inflight_messages 20000)
    raw_fast_rate: float | None = None  # MQTT 5 on ingest's own receive path (ingest.mqtt_receive): its limit
    v311_rate: float | None = None  # `faultline ingest` over MQTT 3.1.1, same backlog
    v311_cpu_pct: float | None = None
    prefill_rate: float | None = None
    ingest_cpu_pct: float | None = None  # 100 = one core, summed over processes
    rss_mb: float | None = None  # largest ingest process, after the drain
    exit_codes: list = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _start_ingest(services, db, work: Path, cid: str, inflight: int | None, batch_size: int | None,
                  shared: str, workers: int = 1, protocol: str = "5", handoff: int = 0) -> Child:
    extra = {k: v for k, v in (("mqtt_max_inflight", inflight), ("batch_size", batch_size)) if v is not None}
    extra["mqtt_protocol"] = protocol
    if handoff:
        extra["detector_handoff"] = handoff
    if shared:
        extra["mqtt_shared_group"] = shared
    env = faultline_env(services, db, work / cid, cid, **extra)
    return Child([FAULTLINE, "ingest", "--workers", str(workers)], env, work / f"{cid}.log").start()


def _tree(pid: int) -> list[int]:
    """`pid` and its children (the workers of `faultline ingest --workers N`)."""
    try:
        return [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return [pid]


def _ready(child: Child, workers: int, relay: bool) -> float:
    """When `child` is subscribed and, fed by one session (`ingest.relay`), its `workers` have started."""
    t = child.wait_for(READY)
    for i in range(1, workers + 1 if relay else 1):
        t = max(t, child.wait_for(f"worker {i} fed by the relay"))
    return t


def _drain(services: Services, db: str, n: int, children: list[Child], timeout: float, workers: int = 1,
           relay: bool = False) -> dict:
    """Wait until the children have stored all `n` points: rate, stored, CPU (% of a core), largest RSS."""
    t_ready = min(_ready(c, workers, relay) for c in children)
    pids = [p for c in children for p in _tree(c.pid)]
    cpu0 = sum(cpu_s(p) or 0 for p in pids)
    t_done, stored = wait_count(services, db, n, timeout)
    cpu1 = sum(cpu_s(p) or 0 for p in pids)
    out = {"stored": stored, "rss_mb": max((rss_mb(p) or 0) for p in pids), "rate": None, "cpu_pct": None}
    if t_done is not None:
        out["rate"] = n / max(t_done - t_ready, 1e-9)
        out["cpu_pct"] = 100 * (cpu1 - cpu0) / max(t_done - t_ready, 1e-9)
    return out


def drain_once(services: Services, work: Path, n: int, devices: int = 1000, inflight: int | None = None,
               batch_size: int | None = None, processes: int = 1, shared: bool = False, raw: bool = False,
               timeout: float = 300.0, workers: int = 1, v311: bool = False, v311_first: bool = False,
               shared_pool: bool = False) -> DrainRun:
    """One drain; ``workers`` > 1: one `faultline ingest --workers N`, its workers fed by its one session
    (`ingest.relay`), or with ``shared_pool`` N sessions ``<cid>-1..N`` on a shared subscription;
    ``v311``: also one `faultline ingest` over MQTT 3.1.1, first with ``v311_first``."""
    run = DrainRun(n, devices, inflight, batch_size, processes)
    services.fresh_broker()
    db = services.new_database("drain")
    url = services.mosquitto.url
    tag = uuid.uuid4().hex[:6]
    group = f"g{tag}" if shared else ""
    cids = [f"fl-{tag}-{i}" for i in range(processes)]
    pool = workers > 1 and (shared_pool or shared)
    if pool:
        group = group or "ingest"
    topic = f"$share/{group}/devices/#" if group else "devices/#"
    sessions = [f"{cid}-{i}" for cid in cids for i in range(1, workers + 1)] if pool else cids
    for cid in sessions:  # the persistent sessions Faultline resumes: its client id, its subscription
        run_child(["rawsub", "--url", url, "--client-id", cid, "--topic", topic, "--register"])
    if v311:
        run_child(["rawsub", "--url", url, "--client-id", f"fl-{tag}-311", "--topic", topic, "--register", "--v311"])
    raw_id = f"raw-{tag}"
    if raw:
        run_child(["rawsub", "--url", url, "--client-id", raw_id, "--register"])
        run_child(["rawsub", "--url", url, "--client-id", raw_id + "-311", "--register", "--v311"])
        run_child(["rawsub", "--url", url, "--client-id", raw_id + "-fast", "--register", "--fast"])
    base_ms = int(time.time() * 1000) - n - 60_000
    pub = run_child(["publish", "--url", url, "--n", str(n), "--devices", str(devices), "--base-ms", str(base_ms),
                     "--inflight", "1000"])
    run.prefill_rate = pub["rate"]
    if raw:
        out = run_child(["rawsub", "--url", url, "--client-id", raw_id, "--n", str(n)])
        run.raw_rate = out["rate"] if out["received"] >= n else None
        out = run_child(["rawsub", "--url", url, "--client-id", raw_id + "-311", "--n", str(n), "--v311"])
        run.raw_v311_rate = out["rate"] if out["received"] >= n else None
        out = run_child(["rawsub", "--url", url, "--client-id", raw_id + "-fast", "--n", str(n), "--fast"])
        run.raw_fast_rate = out["rate"] if out["received"] >= n else None
    if v311 and v311_first:
        _drain_v311(run, services, work, f"fl-{tag}-311", inflight, batch_size, group, timeout)
    children = [_start_ingest(services, db, work, cid, inflight, batch_size, group, workers) for cid in cids]
    try:
        out = _drain(services, db, n, children, timeout, workers, relay=workers > 1 and not pool)
        run.stored, run.rss_mb, run.rate, run.ingest_cpu_pct = out["stored"], out["rss_mb"], out["rate"], out["cpu_pct"]
        if run.rate is None:
            run.error = f"only {run.stored} of {n} stored after {timeout:.0f}s"
    finally:
        run.exit_codes += [c.stop() for c in children]
        services.drop_database(db)
        for cid in cids:
            shutil.rmtree(work / cid, ignore_errors=True)
    if v311 and not v311_first:
        _drain_v311(run, services, work, f"fl-{tag}-311", inflight, batch_size, group, timeout)
    return run


def _drain_v311(run: DrainRun, services: Services, work: Path, cid: str, inflight: int | None,
                batch_size: int | None, group: str, timeout: float) -> None:
    db = services.new_database("drain311")
    child = _start_ingest(services, db, work, cid, inflight, batch_size, group, protocol="3.1.1")
    try:
        out = _drain(services, db, run.n, [child], timeout)
        run.v311_rate, run.v311_cpu_pct = out["rate"], out["cpu_pct"]
        if run.v311_rate is None:
            run.error = f"MQTT 3.1.1: only {out['stored']} of {run.n} stored after {timeout:.0f}s"
    finally:
        run.exit_codes.append(child.stop())
        services.drop_database(db)
        shutil.rmtree(work / cid, ignore_errors=True)
