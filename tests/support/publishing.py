"""Publishing test traffic to the broker: QoS 1, every PUBACK awaited."""

from __future__ import annotations

import threading
import uuid
from urllib.parse import urlsplit

import orjson


def publish_all(url: str, messages, qos: int = 1, client_id: str = "", max_inflight: int = 1000) -> int:
    """Publish (topic, payload[, retain]) tuples with QoS 1 and wait for every PUBACK; the count sent."""
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


def telemetry_stream(n: int, devices: int, base_ms: int, metrics: int = 4):
    """n telemetry messages round-robin over devices, seq per device from 1.

    >>> [topic for topic, _ in telemetry_stream(3, 2, 0)]
    ['devices/dev-0000/telemetry', 'devices/dev-0001/telemetry', 'devices/dev-0000/telemetry']
    """
    for i in range(n):
        dev, seq = i % devices, i // devices + 1
        payload = {"ts": base_ms + seq * 1000, "seq": seq,
                   "metrics": {f"m{k}": float((i * 7 + k) % 101) for k in range(metrics)}}
        yield f"devices/dev-{dev:04d}/telemetry", orjson.dumps(payload)
