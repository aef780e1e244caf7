"""Ground truth: what a simulation did, and what a perfect Faultline would make of it.

Written by ``faultline simulate --truth FILE`` and read by evaluation. The
JSON schema is documented in ``docs/simulator.md``; ``to_json`` and
``from_json`` round-trip exactly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class FirmwareChange:
    ts_ms: int
    firmware: str


@dataclass(frozen=True, slots=True)
class FleetDevice:
    device: str
    model: str
    firmware: str  # installed at the start
    site: str
    customer: str
    tier: str
    hw_rev: str
    firmware_changes: tuple[FirmwareChange, ...] = ()

    def firmware_at(self, ts_ms: int) -> str:
        """The firmware running at ``ts_ms``.

        >>> d = FleetDevice("px200-0001", "PX-200", "2.0.3", "sh-01", "acme", "gold", "A",
        ...                 (FirmwareChange(5_000, "2.1.0"),))
        >>> d.firmware_at(4_999), d.firmware_at(5_000)
        ('2.0.3', '2.1.0')
        """
        current = self.firmware
        for change in self.firmware_changes:
            if change.ts_ms <= ts_ms:
                current = change.firmware
        return current


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One message an incident caused: a root-cause log line or a fault event."""

    device: str
    ts_ms: int  # simulated time of publication
    topic: str  # "logs" | "events" | "status"
    kind: str  # log level for logs, event type for events, online/offline for status
    code: str
    text: str  # the log message, or "" for events


@dataclass(frozen=True, slots=True)
class ExpectedTicket:
    """A ticket a perfect system opens for an incident."""

    scope: str  # device | cohort
    subject: str  # device id, or "model=PX-200,firmware=2.1.0"
    code: str
    severity: str
    opens_after_ms: int  # no correct ticket can open before this time
    children: tuple[str, ...] = ()  # affected devices grouped under a cohort ticket


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    kind: str
    start_ms: int
    end_ms: int
    scope: str  # device | cohort | fleet
    device: str = ""  # for scope "device"
    cohort: Mapping[str, str] = field(default_factory=dict)  # for scope "cohort"
    attribution: str = ""  # e.g. "firmware=2.1.0"
    fault_codes: tuple[str, ...] = ()
    root_cause_markers: tuple[str, ...] = ()  # exact substrings of root-cause log messages
    affected_devices: tuple[str, ...] = ()
    tickets: tuple[ExpectedTicket, ...] = ()
    expectations: Mapping[str, Any] = field(default_factory=dict)  # dead letters, skew counts, ...
    occurrences: tuple[Occurrence, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class GroundTruth:
    scenario: str
    seed: int
    devices: int
    start_ms: int
    end_ms: int
    topic_prefix: str
    fleet: tuple[FleetDevice, ...]
    incidents: tuple[Incident, ...]
    background_faults: Mapping[str, int] = field(default_factory=dict)  # per model, not incidents
    schema_version: int = SCHEMA_VERSION

    def incident(self, incident_id: str) -> Incident:
        for incident in self.incidents:
            if incident.id == incident_id:
                return incident
        raise KeyError(incident_id)

    def device(self, device_id: str) -> FleetDevice:
        for device in self.fleet:
            if device.device == device_id:
                return device
        raise KeyError(device_id)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(asdict(self), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> "GroundTruth":
        raw = json.loads(text)
        fleet = tuple(
            FleetDevice(**{**d, "firmware_changes": tuple(FirmwareChange(**c) for c in d["firmware_changes"])})
            for d in raw["fleet"])
        incidents = tuple(_incident_from(i) for i in raw["incidents"])
        return cls(**{**raw, "fleet": fleet, "incidents": incidents})


def _incident_from(raw: dict) -> Incident:
    return Incident(**{
        **raw,
        "fault_codes": tuple(raw["fault_codes"]),
        "root_cause_markers": tuple(raw["root_cause_markers"]),
        "affected_devices": tuple(raw["affected_devices"]),
        "tickets": tuple(ExpectedTicket(**{**t, "children": tuple(t["children"])}) for t in raw["tickets"]),
        "occurrences": tuple(Occurrence(**o) for o in raw["occurrences"]),
    })
