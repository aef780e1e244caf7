"""A paho MQTT 5 client for tests against a broker with authorisation and TLS."""

from __future__ import annotations

import threading

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support.waiting import wait_until

NOT_AUTHORIZED = 135
DEADLINE_S = 30


def wait_for(condition, what: str):
    """Wait for a broker's answer: polled every 2 ms, `DEADLINE_S` at most."""
    wait_until(condition, DEADLINE_S, 0.002, what)


class Client:
    """A paho MQTT 5 client that records what the broker answered."""

    def __init__(self, port: int, user: str | None, password: str | None, client_id: str = "",
                 clean_start: bool = True, tls: dict | None = None):
        self.connack = None
        self.pubacks: dict[int, int] = {}
        self.subacks: list[int] = []
        self.messages: list[tuple[str, bytes]] = []
        self.closed = threading.Event()
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        if user is not None:
            c.username_pw_set(user, password)
        if tls is not None:
            c.tls_set(**tls)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda cl, ud, flags, rc, props: self.closed.set()
        c.on_publish = lambda cl, ud, mid, rc, props: self.pubacks.__setitem__(mid, rc.value)
        c.on_subscribe = lambda cl, ud, mid, rcs, props: self.subacks.extend(r.value for r in rcs)
        c.on_message = lambda cl, ud, msg: self.messages.append((msg.topic, msg.payload))
        self.client = c
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean_start else 3600
        c.connect("127.0.0.1", port, 30, clean_start=clean_start, properties=props)
        c.loop_start()
        wait_for(lambda: self.connack is not None or self.closed.is_set(), "a CONNACK")

    def _on_connect(self, client, userdata, flags, rc, props):
        self.connack = rc.value
        if rc.is_failure:
            client.disconnect()  # refused: no reconnecting in the background

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        info = self.client.publish(topic, payload, qos=1)
        wait_for(lambda: info.mid in self.pubacks, f"the PUBACK of {topic}")
        return self.pubacks[info.mid]

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()
