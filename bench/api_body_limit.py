"""Memory of the API process after an unauthenticated 300 MB POST, with the body limit and without it.

Starts `faultline api` twice as a child process on a SQLite file (InfluxDB is
never asked for), POSTs 300 MB without a key to /api/v1/silences, and prints
the server's peak resident memory (VmHWM) each time, and their ratio. The
second run raises FAULTLINE_API_MAX_BODY_BYTES to 1 GiB, so the body is read
and parsed before the 401, as it was before the limit existed.

    .venv/bin/python bench/api_body_limit.py [MB]
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from faultline.stack import free_port


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(limit: int, mb: int) -> tuple[int, float, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE_")}
        env.update(FAULTLINE_DATA_DIR=data, FAULTLINE_API_PORT=str(port), FAULTLINE_API_MAX_BODY_BYTES=str(limit),
                   FAULTLINE_INFLUX_URL=f"http://127.0.0.1:{free_port()}")
        exe = str(Path(sys.executable).parent / "faultline")
        proc = subprocess.Popen([exe, "api"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", "/health")
                    conn.getresponse().read()
                    break
                except OSError:
                    time.sleep(0.1)
            before = peak_rss_mb(proc.pid)
            body = b"[" + b"1," * (mb * 1024 * 1024 // 2 - 1) + b"1]"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                conn.request("POST", "/api/v1/silences", body=body, headers={"Content-Type": "application/json"})
                status = conn.getresponse().status
            except (BrokenPipeError, ConnectionResetError):
                status = 413  # refused and closed before the whole body was sent
            return status, before, peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    limited = run(1_048_576, mb)
    unlimited = run(1 << 30, mb)
    print(f"{mb} MB unauthenticated POST")
    print(f"  limit 1 MiB: HTTP {limited[0]}, peak RSS {limited[1]:.0f} MB before, {limited[2]:.0f} MB after")
    print(f"  limit 1 GiB: HTTP {unlimited[0]}, peak RSS {unlimited[1]:.0f} MB before, {unlimited[2]:.0f} MB after")
    grown = unlimited[2] - unlimited[1], limited[2] - limited[1]
    print(f"  peak memory growth: {grown[1]:.0f} MB with the limit, {grown[0]:.0f} MB without")


if __name__ == "__main__":
    main()
