"""Ticket open-or-update throughput under contention: processes hammering one alert key.

Standalone: ``.venv/bin/python bench/tickets_apply_bench.py [--processes 6] [--calls 100]
[--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]``. Each process applies
`--calls` repeats of one alert (no InfluxDB: evidence is the explanation and
similar cases only). Prints, per database, the ticket count (must be 1), the
counted calls (must be processes x calls) and applies per second. With
``--pg`` a database ``faultline_bench_<random>`` is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
import uuid

from sqlalchemy import text

from alerts.alert import Alert
from database import make_engine, migrate
from detectors.anomaly import Anomaly
from tickets.service import TicketService

T_MS = 1_700_000_000_000


def repeat_of_one_alert(count: int) -> Alert:
    """The same device alert (one key) seen for the `count`-th time."""
    anomaly = Anomaly("device_fault_rate", "device", "pump-7", "E214", T_MS, T_MS - 60_000, 8.0, 12.0, 2.0, 5.0,
                      300.0, "E214 rate 12/5min against 2 expected", model="PX-200", firmware="2.1.0", site="sh-03")
    return Alert(anomaly.key, "device_fault_rate", "device", "pump-7", "E214", "major", "firing", T_MS - 60_000,
                 T_MS, None, count, False, anomaly)


def apply_many(url: str, calls: int, barrier=None) -> list[int]:
    """One process's share: apply `calls` repeats of the alert, all processes starting together; the ticket ids."""
    engine = make_engine(url)
    service = TicketService(engine, None, None, None, now=lambda: T_MS)
    if barrier is not None:
        barrier.wait()
    try:
        return [service.apply(repeat_of_one_alert(i + 1)).id for i in range(calls)]
    finally:
        engine.dispose()


def run(url: str, processes: int, calls: int) -> dict:
    migrate(url)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(processes) as pool:
        barrier = manager.Barrier(processes)
        start = time.perf_counter()
        pool.starmap(apply_many, [(url, calls, barrier)] * processes)
        elapsed = time.perf_counter() - start
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count FROM tickets")).all()
    engine.dispose()
    return {"tickets": len(rows), "counted": sum(r[0] for r in rows), "expected": processes * calls,
            "applies_per_s": round(processes * calls / elapsed, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--processes", type=int, default=6)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--pg", default="")
    args = ap.parse_args()
    out = {"sqlite": run(f"sqlite:///{tempfile.mkdtemp()}/bench.db", args.processes, args.calls)}
    if args.pg:
        import psycopg

        name = f"faultline_bench_{uuid.uuid4().hex[:10]}"
        admin_dsn = args.pg.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            out["postgresql"] = run(args.pg.rsplit("/", 1)[0] + "/" + name, args.processes, args.calls)
        finally:
            with psycopg.connect(admin_dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
