"""Workspace and API latency at fleet size: queue page, ticket page, ticket list, KPIs, 8 requests in flight.

``faultline api`` runs as its own process over a store filled in bulk:
SQLite with 100,000 tickets (rows inserted in batches of 5,000) and
PostgreSQL with 1,000,000 (``COPY`` from a generated stream; the database is
created for the run and dropped after it). Tickets spread over 90 days and
five states like `bench.api_latency`'s; one in `EVIDENCE_EVERY` carries a
20-line evidence document (the others a short one), which keeps the
PostgreSQL fill to minutes. A load generator (threads, one httpx client each, a signed-in
session for the pages) keeps 8 requests in flight for `seconds` per
endpoint; each repetition reports p50/p95/p99.

``python -m bench.workspace_latency [--sqlite N] [--postgres N] [--seconds S] [--reps R] [--api-workers W]``
prints the figures as a Markdown table (what docs/performance.md quotes).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.api_latency import _evidence_templates, api_key
from bench.services import FAULTLINE, Child
from faultline.stack import free_port

DAY_MS = 86_400_000
EVIDENCE_EVERY = 10
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench password, long enough"
STATES = ("open", "acknowledged", "resolved", "closed", "reopened")
COLUMNS = ("key", "episode", "title", "severity", "state", "detector", "scope", "subject", "code", "model",
           "firmware", "site", "customer", "tier", "opened_ms", "acknowledged_ms", "resolved_ms", "closed_ms",
           "reopened_ms", "updated_ms", "alert_state", "alert_starts_ms", "onset_ms", "last_seen_ms", "count",
           "alert_count", "recurrences", "flapping", "resolved_by", "version", "explanation", "evidence",
           "evidence_complete", "evidence_ms", "source")


def ticket_rows(n: int, seed: int = 1, now_ms: int | None = None):
    """`n` ticket rows (dicts), generated lazily."""
    rng = random.Random(seed)
    now_ms = now_ms or int(time.time() * 1000)
    templates = _evidence_templates(rng)
    short = json.dumps({"gathered_ms": 0, "complete": True, "errors": [], "window_start_ms": 0, "window_end_ms": 1,
                        "explanation": {"text": "x", "observed": 1.0, "expected": 0.1, "score": 5.0,
                                        "threshold": 4.0, "attribution": ""}})
    for i in range(n):
        device, state = f"dev-{i % 20000:05d}", rng.choices(STATES, (10, 10, 40, 38, 2))[0]
        opened = now_ms - rng.randrange(90 * DAY_MS)
        acked = opened + rng.randrange(60_000, 4 * 3_600_000) if state != "open" else None
        resolved = (acked or opened) + rng.randrange(600_000, 3 * DAY_MS) if state in ("resolved", "closed") else None
        evidence = templates[i % len(templates)].replace("@DEVICE@", device) if i % EVIDENCE_EVERY == 0 else short
        yield dict(
            key=f"device_fault_rate|device|{device}|E{200 + i % 50}|{i}", episode=1,
            title=f"Fault rate E{200 + i % 50} on {device}", severity=rng.choice(("minor", "major", "critical")),
            state=state, detector="device_fault_rate", scope="device", subject=device, code=f"E{200 + i % 50}",
            model=f"PX-{100 * (1 + i % 4)}", firmware=f"2.{i % 5}.0", site=f"site-{i % 30:02d}",
            customer=f"cust-{i % 40}", tier=("gold", "silver", "bronze")[i % 3], opened_ms=opened,
            acknowledged_ms=acked, resolved_ms=resolved, closed_ms=resolved if state == "closed" else None,
            reopened_ms=None, updated_ms=resolved or acked or opened, alert_state="firing",
            alert_starts_ms=opened, onset_ms=opened, last_seen_ms=opened + 3_600_000, count=rng.randrange(1, 50),
            alert_count=1, recurrences=1 if rng.random() < 0.1 else 0, flapping=False,
            resolved_by=("faultline" if rng.random() < 0.3 else "tech") if resolved else None,
            version=1, explanation="observed 12 faults/h against 0.4 expected", evidence=evidence,
            evidence_complete=True, evidence_ms=opened + 60_000, source="detector")


def fill_sqlite(sql_url: str, n: int) -> None:
    from database import make_engine, migrate
    from tickets.models import TicketRow

    migrate(sql_url)
    engine = make_engine(sql_url)
    batch = []
    with engine.begin() as conn:
        for row in ticket_rows(n):
            batch.append(row)
            if len(batch) == 5000:
                conn.execute(TicketRow.__table__.insert(), batch)
                batch = []
        if batch:
            conn.execute(TicketRow.__table__.insert(), batch)
    engine.dispose()


def _copy_value(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def fill_postgres(sql_url: str, n: int) -> None:
    """Migrate, then COPY `n` rows in chunks, then ANALYZE."""
    import psycopg

    from database import migrate

    migrate(sql_url)
    with psycopg.connect(sql_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                buf = io.StringIO()
                for i, row in enumerate(ticket_rows(n)):
                    buf.write("\t".join(_copy_value(row[c]) for c in COLUMNS) + "\n")
                    if i % 20_000 == 19_999:
                        copy.write(buf.getvalue())
                        buf = io.StringIO()
                copy.write(buf.getvalue())
            cur.execute("ANALYZE tickets")


def cold_ms(sql_url: str, reps: int = 5) -> dict:
    """Median ms of the aggregates computed afresh (no reuse), one at a time, without HTTP."""
    from tickets.ticket_queries import TicketFilter
    from tickets.queue import QueueQuery, _tally
    from database import make_engine
    from tickets import kpi_queries
    from tickets.aggregates import AggregateCache

    engine = make_engine(sql_url)
    out = {}
    try:
        cases = {"KPIs (one aggregate)": lambda conn: AggregateCache(ttl_s=0).get(
                     conn, "k", lambda c: kpi_queries._kpis(c.execute(
                         kpi_queries.select(*kpi_queries._columns()).where(
                             kpi_queries.T.c.merged_into.is_(None))).one())),
                 "queue counts (state × severity)": lambda conn: AggregateCache(ttl_s=0).get(
                     conn, "q", _tally(QueueQuery(TicketFilter(("active",)))))}
        with engine.connect() as conn:
            for name, fn in cases.items():
                times = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    fn(conn)
                    times.append(1000 * (time.perf_counter() - t0))
                out[name] = round(statistics.median(times), 1)
    finally:
        engine.dispose()
    return out


@dataclass
class Load:
    name: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    rps: float | None = None
    errors: int = 0
    samples: list = field(default_factory=list, repr=False)


def _session_cookie(url: str) -> dict:
    import re

    import httpx

    with httpx.Client(base_url=url) as c:
        form = c.get("/ui/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        c.post("/ui/login", data={"name": "bench", "password": PASSWORD, "csrf": csrf, "next": "/ui/tickets"})
        return {"faultline_session": c.cookies["faultline_session"]}


def load(url: str, headers: dict, cookies: dict, paths, concurrency: int, seconds: float, name: str) -> Load:
    """Keep `concurrency` GETs in flight; `paths()` gives the next path."""
    import httpx

    result, lock, stop_at = Load(name), threading.Lock(), time.perf_counter() + seconds

    def worker():
        lat, errs = [], 0
        with httpx.Client(base_url=url, headers=headers, cookies=cookies, timeout=60) as client:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                ok = client.get(paths()).status_code == 200
                if ok:
                    lat.append(time.perf_counter() - t0)
                else:
                    errs += 1
        with lock:
            result.samples.extend(lat)
            result.errors += errs

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = sorted(result.samples)
    if s:
        def pct(q):
            return 1000 * s[min(len(s) - 1, int(q * len(s)))]
        result.p50_ms, result.p95_ms, result.p99_ms = 1000 * statistics.median(s), pct(0.95), pct(0.99)
        result.rps = len(s) / (time.perf_counter() - started)
    return result


def measure(kind: str, n: int, work: Path, seconds: float, reps: int, workers: int = 1) -> dict:
    """Fill a store of `kind` (sqlite|postgresql) with `n` tickets, serve it (`faultline api --workers`),
    load each endpoint."""
    import psycopg

    from api.users import UserStore
    from database import make_engine

    data = work / f"workspace-{kind}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    pg_name = None
    if kind == "sqlite":
        sql_url = f"sqlite:///{(data / 'database').resolve()}"
        t0 = time.perf_counter()
        fill_sqlite(sql_url, n)
    else:
        pg_name = f"faultline_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        sql_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
        t0 = time.perf_counter()
        fill_postgres(sql_url, n)
    fill_s = time.perf_counter() - t0
    cold = cold_ms(sql_url)
    key = api_key(sql_url)
    engine = make_engine(sql_url)
    UserStore(engine).create("bench", "viewer", PASSWORD)
    engine.dispose()
    port = free_port()
    env = {"FAULTLINE_DATA_DIR": str(data), "FAULTLINE_LOG_LEVEL": "WARNING", "FAULTLINE_API_PORT": str(port),
           "FAULTLINE_DATABASE_URL": "" if kind == "sqlite" else sql_url}
    child = Child([FAULTLINE, "api", "--workers", str(workers)], env, work / f"workspace-{kind}.log").start()
    url = f"http://127.0.0.1:{port}"
    rng = random.Random(7)
    endpoints = {
        "queue page": (lambda: f"/ui/tickets?state=active&page={rng.randrange(1, 5)}", True),
        "ticket page": (lambda: f"/ui/tickets/{rng.randrange(1, n + 1)}", True),
        "queue search": (lambda: f"/ui/tickets?state=active&q=dev-{rng.randrange(20000):05d}", True),
        "GET /api/v1/tickets?limit=50": (lambda: "/api/v1/tickets?limit=50", False),
        "GET /api/v1/kpis": (lambda: "/api/v1/kpis", False),
    }
    out = {"kind": kind, "tickets": n, "workers": workers, "fill_s": round(fill_s, 1), "cold_ms": cold,
           "runs": {name: [] for name in endpoints}}
    try:
        child.wait_healthy(f"{url}/health", timeout=90, poll=0.2)
        cookies = _session_cookie(url)
        auth = {"Authorization": f"Bearer {key}"}
        for name, (paths, page) in endpoints.items():  # warm-up
            load(url, {} if page else auth, cookies if page else {}, paths, 8, 1.0, name)
        for _ in range(reps):
            for name, (paths, page) in endpoints.items():
                out["runs"][name].append(load(url, {} if page else auth, cookies if page else {}, paths, 8, seconds,
                                              name))
    finally:
        child.stop()
        shutil.rmtree(data, ignore_errors=True)
        if pg_name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    return out


GOALS = {"queue page": ("p95_ms", 200), "ticket page": ("p95_ms", 200), "queue search": ("p95_ms", 200),
         "GET /api/v1/tickets?limit=50": ("p99_ms", 100), "GET /api/v1/kpis": ("p99_ms", 100)}


def table(results: list[dict]) -> list[str]:
    lines = ["| store | tickets | API processes | endpoint | p50 ms | p95 ms | p99 ms | goal | req/s | errors |",
             "|---|---:|---:|---|---:|---:|---:|---|---:|---:|"]
    for r in results:
        for name, runs in r["runs"].items():
            def med(attr):
                vals = [getattr(x, attr) for x in runs if getattr(x, attr) is not None]
                return f"{statistics.median(vals):.1f}" if vals else "n/a"
            which, limit = GOALS[name]
            lines.append(f"| {r['kind']} | {r['tickets']:,} | {r.get('workers', 1)} | {name} | {med('p50_ms')} | {med('p95_ms')} | "
                         f"{med('p99_ms')} | {which[:3]} ≤ {limit} | {med('rps')} | {sum(x.errors for x in runs)} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workspace_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=int, default=100_000, help="tickets on SQLite (0: skip)")
    parser.add_argument("--postgres", type=int, default=1_000_000, help="tickets on PostgreSQL (0: skip)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--api-workers", type=int, default=1, help="faultline api --workers")
    args = parser.parse_args(argv)
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="faultline-bench-ws-"))
    results = []
    try:
        for kind, n in (("sqlite", args.sqlite), ("postgresql", args.postgres)):
            if n:
                r = measure(kind, n, work, args.seconds, args.reps, args.api_workers)
                print(f"# {kind}: {n:,} tickets filled in {r['fill_s']} s; computed afresh: {r['cold_ms']}",
                      flush=True)
                results.append(r)
                print("\n".join(table([r])), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(table(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def similar_ms(sql_url: str, queries: int = 20) -> dict:
    """Median ms of `find_similar` for a new ticket: candidates from the full-text index against the 2,000
    newest resolved tickets (the index is filled here from the bulk-inserted rows, as the migration does)."""
    from unittest import mock

    from sqlalchemy import select, text

    from database import make_engine
    from tickets import case_text, similar, similar_search
    from tickets.models import TicketRow

    T = TicketRow.__table__
    engine = make_engine(sql_url)
    rng = random.Random(3)
    try:
        with engine.begin() as conn:
            rows = conn.execute(select(T.c.id, T.c.title, T.c.explanation, T.c.evidence).where(
                T.c.state.in_(("resolved", "closed")), T.c.root_cause.is_(None))).all()
            conn.execute(T.update().where(T.c.state.in_(("resolved", "closed"))).values(
                root_cause="bench cause", resolution="bench fix"))
            if conn.dialect.name == "sqlite":
                conn.execute(text("INSERT INTO ticket_fts (rowid, body) VALUES (:id, :body)"),
                             [{"id": r.id, "body": case_text.case_text(r.title, r.explanation, r.evidence)}
                              for r in rows])
            else:
                conn.execute(text("INSERT INTO ticket_fts (ticket_id, doc) VALUES (:id, to_tsvector('simple', :body))"),
                             [{"id": r.id, "body": case_text.case_text(r.title, r.explanation, r.evidence)}
                              for r in rows])
        out = {}
        for label, patch in (("full-text candidates", None), ("2,000 newest", None)):
            times = []
            with engine.connect() as conn:
                for k in range(queries):
                    code = f"E{200 + rng.randrange(50)}"
                    q = similar.CaseText(0, f"Fault rate {code} on dev-{rng.randrange(20000):05d} overcurrent phase B",
                                         code, "PX-200", "2.1.0")
                    t0 = time.perf_counter()
                    if label == "2,000 newest":
                        with mock.patch.object(similar_search, "candidates", lambda *a, **kw: None):
                            similar.find_similar(conn, q)
                    else:
                        similar.find_similar(conn, q)
                    times.append(1000 * (time.perf_counter() - t0))
            out[label] = round(statistics.median(times), 1)
        return {**out, "indexed": len(rows)}
    finally:
        engine.dispose()
