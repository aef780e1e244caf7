"""CPU per message of one detector shard and of one ingest process, draining the same backlog.

    .venv/bin/python -m bench.detect_shard_cpu [--n 40000] [--reps 3] [--v311] [--handoff]

Every detector shard reads and decodes the whole stream, so a shard's
ceiling is 1e6 / (its CPU µs per message of the stream), whatever the shard
count. Sessions for `faultline ingest`, `faultline detect --shard 0/2` and
`--shard 1/2` are registered, N QoS 1 telemetry messages (1,000 devices) are
queued for each, then each process drains its copy alone (one after the
other, order rotated per repetition): user+sys CPU from its ``subscribed``
line until it is idle (less than 0.02 s of CPU in 2 s; ingest: until
InfluxDB holds N) divided by N. CPU time, not wall time: on a shared machine
it does not count waiting for a core. ``--v311`` adds both shards again over
MQTT 3.1.1 (``FAULTLINE_MQTT_PROTOCOL=3.1.1``, sessions of their own), in
the same rotation. ``--handoff`` adds `FAULTLINE_DETECTOR_HANDOFF=2`
(`ingest.handoff`): ``ingest handoff`` drains the same backlog into a
database of its own while handing each shard its part, then both shards
drain what it handed them (after it, since their input is its output); their
CPU is divided by N too, the messages of the device stream. Ingest's drain
rates (subscribed → all stored) are reported too, and with ``--handoff``
their paired ratio. Prints JSON with medians.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.ingest_drain import FAULTLINE
from bench.services import Child, Services, cpu_s, faultline_env, wait_count
from bench.traffic import run_child


def _until_idle(pid: int, quiet_cpu_s: float = 0.02, window_s: float = 2.0, timeout: float = 300.0) -> float:
    deadline, last = time.monotonic() + timeout, cpu_s(pid) or 0.0
    while time.monotonic() < deadline:
        time.sleep(window_s)
        now = cpu_s(pid) or 0.0
        if now - last < quiet_cpu_s:
            return now
        last = now
    raise TimeoutError("the process did not go idle")


def one_rep(services: Services, root: Path, n: int, order: list[str]) -> dict[str, float]:
    services.fresh_broker()
    db = services.new_database("shardcpu")
    url, tag = services.mosquitto.url, uuid.uuid4().hex[:6]
    ingest_id, det_id = f"fl-{tag}", f"det-{tag}"
    run_child(["rawsub", "--url", url, "--client-id", ingest_id, "--topic", "devices/#", "--register"])
    for i in range(2):
        run_child(["rawsub", "--url", url, "--client-id", f"{det_id}-{i}-of-2", "--topic", "devices/+/+", "--register"])
        if any(name.endswith("3.1.1") for name in order):
            run_child(["rawsub", "--url", url, "--client-id", f"{det_id}311-{i}-of-2", "--topic", "devices/+/+",
                       "--register", "--v311"])
    if "ingest handoff" in order:
        run_child(["rawsub", "--url", url, "--client-id", ingest_id + "ho", "--topic", "devices/#", "--register"])
        for i in range(2):
            run_child(["rawsub", "--url", url, "--client-id", f"{det_id}ho-{i}-of-2", "--register",
                       "--topic", f"faultline/handoff/devices/2/{'+' if i == 0 else i}"])
    run_child(["publish", "--url", url, "--n", str(n), "--devices", "1000",
               "--base-ms", str(int(time.time() * 1000) - n - 60_000), "--inflight", "1000"])
    out = {}
    handed = services.new_database("shardcpu") if "ingest handoff" in order else ""
    for name in order:
        v311, handoff = name.endswith("3.1.1"), name.endswith("handoff")
        env = faultline_env(services, handed if handoff else db, root / (tag + ("ho" if handoff else "")),
                            ingest_id + ("ho" if handoff else ""), log_level="INFO",
                            detector_mqtt_client_id=det_id + ("311" if v311 else "ho" if handoff else ""),
                            mqtt_protocol="3.1.1" if v311 else "5", detector_handoff=2 if handoff else 0)
        ingest = name.startswith("ingest")
        argv = [FAULTLINE, "ingest"] if ingest else [FAULTLINE, "detect", "--shard", name.split()[1], "--no-alerts"]
        child = Child(argv, env, root / f"{tag}-{name.replace('/', '-').replace(' ', '_')}.log").start()
        try:
            child.wait_for("subscribed to")
            cpu0, t0 = cpu_s(child.pid) or 0.0, time.time()
            if ingest:
                t_done, _ = wait_count(services, handed if handoff else db, n, 300, poll=0.05)
                cpu1 = cpu_s(child.pid) or 0.0
                out[f"{name} msg/s"] = n / (t_done - t0) if t_done else 0.0
            else:
                cpu1 = _until_idle(child.pid) - 0.02  # the last quiet window is not work
            out[name] = (cpu1 - cpu0) / n * 1e6
        finally:
            child.stop()
    services.drop_database(db)
    if handed:
        services.drop_database(handed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.detect_shard_cpu")
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--v311", action="store_true", help="also both shards over MQTT 3.1.1")
    parser.add_argument("--handoff", action="store_true", help="also ingest handing records to 2 shards, and them")
    a = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="faultline-shardcpu-"))
    services = Services(root / "stack").start()
    names = ["ingest", "detect 0/2", "detect 1/2"] + (["detect 0/2 3.1.1", "detect 1/2 3.1.1"] if a.v311 else []) \
        + (["ingest handoff"] if a.handoff else [])
    after = ["detect 0/2 handoff", "detect 1/2 handoff"] if a.handoff else []  # they read what ingest handed on
    rounds = []
    try:
        for rep in range(a.reps):
            order = names[rep % len(names):] + names[:rep % len(names)] + after[rep % 2:] + after[:rep % 2]
            rounds.append(one_rep(services, root, a.n, order))
            print(f"rep {rep + 1}: " + ", ".join(f"{k} {v:.1f}" + ("" if k.endswith("msg/s") else " µs/msg")
                                                 for k, v in rounds[-1].items()), file=sys.stderr)
    finally:
        services.stop()
        shutil.rmtree(root, ignore_errors=True)
    result = {k: {"median_us_per_msg": round(statistics.median(r[k] for r in rounds), 1),
                  "min": round(min(r[k] for r in rounds), 1), "max": round(max(r[k] for r in rounds), 1),
                  "ceiling_msg_s_per_core": round(1e6 / statistics.median(r[k] for r in rounds))} for k in names + after}
    for k in (k for k in rounds[0] if k.endswith("msg/s")):  # ingest's drain rate, subscribed -> all stored
        result[k] = {"median": round(statistics.median(r[k] for r in rounds)),
                     "min": round(min(r[k] for r in rounds)), "max": round(max(r[k] for r in rounds))}
    if "ingest handoff msg/s" in rounds[0]:
        ratios = [r["ingest handoff msg/s"] / r["ingest msg/s"] for r in rounds if r["ingest msg/s"]]
        result["handoff_over_plain_drain"] = round(statistics.median(ratios), 2) if ratios else None
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
