"""`Alert`: what the alerting stage hands to the ticket stage on every transition."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.anomaly import Anomaly

STATES = ("pending", "firing", "resolved")
ALERT_SEVERITIES = ("info", "minor", "major", "critical")


@dataclass(frozen=True, slots=True)
class Alert:
    """The state of one alert key after a transition or a repeat.

    ``key`` is ``detector|scope|subject|code`` (`Anomaly.key`), the idempotency
    key of the ticket. ``parent_key`` is set when a firing cohort alert inhibits
    this device alert: the device becomes a child of the cohort's ticket.
    """

    key: str
    detector: str
    scope: str
    subject: str
    code: str
    severity: str
    state: str  # pending | firing | resolved
    starts_at_ms: int
    last_seen_ms: int
    ends_at_ms: int | None
    count: int  # anomalies folded into this alert
    flapping: bool
    anomaly: Anomaly  # the latest one
    parent_key: str | None = None
    silenced_by: str | None = None  # silence id, when silenced
