"""Where `faultline ingest` spends its time while draining a backlog (py-spy, sampling).

    .venv/bin/pip install py-spy      # a dev tool, not a dependency
    .venv/bin/python -m bench.profile_ingest [--n 200000] [--rate 200] [--detect 1/2] [--protocol 3.1.1]

Same setup as the drain benchmark (fresh broker, persistent session, N QoS 1
telemetry messages from 1,000 devices queued, real InfluxDB); py-spy attaches
to the ingest process once it is subscribed and samples until InfluxDB holds
all N points. Prints the share of samples per thread, the functions where
samples land (self) and the functions on the stack (inclusive), aggregated by
function. By default only samples of the thread holding the GIL are kept
(``py-spy --gil``): py-spy does not see every wait as idle (a thread blocked
in ``Condition.wait`` or ``SimpleQueue.get`` would count as busy), and with
the GIL, Python work is serial anyway, so the percentages are of the
process's Python time. ``--all`` keeps every non-idle sample instead.
``--detect i/n`` profiles ``faultline detect --shard i/n --no-alerts``
draining the same backlog instead (until its process is idle);
``--protocol 3.1.1`` runs either over MQTT 3.1.1; ``--handoff n`` runs ingest
handing its records to n detector shards (`ingest.handoff`).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.detect_shard_cpu import _until_idle
from bench.ingest_drain import FAULTLINE, READY, _start_ingest
from bench.services import Child, Services, faultline_env, wait_count
from bench.traffic import run_child


def parse_folded(text: str) -> tuple[Counter, Counter, Counter, int]:
    """(by thread, self by function, inclusive by function, total) from py-spy's raw (folded) output.

    >>> t, s, i, n = parse_folded('thread (0x1);run (a.py);add (b.py) 3\\nthread (0x1);run (a.py) 1\\n')
    >>> n, s["add (b.py)"], i["run (a.py)"]
    (4, 3, 4)
    """
    threads, own, incl, total = Counter(), Counter(), Counter(), 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n, frames = int(count), stack.split(";")
        total += n
        threads[frames[0]] += n
        frames = frames[1:] or frames
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    return threads, own, incl, total


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_ingest")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--inflight", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--keep", type=Path, default=None, help="also save the folded stacks here")
    parser.add_argument("--all", action="store_true", help="every non-idle sample, not only GIL holders")
    parser.add_argument("--detect", default="", help="i/n: profile faultline detect --shard i/n instead of ingest")
    parser.add_argument("--protocol", default="5", choices=["5", "3.1.1"])
    parser.add_argument("--handoff", type=int, default=0, help="n: ingest hands records to n detector shards")
    a = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
    root = Path(tempfile.mkdtemp(prefix="faultline-profile-"))
    services = Services(root / "stack").start()
    try:
        db, cid = services.new_database("profile"), f"fl-prof-{uuid.uuid4().hex[:6]}"
        url = services.mosquitto.url
        v311 = ["--v311"] if a.protocol == "3.1.1" else []
        if a.detect:
            i, n = a.detect.split("/")
            run_child(["rawsub", "--url", url, "--client-id", f"{cid}-{i}-of-{n}" if n != "1" else cid,
                       "--topic", "devices/+/+", "--register", *v311])
        else:
            run_child(["rawsub", "--url", url, "--client-id", cid, "--topic", "devices/#", "--register", *v311])
        run_child(["publish", "--url", url, "--n", str(a.n), "--devices", "1000",
                   "--base-ms", str(int(time.time() * 1000) - a.n - 60_000)])
        if a.detect:
            env = faultline_env(services, db, root, cid, log_level="INFO", detector_mqtt_client_id=cid,
                                mqtt_protocol=a.protocol)
            child = Child([FAULTLINE, "detect", "--shard", a.detect, "--no-alerts"], env, root / "detect.log").start()
            child.wait_for("subscribed to")
        else:
            child = _start_ingest(services, db, root, cid, a.inflight, a.batch_size, "", protocol=a.protocol,
                                  handoff=a.handoff)
            child.wait_for(READY)
        out = root / "folded.txt"
        rec = subprocess.Popen([spy, "record", "-p", str(child.pid), "-o", str(out), "-f", "raw", "-r", str(a.rate),
                                "--threads", "--nolineno", *([] if a.all else ["--gil"])], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.time()
        if a.detect:
            _until_idle(child.pid)
            t_done, stored = time.time(), a.n
        else:
            t_done, stored = wait_count(services, db, a.n, timeout=600)
        rec.send_signal(signal.SIGINT)
        rec.wait(60)
        child.stop()
        print(f"drained {stored:,} in {(t_done or time.time()) - t0:.1f} s under py-spy ({a.rate} Hz"
              f"{', all non-idle samples' if a.all else ', GIL holder only'})")
        text = out.read_text() if out.exists() else ""
        if a.keep:
            a.keep.write_text(text)
        threads, own, incl, total = parse_folded(text)
        if not total:
            raise SystemExit(f"py-spy recorded nothing: {rec.stderr.read().decode()[-500:]}")
        for title, counter in (("threads", threads), ("self", own), ("inclusive", incl)):
            print(f"\n{title} (% of {total:,} samples)")
            for name, n in counter.most_common(a.top if title != "threads" else 10):
                print(f"{100 * n / total:6.1f}%  {name}")
    finally:
        services.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
