"""The plan of a run: every fault, firmware update and disturbance, decided up front.

Planning is cheap (no payloads) and fixes everything the ground truth states;
rendering then turns the plan plus routine telemetry and chatter into MQTT
messages. Each device's plan is a time-ordered list of actions and a few
signal modifiers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulators.truth import FleetDevice, Incident


@dataclass(frozen=True, slots=True)
class LogAction:
    ts_ms: int
    level: str
    component: str
    code: str
    msg: str


@dataclass(frozen=True, slots=True)
class EventAction:
    ts_ms: int
    type: str
    code: str
    severity: str
    detail: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class FirmwareAction:
    """The device installs new firmware: a log line, an event and a fresh retained meta."""

    ts_ms: int
    firmware: str
    previous: str


@dataclass(frozen=True, slots=True)
class StatusAction:
    ts_ms: int
    online: bool
    will: bool = False  # delivered by the broker as the device's last will


@dataclass(frozen=True, slots=True)
class RawAction:
    """A payload sent as is (malformed input); ``subtopic`` follows ``{prefix}/``."""

    ts_ms: int
    subtopic: str
    payload: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class TelemetryAction:
    """One extra telemetry sample (a telemetry storm), values from the device's signals."""

    ts_ms: int


Action = LogAction | EventAction | FirmwareAction | StatusAction | RawAction | TelemetryAction


@dataclass(frozen=True, slots=True)
class Ramp:
    """Metrics rise linearly from ``start_ms`` to ``full_ms`` and stay up until ``end_ms``."""

    start_ms: int
    full_ms: int
    end_ms: int
    rise: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class Window:
    start_ms: int
    end_ms: int
    metric: str = ""  # stuck sensor: the frozen metric
    offset_ms: int = 0  # clock skew: added to timestamps

    def covers(self, ts_ms: int) -> bool:
        """
        >>> Window(10, 20).covers(10), Window(10, 20).covers(20)
        (True, False)
        """
        return self.start_ms <= ts_ms < self.end_ms


@dataclass(slots=True)
class DevicePlan:
    """What one device does beyond its routine (built by the planner, then read)."""

    device: FleetDevice
    index: int
    actions: list[Action] = field(default_factory=list)
    ramps: list[Ramp] = field(default_factory=list)
    stuck: list[Window] = field(default_factory=list)
    silent: list[Window] = field(default_factory=list)  # offline: no telemetry, no chatter
    skew: list[Window] = field(default_factory=list)

    def is_silent(self, ts_ms: int) -> bool:
        return any(w.covers(ts_ms) for w in self.silent)

    def skew_ms(self, ts_ms: int) -> int:
        return sum(w.offset_ms for w in self.skew if w.covers(ts_ms))


@dataclass(slots=True)
class Plan:
    devices: dict[str, DevicePlan]
    incidents: list[Incident]
    background_faults: dict[str, int]
    start_ms: int
    end_ms: int
    seed: int
    reserved: set[str] = field(default_factory=set)  # devices already given a device incident

    def rng(self, *parts: object) -> random.Random:
        """An independent random stream for one purpose, derived from the seed."""
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def pick_device(self, purpose: str, model: str = "", wanted: str = "") -> DevicePlan:
        """The device an incident happens to: ``wanted`` if given, else one chosen by the seed."""
        if wanted:
            if wanted not in self.devices:
                raise ValueError(f"device {wanted!r} is not in the fleet")
            self.reserved.add(wanted)
            return self.devices[wanted]
        pool = [p for p in self.devices.values()
                if (not model or p.device.model == model) and p.device.device not in self.reserved]
        if not pool:
            raise ValueError(f"no free {model or 'device'} in a fleet of {len(self.devices)} "
                             "(use more devices or name one)")
        chosen = self.rng("pick", purpose).choice(pool)
        self.reserved.add(chosen.device.device)
        return chosen
