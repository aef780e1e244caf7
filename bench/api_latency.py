"""API latency: `faultline api` (a real uvicorn process) over a SQLite store of 100,000 tickets.

Tickets are inserted straight into the ``tickets`` table in bulk (one row per
alert key, states and times spread over 90 days, evidence JSON with 20 log
lines each, like a ticket the service opened). A load generator (threads
with one httpx client each, separate from the server process) keeps
``concurrency`` requests in flight for ``seconds`` per endpoint; each
repetition reports p50/p99 of its request latencies and the request rate.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.services import FAULTLINE, Child
from faultline.stack import free_port

DAY_MS = 86_400_000
ENDPOINTS = {"tickets": "/api/v1/tickets?limit=50", "kpis": "/api/v1/kpis"}


def _evidence(rng: random.Random, device: str, onset: int) -> str:
    from tickets.evidence import Evidence, Explanation, LogEntry

    logs = tuple(LogEntry(onset + k * 1000, device, "ERROR" if k < 8 else "WARN", "motor", "E214",
                          f"overcurrent on phase {'ABC'[k % 3]} ({rng.random():.3f} A over limit)") for k in range(20))
    ev = Evidence(onset + 60_000, True, (), onset - 3_600_000, onset + 600_000,
                  Explanation("12 faults in 1h against 0.4 expected", 12.0, 0.4, 9.1, 6.0), logs=logs)
    return json.dumps(ev.to_dict())


def _evidence_templates(rng: random.Random, count: int = 64) -> list[str]:
    """A few evidence documents with placeholders (building 100,000 of them would dominate the fill)."""
    return [_evidence(rng, "@DEVICE@", 1_000_000_000_000 + k) for k in range(count)]


def fill_tickets(sql_url: str, n: int, seed: int = 1, now_ms: int | None = None) -> None:
    from database import make_engine, migrate
    from tickets.models import TicketRow

    migrate(sql_url)
    engine = make_engine(sql_url)
    rng = random.Random(seed)
    now_ms = now_ms or int(time.time() * 1000)
    states = ("open", "acknowledged", "resolved", "closed", "reopened")
    templates, rows = _evidence_templates(rng), []
    for i in range(n):
        device, state = f"dev-{i % 20000:05d}", rng.choices(states, (10, 10, 40, 38, 2))[0]
        opened = now_ms - rng.randrange(90 * DAY_MS)
        acked = opened + rng.randrange(60_000, 4 * 3_600_000) if state != "open" else None
        resolved = (acked or opened) + rng.randrange(600_000, 3 * DAY_MS) if state in ("resolved", "closed") else None
        rows.append(dict(
            key=f"device_fault_rate|device|{device}|E{200 + i % 50}|{i}", episode=1,
            title=f"Fault rate E{200 + i % 50} on {device}", severity=rng.choice(("minor", "major", "critical")),
            state=state, detector="device_fault_rate", scope="device", subject=device, code=f"E{200 + i % 50}",
            model=f"PX-{100 * (1 + i % 4)}", firmware=f"2.{i % 5}.0", site=f"site-{i % 30:02d}",
            customer=f"cust-{i % 40}", tier=("gold", "silver", "bronze")[i % 3], opened_ms=opened,
            acknowledged_ms=acked, resolved_ms=resolved, closed_ms=resolved if state == "closed" else None,
            reopened_ms=None, updated_ms=resolved or acked or opened, alert_state="firing",
            alert_starts_ms=opened, onset_ms=opened, last_seen_ms=opened + 3_600_000, count=rng.randrange(1, 50),
            alert_count=1, recurrences=1 if rng.random() < 0.1 else 0, flapping=False,
            resolved_by=("auto" if resolved and rng.random() < 0.3 else "tech") if resolved else None,
            version=1, explanation="observed 12 faults/h against 0.4 expected",
            evidence=templates[i % len(templates)].replace("@DEVICE@", device), evidence_complete=True, evidence_ms=opened + 60_000))
    with engine.begin() as conn:
        for k in range(0, n, 5000):
            conn.execute(TicketRow.__table__.insert(), rows[k:k + 5000])
    engine.dispose()


def api_key(sql_url: str) -> str:
    from api.keys import KeyStore
    from database import make_engine

    return KeyStore(make_engine(sql_url)).create("bench", "viewer")[1]


@dataclass
class LoadResult:
    endpoint: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    rps: float | None = None
    requests: int = 0
    errors: int = 0
    samples: list = field(default_factory=list, repr=False)


def load(url: str, key: str, path: str, concurrency: int, seconds: float) -> LoadResult:
    import httpx

    result = LoadResult(path)
    lock, stop_at = threading.Lock(), time.perf_counter() + seconds

    def worker():
        lat, errs = [], 0
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                ok = client.get(path).status_code == 200
                lat.append(time.perf_counter() - t0) if ok else None
                errs += 0 if ok else 1
        with lock:
            result.samples.extend(lat)
            result.errors += errs

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    s = sorted(result.samples)
    result.requests = len(s)
    if s:
        result.p50_ms = 1000 * statistics.median(s)
        result.p99_ms = 1000 * s[min(len(s) - 1, int(0.99 * len(s)))]
        result.rps = len(s) / elapsed
    return result


def api_runs(work: Path, tickets: int, reps: int, seconds: float, concurrency: int = 8) -> dict:
    """{endpoint: [LoadResult per repetition]} plus the fill time."""
    data = work / "api-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    sql_url = f"sqlite:///{(data / 'database').resolve()}"
    t0 = time.perf_counter()
    fill_tickets(sql_url, tickets)
    fill_s = time.perf_counter() - t0
    key = api_key(sql_url)
    port = free_port()
    env = {"FAULTLINE_DATA_DIR": str(data), "FAULTLINE_LOG_LEVEL": "WARNING", "FAULTLINE_API_PORT": str(port)}
    child = Child([FAULTLINE, "api"], env, work / "api.log").start()
    out: dict = {"fill_s": fill_s, "runs": {name: [] for name in ENDPOINTS}}
    try:
        child.wait_healthy(f"http://127.0.0.1:{port}/health", timeout=60)
        for name, path in ENDPOINTS.items():
            load(f"http://127.0.0.1:{port}", key, path, 2, 1.0)  # warm-up
        for _ in range(reps):
            for name, path in ENDPOINTS.items():
                out["runs"][name].append(load(f"http://127.0.0.1:{port}", key, path, concurrency, seconds))
    finally:
        child.stop()
        shutil.rmtree(data, ignore_errors=True)
    return out
