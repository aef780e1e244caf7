"""The peer: Node-RED (tuned flow, join node) and Faultline through the peer's own scenarios, in one run.

Runs ``run_bench.sh`` of the Node-RED peer folder as its README says; the
folder is ``$BENCH_PEER_DIR``, else ``shared/peers/nodered`` beside the
repository (where the development machines keep it); without it the peer
section reports that it did not run. Scenario A (drain a 100k QoS 1 backlog,
with the raw paho drain of the same backlog as the ceiling) runs for
``flows-join.json`` and for Faultline twice (SUT_CMD): ``faultline ingest``
as a user starts it (the default: one writer per core fed by one session,
label ``faultline-workers``) and ``faultline ingest --workers 1`` (one
process, label ``faultline-one-process``). Scenario C (kill -9 mid-stream at
10k msg/s; InfluxDB stopped 15 s) runs for both. With workers, the kill -9
hits the relay: its workers stop on their own within a second, and the
relay started again gets from its session what they had not acknowledged. The
peer's script owns its ports (127.0.0.1:18830 and 18086/18088) and stops
everything it starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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


POOL, ONE_PROCESS = "faultline-workers", "faultline-one-process"  # the two Faultline passes (SUT_LABEL)


def ready_pattern(workers: int) -> str:
    """SUT_READY: one process subscribed, or the relay subscribed and every one of its workers, in any order.

    >>> import re
    >>> rx = ready_pattern(2)
    >>> log = "faultline ingest: subscribed to devices/# as fl, 2 workers behind it\\nfaultline ingest: worker 2 fed by the relay\\n"
    >>> bool(re.search(rx, log)), bool(re.search(rx, log + log.replace("worker 2", "worker 1")))
    (False, True)
    """
    if workers <= 1:
        return READY
    return "(?s)" + rf"(?=.*{re.escape(READY)})" + "".join(rf"(?=.*worker {i} fed by the relay)"
                                                          for i in range(1, workers + 1))


def faultline_sut_env(work: Path, inflight: int, label: str = POOL) -> dict[str, str]:
    """The peer's environment for one Faultline pass: its own client id and a fresh data dir of its own."""
    from ingest.workers import auto_workers

    one = label == ONE_PROCESS
    data_dir = (work / f"peer-{label}").resolve()
    shutil.rmtree(data_dir, ignore_errors=True)
    client_id = f"faultline-peer-{label}"
    return {
        "SUT_CMD": f"{FAULTLINE} ingest" + (" --workers 1" if one else ""), "SUT_LABEL": label,
        "SUT_READY": ready_pattern(1 if one else auto_workers()),
        "FLOWS": "flows-join.json",  # one pass: the label comes from SUT_LABEL
        "FAULTLINE_MQTT_URL": "mqtt://127.0.0.1:18830", "FAULTLINE_MQTT_CLIENT_ID": client_id,
        "FAULTLINE_INFLUX_URL": "http://127.0.0.1:18086", "FAULTLINE_INFLUX_DB": "nr",
        "FAULTLINE_DATA_DIR": str(data_dir), "FAULTLINE_LOG_LEVEL": "WARNING",
        "FAULTLINE_MQTT_MAX_INFLIGHT": str(inflight),
    }


def run_peer(work: Path, n: int = 100_000, reps: int = 3, inflight: int = 1000, with_c: bool = True,
             timeout: float = 900.0) -> PeerResult:
    work.mkdir(parents=True, exist_ok=True)
    log = work / "peer.log"
    result = PeerResult()
    nr_env = {"FLOWS": "flows-join.json"}
    nr_env.update({k: "" for k in ("SUT_CMD", "SUT_LABEL", "SUT_READY")})
    faultline = {label: faultline_sut_env(work, inflight, label) for label in (POOL, ONE_PROCESS)}
    drain = ["A", "--n", str(n), "--reps", str(reps)]
    plan = [(drain, nr_env), (drain, faultline[POOL]), (drain, faultline[ONE_PROCESS])]
    if with_c:
        plan += [(["C", "--c-reps", "1"], faultline[POOL]), (["C", "--c-reps", "1"], faultline[ONE_PROCESS])]
    for args, env in plan:
        rows, error = _run(args, env, timeout, log)
        result.rows += rows
        if error:
            result.errors.append(f"{env.get('SUT_LABEL') or 'Node-RED'}: {error}")
    return result
