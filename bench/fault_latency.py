"""Fault → ticket latency in real time, through `faultline run` (ingest → detectors → alerts → tickets).

Small windows (60 s, lateness 5 s, no pending time, one anomaly fires an
alert). Each incident is one device with a cohort of its own (so no cohort
test applies and no grouping hides its ticket) that publishes a burst of
fault events and ERROR logs at wall-clock time. The detector must wait for
the window to close (window end + lateness) before it can say anything;
that wait is the configuration's, so the reported latency is the rest:

    latency = time the ticket row appeared − (window end + lateness)

and ``raw`` is the time from the first fault message to the ticket. Bursts
are spread over the window, all before its end, and the incidents over two
consecutive windows; a thread watches the tickets table every 0.1 s.
"""

from __future__ import annotations

import math
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.services import FAULTLINE, Child, Services, faultline_env
from faultline.stack import free_port

WINDOW_S, LATENESS_S = 60, 5
READY = r"faultline run: subscribed to"


@dataclass
class LatencyRun:
    incidents: int
    latencies_s: list = field(default_factory=list)  # ticket − (window end + lateness)
    raw_s: list = field(default_factory=list)  # ticket − first fault published
    missing: list = field(default_factory=list)  # devices without a ticket
    error: str | None = None


def _burst(device: str, t_ms: int, faults: int) -> list[tuple[str, bytes]]:
    out = []
    for k in range(faults):
        ts = t_ms - (faults - k) * 50  # never ahead of the wall clock: event time drives the detector's clock
        out.append((f"devices/{device}/events", orjson.dumps(
            {"ts": ts, "seq": k + 1, "type": "fault", "code": "E214", "severity": "major"})))
        out.append((f"devices/{device}/logs", orjson.dumps(
            {"ts": ts + 1, "seq": k + 1, "level": "ERROR", "component": "motor", "code": "E214",
             "msg": "overcurrent on phase B"})))
    return out


def _connect(url: str):
    import paho.mqtt.client as paho
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-faults-{uuid.uuid4().hex[:6]}")
    client.connect(parts.hostname, parts.port)
    client.loop_start()
    return client


def _tickets(sql_url: str) -> dict[str, float]:
    """subject → opened_ms of every ticket (empty while the schema is not there yet)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(sql_url)
    try:
        with engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(text("SELECT subject, opened_ms FROM tickets"))}
    except Exception:  # noqa: BLE001
        return {}
    finally:
        engine.dispose()


class TicketWatch(threading.Thread):
    """Polls the tickets table every 0.1 s; remembers when a ticket naming each device first appeared."""

    def __init__(self, sql_url: str, devices: list[str]):
        super().__init__(daemon=True)
        self.sql_url, self.devices, self.seen = sql_url, devices, {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set() and len(self.seen) < len(self.devices):
            subjects = _tickets(self.sql_url)
            now = time.time()
            for d in self.devices:
                if d not in self.seen and any(d in subject for subject in subjects):
                    self.seen[d] = now
            self.done.wait(0.1)


def _next_window(min_room_s: float = 15.0) -> float:
    """End of the window the next bursts go into (the current one if it has room left)."""
    now = time.time()
    end = math.ceil(now / WINDOW_S) * WINDOW_S
    return end if end - now >= min_room_s else end + WINDOW_S


def _play_round(client, devices: list[str], faults: int, first: dict, closes: dict) -> None:
    end = _next_window()
    if closes and end <= max(closes.values()) - LATENESS_S:  # each round has a window of its own
        end = max(closes.values()) - LATENESS_S + WINDOW_S
    time.sleep(max(0.0, end - WINDOW_S - time.time()))  # the window has started
    start = time.time() + 1.0  # the bursts' event times reach 0.5 s back: keep them inside this window
    span = max(1.0, end - start - 5.0)
    for i, d in enumerate(devices):
        time.sleep(max(0.0, start + span * i / len(devices) - time.time()))
        first[d], closes[d] = time.time(), end + LATENESS_S
        for topic, payload in _burst(d, int(first[d] * 1000), faults):
            client.publish(topic, payload, qos=1)


def latency_run(services: Services, work: Path, incidents: int = 6, faults: int = 10, rounds: int = 2) -> LatencyRun:
    """``incidents`` devices over ``rounds`` consecutive windows (so not every ticket comes from one close)."""
    run = LatencyRun(incidents)
    db = services.new_database("latency")
    cid = f"fl-run-{uuid.uuid4().hex[:6]}"
    data = work / cid
    env = faultline_env(services, db, data, cid, api_port=free_port(), detector_window_s=WINDOW_S,
                        detector_lateness_s=LATENESS_S, alert_pending_s=0, alert_min_count=1)
    child = Child([FAULTLINE, "run"], env, work / f"{cid}.log").start()
    client = watch = None
    try:
        child.wait_for(READY, timeout=90)
        client = _connect(services.mosquitto.url)
        devices = [f"lat-{uuid.uuid4().hex[:4]}-{i}" for i in range(incidents)]
        for i, d in enumerate(devices):
            meta = {"model": f"LAT-{i}", "firmware": f"9.{i}.0", "site": f"lat-site-{i}"}
            client.publish(f"devices/{d}/meta", orjson.dumps(meta), qos=1, retain=True).wait_for_publish(10)
        watch = TicketWatch(f"sqlite:///{(data / 'database').resolve()}", devices)
        watch.start()
        first: dict[str, float] = {}
        closes: dict[str, float] = {}
        for r in range(rounds):
            _play_round(client, devices[r::rounds], faults, first, closes)
        watch.join(max(0.0, max(closes.values()) + 60 - time.time()))
        for d in devices:
            if d in watch.seen:
                run.latencies_s.append(watch.seen[d] - closes[d])
                run.raw_s.append(watch.seen[d] - first[d])
            else:
                run.missing.append(d)
    except Exception as exc:  # noqa: BLE001 - reported, the rest of the benchmark goes on
        run.error = str(exc)[:500]
    finally:
        if watch is not None:
            watch.done.set()
        if client is not None:
            client.loop_stop()
            client.disconnect()
        child.stop()
        services.drop_database(db)
        shutil.rmtree(data, ignore_errors=True)
    return run
