"""Telemetry detector throughput of two checkouts, interleaved in one process (a benchmark, not a test).

``python -m bench.ab_detectors BASE [--devices 200] [--readings 1500] [--grown] [--runs 4]``
compares the checkout at ``BASE`` (e.g. ``git worktree add /tmp/base HEAD~1``)
with this one on the same telemetry rows as `bench.bench_detectors`: both
code bases are imported side by side and fed alternating chunks of rows, so
a machine whose speed moves from minute to minute (a shared VM: a fifth
within an hour) slows both alike. Separate processes run minutes apart
cannot show a 5 % effect on such a machine; this can. Prints, per run, rows/s
of each and this checkout's over ``BASE``'s, then the median and geometric
mean of the ratios. Each run is a fresh process and the side imported first
alternates between runs: with the same checkout on both sides, the code
imported second ran 1.5–3.5 % faster in every run, so only an even number of
runs, half each way, cancels that.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PACKAGES = ("detectors", "ingest", "bench", "simulators", "faultline")


def load(root: Path):
    """(bench.bench_detectors, detectors.engine) imported from ``root``; modules of an earlier root forgotten."""
    for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module("bench.bench_detectors"), importlib.import_module("detectors.engine")
    finally:
        sys.path.remove(str(root))


def run(sides, devices: int, readings: int, grown: bool, chunk: int = 2000) -> list[float]:
    """Rows/s of each side on the same rows, chunks alternating (which side goes first alternates too)."""
    rows, engines = [], []
    for bench, engine in sides:
        rows.append(bench.telemetry_records(devices, readings))  # each side's own record classes
        config = engine.EngineConfig(telemetry_grace=60, **({"telemetry_young": 60} if grown else {}))
        engines.append(engine.DetectorEngine(config))
    spent = [0.0] * len(sides)
    for start in range(0, len(rows[0]), chunk):
        order = range(len(sides)) if (start // chunk) % 2 == 0 else reversed(range(len(sides)))
        for i in order:
            process, part = engines[i].process, rows[i][start:start + chunk]
            t = time.perf_counter()
            for record in part:
                process(record)
            spent[i] += time.perf_counter() - t
    return [len(rows[0]) / s for s in spent]


def one_run(base: Path, this_first: bool, devices: int, readings: int, grown: bool) -> tuple[float, float]:
    """(base's rows/s, this checkout's) in this process, the code of ``this_first``'s side imported first."""
    roots = [HERE, base] if this_first else [base, HERE]
    sides = [load(root) for root in roots]
    rates = run(sides, devices, readings, grown)
    return (rates[1], rates[0]) if this_first else (rates[0], rates[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the other checkout (its root directory)")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--readings", type=int, default=1500)
    parser.add_argument("--grown", action="store_true", help="devices grown after 60 readings (level scored)")
    parser.add_argument("--runs", type=int, default=4, help="an even number: each side imported first as often")
    parser.add_argument("--one", choices=("base", "this"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.base / "detectors" / "engine.py").is_file():
        parser.error(f"{args.base}: not a checkout of this project (no detectors/engine.py)")
    if args.one is not None:  # a run in its own process (see below)
        base, this = one_run(args.base.resolve(), args.one == "this", args.devices, args.readings, args.grown)
        print(json.dumps([base, this]))
        return
    ratios = []
    for n in range(args.runs):
        # each run in a fresh process, the side imported first alternating: the code imported second ran a
        # few per cent faster in every run with the same checkout on both sides, whichever was built first
        first = ("base", "this")[n % 2]
        out = subprocess.run([sys.executable, "-m", "bench.ab_detectors", str(args.base), "--one", first,
                              "--devices", str(args.devices), "--readings", str(args.readings)]
                             + (["--grown"] if args.grown else []), cwd=HERE, capture_output=True, text=True,
                             check=True)
        base, this = json.loads(out.stdout.splitlines()[-1])
        ratios.append(this / base)
        print(f"run {n + 1} ({'this checkout' if first == 'this' else 'base'} imported first): "
              f"base {base:,.0f} rows/s, this checkout {this:,.0f} rows/s, ratio {this / base:.3f}")
    print(f"median ratio (this checkout / base): {statistics.median(ratios):.3f}; "
          f"geometric mean: {statistics.geometric_mean(ratios):.3f}")


if __name__ == "__main__":
    main()
