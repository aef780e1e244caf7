"""The services a benchmark runs against, and the processes it measures.

Every process here is started by the benchmark and stopped by its PID.
Mosquitto and InfluxDB come from `faultline.stack` on free ports in a
temporary directory; the broker is restarted between repetitions so no
session or queue survives from one to the next.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from faultline.stack import Influxd, Mosquitto, free_port
from influx.client import InfluxClient

FAULTLINE = str(Path(sys.executable).parent / "faultline")


class Services:
    """One Mosquitto and one InfluxDB under ``root``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.mosquitto = Mosquitto(self.root / "mqtt", free_port())
        self.influxd = Influxd(self.root / "influx", free_port())

    def start(self) -> "Services":
        self.mosquitto.start()
        self.influxd.start()
        return self

    def stop(self) -> None:
        for service in (self.mosquitto, self.influxd):
            service.stop()

    def fresh_broker(self) -> None:
        """Restart Mosquitto with an empty persistence file: no session or queue is left over."""
        self.mosquitto.stop()
        for f in (self.root / "mqtt" / "mosquitto-data").glob("*.db"):
            f.unlink()
        self.mosquitto.start()

    def new_database(self, prefix: str = "bench") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.influxd.create_database(name)
        return name

    def drop_database(self, name: str) -> None:
        InfluxClient(self.influxd.url, name).query(f'DROP DATABASE "{name}"')

    def count(self, db: str, measurement: str = "telemetry") -> int | None:
        try:
            rows = InfluxClient(self.influxd.url, db, timeout=30).rows(f'SELECT count("seq") FROM "{measurement}"')
        except Exception:  # noqa: BLE001 - a busy server: the caller polls again
            return None
        return int(rows[0]["count"]) if rows else 0


def cpu_s(pid: int | None) -> float | None:
    """user+sys CPU seconds of a process and its reaped children."""
    if not pid:
        return None
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Child:
    """A command started in its own session, logging to a file; stopped by PID."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path):
        self.argv, self.env, self.log_path = argv, {**os.environ, **env}, Path(log_path)
        self.proc: subprocess.Popen | None = None
        self._offset = 0

    def start(self) -> "Child":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_for(self, pattern: str, timeout: float = 60.0, poll: float = 0.02) -> float:
        """Wait until the log (since start) matches; return the time.time() it was seen."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if rx.search(self.log_text()):
                return time.time()
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}: {self.log_text()[-2000:]}")
            time.sleep(poll)
        raise RuntimeError(f"{self.argv[0]} did not print {pattern!r} within {timeout:.0f}s; see {self.log_path}")

    def wait_healthy(self, url: str, timeout: float = 60.0, poll: float = 0.1) -> None:
        """Wait until ``GET url`` answers 200 (an API child serving); its log in the error otherwise."""
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.pid is None:
                raise RuntimeError(f"{self.argv[0]} did not answer {url}: {self.log_text()[-1500:]}")
            time.sleep(poll)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)


def faultline_env(services: Services, db: str, data_dir: Path, client_id: str, **extra) -> dict[str, str]:
    env = {"FAULTLINE_MQTT_URL": services.mosquitto.url, "FAULTLINE_MQTT_CLIENT_ID": client_id,
           "FAULTLINE_INFLUX_URL": services.influxd.url, "FAULTLINE_INFLUX_DB": db,
           "FAULTLINE_DATA_DIR": str(data_dir), "FAULTLINE_LOG_LEVEL": "WARNING"}
    env.update({f"FAULTLINE_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def wait_count(services: Services, db: str, target: int, timeout: float, poll: float = 0.1,
               stall_s: float = 30.0) -> tuple[float | None, int]:
    """Poll until InfluxDB holds ``target`` points; return (time reached or None, last count)."""
    deadline = time.monotonic() + timeout
    last, changed = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = services.count(db)
        now = time.time()
        if count is not None:
            if count >= target:
                return now, count
            if count != last:
                last, changed = count, time.monotonic()
            elif time.monotonic() - changed > stall_s:
                break
        time.sleep(poll)
    return None, max(last, 0)
