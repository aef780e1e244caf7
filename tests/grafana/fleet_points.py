"""Realistic points written straight to InfluxDB for measurements whose writer is not in the test's pipeline.

Each function returns line-protocol lines (millisecond timestamps) shaped as
the owning stage writes them (see grafana/schema.json): the detectors'
``anomalies`` (detectors/sink.py), the alert stage's ``alert_events``
(alerts/events.py). The real detectors raise nothing on a two-hour fleet of
thirty devices: their fault-rate windows need more history than that.
"""

from __future__ import annotations

import random

from influx.line_protocol import encode_line


def anomaly_lines(device: str, cohort: str, start_ms: int, end_ms: int, seed: int = 7) -> list[str]:
    """Device and cohort fault-rate detections rising over the second half of the range."""
    rng = random.Random(seed)
    lines = []
    span = end_ms - start_ms
    for i in range(40):
        ts = start_ms + span // 2 + i * (span // 2) // 40
        score = 2.0 + i * 0.25 + rng.random()
        lines.append(encode_line("anomalies", {"detector": "device_fault_rate", "scope": "device", "subject": device}, {
            "score": score, "observed": 1.0 + i * 0.15, "expected": 0.3, "threshold": 6.0, "code": "E214",
            "explanation": f"{1 + i * 0.15:.1f} E214 faults/h against a learned 0.3/h", "attribution": ""}, ts))
        lines.append(encode_line("anomalies", {"detector": "cohort_fault_rate", "scope": "cohort", "subject": cohort}, {
            "score": score * 1.5, "observed": 0.2 + i * 0.02, "expected": 0.05, "threshold": 8.0, "code": "E214",
            "explanation": "faults per active device 4x the fleet", "attribution": "firmware=2.1.0"}, ts))
    lines.append(encode_line("anomalies", {"detector": "telemetry", "scope": "device", "subject": device}, {
        "score": 0.93, "observed": 0.93, "expected": 0.5, "threshold": 0.9, "code": "",
        "explanation": "temp_c and current_a jointly unusual for PX-200", "attribution": ""}, start_ms + span // 3))
    return lines


def alert_lines(device: str, cohort: str, start_ms: int, end_ms: int) -> list[str]:
    """A device alert that fired and resolved, one that fires again, and a firing cohort alert."""
    span = end_ms - start_ms
    dev_key = f"device_fault_rate|device|{device}|E214"
    tel_key = f"telemetry|device|{device}|"
    cohort_key = f"cohort_fault_rate|cohort|{cohort}|E214"
    rows = [
        (start_ms + span // 3, tel_key, "minor", "firing", device, "fired: temp_c and current_a jointly unusual", ""),
        (start_ms + span // 2, tel_key, "minor", "resolved", device, "resolved: quiet for 30 min", ""),
        (start_ms + 2 * span // 3, dev_key, "major", "firing", device, "fired: 3.1 E214 faults/h against 0.3/h", "FL-1"),
        (start_ms + 3 * span // 4, cohort_key, "critical", "firing", cohort,
         "fired: cohort fault rate 4x the fleet; firmware=2.1.0 explains the excess", "FL-2"),
    ]
    return [encode_line("alert_events", {"alert": key, "severity": sev, "state": state},
                        {"text": text, "ticket": ticket, "subject": subject}, ts)
            for ts, key, sev, state, subject, text, ticket in rows]
