"""`Anomaly`: what a detector hands to the alerting stage (and writes to InfluxDB)."""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = ("device", "cohort")
EMISSIONS = ("repeat", "episode")

COHORT_FAULT_RATE = "cohort_fault_rate"  # the cohort scan's detector name (alerts hold its findings longer)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One detection.

    ``subject`` is the device id (scope ``device``) or the cohort label
    (scope ``cohort``, e.g. ``"model=PX-200,firmware=2.1.0"``, attributes in
    the order model, firmware, site). ``attribution`` names the attribute
    value that best explains a cohort excess (``"firmware=2.1.0"``).
    """

    detector: str  # device_fault_rate | cohort_fault_rate | telemetry | rule:<name>
    scope: str  # device | cohort
    subject: str
    code: str  # fault code, "" when the detector has none
    ts_ms: int  # event time of the detection
    onset_ms: int  # estimated start of the abnormal behaviour
    score: float  # higher is more anomalous
    observed: float
    expected: float
    threshold: float
    window_s: float
    explanation: str  # one sentence for a technician
    attribution: str = ""
    devices: tuple[str, ...] = ()  # affected devices (cohort scope)
    model: str = ""  # cohort attributes of the subject, where known
    firmware: str = ""
    site: str = ""
    emission: str = "repeat"  # repeat | episode (see above)
    flaps: int = 0  # raise/clear cycles the detector saw in its evidence (a fault that comes and goes)

    @property
    def key(self) -> str:
        """The alert key: detector + scope + subject + fault code.

        >>> Anomaly("telemetry", "device", "pump-7", "", 0, 0, 1.0, 1.0, 0.0, 1.0, 60.0, "x").key
        'telemetry|device|pump-7|'
        """
        return f"{self.detector}|{self.scope}|{self.subject}|{self.code}"
