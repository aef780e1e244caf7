"""Scenario files: a fleet, its defaults and the incidents injected into it.

YAML files validated by strict pydantic models (unknown keys rejected). A
scenario composes others: ``base: healthy`` inherits every setting (this file
wins; the base's incidents come first) and ``include: [offline]`` appends the
incidents of other scenarios. Names are files in ``simulators/scenarios/``;
paths work too. The format is documented in ``docs/simulator.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulators.models import MODELS
from simulators.timespan import check_offset, check_positive_span, check_span

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

Offset = Annotated[Union[str, float], AfterValidator(check_offset)]
Span = Annotated[Union[str, float], AfterValidator(check_span)]  # may be negative (clock skew)
Length = Annotated[Union[str, float], AfterValidator(check_positive_span)]


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the file, field and value."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FleetSpec(Strict):
    devices: int = Field(100, ge=1, le=1_000_000)
    models: dict[str, float] = {"PX-200": 0.5, "CH-50": 0.25, "GW-10": 0.25}
    sites: int = Field(6, ge=1, le=999)
    customers: int = Field(10, ge=1, le=9999)
    tiers: dict[Literal["gold", "silver", "bronze"], float] = {"gold": 0.2, "silver": 0.3, "bronze": 0.5}

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(MODELS))
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r}; known: {', '.join(MODELS)}")
        if any(share < 0 for share in value.values()) or sum(value.values()) <= 0:
            raise ValueError("shares must be non-negative and not all zero")
        return value


class TelemetrySpec(Strict):
    interval_s: float = Field(60.0, ge=1.0)
    batch: int = Field(1, ge=1, le=1000)  # samples per message (an array payload when > 1)


class IncidentSpec(Strict):
    id: str = ""
    start: Offset = "25%"
    end: Offset | None = None  # default: the end of the run


class DeviceIncidentSpec(IncidentSpec):
    model: str = "PX-200"
    device: str = ""  # default: a device of `model` chosen by the seed


class FirmwareRegression(IncidentSpec):
    kind: Literal["firmware-regression"]
    model: str = "PX-200"
    firmware: str = "2.1.0"
    share: float = Field(0.4, gt=0, le=1)  # of the model's devices
    min_sites: int = Field(3, ge=1)  # the cohort spans at least this many sites (when `sites` is empty)
    # confine the rollout to these sites, or to this many sites chosen by the seed (default: every site)
    sites: Union[list[str], Annotated[int, Field(ge=1)]] = []
    rollout: Length = "2h"  # updates are spread over this span from `start`
    multiplier: float = Field(6.0, gt=1)  # cohort fault rate / base rate
    code: str = "E214"
    message: str = "overcurrent on phase B (fw 2.1.0 regression)"


SITE_CAUSES = {  # cause -> (code, component, root-cause line)
    "power": ("P510", "power", "supply voltage sag below 190 V"),
    "climate": ("C620", "enclosure", "enclosure temperature above 45 C"),
    "network": ("N730", "network", "uplink lost: gateway unreachable"),
}


class SiteFault(IncidentSpec):
    """Every device at one site faults more, whatever its model (power, climate or network there)."""

    kind: Literal["site-fault"]
    site: str = ""  # default: a site chosen by the seed
    cause: Literal["power", "climate", "network"] = "power"
    multiplier: float = Field(8.0, gt=1)  # site fault rate / the models' base rates
    code: str = ""  # default: the cause's code
    message: str = ""  # default: the cause's root-cause line


class HwBatch(IncidentSpec):
    """One hardware revision of one model fails more (a bad component batch)."""

    kind: Literal["hw-batch"]
    model: str = "PX-200"
    hw_rev: str = ""  # default: the model's last revision
    multiplier: float = Field(5.0, gt=1)
    code: str = "E214"
    message: str = "overcurrent on phase B (capacitor batch 2317)"


class Degradation(DeviceIncidentSpec):
    kind: Literal["device-degradation"]
    ramp: Length = "6h"  # the drift takes this long, then the device faults
    rise: dict[str, float] = {"vibration_rms": 0.35, "temp_c": 22.0}
    code: str = "E301"
    warn_every: Length = "30m"


class StuckSensor(DeviceIncidentSpec):
    kind: Literal["stuck-sensor"]
    metric: str = "pressure_bar"


class Offline(IncidentSpec):
    kind: Literal["offline"]
    count: int = Field(3, ge=1)
    site: str = ""  # default: the devices come from one site chosen by the seed
    via: Literal["will", "explicit"] = "will"


class Flapping(DeviceIncidentSpec):
    kind: Literal["flapping"]
    model: str = "CH-50"
    code: str = "E430"
    on: Length = "4m"  # mean time in fault
    off: Length = "12m"  # mean time between faults


class MessageStorm(DeviceIncidentSpec):
    kind: Literal["message-storm"]
    length: Length = "2m"
    rate_per_s: float = Field(200.0, gt=0, le=10_000)
    topic: Literal["logs", "telemetry"] = "logs"


class Malformed(IncidentSpec):
    kind: Literal["malformed"]
    start: Offset = "0%"
    share: float = Field(0.01, gt=0, le=0.5)  # of the fleet's normal message volume
    kinds: list[Literal["truncated", "wrong-type", "nan", "bad-utf8", "wrong-topic", "not-json"]] = [
        "truncated", "wrong-type", "nan", "bad-utf8", "wrong-topic", "not-json"]


class ClockSkew(DeviceIncidentSpec):
    kind: Literal["clock-skew"]
    model: str = "GW-10"
    offset: Span = "6h"  # added to the device's timestamps; negative for the past


AnyIncident = Annotated[
    Union[FirmwareRegression, SiteFault, HwBatch, Degradation, StuckSensor, Offline, Flapping, MessageStorm,
          Malformed, ClockSkew],
    Field(discriminator="kind"),
]


class Scenario(Strict):
    name: str = ""
    description: str = ""
    base: str = ""
    include: list[str] = []
    duration: Length = "1d"
    topic_prefix: str = "devices"
    qos: Literal[0, 1] = 1
    timestamps: Literal["seconds", "millis", "rfc3339", "mixed"] = "seconds"
    fleet: FleetSpec = FleetSpec()
    telemetry: TelemetrySpec = TelemetrySpec()
    fault_rate_scale: float = Field(1.0, ge=0)
    chatter_scale: float = Field(1.0, ge=0)
    incidents: list[AnyIncident] = []

    def incident_ids(self) -> list[str]:
        """Incident ids, defaulting to ``kind`` (``kind-2`` for a repeat)."""
        ids: list[str] = []
        for incident in self.incidents:
            base = incident.id or incident.kind
            name, n = base, 1
            while name in ids:
                n += 1
                name = f"{base}-{n}"
            ids.append(name)
        return ids


def scenario_names() -> list[str]:
    """The scenarios shipped with Faultline."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load, validate and compose a scenario by name or path."""
    path = _locate(str(name_or_path), SCENARIO_DIR)
    raw = _compose(path, ())
    raw.pop("base", None)
    raw.pop("include", None)
    raw.setdefault("name", path.stem)
    return _validate(raw, path)


def _locate(ref: str, here: Path) -> Path:
    candidates = [Path(ref), here / ref, here / f"{ref}.yaml", SCENARIO_DIR / f"{ref}.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    known = ", ".join(scenario_names())
    raise ScenarioError(f"scenario {ref!r} not found (a path, or one of: {known})")


def _compose(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    if path in seen:
        raise ScenarioError(f"{path}: scenarios include each other in a cycle")
    raw = _read(path)
    own = _validate({k: v for k, v in raw.items()}, path)  # each file is valid on its own
    result: dict[str, Any] = {}
    if own.base:
        result = _compose(_locate(own.base, path.parent), seen + (path,))
        result.pop("name", None)
        result.pop("description", None)
    incidents = list(result.pop("incidents", []))
    result = _merge(result, {k: v for k, v in raw.items() if k != "incidents"})
    incidents += raw.get("incidents") or []
    for ref in own.include:
        incidents += _compose(_locate(ref, path.parent), seen + (path,)).get("incidents") or []
    result["incidents"] = incidents
    return result


def _merge(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "models":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of settings, got {type(raw).__name__}")
    return raw


def _validate(raw: dict[str, Any], path: Path) -> Scenario:
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        kinds = {"firmware-regression", "site-fault", "hw-batch", "device-degradation", "stuck-sensor", "offline",
                 "flapping", "message-storm", "malformed", "clock-skew"}
        field = ".".join(str(p) for p in err["loc"] if p not in kinds) or "(top level)"
        value = err.get("input")
        raise ScenarioError(f"{path}: field {field}: {err['msg']} (value: {value!r})") from None
    ids = scenario.incident_ids()
    explicit = [i.id for i in scenario.incidents if i.id]
    if len(set(explicit)) != len(explicit):
        raise ScenarioError(f"{path}: field incidents.id: duplicate incident id (value: {ids!r})")
    return scenario
