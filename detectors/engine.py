"""`DetectorEngine`: records in, anomalies out, windows closed on event time.

``process(record)`` counts faults and activity into the record's event-time
window (``window_s``) and scores telemetry at once; a window closes when the
newest event time seen is ``lateness_s`` past its end (or on ``tick``), and
then the device fault-rate detector runs for every device active in it, the
cohort scan runs over the whole fleet, and the static rules are checked.
Records older than the oldest open window are late (`detectors.late`): counted,
never folded into a window (telemetry is still scored).

Telemetry is scored per device against its own exponentially weighted
statistics; until a device has seen ``telemetry_young`` readings, its
deviations are floored by the pooled deviations of its model (see
``_model_stats``), so a young device does not alarm on its first daily peak,
nor on its load's swings before its daily profile can be in use (two days).

Sharding (``shard=(i, n)``): device and telemetry detectors run only for the
devices whose stable hash falls in shard ``i``; the cohort scan and rules need
every device's activity and run only where ``cohort=True``.

Bounds (what a device can make the engine hold): a device's telemetry
detector tracks at most ``max_metrics`` metric names (the first it sends;
later ones are not scored), pooled statistics are kept for at most
``max_models`` models, state is kept for at most ``max_devices`` devices
(beyond, the longest silent is dropped), and a device silent for
``idle_ms`` of event time is dropped when a window closes. A dropped device
that speaks again starts over from its cohort's baseline.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

from detectors import bounds, checkpoint
from detectors.anomaly import Anomaly
from detectors.attribution import Cell
from detectors.cohort_incidents import CohortIncidents
from detectors.cohort_pooled import HORIZONS, ONSET_HORIZONS, PooledScan, pooled_counts
from detectors.cohort_rate import CohortScan
from detectors.cohort_report import devices_anomaly, pooled_anomaly
from detectors.connectivity import Connectivity
from detectors.device_rate import DeviceFaultRate
from detectors.fleet import FAULT_LEVELS, DeviceState, shard_of
from detectors.late import LateRecords
from detectors.sliding import cohort_counts, open_counts
from detectors.rules import Rule, evaluate_rules, load_rules
from detectors.telemetry import EpisodeGate, TelemetryZ
from ingest.records import Cohort, DeviceEvent, DeviceMeta, DeviceStatus, LogLine, Telemetry

MODEL_SAMPLE = 8  # one reading in this many feeds the model's pooled statistics
EVICT_SHARE = 0.1  # past max_devices, this share of it (the longest silent) is dropped at once


@dataclass(frozen=True, slots=True)
class EngineConfig:
    window_s: float = 3600.0
    step_s: float = 300.0  # sliding evaluation: look at the open window every this much event time
    lateness_s: float = 300.0
    device_threshold: float = 6.0
    cohort_alpha: float = 1e-3
    cohort_min_devices: int = 5
    cohort_min_affected: int = 3
    telemetry_threshold: float = 6.0
    telemetry_halflife: float = 720.0
    telemetry_grace: int = 60  # readings before a device's telemetry is scored at all
    telemetry_young: int = 2880  # until then (two days at 1/min) its deviations are floored by its model's
    telemetry_quiet: int = 60  # readings below half the threshold that close an episode (an hour at 1/min)
    shard: tuple[int, int] = (0, 1)
    cohort: bool = True
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    max_devices: int = 500_000
    max_metrics: int = 100
    max_models: int = 10_000
    idle_ms: int = 7 * 86_400_000

    @classmethod
    def from_settings(cls, settings, **overrides) -> "EngineConfig":
        """The configuration from `faultline.settings.Settings` (reads the rules file); overrides win."""
        values = dict(
            window_s=settings.detector_window_s, lateness_s=settings.detector_lateness_s,
            device_threshold=settings.detector_device_threshold, cohort_alpha=settings.detector_cohort_alpha,
            cohort_min_devices=settings.detector_cohort_min_devices,
            telemetry_threshold=settings.detector_telemetry_threshold,
            rules=load_rules(settings.rules_file) if settings.rules_file else (),
            max_devices=settings.detector_max_devices, max_metrics=settings.max_metrics_per_device,
            idle_ms=int(settings.device_idle_days * 86_400_000))
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
        self.step_ms = max(1, min(int(config.step_s * 1000), self.window_ms))
        self.looks = max(1, round(self.window_ms / self.step_ms))  # looks per window (Bonferroni factor)
        self._look_at = -(1 << 62)  # event time of the next look at the open windows
        self.moved: dict[str, int] = {}  # devices that changed cell lately (young cohorts) -> when
        self.connectivity = Connectivity()
        self.incidents = CohortIncidents()
        self.faulting: set[str] = set()  # devices with faults in a window still open (what a look scores)
        self.watermark = 0
        self.latest_ms = 0  # the newest event time processed
        self._name_sets: dict[frozenset, frozenset] = {}
        self.evicted = 0
        self.cell_rate: dict[Cell, list[float]] = {}  # EW [faults, device-windows, faulty device-windows]
        self.scan = CohortScan(alpha=config.cohort_alpha, min_devices=config.cohort_min_devices,
                               min_affected=config.cohort_min_affected)
        self.pooled = PooledScan(alpha=config.cohort_alpha, min_devices=config.cohort_min_devices,
                                 min_affected=config.cohort_min_affected)
        self.rate_proto = DeviceFaultRate()
        self.telemetry_protos: dict[str, list] = {}  # model -> pooled statistics (see _model_stats)
        self.late = LateRecords()  # records older than every open window (not evaluated)
        self._shard_of = lru_cache(maxsize=1 << 16)(partial(shard_of, shards=config.shard[1]))  # up to 3 calls a record

    # -- public API ---------------------------------------------------------------
    def process(self, record) -> list[Anomaly]:
        kind = type(record)
        if kind is DeviceMeta:
            cell = (record.model, record.firmware, record.site, record.hw_rev)
            if self._state(record.device, record.ts_ms).move(cell, record.ts_ms):
                self.moved[record.device] = record.ts_ms
            return []
        if kind is DeviceStatus and self.owns(record.device):
            self.connectivity.status(record.device, record.ts_ms, record.online)
        elif kind is Telemetry:
            owned = self.owns(record.device)
            if owned:
                self.connectivity.seen(record.device, record.ts_ms)  # before a look: the device is not silent
        if kind is DeviceStatus and not record.online:
            return []
        ts = record.ts_ms
        if ts > self.latest_ms:
            self.latest_ms = ts
        out = self.tick(ts) if ts >= self._close_at else []
        if ts >= self._look_at:
            out += self._look(ts)
        st = self.devices.get(record.device)
        if st is None or not st.cell[0]:
            st = self._state(record.device, ts, getattr(record, "cohort", None))
        if ts > st.last_seen_ms:
            st.last_seen_ms = ts
        w = ts // self.window_ms
        if w < self.next_window:
            self.late.note(ts, self.next_window * self.window_ms)
            if kind is not Telemetry:
                return out
        else:
            self.active[w].add(record.device)
        if kind is DeviceEvent:
            if record.type == "fault":
                st.count(w, True, record.code, ts)
                self.faulting.add(record.device)
            elif record.type == "fault_cleared":
                st.cleared(ts)
        elif kind is LogLine:
            if record.level in FAULT_LEVELS:
                st.count(w, False, record.code, ts)
                self.faulting.add(record.device)
        elif kind is Telemetry and owned:
            anomaly = self._telemetry(st, record)
            if anomaly:
                out.append(anomaly)
        return out

    def _look(self, now_ms: int) -> list[Anomaly]:
        """Sliding evaluation: score the open windows as they stand (nothing is learned).

        Every ``step_s`` of event time the device detector looks at the
        devices with faults in a window still open, and the pooled cohort
        test at the cohorts devices moved into lately (a rollout), over
        horizons that end now (the newest window only partly elapsed). The
        looks per window enter their Bonferroni factors. The other cohort
        tests run when a window closes (their horizons slide with it).
        """
        self._look_at = (now_ms // self.step_ms + 1) * self.step_ms
        at = now_ms // self.step_ms * self.step_ms  # reports carry the look's step: a steady cadence
        if self.next_window is None:
            return []
        offline = self.connectivity.check(now_ms, _Cells(self.devices), self.step_ms / 1000, at)
        if self.looks <= 1:
            return offline
        w = max(now_ms // self.window_ms, self.next_window)
        elapsed = min(1.0, max(0.0, (now_ms - w * self.window_ms) / self.window_ms))
        if elapsed <= 0.0:
            return offline
        out: list[Anomaly] = offline
        for device in sorted(self.faulting):
            st = self.devices.get(device)
            if st is None or not st.pending:
                self.faulting.discard(device)
                continue
            if not self.owns(device):
                continue
            now_count, before = open_counts(st, self.next_window, w)
            if now_count + sum(before) and st.rate is not None:
                out += self._device_rate(device, st, now_count, st.code_if_closed(), None,
                                         at, {"before": before, "elapsed": elapsed})
        if self.config.cohort and (self.moved or self.pooled.watched):
            out += self._young_cohorts(w, now_ms, at)
        return out

    def _young_cohorts(self, w: int, now_ms: int, at: int) -> list[Anomaly]:
        """A look at the cohorts devices moved into lately (a rollout) and those already found: pooled counts.

        Over the onset horizons as well as the long ones: an onset found at a
        close is re-tested on the windows that found it, not dropped for the
        want of a horizon short enough to see it.
        """
        wm = self.window_ms
        young_since = now_ms - self.pooled.young_windows * wm
        self.moved = {d: t for d, t in self.moved.items() if t >= young_since and d in self.devices}
        cells = {self.devices[d].cell for d in self.moved}.union(*self.pooled.watched.values())
        members, occupied = [], set()  # the devices counted; the cells with devices counted anywhere
        stale = now_ms - 2 * wm
        for d, st in self.devices.items():
            if st.last_seen_ms >= stale:
                occupied.add(st.cell)
            if st.cell in cells:
                members.append(d)
        open_faults = {d: open_counts(self.devices[d], self.next_window, w) for d in members}
        # a horizon of h windows at a look: the h closed windows its test at the last close counted, and the open
        # one, so a finding is re-tested on at least the evidence that found it, not on a horizon slid past it;
        # the affected devices likewise
        counts = pooled_counts(self.devices, w - 1, now_ms, wm, {d: k + sum(b) for d, (k, b) in open_faults.items()},
                               horizons=ONSET_HORIZONS + HORIZONS, only=members)
        fault_rate = {cell: (v[0], v[1]) for cell, v in self.cell_rate.items()}
        findings = self.pooled.scan(counts, fault_rate, now_ms, wm, looks=self.looks, young_only=True,
                                    occupied=occupied)
        return self.incidents.stick([pooled_anomaly(self.devices, f, w - 1, at, wm) for f in findings], now_ms, wm)

    def _cohorts(self, w: int, end_ms: int) -> list[Anomaly]:
        """Both cohort tests when window ``w`` closes (the devices test learns its histories)."""
        wm = self.window_ms
        long_run = {cell: (v[2], v[1]) for cell, v in self.cell_rate.items()}
        counts = cohort_counts(self.devices, w, self.scan.horizons)
        out = [devices_anomaly(self.devices, f, w, end_ms, wm) for f in self.scan.scan(counts, long_run)]
        fault_rate = {cell: (v[0], v[1]) for cell, v in self.cell_rate.items()}
        pooled = pooled_counts(self.devices, w, end_ms, wm, horizons=ONSET_HORIZONS + HORIZONS)
        out += [pooled_anomaly(self.devices, f, w, end_ms, wm)
                for f in self.pooled.scan(pooled, fault_rate, end_ms, wm, looks=self.looks)]
        return self.incidents.stick(out, end_ms, wm)

    def tick(self, now_ms: int) -> list[Anomaly]:
        """Close every window that ended ``lateness_s`` or more before ``now_ms`` (event time)."""
        lateness = int(self.config.lateness_s * 1000)
        if self.next_window is None:
            self.next_window = (now_ms - lateness) // self.window_ms
        self.watermark = max(self.watermark, now_ms - lateness)
        out: list[Anomaly] = []
        closed = False
        while (self.next_window + 1) * self.window_ms <= self.watermark:
            out += self._close(self.next_window)
            self.next_window += 1
            closed = True
        if closed:
            self._drop(bounds.silent(self.devices, self.active, self.watermark - self.config.idle_ms))
        self._close_at = (self.next_window + 1) * self.window_ms + lateness
        return out

    @property
    def close_at(self) -> int:
        """The event time at which the oldest open window closes (`tick` at or after it closes it)."""
        return self._close_at

    def cohort_of(self, device: str) -> Cohort:
        st = self.devices.get(device)
        return Cohort(*st.cell[:3]) if st else Cohort()

    def checkpoint(self, path: Path) -> None:
        checkpoint.save(self, Path(path))

    def restore(self, path: Path) -> bool:
        return checkpoint.load(self, Path(path))

    # -- internals ----------------------------------------------------------------
    def owns(self, device: str) -> bool:
        """Whether this shard runs the device and telemetry detectors of ``device``."""
        i, n = self.config.shard
        return n <= 1 or self._shard_of(device) == i

    def _state(self, device: str, ts_ms: int, cohort: Cohort | None = None) -> DeviceState:
        st = self.devices.get(device)
        if st is None:
            if len(self.devices) >= self.config.max_devices:
                gone = bounds.longest_silent(self.devices, max(1, int(self.config.max_devices * EVICT_SHARE)))
                for devices in self.active.values():
                    devices.difference_update(gone)
                self._drop(gone)
            st = self.devices[device] = DeviceState(("", "", "", ""), ts_ms)
        if cohort is not None and (cohort.model or cohort.firmware or cohort.site):
            hw_rev = st.cell[3] if len(st.cell) > 3 else ""  # records carry no hardware revision: meta does
            if st.move((cohort.model, cohort.firmware, cohort.site, hw_rev), ts_ms):
                self.moved[device] = ts_ms
        return st

    def _telemetry(self, st: DeviceState, rec: Telemetry) -> Anomaly | None:
        model = self._model_stats(st.cell[0])
        if st.telemetry is None:
            st.telemetry = TelemetryZ(halflife=self.config.telemetry_halflife, grace=self.config.telemetry_grace,
                                      threshold=self.config.telemetry_threshold)
            st.gate = EpisodeGate(self.config.telemetry_threshold, self.config.telemetry_quiet)
        x = bounds.tracked(st, rec.metrics, self.config.max_metrics, self._name_sets)
        young = st.telemetry.n_learned < self.config.telemetry_young
        floor = model[1] if young else None
        a = st.telemetry.assess_learn(x, rec.ts_ms, floor)
        model[2] += 1
        if model[2] % MODEL_SAMPLE == 0:
            model[0].learn_one(x)
            if model[2] % (MODEL_SAMPLE * 256) == 0:
                model[1] = model[0].stds()
        if not st.gate.step(rec.ts_ms, a.score, not st.telemetry.away):
            return None
        if a.kind == "stuck":
            text = f"{a.metric} has repeated the value {a.observed:g} for an improbably long run"
        elif a.kind == "residual":
            text = (f"{a.metric} reads {a.observed:g}, expected about {a.expected:.4g} from the device's other "
                    f"metrics ({a.score:.1f} residual deviations)")
        elif a.kind == "drift":
            text = (f"{a.metric} drifts from what the device's other metrics expect: reads {a.observed:g}, "
                    f"expected about {a.expected:.4g} (a sustained residual, score {a.score:.1f})")
        elif a.kind == "level":
            text = (f"{a.metric} has left its usual level: reads {a.observed:g}, expected about {a.expected:.4g} "
                    f"(its recent readings together, score {a.score:.1f})")
        else:
            text = f"{a.metric} reads {a.observed:g}, expected about {a.expected:.4g} ({a.score:.1f} standard deviations)"
        return Anomaly("telemetry", "device", rec.device, "", rec.ts_ms, rec.ts_ms, a.score, a.observed,
                       a.expected, st.gate.current, st.gate.quiet * st.gate.interval_ms / 1000, text,
                       model=st.cell[0], firmware=st.cell[1], site=st.cell[2], emission="episode")

    def _drop(self, devices: list[str]) -> int:
        for device in devices:
            del self.devices[device]
            self.moved.pop(device, None)
            self.faulting.discard(device)
            self.connectivity.forget(device)
        self.evicted += len(devices)
        return len(devices)

    def _model_stats(self, model: str) -> list:
        """[pooled detector, its deviations, readings seen] for a device model.

        Pooled over every device of the model (one reading in ``MODEL_SAMPLE``),
        its deviations include the daily cycle and the spread between devices:
        the floor under a young device's own deviations until it has seen
        ``telemetry_young`` readings (two daily cycles: the profile that removes the cycle is in use from then).
        """
        stats = self.telemetry_protos.get(model)
        if stats is None:
            if len(self.telemetry_protos) >= self.config.max_models:
                model = None  # past the bound, further models share one pooled entry
                stats = self.telemetry_protos.get(model)
        if stats is None:
            stats = self.telemetry_protos[model] = [TelemetryZ(halflife=20_000.0, grace=30, factor=False), {}, 0]
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
            if self.owns(device):
                out += self._device_rate(device, st, faults, code, prior, end_ms)
        if self.config.cohort:
            out += self._cohorts(w, end_ms)
            out += evaluate_rules(self.config.rules, self.devices, end_ms)
        return out

    def _learn_cell(self, cell: Cell, faults: int) -> float:
        """The cell's fault rate per device-window before this window (the prior of young devices), then learn."""
        s = self.cell_rate.setdefault(cell, [0.0, 0.0, 0.0])
        prior = (s[0] + 0.1) / (s[1] + 10.0)
        s[0], s[1], s[2] = s[0] * 0.999 + faults, s[1] * 0.999 + 1.0, s[2] * 0.999 + (faults > 0)
        return prior

    def _device_rate(self, device, st, faults, code, prior, end_ms, look: dict | None = None) -> list[Anomaly]:
        """Score a closed window and learn it, or (``look``) score the open windows as they stand."""
        if look is None:
            if st.rate is None:
                st.rate = self.rate_proto.clone()
            x = {"count": faults, "prior_rate": prior, "looks": self.looks}
            a = st.rate.assess(x)
            st.rate.learn_one(x)
        else:
            a = st.rate.assess({"count": faults, "looks": self.looks, **look})
            faults += sum(look["before"])
        if a.score < self.config.device_threshold or not faults:
            return []  # a device that stopped faulting is not reported again from its past horizon
        st.flagged_ms = end_ms
        hours = a.horizon * self.window_ms / 3_600_000
        text = (f"{a.observed:.0f} faults in the last {hours:g} h (dominant {code or 'no code'}), "
                f"expected {a.expected:.2g} from the device's learned baseline")
        onset = end_ms - a.horizon * self.window_ms
        return [Anomaly("device_fault_rate", "device", device, code, end_ms, onset,
                        a.score, a.observed, a.expected, self.config.device_threshold, hours * 3600.0, text,
                        model=st.cell[0], firmware=st.cell[1], site=st.cell[2], flaps=st.flaps_since(onset))]


class _Cells:
    """The device table seen as device -> cell (a view: nothing is copied)."""

    __slots__ = ("devices",)

    def __init__(self, devices: dict):
        self.devices = devices

    def get(self, device: str, default=None):
        st = self.devices.get(device)
        return st.cell if st is not None else default
