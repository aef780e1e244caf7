"""Time per write of a 5000-point batch through InfluxClient, against a real influxd.

Starts its own InfluxDB on a free port in a temporary directory (stopped at
the end), writes telemetry-shaped batches (already encoded) and prints JSON:
the median wall time per write (client and server together), the client's
own CPU time per write, and points/s, with and without gzip.

    .venv/bin/python bench/bench_influx_write.py [--batch 5000] [--writes 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_line_protocol import make_points
from faultline.stack import Influxd, free_port
from influx.client import InfluxClient
from influx.line_protocol import encode_line


def batches(batch: int, writes: int) -> list[bytes]:
    """``writes`` distinct batches (distinct timestamps), encoded once up front."""
    points = make_points(batch * writes)
    lines = [encode_line(*p) for p in points]
    return [("\n".join(lines[i:i + batch]) + "\n").encode() for i in range(0, len(lines), batch)]


def measure(client: InfluxClient, bodies: list[bytes], gzip: bool) -> dict:
    wall, cpu = [], []
    client.write(bodies[0], gzip=gzip)  # warm the connection and the shard
    for body in bodies[1:]:
        w0, c0 = time.perf_counter(), time.process_time()
        client.write(body, gzip=gzip)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    batch = bodies[0].count(b"\n")
    return {
        "median_wall_ms_per_write": round(statistics.median(wall) * 1000, 2),
        "median_client_cpu_ms_per_write": round(statistics.median(cpu) * 1000, 2),
        "points_per_s_wall": round(batch / statistics.median(wall)),
        "body_kib": round(len(bodies[1]) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--writes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faultline-bench-") as tmp:
        influxd = Influxd(Path(tmp) / "influx", free_port())
        influxd.start()
        try:
            results = {"batch": args.batch, "writes": args.writes}
            for gzip in (False, True):
                client = InfluxClient(influxd.url, f"bench_{'gzip' if gzip else 'plain'}")
                client.ensure_database()
                results["gzip" if gzip else "plain"] = measure(client, batches(args.batch, args.writes + 1), gzip)
                client.close()
        finally:
            influxd.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
