"""Line-protocol encoding speed: Faultline's encoder against influxdb_client's Point.

Encodes the same 100k points (telemetry-shaped: four tags, three floats and
an int; one in ten a log line with strings) with ``encode_line`` and with
``Point.to_line_protocol`` (points built beforehand, and built in the loop),
and prints JSON with points/s (CPU time of this process), the median of
three runs each, and the ratio against the ingest target of 30k points/s on
one core.

    .venv/bin/python bench/bench_line_protocol.py [--points N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from influxdb_client import Point

from influx.line_protocol import encode_line

TARGET_POINTS_PER_S = 30_000


def make_points(n: int, seed: int = 7) -> list[tuple[str, dict, dict, int]]:
    rng = random.Random(seed)
    models, firmwares, sites = ["PX-200", "PX-300", "QT-9"], ["2.1.0", "2.0.3", "1.9.9"], ["sh-01", "sh-03", "b 2"]
    points = []
    for i in range(n):
        tags = {"device": f"dev-{rng.randrange(2000):04d}", "model": rng.choice(models),
                "firmware": rng.choice(firmwares), "site": rng.choice(sites)}
        ts = 1_700_000_000_000 + i
        if i % 10 == 9:
            tags.update(level="ERROR", component="motor")
            fields = {"msg": f'overcurrent on phase "B" #{i}', "code": "E214", "seq": i}
            points.append(("device_logs", tags, fields, ts))
        else:
            fields = {"temp_c": rng.uniform(20, 90), "vibration_rms": rng.random(), "current_a": rng.gauss(5, 1),
                      "seq": i}
            points.append(("telemetry", tags, fields, ts))
    return points


def to_point(measurement: str, tags: dict, fields: dict, ts: int) -> Point:
    point = Point(measurement)
    for k, v in tags.items():
        point.tag(k, v)
    for k, v in fields.items():
        point.field(k, v)
    return point.time(ts)


def rate(fn, n: int, runs: int = 3) -> float:
    """Median points/s over ``runs`` runs of ``fn()`` (which encodes ``n`` points),
    in CPU time of this process: on a shared machine wall time measures the neighbours."""
    timings = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        timings.append(time.process_time() - start)
    return n / statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    n = parser.parse_args().points
    points = make_points(n)
    built = [to_point(*p) for p in points]
    ours = [encode_line(*p) for p in points]
    theirs = [p.to_line_protocol() for p in built]
    assert ours == theirs, "the encoders disagree on the benchmark points"

    faultline = rate(lambda: [encode_line(m, t, f, ts) for m, t, f, ts in points], n)
    point_encode = rate(lambda: [p.to_line_protocol() for p in built], n)
    point_build_encode = rate(lambda: [to_point(*p).to_line_protocol() for p in points], n)
    print(json.dumps({
        "points": n,
        "faultline_encode_line_points_per_s": round(faultline),
        "influxdb_client_point_to_line_protocol_points_per_s": round(point_encode),
        "influxdb_client_point_build_and_encode_points_per_s": round(point_build_encode),
        "speedup_vs_to_line_protocol": round(faultline / point_encode, 2),
        "speedup_vs_build_and_encode": round(faultline / point_build_encode, 2),
        "ratio_to_target_30k_per_s": round(faultline / TARGET_POINTS_PER_S, 2),
        "bytes_per_point": round(sum(map(len, ours)) / n, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
