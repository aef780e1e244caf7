"""Publishing a simulation over real MQTT (the only module here that imports paho).

QoS 1 messages in flight are bounded (DESIGN §2: paho loses messages silently
past 65,535 outstanding): a publish waits until the broker has acknowledged
enough earlier ones. Devices that go offline through their last will get a
connection of their own with that will set; the rest share one connection.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Protocol
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

DISCONNECT_WITH_WILL = 0x04  # MQTT 5 reason code: the broker publishes the will


class PublishError(RuntimeError):
    """The broker could not be reached or stopped acknowledging."""


class MessageSource(Protocol):
    def messages(self) -> Iterable: ...


@dataclass(frozen=True, slots=True)
class Progress:
    sim_ms: int  # simulated time of the last message sent
    messages: int
    elapsed_s: float
    rate: float  # messages per second so far


@dataclass(frozen=True, slots=True)
class PublishSummary:
    messages: int
    elapsed_s: float
    rate: float  # messages per second
    sim_start_ms: int
    sim_end_ms: int
    wills: int = 0  # connections dropped so that the broker sends the device's last will
    reconnects: int = 0  # connections lost and made again (unacknowledged messages were sent again)

    @property
    def sim_span_s(self) -> float:
        return max(0, self.sim_end_ms - self.sim_start_ms) / 1000


class _Connection:
    """One paho client driven from the publishing thread (no network thread, no locks).

    The socket is serviced while waiting: for acknowledgements when too many
    QoS 1 messages are in flight, and while pacing holds messages back.
    """

    def __init__(self, url: str, client_id: str, max_inflight: int, timeout_s: float,
                 will_topic: str = "", login: tuple[str, str] | None = None, ca_file: str = ""):
        parts = urlsplit(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5 if will_topic else mqtt.MQTTv311)
        self.limit = max_inflight
        self.unacked: set[int] = set()  # mids of QoS 1 messages the broker has not acknowledged
        self.connected = False
        self.closed = False
        self.reconnects = 0
        self.unserviced = 0
        self.refused = ""
        # We bound in-flight messages ourselves (`limit`). paho's own bound would
        # re-scan its whole outgoing queue on every acknowledgement, so it is off.
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        if login is not None:  # a device's own credential (its user name is its id)
            self.client.username_pw_set(*login)
        elif parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            self.client.tls_set(ca_certs=ca_file or None)  # the broker's certificate is verified
        if will_topic:
            self.client.will_set(will_topic, b"offline", qos=1, retain=True)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.timeout_s = timeout_s

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
        else:
            self.connected = True

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.unacked.discard(mid)  # paho reports QoS 0 messages here too, once written: not in the set

    def open(self) -> "_Connection":
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise PublishError(f"cannot connect to the broker at {self.host}:{self.port}: {exc}") from None
        self._service_until(lambda: self.connected or bool(self.refused), "connect")
        if self.refused:
            raise PublishError(f"broker at {self.host}:{self.port} refused the connection: {self.refused}")
        return self

    def service(self, timeout: float = 0.0) -> None:
        """Read acknowledgements, write pending packets, keep the session alive; reconnect if lost."""
        rc = self.client.loop(timeout)
        if rc != mqtt.MQTT_ERR_SUCCESS and not self.closed:
            self.connected = False
            try:
                self.client.reconnect()  # unacknowledged QoS 1 messages are sent again
                self.reconnects += 1
            except OSError:
                pass

    def _service_until(self, done, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise PublishError(f"broker at {self.host}:{self.port}: no answer to {what} "
                                   f"after {self.timeout_s:.0f} s ({len(self.unacked)} messages unacknowledged)")
            self.service(0.05)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if qos:
            if len(self.unacked) >= self.limit:
                self._service_until(lambda: len(self.unacked) < self.limit // 2, "publish")
            self.unacked.add(self.client.publish(topic, payload, qos, retain).mid)
            return
        self.unserviced += 1
        if self.unserviced >= self.limit:  # QoS 0: still flush what the socket did not take
            self.unserviced = 0
            self.service(0.0)
        self.client.publish(topic, payload, qos, retain)

    def abort(self) -> None:
        """Disconnect at once (after an error), without waiting for acknowledgements."""
        if not self.closed:
            self.closed = True
            self.client.disconnect()

    def close(self, with_will: bool = False) -> None:
        """Wait until the broker has acknowledged everything, then disconnect."""
        if self.closed:
            return
        self._service_until(lambda: not self.unacked, "the last publishes")
        self.closed = True
        if with_will:
            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL))
        else:
            self.client.disconnect()
        self.client.loop(0.05)


def publish(sim: MessageSource, mqtt_url: str, speed: float = 0.0, realtime: bool = False,
            progress: Callable[[Progress], None] | None = None, *, max_inflight: int = 1000,
            client_id: str = "", timeout_s: float = 60.0, progress_every_s: float = 0.5,
            clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
            credentials: Mapping[str, str] | None = None, ca_file: str = "") -> PublishSummary:
    """Send every message of ``sim``; return once the broker has acknowledged them all.

    With ``credentials`` (device id -> password, from ``faultline devices
    provision`` or ``import``), each device publishes on a connection of its
    own, logged in as itself, as a broker with authorisation requires.
    ``ca_file`` verifies the broker on ``mqtts://``.

    ``speed`` is simulated seconds per wall second (0 or inf: as fast as
    possible). ``realtime`` sends each message when the wall clock reaches
    its timestamp (speed 1 on wall-clock time).
    """
    prefix = client_id or f"faultline-sim-{uuid.uuid4().hex[:8]}"
    if credentials is not None:
        return _run_as_devices(sim, mqtt_url, credentials, ca_file, _Pacer(speed, realtime, clock, wall),
                               max_inflight, timeout_s, clock)
    main = _Connection(mqtt_url, prefix, max_inflight, timeout_s, ca_file=ca_file).open()
    own: dict[str, _Connection] = {}
    try:
        for device in getattr(sim, "will_devices", lambda: [])():
            own[device] = _Connection(mqtt_url, f"{prefix}-{device}", max_inflight, timeout_s,
                                      will_topic=_status_topic(sim, device)).open()
        summary = _run(sim, main, own, _Pacer(speed, realtime, clock, wall), progress, progress_every_s, clock)
    except BaseException:
        for conn in [main, *own.values()]:
            conn.abort()
        raise
    return summary


def _run(sim, main: _Connection, own: dict[str, _Connection], pace: "_Pacer", progress, every_s: float,
         clock) -> PublishSummary:
    count = wills = 0
    first = last = None
    started = clock()
    next_report = started + every_s

    def idle(seconds: float) -> None:
        for conn in [main, *own.values()]:
            conn.service(seconds / (1 + len(own)))

    for m in sim.messages():
        pace.wait(m.ts_ms, idle)
        conn = own.get(m.topic.split("/")[-2] if m.topic.count("/") >= 2 else "") if own else None
        if m.will and conn is not None:
            device = m.topic.split("/")[-2]
            own.pop(device).close(with_will=True)
            wills += 1
        else:
            (conn or main).publish(m.topic, m.payload, m.qos, m.retain)
        count += 1
        first = m.ts_ms if first is None else first
        last = m.ts_ms
        if count % 256 == 0 and clock() >= next_report:
            idle(0.0)  # keep every session alive (a will connection must not time out)
            elapsed = clock() - started
            if progress is not None:
                progress(Progress(last, count, elapsed, count / elapsed if elapsed else 0.0))
            next_report = clock() + every_s
    for conn in [main, *own.values()]:
        conn.close()
    own.clear()
    elapsed = max(clock() - started, 1e-9)
    return PublishSummary(count, elapsed, count / elapsed, first or 0, last or 0, wills, main.reconnects)


def _run_as_devices(sim, url: str, credentials: Mapping[str, str], ca_file: str, pace: "_Pacer",
                    max_inflight: int, timeout_s: float, clock) -> PublishSummary:
    conns: dict[str, _Connection] = {}
    count = wills = 0
    first = last = None
    started = clock()

    def connection(device: str, will: bool) -> _Connection:
        if device not in conns:
            if device not in credentials:
                raise PublishError(f"no credential for device {device!r}: provision it (faultline devices "
                                   "provision) and add it to the credentials file")
            conns[device] = _Connection(url, device, max_inflight, timeout_s, will_topic=_status_topic(sim, device),
                                        login=(device, credentials[device]), ca_file=ca_file).open()
        return conns[device]

    try:
        for m in sim.messages():
            pace.wait(m.ts_ms, lambda seconds: [c.service(seconds / max(1, len(conns))) for c in conns.values()])
            device = m.topic.split("/")[-2] if m.topic.count("/") >= 2 else ""
            if m.will:
                connection(device, True)
                conns.pop(device).close(with_will=True)
                wills += 1
            else:
                connection(device, False).publish(m.topic, m.payload, m.qos, m.retain)
            count += 1
            first = m.ts_ms if first is None else first
            last = m.ts_ms
    except BaseException:
        for conn in conns.values():
            conn.abort()
        raise
    for conn in conns.values():
        conn.close()
    elapsed = max(clock() - started, 1e-9)
    return PublishSummary(count, elapsed, count / elapsed, first or 0, last or 0, wills,
                          sum(c.reconnects for c in conns.values()))


def _status_topic(sim, device: str) -> str:
    prefix = getattr(getattr(sim, "scenario", None), "topic_prefix", "devices")
    return f"{prefix}/{device}/status"


class _Pacer:
    """Holds messages back until their simulated time is due on the wall clock."""

    def __init__(self, speed: float, realtime: bool, clock, wall):
        self.speed = 1.0 if realtime else speed
        self.realtime = realtime
        self.clock, self.wall = clock, wall
        self.anchor: tuple[float, int] | None = None

    def wait(self, ts_ms: int, idle: Callable[[float], None]) -> None:
        """Service the connections (``idle``) until ``ts_ms`` is due."""
        if not self.realtime and (self.speed <= 0 or math.isinf(self.speed)):
            return
        while (ahead := self._ahead(ts_ms)) > 0.002:
            idle(min(ahead, 0.5))

    def _ahead(self, ts_ms: int) -> float:
        if self.realtime:
            return ts_ms / 1000 - self.wall()
        if self.anchor is None:
            self.anchor = (self.clock(), ts_ms)
        return self.anchor[0] + (ts_ms - self.anchor[1]) / 1000 / self.speed - self.clock()


def clear_retained(mqtt_url: str, topic_filter: str, *, quiet_s: float = 0.5, timeout_s: float = 30.0) -> int:
    """Delete every retained message under ``topic_filter``; return how many there were.

    The broker sends the retained messages right after the subscription is
    acknowledged: they are collected until none came for ``quiet_s``, then
    each is replaced by an empty retained message (which deletes it).
    """
    conn = _Connection(mqtt_url, f"faultline-clear-{uuid.uuid4().hex[:8]}", 1000, timeout_s).open()
    topics: set[str] = set()
    last = [time.monotonic()]

    def on_message(client, userdata, message) -> None:
        if message.retain:
            topics.add(message.topic)
            last[0] = time.monotonic()

    subscribed = []
    conn.client.on_message = on_message
    conn.client.on_subscribe = lambda *args: subscribed.append(True)
    try:
        conn.client.subscribe(topic_filter, qos=1)
        conn._service_until(lambda: bool(subscribed), "subscribe")
        last[0] = time.monotonic()
        conn._service_until(lambda: time.monotonic() - last[0] >= quiet_s, "the retained messages")
        conn.client.unsubscribe(topic_filter)
        for topic in sorted(topics):
            conn.publish(topic, b"", 1, True)
        conn.close()
    except PublishError:
        conn.abort()
        raise
    return len(topics)
