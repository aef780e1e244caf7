"""The broker seam: a paho-mqtt 2 subscriber with a persistent session and manual acks.

The only module of ingest that imports paho. MQTT 5, ``clean_start=False``
and a session that never expires: while Faultline is down or restarting, the
broker keeps queuing for it. A graceful stop disconnects without
unsubscribing. Messages are acknowledged only when the caller says they are
durable (`ack`); an ack for a message received on an earlier connection is
not sent (the broker redelivers it on the new one, and duplicates overwrite
the same point).

Limits sent to the broker: a receive maximum (unacknowledged QoS 1
messages) and a Maximum Packet Size, equal to the broker's own
``max_packet_size`` in every config Faultline ships, so the broker refuses a
larger message to its publisher rather than dropping it on the way to us.
Retained messages are asked for only when the subscription is new (retain
handling 1): a reconnect to the persistent session does not replay every
retained ``meta``, ``status`` or ``fault`` under the prefix.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger("faultline.ingest")
NEVER_EXPIRES = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Incoming:
    """One delivered message, as the pipeline sees it."""

    topic: str
    payload: bytes
    received_ms: int
    mid: int
    qos: int
    generation: int


class Subscriber:
    def __init__(self, url: str, client_id: str, topic_filter: str, on_message: Callable[[Incoming], None],
                 keepalive: int = 30, receive_maximum: int = 1000, clean_start: bool = False,
                 max_packet_size: int = 0):
        self.url = url
        self.client_id = client_id
        self.topic_filter = topic_filter
        self.on_message = on_message
        self.keepalive = keepalive
        self.receive_maximum = receive_maximum
        self.clean_start = clean_start
        self.max_packet_size = max_packet_size
        self.generation = 0
        self.connected = threading.Event()
        self.client = self._make_client()

    def _make_client(self) -> paho.Client:
        parts = urlsplit(self.url)
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=paho.MQTTv5, manual_ack=True)
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            client.tls_set()
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        parts = urlsplit(self.url)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = NEVER_EXPIRES
        props.ReceiveMaximum = self.receive_maximum
        if self.max_packet_size:
            props.MaximumPacketSize = self.max_packet_size
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.client.connect_async(parts.hostname, port, self.keepalive, clean_start=self.clean_start,
                                  properties=props)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def ack(self, mid: int, qos: int, generation: int) -> None:
        if qos and generation == self.generation:
            self.client.ack(mid, qos)

    def stop(self) -> None:
        """Disconnect without unsubscribing: the session keeps queuing at the broker."""
        self.client.disconnect()
        self.client.loop_stop()

    # paho callbacks: they never raise.

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.error("broker refused the connection: %s", reason_code)
                return
            self.generation += 1
            client.subscribe(self.topic_filter, options=SubscribeOptions(
                qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB))
            log.info("connected to %s as %s (session present: %s); subscribed to %s",
                     _safe(self.url), self.client_id, flags.session_present, self.topic_filter)
            self.connected.set()
        except Exception:  # noqa: BLE001 - a callback must never raise into paho
            log.exception("on_connect failed")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code != 0:
            delay = random.uniform(0.5, 1.5)
            client.reconnect_delay_set(delay, 30 + random.uniform(0, 5))
            log.warning("disconnected from the broker (%s); reconnecting with backoff", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        try:
            topic = message._topic.decode("utf-8", "replace")
            self.on_message(Incoming(topic, message.payload, int(time.time() * 1000), message.mid,
                                     message.qos, self.generation))
        except Exception:  # noqa: BLE001
            log.exception("message handler failed")


def _safe(url: str) -> str:
    """The URL without its password.

    >>> _safe("mqtt://u:secret@h:1883")
    'mqtt://u:***@h:1883'
    """
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
