"""`python -m bench [--quick]`: Faultline's benchmarks, each against a limit measured in the same run.

Prints a table (median, min, max over the repetitions) and writes
``bench/results/latest.json``. Quick mode (smaller N, fewer repetitions, one
worker kill -9 of 12,000 messages, no fault → ticket run, no peer: so no
Node-RED, no kill -9 of the whole process, no InfluxDB stop) takes about two
minutes; full mode about twenty-five (the workspace section fills 1,000,000
tickets in PostgreSQL when one runs).
Mosquitto and InfluxDB are started on free ports in a temporary directory
and stopped at the end; the peer (Node-RED) runs through its own script on
its own ports. See docs/performance.md for the method and the figures.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import suite
from bench.machine import machine_info
from bench.plan import FULL, QUICK
from bench.report import Report
from bench.services import Services

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("ingest", "shared", "workers", "kill", "memory", "live", "detectors", "latency", "api", "workspace", "simulator",
            "peer")


def _run_section(report: Report, name: str, fn, *args) -> None:
    started = time.monotonic()
    suite._log(f"{name} ...")
    try:
        fn(report, *args)
    except Exception as exc:  # noqa: BLE001 - one failed section must not hide the others
        traceback.print_exc(file=sys.stderr)
        report.failed(name, f"{type(exc).__name__}: {exc}")
    report.details.setdefault("section_seconds", {})[name] = round(time.monotonic() - started, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller N, fewer repetitions (about a minute)")
    parser.add_argument("--only", default="", help=f"comma list of sections: {','.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    only = set(filter(None, args.only.split(","))) or set(SECTIONS)
    report = Report(plan.name, machine_info())
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="faultline-bench-"))
    services = Services(root / "stack").start()
    work = root / "work"
    try:
        for name, fn, extra in (("ingest", suite.ingest, (services, work, plan)),
                                ("shared", suite.shared, (services, work, plan)),
                                ("workers", suite.workers, (services, work, plan)),
                                ("kill", suite.worker_kill, (services, work, plan)),
                                ("memory", suite.memory, (services, work, plan)),
                                ("live", suite.live, (services, work, plan)),
                                ("latency", suite.latency, (services, work, plan)),
                                ("detectors", suite.detectors, (plan,)),
                                ("api", suite.api, (work, plan)),
                                ("workspace", suite.workspace, (work, plan)),
                                ("simulator", suite.simulator, (plan,))):
            if name in only and _enabled(name, plan):
                _run_section(report, name, fn, *extra)
    finally:
        services.stop()
    try:
        if "peer" in only and plan.peer:
            _run_section(report, "peer", suite.peer, work, plan)
        elif "peer" in only:
            report.rows.append(("peer: skipped in quick mode", "Node-RED, faultline_vs_nodered, kill -9 of the "
                                "whole process, InfluxDB stopped 15 s: `make bench`", "", "", 0))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report.details["duration_s"] = round(time.monotonic() - started, 1)
    print(f"Faultline benchmarks ({plan.name} mode) on {report.machine['cpu_model']}, "
          f"{report.machine['cores']} cores, load at start {report.machine['load_avg_at_start']}")
    print(report.table())
    print(f"total {report.details['duration_s']:.0f} s; results in {args.out}")
    report.write(args.out)
    return 1 if report.errors else 0


def _enabled(name: str, plan) -> bool:
    return {"live": plan.live_reps > 0, "latency": plan.latency_incidents > 0}.get(name, True)


if __name__ == "__main__":
    sys.exit(main())
