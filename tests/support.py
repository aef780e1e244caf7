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
