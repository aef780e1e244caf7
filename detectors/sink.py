"""Anomalies to InfluxDB measurement ``anomalies`` (DESIGN §3).

Tags: detector, scope, subject. Fields: score, observed, expected, threshold
(floats) and code, explanation, attribution (strings). The writer is any
object with ``write(body, precision)`` (`influx.client.InfluxClient`). A
retryable failure keeps the lines for the next ``write``/``flush`` (bounded:
the oldest are dropped past ``max_pending`` and counted); a permanent one is
logged and counted, never raised into the detector loop.
"""

from __future__ import annotations

import logging
from typing import Iterable, Protocol

from detectors.anomaly import Anomaly
from influx.errors import InfluxError
from influx.line_protocol import encode_line

log = logging.getLogger("faultline.detectors")


class Writer(Protocol):
    def write(self, body: bytes | str, precision: str = "ms") -> None: ...


def anomaly_line(a: Anomaly) -> str:
    """One anomaly as line protocol.

    >>> a = Anomaly("telemetry", "device", "pump-7", "", 1000, 900, 12.5, 3.0, 1.0, 10.0, 0.0, "hot")
    >>> anomaly_line(a)
    'anomalies,detector=telemetry,scope=device,subject=pump-7 attribution="",code="",expected=1,explanation="hot",observed=3,score=12.5,threshold=10 1000'
    """
    fields = {"score": float(a.score), "observed": float(a.observed), "expected": float(a.expected),
              "threshold": float(a.threshold), "code": a.code, "explanation": a.explanation,
              "attribution": a.attribution}
    return encode_line("anomalies", {"detector": a.detector, "scope": a.scope, "subject": a.subject}, fields, a.ts_ms)


class AnomalySink:
    def __init__(self, writer: Writer, max_pending: int = 100_000):
        self.writer = writer
        self.max_pending = max_pending
        self.pending: list[str] = []
        self.written = 0
        self.dropped = 0

    def write(self, anomalies: Iterable[Anomaly]) -> None:
        self.pending += [anomaly_line(a) for a in anomalies]
        if len(self.pending) > self.max_pending:
            excess = len(self.pending) - self.max_pending
            del self.pending[:excess]
            self.dropped += excess
            log.warning("anomaly sink: dropped %d lines InfluxDB could not take", excess)
        self.flush()

    def flush(self) -> bool:
        """Write what is pending; True when nothing is left."""
        if not self.pending:
            return True
        try:
            self.writer.write("\n".join(self.pending), precision="ms")
        except InfluxError as exc:
            if exc.retryable:
                log.warning("anomaly sink: InfluxDB unavailable, %d lines kept: %s", len(self.pending), exc)
                return False
            log.error("anomaly sink: InfluxDB rejected %d lines: %s", len(self.pending), exc)
            self.dropped += len(self.pending)
        else:
            self.written += len(self.pending)
        self.pending.clear()
        return True
