"""The capacity model's check: `faultline ingest --workers 2` and two detector shards under a steady rate.

    .venv/bin/python -m bench.capacity_check [--rates 1500,3000,4500] [--seconds 20] [--handoff]

For each rate (one after the other, a fresh broker each): the sessions are
registered, `faultline ingest --workers 2` and `faultline detect --shard 0/2`
and `--shard 1/2` (``--no-alerts``) start and subscribe, then a publisher
(`bench.traffic`, QoS 1, 1,000 devices, 8 metrics) sends rate x seconds
messages at that rate. Reported: the rate the publisher achieved, the
ingest lag (last publish acknowledged → InfluxDB holds every point) and the
detectors' lag (last publish → both shards idle: under 0.02 s of CPU in
1 s). A rate is sustained when both lags stay a small fraction of the run
(the backlog did not grow). ``--handoff``: the same with
`FAULTLINE_DETECTOR_HANDOFF=2` (ingest's workers hand each shard its part;
the shards read no device topic). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.ingest_drain import FAULTLINE
from bench.services import Child, Services, cpu_s, faultline_env, wait_count
from bench.traffic import run_child


def _idle_since(pids: list[int], timeout: float = 300.0) -> float:
    """Wall time at which every process in `pids` had been idle for a 1 s window (start of that window)."""
    deadline = time.monotonic() + timeout
    last = [cpu_s(p) or 0.0 for p in pids]
    t_last = time.time()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = [cpu_s(p) or 0.0 for p in pids]
        if all(b - a < 0.02 for a, b in zip(last, now)):
            return t_last
        last, t_last = now, time.time()
    raise TimeoutError("detectors did not go idle")


def one_rate(services: Services, root: Path, rate: int, seconds: float, handoff: bool = False) -> dict:
    services.fresh_broker()
    db = services.new_database("capacity")
    url, tag = services.mosquitto.url, uuid.uuid4().hex[:6]
    ingest_id, det_id, n = f"fl-{tag}", f"det-{tag}", int(rate * seconds)
    for i in (1, 2):
        run_child(["rawsub", "--url", url, "--client-id", f"{ingest_id}-{i}", "--topic", "$share/ingest/devices/#",
                   "--register"])
    for i in range(2):
        topic = f"faultline/handoff/devices/2/{'+' if i == 0 else i}" if handoff else "devices/+/+"
        run_child(["rawsub", "--url", url, "--client-id", f"{det_id}-{i}-of-2", "--topic", topic, "--register"])
    env = faultline_env(services, db, root / tag, ingest_id, log_level="INFO", detector_mqtt_client_id=det_id,
                        detector_handoff=2 if handoff else 0)
    procs = [Child([FAULTLINE, "ingest", "--workers", "2"], env, root / f"{tag}-ingest.log").start()]
    procs += [Child([FAULTLINE, "detect", "--shard", f"{i}/2", "--no-alerts"], env, root / f"{tag}-det{i}.log").start()
              for i in range(2)]
    try:
        for p in procs:
            p.wait_for("subscribed to")
        pub = run_child(["publish", "--url", url, "--n", str(n), "--devices", "1000", "--rate", str(rate),
                         "--base-ms", str(int(time.time() * 1000) - n - 60_000), "--inflight", "1000"])
        t_done, stored = wait_count(services, db, n, 300)
        t_idle = _idle_since([p.pid for p in procs[1:]])
        return {"handoff": handoff, "rate_asked": rate, "rate_published": round(pub["rate"]), "n": n, "stored": stored,
                "ingest_lag_s": round(t_done - pub["t_end"], 2) if t_done else None,
                "detect_lag_s": round(max(0.0, t_idle - pub["t_end"]), 2)}
    finally:
        for p in procs:
            p.stop()
        services.drop_database(db)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity_check")
    parser.add_argument("--rates", default="1500,3000,4500")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--handoff", action="store_true", help="shards fed by ingest (FAULTLINE_DETECTOR_HANDOFF=2)")
    a = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="faultline-capacity-"))
    services = Services(root / "stack").start()
    out = []
    try:
        for rate in (int(r) for r in a.rates.split(",")):
            out.append(one_rate(services, root, rate, a.seconds, a.handoff))
            print(json.dumps(out[-1]), file=sys.stderr)
    finally:
        services.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
