"""The fast receive path (ingest.mqtt_receive) against the real broker: every message arrives intact.

Sizes from empty to a third of the broker's packet limit (so packets straddle the 64 KiB read buffer
at every kind of boundary), QoS 0 and 1, retained, MQTT 5 messages with properties (paho's own path)
and without (the shortcut), both protocols; a backlog queued while the subscriber was away is drained
with its acknowledgements going out; and the buffer's own contract on a socket pair.
"""

from __future__ import annotations

import random
import socket
import threading
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.mqtt import Subscriber
from ingest.mqtt_receive import READ_SIZE, BufferedSocket, FastReceiveClient, compatible
from support.mqtt_client import wait_for


def _publisher(url: str, protocol: int) -> paho.Client:
    parts = urlsplit(url)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=protocol)
    client.max_inflight_messages_set(100)
    client.connect(parts.hostname, parts.port)
    client.loop_start()
    return client


def _messages(prefix: str, n: int, seed: int) -> list[tuple[str, bytes, int, bool]]:
    """(topic, payload, qos, with properties): sizes 0 B .. 300 KB, mostly small, like a device fleet's."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        size = rng.choice([0, 1, 2, 127, 128, 300, 16_383, 16_384, READ_SIZE - 5, READ_SIZE, READ_SIZE + 7,
                           300_000] + [rng.randrange(20, 2_000)] * 30)
        payload = bytes(rng.randrange(256) for _ in range(min(size, 64))) * (size // 64 + 1)
        out.append((f"{prefix}/dev-{i % 7}/telemetry", payload[:size], rng.choice((0, 1, 1, 1)), rng.random() < 0.2))
    return out


def _subscriber(url: str, prefix: str, protocol: str, seen: list, client_id: str) -> Subscriber:
    def on_message(m):
        seen.append((m.topic, m.payload, m.qos))
        subscriber.ack(m.mid, m.qos, m.generation)

    subscriber = Subscriber(url, client_id, f"{prefix}/#", on_message, protocol=protocol)
    return subscriber


def _publish(url: str, protocol: str, messages) -> None:
    pub = _publisher(url, paho.MQTTv5 if protocol == "5" else paho.MQTTv311)
    try:
        infos = []
        for topic, payload, qos, with_props in messages:
            props = None
            if with_props and protocol == "5":
                props = Properties(PacketTypes.PUBLISH)
                props.UserProperty = ("origin", "test")
                props.ContentType = "application/octet-stream"
            infos.append(pub.publish(topic, payload, qos=qos, properties=props))
        for info in infos:
            info.wait_for_publish(timeout=60)
    finally:
        pub.disconnect()
        pub.loop_stop()


def test_the_installed_paho_takes_the_fast_path():
    assert compatible()
    assert type(Subscriber("mqtt://127.0.0.1:1", "x", "devices/#", lambda m: None).client) is FastReceiveClient


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_live_and_queued_messages_of_every_size_arrive_intact_and_in_order(stack, protocol):
    prefix = f"rx{uuid.uuid4().hex[:6]}"
    live, queued = _messages(prefix, 400, seed=1), _messages(prefix, 600, seed=2)
    seen: list = []
    cid = f"rx-{uuid.uuid4().hex[:8]}"
    sub = _subscriber(stack.mqtt_url, prefix, protocol, seen, cid)
    sub.start()
    try:
        assert sub.wait_connected(30)
        _publish(stack.mqtt_url, protocol, live)
        wait_for(lambda: len(seen) >= len(live), "the live messages")
    finally:
        sub.stop()
    _publish(stack.mqtt_url, protocol, [m for m in queued if m[2] == 1])  # queued for the session while away
    sub = _subscriber(stack.mqtt_url, prefix, protocol, seen, cid)
    sub.start()
    try:
        wait_for(lambda: len(seen) >= len(live) + sum(m[2] for m in queued), "the queued messages")
    finally:
        sub.stop()
    want = [(t, p, q) for t, p, q, _ in live] + [(t, p, 1) for t, p, q, _ in queued if q == 1]
    got = [(t, bytes(p), q) for t, p, q in seen]
    assert all(type(p) is bytes for _, p, _ in seen)
    assert sorted(got) == sorted(want)  # every message, intact
    # the broker keeps the order of one publisher's QoS 1 messages (QoS 0 may pass ahead of a full window)
    assert [m for m in got if m[2] == 1] == [m for m in want if m[2] == 1]


def test_buffered_socket_serves_small_reads_from_one_large_read_and_reports_what_it_holds():
    a, b = socket.socketpair()
    try:
        wrapped = BufferedSocket(a)
        b.sendall(b"\x30\x05hello" + b"x" * 10)
        wait_for(lambda: _readable(a), "the bytes")
        assert wrapped.recv(1) == b"\x30"
        assert wrapped.pending() == 16  # everything the first read took, not yet handed out
        assert wrapped.recv(1) == b"\x05"
        assert wrapped.recv(5) == b"hello"
        assert wrapped.recv(100) == b"x" * 10  # a short read: what the buffer had
        assert wrapped.pending() == 0
        a.setblocking(False)
        with pytest.raises(BlockingIOError):
            wrapped.recv(1)
        assert wrapped.fileno() == a.fileno()  # everything else is the socket's
        b.close()
        assert wrapped.recv(1) == b""  # closed by the peer, as paho expects it
    finally:
        a.close()


def _readable(sock) -> bool:
    import select

    return bool(select.select([sock], [], [], 0)[0])


def test_a_backlog_larger_than_the_receive_maximum_drains_while_each_burst_is_acknowledged(stack):
    """5,000 queued QoS 1 messages, receive maximum 100: only the PUBACKs sent between bursts open the window."""
    prefix = f"rx{uuid.uuid4().hex[:6]}"
    cid = f"rx-{uuid.uuid4().hex[:8]}"
    seen: list = []
    done = threading.Event()

    def on_message(m):
        seen.append(m.payload)
        sub.ack(m.mid, m.qos, m.generation)
        if len(seen) >= 5000:
            done.set()

    sub = Subscriber(stack.mqtt_url, cid, f"{prefix}/#", on_message, receive_maximum=100)
    sub.start()
    assert sub.wait_connected(30)
    sub.stop()
    _publish(stack.mqtt_url, "5", [(f"{prefix}/d/telemetry", str(i).encode(), 1, False) for i in range(5000)])
    sub = Subscriber(stack.mqtt_url, cid, f"{prefix}/#", on_message, receive_maximum=100)
    sub.start()
    try:
        assert done.wait(60), f"{len(seen)} of 5000"
    finally:
        sub.stop()
    assert seen == [str(i).encode() for i in range(5000)]


def test_a_paho_without_the_fast_path_is_used_as_it_is(stack, monkeypatch):
    """What `compatible()` falls back to: plain paho, the same messages delivered the same way."""
    import ingest.mqtt

    monkeypatch.setattr(ingest.mqtt, "_FAST_RECEIVE", False)
    prefix = f"rx{uuid.uuid4().hex[:6]}"
    seen: list = []
    sub = _subscriber(stack.mqtt_url, prefix, "5", seen, f"rx-{uuid.uuid4().hex[:8]}")
    assert type(sub.client) is paho.Client
    messages = _messages(prefix, 200, seed=3)
    sub.start()
    try:
        assert sub.wait_connected(30)
        _publish(stack.mqtt_url, "5", messages)
        wait_for(lambda: len(seen) >= len(messages), "every message")
    finally:
        sub.stop()
    assert sorted((t, bytes(p), q) for t, p, q in seen) == sorted((t, p, q) for t, p, q, _ in messages)
