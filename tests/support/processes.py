"""Real services for the tests: Mosquitto and InfluxDB on free ports, and `faultline` as child processes.

Every process here is started by the test session (or a test) and stopped by
its own handle, never by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from faultline.stack import Influxd, Mosquitto, free_port
from support.waiting import wait_until

FAULTLINE = str(Path(sys.executable).parent / "faultline")


@dataclass
class TestStack:
    """One Mosquitto and one InfluxDB under a temp dir."""

    __test__ = False  # not a test class, whatever its name

    mosquitto: Mosquitto
    influxd: Influxd

    @property
    def mqtt_url(self) -> str:
        return self.mosquitto.url

    @property
    def mqtt_port(self) -> int:
        return self.mosquitto.port

    @property
    def influx_url(self) -> str:
        return self.influxd.url

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database for one test."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.influxd.create_database(name)
        return name

    def stop(self) -> None:
        for service in (self.mosquitto, self.influxd):
            service.stop()


def start_stack(root: Path) -> TestStack:
    """Start Mosquitto and InfluxDB on free ports under `root`."""
    mosq = Mosquitto(root / "mqtt", free_port())
    influxd = Influxd(root / "influx", free_port())
    mosq.start()
    influxd.start()
    return TestStack(mosq, influxd)


class IngestProcess:
    """`faultline ingest` as a real child process (killable with SIGKILL)."""

    command, ready = "ingest", b"subscribed to"

    def __init__(self, env: dict[str, str], log_path, args: tuple[str, ...] = ()):
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.args = args
        self.proc = None

    def start(self, timeout: float = 60.0):
        self._log = open(self.log_path, "ab")
        start_size = Path(self.log_path).stat().st_size
        self.proc = subprocess.Popen([FAULTLINE, self.command, *self.args], env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.ready in Path(self.log_path).read_bytes()[start_size:]
                   or self.proc.poll() is not None, timeout, what=f"faultline {self.command} subscribed")
        assert self.proc.poll() is None, Path(self.log_path).read_text()[-3000:]
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._log.close()
        return code

    def stop_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


class ServiceProcess(IngestProcess):
    """`faultline run` as a real child process."""

    command, ready = "run", b"faultline run: subscribed"


def faultline_cli(args, cwd, env=None, timeout: float = 120.0):
    """Run `faultline ARGS` in `cwd` as a user would: no FAULTLINE_* variables but those in `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE_")}
    return subprocess.run([FAULTLINE, *args], cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
