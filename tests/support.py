"""Helpers shared by the tests (importable as `support`)."""

from __future__ import annotations

import uuid


def publish_all(url: str, messages, qos: int = 1, client_id: str = "", max_inflight: int = 1000) -> int:
    """Publish (topic, payload[, retain]) tuples with QoS 1 and wait for every PUBACK."""
    import threading
    from urllib.parse import urlsplit

    import paho.mqtt.client as paho

    parts = urlsplit(url)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}")
    if parts.username:
        client.username_pw_set(parts.username, parts.password or "")
    client.max_inflight_messages_set(max_inflight)
    window = threading.Semaphore(max_inflight)
    client.on_publish = lambda *args: window.release()
    client.connect(parts.hostname, parts.port)
    client.loop_start()
    infos = []
    for item in messages:
        topic, payload = item[0], item[1]
        retain = item[2] if len(item) > 2 else False
        window.acquire()
        infos.append(client.publish(topic, payload, qos=qos, retain=retain))
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()
    return len(infos)


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value or the deadline passes."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_database(prefix: str):
    """Generator for a fixture: the URL of a throwaway PostgreSQL database, dropped after the test;
    the test is skipped when no PostgreSQL answers on 127.0.0.1:5432 (trust auth)."""
    import pytest
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure to connect means no server to test against
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (database test, trust auth)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def quiet_http_server(handler):
    """A threading HTTP server on a free local port that does not print a traceback when a client
    hung up first (tests whose client times out on purpose); any other handler error is printed."""
    from http.server import ThreadingHTTPServer

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            import sys

            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    return Server(("127.0.0.1", 0), handler)


class IngestProcess:
    """`faultline ingest` as a real child process (killable with SIGKILL)."""

    command, ready = "ingest", b"subscribed to"

    def __init__(self, env: dict[str, str], log_path, args: tuple[str, ...] = ()):
        import os

        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.args = args
        self.proc = None

    def start(self, timeout: float = 60.0):
        import subprocess
        import sys
        from pathlib import Path

        exe = str(Path(sys.executable).parent / "faultline")
        self._log = open(self.log_path, "ab")
        start_size = Path(self.log_path).stat().st_size
        self.proc = subprocess.Popen([exe, self.command, *self.args], env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_until(lambda: self.ready in Path(self.log_path).read_bytes()[start_size:]
                   or self.proc.poll() is not None, timeout, what=f"faultline {self.command} subscribed")
        assert self.proc.poll() is None, Path(self.log_path).read_text()[-3000:]
        return self

    def kill(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def terminate(self) -> int:
        import signal

        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._log.close()
        return code

    def stop_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def telemetry_stream(n: int, devices: int, base_ms: int, metrics: int = 4):
    """n telemetry messages round-robin over devices, seq per device from 1."""
    import orjson

    for i in range(n):
        dev, seq = i % devices, i // devices + 1
        payload = {"ts": base_ms + seq * 1000, "seq": seq,
                   "metrics": {f"m{k}": float((i * 7 + k) % 101) for k in range(metrics)}}
        yield f"devices/dev-{dev:04d}/telemetry", orjson.dumps(payload)


class ServiceProcess(IngestProcess):
    """`faultline run` as a real child process."""

    command, ready = "run", b"faultline run: subscribed"


# --- simulated incidents end to end -------------------------------------------------

SIM_TOPICS = {"events", "logs", "meta", "status"}  # the fault-rate detectors' inputs; no telemetry keeps runs short


def messages_of(scenario: str, devices: int, seed: int, prefix: str, topics=SIM_TOPICS, start_ms=None):
    """The scenario's messages under this test's own topic prefix (other tests' retained
    messages never reach it)."""
    from simulators.fleet import Simulation

    sim = Simulation(scenario, devices=devices, seed=seed, topics=topics, start_ms=start_ms)
    msgs = [(prefix + m.topic[len("devices"):], m.payload, m.retain) for m in sim.messages() if not m.will]
    return msgs, sim.truth()


def stored_count(client) -> int:
    total = 0
    for measurement in ("device_logs", "device_events"):
        rows = client.rows(f'SELECT count("seq") FROM "{measurement}"')
        total += rows[0]["count"] if rows else 0
    return total


def settled(engine, quiet_s: float = 4.0) -> None:
    """Wait until the alert state has not changed for `quiet_s` (the pipeline went quiet)."""
    import time

    from sqlalchemy import text

    def version():
        with engine.connect() as conn:
            return conn.execute(text("SELECT coalesce(sum(version), 0), count(*) FROM alert_states")).one()

    last, since = version(), time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "the pipeline never went quiet"
        time.sleep(0.5)
        now = version()
        if now != last:
            last, since = now, time.monotonic()


def expected_records(msgs) -> int:
    import orjson

    count = 0
    for topic, payload, _ in msgs:
        if topic.endswith(("/logs", "/events")):
            doc = orjson.loads(payload)
            count += len(doc) if isinstance(doc, list) else 1
    return count


def faultline_cli(args, cwd, env=None, timeout: float = 120.0):
    """Run `faultline ARGS` in `cwd` as a user would: no FAULTLINE_* variables but those in `env`."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    clean = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE_")}
    exe = str(Path(sys.executable).parent / "faultline")
    return subprocess.run([exe, *args], cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
