"""Device-model profiles: the metrics, log chatter and faults of each kind of device.

A profile is pure data. Metrics follow a shared latent *load* (daily cycle
plus slow wander), so the channels of one device move together: a pump that
works harder draws more current, runs hotter and vibrates more.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One telemetry channel: ``base + gain * load + drift * days + noise``."""

    name: str
    base: float
    gain: float  # response to the device's load in [0, 1]
    noise: float  # standard deviation of white noise
    drift_per_day: float = 0.0  # slow drift (wear, leaks), scaled per device
    decimals: int = 2
    lo: float | None = None
    hi: float | None = None


@dataclass(frozen=True, slots=True)
class ChatterSpec:
    """A routine log line; ``{value}`` in the template takes a number from ``lo..hi``."""

    level: str
    component: str
    code: str
    template: str
    lo: float = 0.0
    hi: float = 0.0
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault: its root-cause log line, the event, and how it usually ends."""

    code: str
    component: str
    severity: str  # minor | major | critical
    message: str  # the root-cause line
    weight: float = 1.0
    level: str = "ERROR"  # ERROR | FATAL
    followup: str = ""  # a WARN line logged shortly after, if any
    clear_probability: float = 0.85
    mean_duration_s: float = 1800.0
    reboot: bool = False  # FATAL faults reboot the device


@dataclass(frozen=True, slots=True)
class DeviceModel:
    name: str  # as in `meta.model`, e.g. "PX-200"
    id_prefix: str  # device ids are f"{id_prefix}-{n:04d}"
    metrics: tuple[MetricSpec, ...]
    chatter: tuple[ChatterSpec, ...]
    faults: tuple[FaultSpec, ...]
    firmware: tuple[tuple[str, float], ...]  # installed versions and their shares
    hw_revs: tuple[str, ...]
    fault_rate_per_day: float  # base rate per device
    chatter_per_hour: float  # routine log lines per device-hour
    boolean_metric: str = ""  # a boolean channel: load above 0.2 ("running")

    def fault(self, code: str) -> FaultSpec:
        """The fault with this code.

        >>> MODELS["PX-200"].fault("E214").component
        'motor'
        """
        for spec in self.faults:
            if spec.code == code:
                return spec
        raise KeyError(f"{self.name} has no fault {code}")


PX_200 = DeviceModel(
    name="PX-200",
    id_prefix="px200",
    metrics=(
        MetricSpec("temp_c", 36.0, 14.0, 0.35, drift_per_day=0.05, decimals=2),
        MetricSpec("vibration_rms", 0.07, 0.06, 0.006, drift_per_day=0.0004, decimals=4, lo=0.0),
        MetricSpec("current_a", 5.5, 6.0, 0.12, decimals=2, lo=0.0),
        MetricSpec("pressure_bar", 2.8, 1.6, 0.05, decimals=3, lo=0.0),
        MetricSpec("flow_lpm", 90.0, 80.0, 2.5, decimals=1, lo=0.0),
    ),
    chatter=(
        ChatterSpec("INFO", "controller", "I100", "pump cycle complete in {value} s", 20, 240, 4),
        ChatterSpec("INFO", "hydraulics", "I120", "pressure setpoint reached at {value} bar", 2.5, 4.5, 2),
        ChatterSpec("INFO", "network", "I180", "telemetry uplink ok, rtt {value} ms", 20, 400, 2),
        ChatterSpec("WARN", "hydraulics", "W210", "inlet pressure low: {value} bar", 0.4, 0.9, 0.5),
        ChatterSpec("WARN", "motor", "W230", "motor start took {value} ms", 800, 2500, 0.3),
    ),
    faults=(
        FaultSpec("E214", "motor", "major", "overcurrent on phase B", 3, followup="motor derated to 60%"),
        FaultSpec("E301", "bearing", "major", "bearing temperature above limit", 2,
                  followup="vibration above alarm level"),
        FaultSpec("E117", "hydraulics", "critical", "dry-run protection tripped", 1, mean_duration_s=3600),
        FaultSpec("F900", "system", "critical", "watchdog reset", 0.5, level="FATAL",
                  clear_probability=0.0, reboot=True),
    ),
    firmware=(("2.0.3", 0.75), ("2.0.1", 0.25)),
    hw_revs=("A", "B"),
    fault_rate_per_day=0.30,
    chatter_per_hour=4.0,
    boolean_metric="running",
)

CH_50 = DeviceModel(
    name="CH-50",
    id_prefix="ch50",
    metrics=(
        MetricSpec("supply_temp_c", 7.0, -1.5, 0.08, decimals=2),
        MetricSpec("return_temp_c", 11.5, 2.5, 0.12, decimals=2),
        MetricSpec("compressor_current_a", 16.0, 14.0, 0.35, decimals=2, lo=0.0),
        MetricSpec("discharge_pressure_bar", 13.0, 5.0, 0.15, drift_per_day=0.01, decimals=2, lo=0.0),
        MetricSpec("power_kw", 18.0, 16.0, 0.4, decimals=2, lo=0.0),
    ),
    chatter=(
        ChatterSpec("INFO", "compressor", "I300", "compressor stage {value} engaged", 1, 3, 3),
        ChatterSpec("INFO", "controller", "I320", "setpoint tracking error {value} K", 0.05, 0.6, 2),
        ChatterSpec("WARN", "condenser", "W350", "condenser approach temperature {value} K", 6, 9, 0.5),
    ),
    faults=(
        FaultSpec("E410", "compressor", "major", "high discharge pressure lockout", 3,
                  followup="compressor restart delayed 300 s"),
        FaultSpec("E422", "refrigerant", "critical", "refrigerant charge low", 1, mean_duration_s=7200),
        FaultSpec("E430", "condenser", "minor", "condenser fan stalled", 2, mean_duration_s=900),
    ),
    firmware=(("4.2.0", 0.6), ("4.1.7", 0.4)),
    hw_revs=("C1", "C2"),
    fault_rate_per_day=0.20,
    chatter_per_hour=3.0,
)

GW_10 = DeviceModel(
    name="GW-10",
    id_prefix="gw10",
    metrics=(
        MetricSpec("cpu_pct", 10.0, 35.0, 3.0, decimals=1, lo=0.0, hi=100.0),
        MetricSpec("mem_pct", 38.0, 10.0, 0.8, drift_per_day=0.4, decimals=1, lo=0.0, hi=100.0),
        MetricSpec("rssi_dbm", -67.0, 0.0, 1.8, decimals=0),
        MetricSpec("board_temp_c", 44.0, 8.0, 0.4, decimals=1),
    ),
    chatter=(
        ChatterSpec("INFO", "uplink", "I500", "uplink ok, rssi {value} dBm", -80, -55, 3),
        ChatterSpec("INFO", "bridge", "I510", "forwarded {value} frames", 100, 5000, 3),
        ChatterSpec("WARN", "uplink", "W520", "mqtt reconnect after {value} s", 1, 30, 0.4),
    ),
    faults=(
        FaultSpec("E601", "modem", "minor", "modem lost carrier", 3, mean_duration_s=600),
        FaultSpec("E615", "storage", "major", "flash write error on /data", 1,
                  followup="switching log storage to RAM"),
        FaultSpec("F690", "system", "critical", "kernel panic", 0.3, level="FATAL",
                  clear_probability=0.0, reboot=True),
    ),
    firmware=(("1.8.2", 0.8), ("1.7.9", 0.2)),
    hw_revs=("r1",),
    fault_rate_per_day=0.15,
    chatter_per_hour=5.0,
)

MODELS: dict[str, DeviceModel] = {m.name: m for m in (PX_200, CH_50, GW_10)}
