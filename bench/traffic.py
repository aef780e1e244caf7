"""Telemetry traffic for the ingest benchmarks: a fast QoS 1 publisher and a bare counting subscriber.

Both run as child processes (``python -m bench.traffic publish|rawsub ...``)
so their CPU is their own, and print one JSON line when done.

- ``publish``: N telemetry messages round-robin over D devices (Faultline's
  device contract, 8 metrics, ``ts`` in epoch ms, unique per message and in
  the past, ``seq`` per device), QoS 1, in flight bounded, one thread that
  services the socket itself, payloads built before the clock starts.
- ``rawsub``: the raw limit. A paho subscriber (MQTT 5, persistent session)
  that only counts; paho acknowledges each QoS 1 message as its callback
  returns. ``--register`` subscribes once and disconnects (the session then
  queues at the broker).

>>> topic, payload = message(1234, devices=1000, base_ms=1_700_000_000_000)
>>> topic, orjson.loads(payload)["seq"], orjson.loads(payload)["ts"]
('devices/dev-00234/telemetry', 2, 1700000001234)
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from urllib.parse import urlsplit

import orjson

METRICS = ("temp_c", "vibration_rms", "current_a", "pressure_bar", "flow_lpm", "rpm", "voltage_v", "humidity")


def message(i: int, devices: int, base_ms: int) -> tuple[str, bytes]:
    dev, seq = i % devices, i // devices + 1
    metrics = {m: round(10.0 * k + ((i * 7 + k) % 101) / 10, 2) for k, m in enumerate(METRICS)}
    return f"devices/dev-{dev:05d}/telemetry", orjson.dumps({"ts": base_ms + i, "seq": seq, "metrics": metrics})


def _client(url: str, client_id: str, clean: bool, receive_maximum: int = 0, v311: bool = False,
            fast: bool = False):
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from ingest.mqtt_receive import FastReceiveClient

    cls = FastReceiveClient if fast else paho.Client
    parts = urlsplit(url)
    if v311:  # MQTT 3.1.1: the broker's max_inflight_messages is the window
        return (cls(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                    protocol=paho.MQTTv311, manual_ack=fast), parts.hostname, parts.port, None)
    client = cls(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5, manual_ack=fast)
    props = Properties(PacketTypes.CONNECT)
    if not clean:
        props.SessionExpiryInterval = 0xFFFFFFFF
    if receive_maximum:
        props.ReceiveMaximum = receive_maximum
    return client, parts.hostname, parts.port, props


def publish(url: str, n: int, devices: int, base_ms: int, inflight: int, rate: float = 0.0) -> dict:
    msgs = [message(i, devices, base_ms) for i in range(n)]
    client, host, port, props = _client(url, f"bench-pub-{time.time_ns()}", clean=True)
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    acked = [0]
    client.on_publish = lambda *a: acked.__setitem__(0, acked[0] + 1)
    client.connect(host, port, keepalive=60, clean_start=True, properties=props)
    while not client.is_connected():
        client.loop(0.05)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    for i, (topic, payload) in enumerate(msgs):
        if (i & 63) == 0:
            client.loop_read()
            client.loop_misc()
        if rate:
            while (ahead := t0 + i / rate - time.time()) > 0.0005:
                client.loop(min(ahead, 0.01))
        while i - acked[0] >= inflight:
            client.loop(0.01)
        client.publish(topic, payload, qos=1)
    t_sent = time.time()
    deadline = t_sent + 120
    while acked[0] < n and time.time() < deadline:
        client.loop(0.01)
    t_end = time.time()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    client.disconnect()
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    return {"sent": n, "acked": acked[0], "t_start": t0, "t_last_sent": t_sent, "t_end": t_end,
            "rate": n / max(t_end - t0, 1e-9), "cpu_pct": 100 * cpu / max(t_end - t0, 1e-9)}


def rawsub(url: str, client_id: str, topic: str, n: int, register: bool, receive_maximum: int,
           idle_s: float = 15.0, v311: bool = False, fast: bool = False) -> dict:
    client, host, port, props = _client(url, client_id, clean=False, receive_maximum=receive_maximum, v311=v311,
                                        fast=fast)
    st = {"n": 0, "t_first": None, "t_last": None, "t_connack": None, "present": None}
    subscribed, done = threading.Event(), threading.Event()

    def on_connect(c, userdata, flags, rc, properties):
        st["t_connack"], st["present"] = time.time(), flags.session_present
        if register:
            c.subscribe(topic, qos=1)

    def on_message(c, userdata, msg):
        st["n"] += 1
        st["t_last"] = time.time()
        if st["t_first"] is None:
            st["t_first"] = st["t_last"]
        if st["n"] >= n > 0:
            done.set()

    client.on_connect = on_connect
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = on_message
    if fast:  # Faultline's receive path: acknowledged by the callback itself, like paho's own auto-ack
        def on_received(topic, payload, mid, qos, dup, retain):
            on_message(client, None, None)
            if qos:
                client.ack(mid, qos)

        client.on_publish_received = on_received
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    if v311:
        client.connect(host, port, keepalive=60)
    else:
        client.connect(host, port, keepalive=60, clean_start=False, properties=props)
    client.loop_start()
    if register:
        ok = subscribed.wait(20)
        client.disconnect()
        client.loop_stop()
        return {"registered": ok}
    while not done.wait(0.2):
        if time.time() - (st["t_last"] or t0) > idle_s:
            break
    t_end = st["t_last"] or time.time()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    client.disconnect()
    client.loop_stop()
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    start = st["t_connack"] or t0
    return {"received": st["n"], "session_present": st["present"], "drain_s": t_end - start,
            "rate": st["n"] / max(t_end - start, 1e-9), "cpu_pct": 100 * cpu / max(t_end - t0, 1e-9)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.traffic")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("publish")
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--base-ms", type=int, required=True)
    p.add_argument("--inflight", type=int, default=1000)
    p.add_argument("--rate", type=float, default=0.0)
    r = sub.add_parser("rawsub")
    r.add_argument("--url", required=True)
    r.add_argument("--client-id", required=True)
    r.add_argument("--topic", default="devices/#")
    r.add_argument("--n", type=int, default=0)
    r.add_argument("--register", action="store_true")
    r.add_argument("--receive-maximum", type=int, default=1000)
    r.add_argument("--v311", action="store_true", help="MQTT 3.1.1 instead of 5")
    r.add_argument("--fast", action="store_true", help="ingest's receive path (ingest.mqtt_receive)")
    a = parser.parse_args(argv)
    if a.cmd == "publish":
        out = publish(a.url, a.n, a.devices, a.base_ms, a.inflight, a.rate)
    else:
        out = rawsub(a.url, a.client_id, a.topic, a.n, a.register, a.receive_maximum, v311=a.v311, fast=a.fast)
    print(json.dumps(out), flush=True)


def run_child(args: list[str], timeout: float = 900.0) -> dict:
    """Run ``python -m bench.traffic ARGS`` and return its JSON line."""
    import subprocess

    out = subprocess.run([sys.executable, "-m", "bench.traffic", *args], capture_output=True, text=True,
                         timeout=timeout, cwd=_repo_root())
    if out.returncode != 0:
        raise RuntimeError(f"bench.traffic {args[0]} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _repo_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent)


if __name__ == "__main__":
    main()
