"""Decoded device records: what crosses from ingest to storage and detectors.

One frozen dataclass per topic of the device contract (DESIGN §2). Times are
integer epoch milliseconds (the precision Faultline writes to InfluxDB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
EVENT_TYPES = ("fault", "fault_cleared", "reboot", "maintenance", "firmware_update")
SEVERITIES = ("minor", "major", "critical")
COHORT_ATTRIBUTES = ("model", "firmware", "site")


@dataclass(frozen=True, slots=True)
class Cohort:
    """The cohort attributes written as tags on every point of a device."""

    model: str = ""
    firmware: str = ""
    site: str = ""

    def tags(self) -> dict[str, str]:
        """Non-empty attributes as InfluxDB tags.

        >>> Cohort("PX-200", "2.1.0", "").tags()
        {'model': 'PX-200', 'firmware': '2.1.0'}
        """
        return {k: v for k, v in (("model", self.model), ("firmware", self.firmware), ("site", self.site)) if v}


UNKNOWN_COHORT = Cohort()


@dataclass(frozen=True, slots=True)
class Telemetry:
    device: str
    ts_ms: int
    seq: int | None
    metrics: Mapping[str, float]
    cohort: Cohort = UNKNOWN_COHORT


@dataclass(frozen=True, slots=True)
class LogLine:
    device: str
    ts_ms: int
    seq: int | None
    level: str
    component: str
    code: str
    msg: str
    cohort: Cohort = UNKNOWN_COHORT


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    device: str
    ts_ms: int
    seq: int | None
    type: str
    code: str
    severity: str
    detail: str  # JSON text
    cohort: Cohort = UNKNOWN_COHORT


@dataclass(frozen=True, slots=True)
class DeviceMeta:
    device: str
    ts_ms: int
    model: str = ""
    firmware: str = ""
    site: str = ""
    hw_rev: str = ""
    customer: str = ""
    tier: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def cohort(self) -> Cohort:
        return Cohort(self.model, self.firmware, self.site)


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    device: str
    ts_ms: int
    online: bool


Record = Telemetry | LogLine | DeviceEvent | DeviceMeta | DeviceStatus

# Records whose time is the device's event time (meta and status are stamped at receipt).
EVENT_TIMED = (Telemetry, LogLine, DeviceEvent)
