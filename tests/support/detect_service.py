"""A `faultline detect` service fed by a real or a fake subscriber, and the messages the detector tests send."""

import json
import time

import pytest

from detectors.engine import DetectorEngine, EngineConfig
from detectors.service import DetectService
from detectors.sink import AnomalySink
from faultline import wiring
from faultline.pipeline import Pipeline
from runtime.supervisor import Supervisor

HOUR = 3_600_000


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)  # polling a condition with a deadline, not timing anything
    pytest.fail("condition not met before the deadline")


def detect_service(settings, config: EngineConfig, writer, subscriber_factory, **options) -> DetectService:
    """`faultline detect`'s service without the alert stage: detectors and anomaly sink fed from MQTT."""
    supervisor = Supervisor("faultline detect")
    pipeline = Pipeline(DetectorEngine(config), AnomalySink(writer), guard=supervisor.guard)
    return DetectService(settings, pipeline, subscriber_factory, wiring.decode_limits(settings), supervisor, **options)


def messages(now_ms: int, prefix: str) -> list[tuple]:
    """A quiet hour for three pumps, then one of them faults eight times in the next hour."""
    start = (now_ms // HOUR - 3) * HOUR
    meta = json.dumps({"model": "PX-200", "firmware": "2.0.3", "site": "s1"})
    timed = []
    for d in ("p1", "p2", "p3"):
        for h in range(3):
            timed.append((start + h * HOUR + 1000, f"{prefix}/{d}/telemetry", json.dumps({"ts": start + h * HOUR + 1000, "metrics": {"t": 1.0}})))
    for k in range(8):
        ts = start + HOUR + 60_000 * (k + 1)
        timed.append((ts, f"{prefix}/p2/events", json.dumps({"ts": ts, "type": "fault", "code": "E430", "severity": "minor"})))
    out = [(f"{prefix}/{d}/meta", meta, 1, True) for d in ("p1", "p2", "p3")]
    out += [(topic, payload, 1, False) for _, topic, payload in sorted(timed)]  # in event-time order, as devices send
    out.append((f"{prefix}/p2/events", b"{not json", 1, False))
    return out


class FakeSubscriber:
    """Transport seam only: the detector loop's own logic is what is tested here."""

    def __init__(self, *args):
        self.acked = []

    def start(self):
        pass

    def stop(self):
        pass

    def ack(self, mid, qos, generation):
        self.acked.append(mid)
