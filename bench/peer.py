"""The peer: Node-RED (tuned flow, join node) and Faultline through the peer's own scenarios, in one run.

Runs ``run_bench.sh`` of the Node-RED peer folder as its README says; the
folder is ``$BENCH_PEER_DIR``, else ``shared/peers/nodered`` beside the
repository (where the development machines keep it); without it the peer
section reports that it did not run: scenario A (drain a 100k QoS 1 backlog, with the raw paho drain
of the same backlog as the ceiling) for ``flows-join.json`` and for
``faultline ingest`` (SUT_CMD), then scenario C (kill -9 mid-stream at
10k msg/s; InfluxDB stopped 15 s) for Faultline. The peer's script owns its
ports (127.0.0.1:18830 and 18086/18088) and stops everything it starts.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.services import FAULTLINE

REPOSITORY = Path(__file__).resolve().parent.parent
PEER_DIR = Path(os.environ.get("BENCH_PEER_DIR") or REPOSITORY.parent / "shared" / "peers" / "nodered")
READY = "faultline ingest: subscribed to"


@dataclass
class PeerResult:
    rows: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def of(self, bench: str, flow: str | None = None) -> list[dict]:
        return [r for r in self.rows if r.get("bench") == bench and (flow is None or r.get("flow") == flow)]


def _run(args: list[str], env: dict[str, str], timeout: float, log: Path) -> tuple[list[dict], str | None]:
    script = PEER_DIR / "run_bench.sh"
    if not script.exists():
        return [], f"{script} not found: set BENCH_PEER_DIR to the Node-RED peer folder (docs/performance.md)"
    try:
        out = subprocess.run([str(script), *args], env={**os.environ, **env}, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return _rows(exc.stdout or ""), f"run_bench.sh {' '.join(args)} timed out after {timeout:.0f}s"
    with open(log, "a") as f:
        f.write(f"# run_bench.sh {' '.join(args)} ({env.get('SUT_LABEL', env.get('FLOWS'))})\n")
        f.write(out.stderr)
    rows = _rows(out.stdout)
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-3:]
        return rows, f"run_bench.sh {' '.join(args)} exited {out.returncode}: {' | '.join(tail)}"
    return rows, None


def _rows(stdout) -> list[dict]:
    if isinstance(stdout, bytes):
        stdout = stdout.decode("utf-8", "replace")
    rows = []
    for line in stdout.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    return rows


def faultline_sut_env(work: Path, inflight: int) -> dict[str, str]:
    return {
        "SUT_CMD": f"{FAULTLINE} ingest", "SUT_LABEL": "faultline", "SUT_READY": READY,
        "FLOWS": "flows-join.json",  # one pass: the label comes from SUT_LABEL
        "FAULTLINE_MQTT_URL": "mqtt://127.0.0.1:18830", "FAULTLINE_MQTT_CLIENT_ID": "faultline-peer-bench",
        "FAULTLINE_INFLUX_URL": "http://127.0.0.1:18086", "FAULTLINE_INFLUX_DB": "nr",
        "FAULTLINE_DATA_DIR": str((work / "peer-faultline").resolve()), "FAULTLINE_LOG_LEVEL": "WARNING",
        "FAULTLINE_MQTT_MAX_INFLIGHT": str(inflight),
    }


def run_peer(work: Path, n: int = 100_000, reps: int = 3, inflight: int = 1000, with_c: bool = True,
             timeout: float = 600.0) -> PeerResult:
    work.mkdir(parents=True, exist_ok=True)
    log = work / "peer.log"
    result = PeerResult()
    nr_env = {"FLOWS": "flows-join.json"}
    nr_env.update({k: "" for k in ("SUT_CMD", "SUT_LABEL", "SUT_READY")})
    fl_env = faultline_sut_env(work, inflight)
    plan = [(["A", "--n", str(n), "--reps", str(reps)], nr_env),
            (["A", "--n", str(n), "--reps", str(reps)], fl_env)]
    if with_c:
        plan.append((["C", "--c-reps", "1"], fl_env))
    for args, env in plan:
        rows, error = _run(args, env, timeout, log)
        result.rows += rows
        if error:
            result.errors.append(error)
    return result
