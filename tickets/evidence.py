"""The evidence of a ticket: what a technician needs to locate the fault, stored as JSON on it.

An `Evidence` holds the log slice around onset, the metric window of the
subject against its cohort, the cohort comparison table, similar past cases
and a Grafana link; ``errors`` names each part that could not be gathered
(the evidence is then incomplete and refreshed later). An `EvidenceSource`
gathers it for an `EvidenceRequest` (`tickets.influx_evidence.InfluxEvidence`
from InfluxDB); similar past tickets come from SQL (`tickets.similar`) and
are added by the service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class LogEntry:
    ts_ms: int
    device: str
    level: str
    component: str
    code: str
    msg: str


@dataclass(frozen=True, slots=True)
class Stats:
    min: float | None
    mean: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class MetricWindow:
    """One metric over the incident window: the subject against its reference group."""

    metric: str
    subject: Stats
    reference: Stats


@dataclass(frozen=True, slots=True)
class CohortRow:
    """Fault rate of one attribute value (e.g. firmware 2.1.0) over the window."""

    attribute: str
    value: str
    devices: int
    faults: int
    rate: float  # faults per active device
    flagged: bool  # the value named by the detector


@dataclass(frozen=True, slots=True)
class SimilarCase:
    ticket_id: int
    title: str
    score: float
    code: str
    model: str
    firmware: str
    root_cause: str
    resolution: str


@dataclass(frozen=True, slots=True)
class Explanation:
    text: str
    observed: float
    expected: float
    score: float
    threshold: float
    attribution: str = ""


@dataclass(frozen=True, slots=True)
class EvidenceRequest:
    """What the gatherer needs to know about the incident."""

    key: str
    scope: str  # device | cohort
    subject: str
    code: str
    devices: tuple[str, ...]
    model: str
    firmware: str
    site: str
    attribution: str
    onset_ms: int
    last_seen_ms: int
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class Evidence:
    gathered_ms: int
    complete: bool
    errors: tuple[str, ...]
    window_start_ms: int
    window_end_ms: int
    explanation: Explanation
    logs: tuple[LogEntry, ...] = ()
    metrics: tuple[MetricWindow, ...] = ()
    reference: str = ""  # what the metric reference group is
    cohort: tuple[CohortRow, ...] = ()
    devices: tuple[str, ...] = ()
    similar: tuple[SimilarCase, ...] = ()
    grafana_url: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Evidence":
        """Inverse of `to_dict`.

        >>> e = Evidence(1, True, (), 0, 2, Explanation("x", 3.0, 1.0, 5.0, 4.0))
        >>> Evidence.from_dict(e.to_dict()) == e
        True
        """
        def stats(s): return Stats(**s)
        return cls(
            gathered_ms=d["gathered_ms"], complete=d["complete"], errors=tuple(d["errors"]),
            window_start_ms=d["window_start_ms"], window_end_ms=d["window_end_ms"],
            explanation=Explanation(**d["explanation"]),
            logs=tuple(LogEntry(**x) for x in d.get("logs", ())),
            metrics=tuple(MetricWindow(x["metric"], stats(x["subject"]), stats(x["reference"]))
                          for x in d.get("metrics", ())),
            reference=d.get("reference", ""),
            cohort=tuple(CohortRow(**x) for x in d.get("cohort", ())),
            devices=tuple(d.get("devices", ())),
            similar=tuple(SimilarCase(**x) for x in d.get("similar", ())),
            grafana_url=d.get("grafana_url", ""),
        )


class EvidenceSource(Protocol):
    def gather(self, request: EvidenceRequest, now_ms: int) -> Evidence: ...
