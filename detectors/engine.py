"""`DetectorEngine`: records in, anomalies out, windows closed on event time.

``process(record)`` counts faults and activity into the record's event-time
window (``window_s``) and scores telemetry at once; a window closes when the
newest event time seen is ``lateness_s`` past its end (or on ``tick``), and
then the device fault-rate detector runs for every device active in it, the
cohort scan runs over the whole fleet, and the static rules are checked.
Records later than that are counted in the oldest open window.

Telemetry is scored per device against its own exponentially weighted
statistics; until a device has seen ``telemetry_young`` readings, its
deviations are floored by the pooled deviations of its model (see
``_model_stats``), so a young device does not alarm on its first daily peak.

Sharding (``shard=(i, n)``): device and telemetry detectors run only for the
devices whose stable hash falls in shard ``i``; the cohort scan and rules need
every device's activity and run only where ``cohort=True``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from detectors import checkpoint
from detectors.anomaly import Anomaly
from detectors.attribution import Cell, label, shared_key
from detectors.cohort_rate import CohortFinding, CohortScan
from detectors.device_rate import DeviceFaultRate
from detectors.fleet import FAULT_LEVELS, DeviceState, shard_of
from detectors.rules import Rule, evaluate_rules, load_rules
from detectors.telemetry import EpisodeGate, TelemetryZ
from ingest.records import Cohort, DeviceEvent, DeviceMeta, DeviceStatus, LogLine, Telemetry

MODEL_SAMPLE = 8  # one reading in this many feeds the model's pooled statistics


@dataclass(frozen=True, slots=True)
class EngineConfig:
    window_s: float = 3600.0
    lateness_s: float = 300.0
    device_threshold: float = 6.0
    cohort_alpha: float = 1e-3
    cohort_min_devices: int = 5
    cohort_min_affected: int = 3
    telemetry_threshold: float = 10.0
    telemetry_halflife: float = 720.0
    telemetry_grace: int = 60  # readings before a device's telemetry is scored at all
    telemetry_young: int = 1440  # until then (a day at 1/min) its deviations are floored by its model's
    telemetry_quiet_s: float = 3600.0
    shard: tuple[int, int] = (0, 1)
    cohort: bool = True
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, settings, **overrides) -> "EngineConfig":
        """The configuration from `faultline.settings.Settings` (reads the rules file); overrides win."""
        values = dict(
            window_s=settings.detector_window_s, lateness_s=settings.detector_lateness_s,
            device_threshold=settings.detector_device_threshold, cohort_alpha=settings.detector_cohort_alpha,
            cohort_min_devices=settings.detector_cohort_min_devices,
            telemetry_threshold=settings.detector_telemetry_threshold,
            rules=load_rules(settings.rules_file) if settings.rules_file else ())
        values.update(overrides)
        return cls(**values)


class DetectorEngine:
    def __init__(self, config: EngineConfig = EngineConfig()):
        self.config = config
        self.window_ms = int(config.window_s * 1000)
        self.devices: dict[str, DeviceState] = {}
        self.active: dict[int, set[str]] = defaultdict(set)
        self.next_window: int | None = None  # the oldest window not yet closed
        self._close_at = -(1 << 62)  # event time at which that window closes
        self.watermark = 0
        self.cell_rate: dict[Cell, list[float]] = {}  # EW [faults, device-windows, faulty device-windows]
        self.scan = CohortScan(alpha=config.cohort_alpha, min_devices=config.cohort_min_devices,
                               min_affected=config.cohort_min_affected)
        self.rate_proto = DeviceFaultRate()
        self.telemetry_protos: dict[str, list] = {}  # model -> pooled statistics (see _model_stats)

    # -- public API ---------------------------------------------------------------
    def process(self, record) -> list[Anomaly]:
        kind = type(record)
        if kind is DeviceMeta:
            self._state(record.device, record.ts_ms).cell = (record.model, record.firmware, record.site)
            return []
        if kind is DeviceStatus and not record.online:
            return []
        ts = record.ts_ms
        out = self.tick(ts) if ts >= self._close_at else []
        st = self.devices.get(record.device)
        if st is None or not st.cell[0]:
            st = self._state(record.device, ts, getattr(record, "cohort", None))
        if ts > st.last_seen_ms:
            st.last_seen_ms = ts
        w = ts // self.window_ms
        if w < self.next_window:
            w = self.next_window
        self.active[w].add(record.device)
        if kind is DeviceEvent:
            if record.type == "fault":
                st.count(w, True, record.code, ts)
        elif kind is LogLine:
            if record.level in FAULT_LEVELS:
                st.count(w, False, record.code, ts)
        elif kind is Telemetry and self._mine(record.device):
            anomaly = self._telemetry(st, record)
            if anomaly:
                out.append(anomaly)
        return out

    def tick(self, now_ms: int) -> list[Anomaly]:
        """Close every window that ended ``lateness_s`` or more before ``now_ms`` (event time)."""
        lateness = int(self.config.lateness_s * 1000)
        if self.next_window is None:
            self.next_window = (now_ms - lateness) // self.window_ms
        self.watermark = max(self.watermark, now_ms - lateness)
        out: list[Anomaly] = []
        while (self.next_window + 1) * self.window_ms <= self.watermark:
            out += self._close(self.next_window)
            self.next_window += 1
        self._close_at = (self.next_window + 1) * self.window_ms + lateness
        return out

    def cohort_of(self, device: str) -> Cohort:
        st = self.devices.get(device)
        return Cohort(*st.cell) if st else Cohort()

    def checkpoint(self, path: Path) -> None:
        checkpoint.save(self, Path(path))

    def restore(self, path: Path) -> bool:
        return checkpoint.load(self, Path(path))

    # -- internals ----------------------------------------------------------------
    def _mine(self, device: str) -> bool:
        i, n = self.config.shard
        return n <= 1 or shard_of(device, n) == i

    def _state(self, device: str, ts_ms: int, cohort: Cohort | None = None) -> DeviceState:
        st = self.devices.get(device)
        if st is None:
            st = self.devices[device] = DeviceState(("", "", ""), ts_ms)
        if cohort is not None and (cohort.model or cohort.firmware or cohort.site):
            st.cell = (cohort.model, cohort.firmware, cohort.site)
        return st

    def _telemetry(self, st: DeviceState, rec: Telemetry) -> Anomaly | None:
        model = self._model_stats(st.cell[0])
        if st.telemetry is None:
            st.telemetry = TelemetryZ(halflife=self.config.telemetry_halflife, grace=self.config.telemetry_grace)
            st.gate = EpisodeGate(self.config.telemetry_threshold, int(self.config.telemetry_quiet_s * 1000))
        x = dict(rec.metrics)
        young = st.telemetry.n_learned < self.config.telemetry_young
        a = st.telemetry.assess(x, model[1] if young else None)
        st.telemetry.learn_one(x)
        model[2] += 1
        if model[2] % MODEL_SAMPLE == 0:
            model[0].learn_one(x)
            if model[2] % (MODEL_SAMPLE * 256) == 0:
                model[1] = model[0].stds()
        if not st.gate.step(rec.ts_ms, a.score):
            return None
        if a.kind == "stuck":
            text = f"{a.metric} has repeated the value {a.observed:g} for an improbably long run"
        else:
            text = f"{a.metric} reads {a.observed:g}, expected about {a.expected:.4g} ({a.score:.1f} standard deviations)"
        return Anomaly("telemetry", "device", rec.device, "", rec.ts_ms, rec.ts_ms, a.score, a.observed,
                       a.expected, self.config.telemetry_threshold, self.config.telemetry_quiet_s, text,
                       model=st.cell[0], firmware=st.cell[1], site=st.cell[2], emission="episode")

    def _model_stats(self, model: str) -> list:
        """[pooled detector, its deviations, readings seen] for a device model.

        Pooled over every device of the model (one reading in ``MODEL_SAMPLE``),
        its deviations include the daily cycle and the spread between devices:
        the floor under a young device's own deviations until it has seen
        ``telemetry_young`` readings (a full daily cycle).
        """
        stats = self.telemetry_protos.get(model)
        if stats is None:
            stats = self.telemetry_protos[model] = [TelemetryZ(halflife=20_000.0, grace=30), {}, 0]
        if not stats[1] and stats[2] % MODEL_SAMPLE == 0:
            stats[1] = stats[0].stds()
        return stats

    def _close(self, w: int) -> list[Anomaly]:
        end_ms = (w + 1) * self.window_ms
        out: list[Anomaly] = []
        for device in sorted(self.active.pop(w, ())):
            st = self.devices[device]
            faults, code = st.close(w)
            prior = self._learn_cell(st.cell, faults)
            if self._mine(device):
                out += self._device_rate(device, st, faults, code, prior, end_ms)
        if self.config.cohort:
            long_run = {cell: (v[2], v[1]) for cell, v in self.cell_rate.items()}
            findings = self.scan.scan(self._cohort_counts(w), long_run)
            out += [self._cohort_anomaly(f, w, end_ms) for f in findings]
            out += evaluate_rules(self.config.rules, self.devices, end_ms)
        return out

    def _learn_cell(self, cell: Cell, faults: int) -> float:
        """The cell's fault rate per device-window before this window (the prior of young devices), then learn."""
        s = self.cell_rate.setdefault(cell, [0.0, 0.0, 0.0])
        prior = (s[0] + 0.1) / (s[1] + 10.0)
        s[0], s[1], s[2] = s[0] * 0.999 + faults, s[1] * 0.999 + 1.0, s[2] * 0.999 + (faults > 0)
        return prior

    def _device_rate(self, device, st, faults, code, prior, end_ms) -> list[Anomaly]:
        if st.rate is None:
            st.rate = self.rate_proto.clone()
        x = {"count": faults, "prior_rate": prior}
        a = st.rate.assess(x)
        st.rate.learn_one(x)
        if a.score < self.config.device_threshold or not faults:
            return []  # a device that stopped faulting is not reported again from its past horizon
        hours = a.horizon * self.window_ms / 3_600_000
        text = (f"{a.observed:.0f} faults in the last {hours:g} h (dominant {code or 'no code'}), "
                f"expected {a.expected:.2g} from the device's learned baseline")
        return [Anomaly("device_fault_rate", "device", device, code, end_ms, end_ms - a.horizon * self.window_ms,
                        a.score, a.observed, a.expected, self.config.device_threshold, hours * 3600.0, text,
                        model=st.cell[0], firmware=st.cell[1], site=st.cell[2])]

    def _cohort_counts(self, w: int) -> dict[int, dict]:
        counts: dict[int, dict] = {h: defaultdict(lambda: [0, 0]) for h in self.scan.horizons}
        for st in self.devices.values():
            for h, c in counts.items():
                if st.last_active_w > w - h:
                    slot = c[st.cell]
                    slot[0] += 1
                    slot[1] += st.last_fault_w > w - h
        return {h: {cell: tuple(v) for cell, v in c.items()} for h, c in counts.items()}

    def _cohort_anomaly(self, f: CohortFinding, w: int, end_ms: int) -> Anomaly:
        devices = sorted(d for d, st in self.devices.items()
                         if st.cell in f.cells and st.last_fault_w > w - f.horizon)
        codes = [self.devices[d].last_code for d in devices if self.devices[d].last_code]
        code = max(set(codes), key=codes.count) if codes else ""
        subject_key = shared_key(c for c in f.cells)
        hours = f.horizon * self.window_ms / 3_600_000
        text = (f"{f.faulty} of {f.active} active devices of {label(f.key)} had faults in the last {hours:g} h "
                f"({f.faulty / f.active:.0%}), expected {f.expected:.1%}; the excess follows {label(f.key)}")
        return Anomaly("cohort_fault_rate", "cohort", label(subject_key), code, end_ms,
                       end_ms - f.horizon * self.window_ms, f.score, f.faulty / f.active, f.expected,
                       f.threshold, hours * 3600.0, text, attribution=label(f.key), devices=tuple(devices),
                       model=subject_key[0] or "", firmware=subject_key[1] or "", site=subject_key[2] or "")
