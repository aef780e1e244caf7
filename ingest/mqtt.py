"""The broker seam: a paho-mqtt 2 subscriber with a persistent session and manual acks.

With ingest.mqtt_receive (paho's receive path, shortened), the only module of
ingest that imports paho. MQTT 5, ``clean_start=False`` and a session that
never expires: while Faultline is down or restarting, the broker keeps
queuing for it. Or MQTT 3.1.1 (``protocol="3.1.1"``): ``clean_session=False``,
no CONNECT properties; the session then lasts as long as the broker keeps persistent
sessions (Mosquitto's ``persistent_client_expiration``). A graceful stop
disconnects without unsubscribing. Messages are acknowledged only when the caller says they are
durable (`ack`); an ack for a message received on an earlier connection is
not sent (the broker redelivers it on the new one, and duplicates overwrite
the same point).

Said by name: a session taken over by another client with the same client id
is logged with the setting to change. A broker that says so (MQTT 5 reason
code 0x8E) ends it: this subscriber stops reconnecting, since the two would
take the session from each other forever. Mosquitto 2.0 closes the old
connection without that reason code; then the sign is a connection the broker
closes within seconds of accepting it, again and again: after three such,
the likely cause is named and reconnects back off to minutes instead of
one second. Failed connection attempts are logged at attempts 1, 2, 4, 8,
... while paho retries with backoff.

Limits sent to the broker: a receive maximum (unacknowledged QoS 1
messages) and a Maximum Packet Size, equal to the broker's own
``max_packet_size`` in every config Faultline ships, so the broker refuses a
larger message to its publisher rather than dropping it on the way to us.
Retained messages are asked for only when the subscription is new (retain
handling 1): a reconnect to the persistent session does not replay every
retained ``meta``, ``status`` or ``fault`` under the prefix.

MQTT 3.1.1 has none of these: no takeover reason code (the short-lived
connection sign still applies), no receive maximum (the broker's
``max_inflight_messages`` bounds what is unacknowledged), no Maximum Packet
Size (the broker's own ``max_packet_size`` bounds what it accepts), and no
retain handling: every SUBSCRIBE, so every reconnect, makes the broker send
each retained message again, with the retain flag set (a message forwarded
live, or queued while away, comes without it). On a connection to a session
the broker already had, such a message is marked `Incoming.replayed`: the
session received it when it was published.
"""

from __future__ import annotations

import logging
import random
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.client import PUBACK
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.mqtt_receive import FastReceiveClient, compatible

log = logging.getLogger("faultline.ingest")
# 136 years: never, in practice, yet finite: Mosquitto applies its persistent_client_expiration
# (set by Faultline's broker configs to expire abandoned device sessions) only to sessions asking
# for the infinite 0xFFFFFFFF, so this one is left alone.
NEVER_EXPIRES = 0xFFFFFFFE
SESSION_TAKEN_OVER = 0x8E
PROTOCOLS = {"5": paho.MQTTv5, "3.1.1": paho.MQTTv311}
SHORT_LIVED_S = 10.0  # a connection the broker closes sooner than this after accepting it
_PUBACK = struct.Struct("!BBH")  # a PUBACK packet: type, remaining length 2, packet id (success, MQTT 3.1.1 and 5)
TAKEOVER_AFTER = 3  # short-lived connections in a row that point at another client with our id
_FAST_RECEIVE = compatible()  # paho's receive path with the shortcuts of ingest.mqtt_receive
MESSAGE_OVERHEAD = 200  # bytes of an `Incoming` beyond its payload and topic


@dataclass(slots=True)
class Incoming:
    """One delivered message, as the pipeline sees it (not frozen: a frozen dataclass takes four times as long
    to build, once per message)."""

    topic: str
    payload: bytes
    received_ms: int
    mid: int
    qos: int
    generation: int
    dup: bool = False  # the broker sent it before (a redelivery after a lost connection or a restart)
    replayed: bool = False  # MQTT 3.1.1: a retained message sent again because the subscription was renewed


def held_size(msg: Incoming) -> int:
    """The bytes an inbox counts `msg` as."""
    return len(msg.payload) + len(msg.topic) + MESSAGE_OVERHEAD


@dataclass(slots=True)
class _Waiting:
    """Acknowledgements held until the broker has accepted the messages published with them."""

    left: set[int]
    acks: list[tuple[int, int, int]]


class Subscriber:
    def __init__(self, url: str, client_id: str, topic_filter: str, on_message: Callable[[Incoming], None],
                 keepalive: int = 30, receive_maximum: int = 1000, clean_start: bool = False,
                 session_expiry: int = NEVER_EXPIRES, client_id_option: str = "FAULTLINE_MQTT_CLIENT_ID",
                 on_taken_over: Callable[[], None] | None = None, max_packet_size: int = 0, ca_file: str = "",
                 protocol: str = "5"):
        if protocol not in PROTOCOLS:
            raise ValueError(f"MQTT protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        self.url = url
        self.client_id = client_id
        self.topic_filter = topic_filter
        self.on_message = on_message
        self.keepalive = keepalive
        self.receive_maximum = receive_maximum
        self.clean_start = clean_start
        self.session_expiry = session_expiry
        self.client_id_option = client_id_option  # the setting that names client_id, for messages
        self.on_taken_over = on_taken_over
        self.max_packet_size = max_packet_size
        self.ca_file = ca_file  # verifies the broker's certificate on mqtts:// (empty: the system's CAs)
        self.protocol = protocol
        self.generation = 0
        self.connected = threading.Event()  # connected and subscribed: the broker acknowledged the SUBSCRIBE
        self.taken_over = threading.Event()
        self.failures = ConnectFailures(_safe(url))
        self._connected_at: float | None = None  # monotonic time of the current connection's CONNACK
        self._short_lived = 0  # connections in a row the broker closed within SHORT_LIVED_S
        self._replays = False  # this connection renewed the subscription of a session that had it (MQTT 3.1.1)
        self._ack_lock = threading.Lock()
        self._waiting: dict[int, _Waiting] = {}  # mid of a message published -> what to acknowledge after it
        self._early_pubacks: set[int] = set()
        self.publish_refused = 0  # published messages the broker refused (their acknowledgements still go out)
        self.client = self._make_client()

    def _make_client(self) -> paho.Client:
        parts = urlsplit(self.url)
        v311 = self.protocol == "3.1.1"
        cls = FastReceiveClient if _FAST_RECEIVE else paho.Client
        client = cls(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, manual_ack=True,
                     protocol=PROTOCOLS[self.protocol], clean_session=self.clean_start if v311 else None)
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            client.tls_set(ca_certs=self.ca_file or None)  # the server's certificate and host name are verified
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        if _FAST_RECEIVE:
            client.on_publish_received = self._on_received
        return client

    def start(self) -> None:
        parts = urlsplit(self.url)
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        if self.protocol == "3.1.1":  # clean_session is the client's; nothing else to say in CONNECT
            self.client.connect_async(parts.hostname, port, self.keepalive)
            self.client.loop_start()
            return
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry
        props.ReceiveMaximum = self.receive_maximum
        if self.max_packet_size:
            props.MaximumPacketSize = self.max_packet_size
        self.client.connect_async(parts.hostname, port, self.keepalive, clean_start=self.clean_start,
                                  properties=props)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def ack(self, mid: int, qos: int, generation: int) -> None:
        if qos and generation == self.generation:
            self.client.ack(mid, qos)

    def ack_all(self, acks: list[tuple[int, int, int]]) -> None:
        """Acknowledge a batch's messages ((mid, qos, generation), QoS 1) in one packet write.

        paho's ``ack`` queues each PUBACK as a packet of its own (a wake-up of the network thread and a
        socket write per message); the PUBACKs of a batch are concatenated here and written at once.
        What came on an earlier connection is not acknowledged (the broker delivers it again).
        """
        generation = self.generation
        queue = getattr(self.client, "_packet_queue", None)  # paho's own outgoing queue, as its ack uses
        if queue is None:  # a paho without it: one PUBACK at a time
            for mid, qos, g in acks:
                self.ack(mid, qos, g)
            return
        packets = [_PUBACK.pack(PUBACK, 2, mid) for mid, qos, g in acks if qos == 1 and g == generation]
        if packets:
            queue(PUBACK, b"".join(packets), 0, 1)

    def publish_then_ack(self, messages: list[tuple[str, bytes]], acks: list[tuple[int, int, int]]) -> None:
        """Send QoS 1 messages on this connection; acknowledge ``acks`` ((mid, qos, generation) of messages
        received) once the broker has accepted every one of them (their PUBACKs).

        Nothing here waits: the acknowledgements go out from paho's network thread when the last PUBACK
        arrives, so a network thread blocked on a full inbox cannot hold up the caller (the caller frees
        the inbox). A message sent while the connection is down is queued by paho and sent on the next
        connection; acknowledgements of an earlier connection are not sent (the broker delivers those
        messages again), so what this hands on arrives at least once. A message the broker refuses
        (MQTT 5 reason code, e.g. the ACL) is counted and logged, and the acknowledgements still go out:
        what was received is stored, and storing must not stop on it.
        """
        mids = [self.client.publish(topic, payload, qos=1).mid for topic, payload in messages]
        with self._ack_lock:  # (never held while calling paho: its PUBACK callback runs under paho's own lock)
            left = set(mids) - self._early_pubacks
            self._early_pubacks -= set(mids)
            if left:
                waiting = _Waiting(left, acks)
                for mid in left:
                    self._waiting[mid] = waiting
                return
        self.ack_all(acks)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        try:
            if getattr(reason_code, "is_failure", False):  # MQTT 5 (a 3.1.1 broker drops a refused one silently)
                self.publish_refused += 1
                if self.publish_refused in (1, 10, 100) or self.publish_refused % 1000 == 0:
                    log.error("the broker refused %d published messages (%s); check that %s may publish "
                              "there (broker ACL)", self.publish_refused, reason_code, self.client_id)
            with self._ack_lock:
                waiting = self._waiting.pop(mid, None)
                if waiting is None:
                    self._early_pubacks.add(mid)  # the PUBACK came before publish_then_ack noted its mid
                    return
                waiting.left.discard(mid)
                if waiting.left:
                    return
            self.ack_all(waiting.acks)
        except Exception:  # noqa: BLE001 - a callback must never raise into paho
            log.exception("on_publish failed")

    def stop(self, flush_s: float = 5.0) -> None:
        """Disconnect without unsubscribing: the session keeps queuing at the broker. Acknowledgements
        still waiting for a PUBACK (`publish_then_ack`) are given up to ``flush_s`` to go out first."""
        deadline = time.monotonic() + flush_s
        while self._waiting and self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)  # polling paho's progress with a deadline, nothing to be woken by
        self.client.disconnect()
        self.client.loop_stop()

    # paho callbacks: they never raise.

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                self.failures.note(f"the broker refused the connection: {reason_code}")
                return
            self.failures.recovered()
            self._connected_at = time.monotonic()
            self.generation += 1
            with self._ack_lock:  # acknowledgements of the last connection would not be sent anyway
                self._waiting.clear()
                self._early_pubacks.clear()
            if self.protocol == "3.1.1":
                self._replays = bool(flags.session_present)
                client.subscribe(self.topic_filter, qos=1)
            else:
                client.subscribe(self.topic_filter, options=SubscribeOptions(
                    qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB))
            log.info("connected to %s as %s (MQTT %s, session present: %s); subscribing to %s",
                     _safe(self.url), self.client_id, self.protocol, flags.session_present, self.topic_filter)
        except Exception:  # noqa: BLE001 - a callback must never raise into paho
            log.exception("on_connect failed")

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        """Ready once the broker has the subscription: what is published from then on reaches this session."""
        try:
            refused = [code for code in reason_codes if code.is_failure]
            if refused:
                log.error("the broker at %s refused the subscription to %s (%s): nothing will be read; check the "
                          "user's ACL", _safe(self.url), self.topic_filter, refused[0])
                return
            log.info("subscribed to %s", self.topic_filter)
            self.connected.set()
        except Exception:  # noqa: BLE001 - a callback must never raise into paho
            log.exception("on_subscribe failed")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        try:
            code = getattr(reason_code, "value", reason_code)
            lived = time.monotonic() - self._connected_at if self._connected_at is not None else None
            self._connected_at = None
            if code == SESSION_TAKEN_OVER:
                self._taken_over(client)
            elif code != 0 and lived is not None:  # (a refused connection is logged by ConnectFailures)
                self._short_lived = self._short_lived + 1 if lived is not None and lived < SHORT_LIVED_S else 0
                if self._short_lived >= TAKEOVER_AFTER:
                    self._probably_taken_over(client)
                else:
                    client.reconnect_delay_set(random.uniform(0.5, 1.5), 30 + random.uniform(0, 5))
                    log.warning("disconnected from the broker (%s); reconnecting with backoff", reason_code)
        except Exception:  # noqa: BLE001
            log.exception("on_disconnect failed")

    def _probably_taken_over(self, client) -> None:
        n = self._short_lived - TAKEOVER_AFTER
        delay = min(300.0, 30.0 * 2 ** n) * random.uniform(1.0, 1.3)
        client.reconnect_delay_set(delay, delay)
        if n & (n - 1) == 0:  # said at the 3rd, 4th, 5th, 7th, 11th, ... short-lived connection
            log.error("the broker at %s closed this session %d times in a row within %.0f s of accepting it: "
                      "another client probably uses the same client id %r and takes the session over (Mosquitto "
                      "2.0 does this without MQTT reason 0x8E). Give each process its own %s (replicas that "
                      "share the load also set FAULTLINE_MQTT_SHARED_GROUP). Reconnecting in %.0f s.",
                      _safe(self.url), self._short_lived, SHORT_LIVED_S, self.client_id, self.client_id_option,
                      delay)

    def _taken_over(self, client) -> None:
        log.error("another client connected to %s with the same client id %r and took over this session "
                  "(MQTT reason 0x8E, session taken over). Two processes must not share a client id: give each "
                  "its own %s (replicas that share the load also set FAULTLINE_MQTT_SHARED_GROUP). "
                  "This process stops reading.", _safe(self.url), self.client_id, self.client_id_option)
        self.taken_over.set()
        client.disconnect()  # no reconnect: the two would take the session from each other forever
        if self.on_taken_over is not None:
            self.on_taken_over()

    def _on_connect_fail(self, client, userdata) -> None:
        self.failures.note("cannot connect (refused, unreachable or timed out)")

    def _on_message(self, client, userdata, message) -> None:
        self._on_received(message._topic, message.payload, message.mid, message.qos, bool(message.dup),
                          bool(message.retain))

    def _on_received(self, topic: bytes, payload: bytes, mid: int, qos: int, dup: bool, retain: bool) -> None:
        try:
            self.on_message(Incoming(topic.decode("utf-8", "replace"), payload, int(time.time() * 1000), mid, qos,
                                     self.generation, dup, self._replays and retain))
        except Exception:  # noqa: BLE001
            log.exception("message handler failed")


class ConnectFailures:
    """Failed connection attempts, logged at attempts 1, 2, 4, 8, ... (paho retries with backoff).

    >>> f = ConnectFailures("mqtt://h:1883")
    >>> [f.note("refused") for _ in range(5)]
    [True, True, False, True, False]
    >>> f.recovered()
    True
    """

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic):
        self.url = url
        self.clock = clock
        self.attempts = 0
        self.since = 0.0

    def note(self, what: str) -> bool:
        """Count a failed attempt; True when it was logged."""
        self.attempts += 1
        if self.attempts == 1:
            self.since = self.clock()
        if self.attempts & (self.attempts - 1):
            return False
        log.warning("MQTT broker %s: %s; attempt %d, failing for %.0f s; retrying with backoff (up to 30 s)",
                    self.url, what, self.attempts, self.clock() - self.since)
        return True

    def recovered(self) -> bool:
        """Connected again; True when there had been failures (said once)."""
        if not self.attempts:
            return False
        log.warning("MQTT broker %s: connected after %d failed attempts over %.0f s",
                    self.url, self.attempts, self.clock() - self.since)
        self.attempts = 0
        return True


def _safe(url: str) -> str:
    """The URL without its password.

    >>> _safe("mqtt://u:secret@h:1883")
    'mqtt://u:***@h:1883'
    """
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
