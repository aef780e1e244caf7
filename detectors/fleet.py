"""The device table: what the engine remembers about each device between windows.

Per device: its cohort cell, fault counts of the windows still open, the
last window it was active and the last one it faulted in (enough for the
cohort counts at every horizon), and its own detectors. Kept small on
purpose: state per device is measured by ``bench/bench_detectors.py``.
"""

from __future__ import annotations

from collections import Counter

from detectors.attribution import Cell
from detectors.device_rate import DeviceFaultRate
from detectors.telemetry import EpisodeGate, TelemetryZ
from ingest.handoff import shard_of  # noqa: F401 - the owner rule, shared with ingest's handoff to the shards

FAULT_LEVELS = frozenset({"ERROR", "FATAL"})
NEVER = -(1 << 62)
CODE_DECAY = 0.9  # per window: a fault code's weight halves in about 6.6 windows
MAX_CODES = 8
NO_METRICS: frozenset[str] = frozenset()
MAX_CLEARS = 16
POOL_WINDOWS = 168  # fault counts per window kept for the pooled cohort test (a week of hours)


class DeviceState:
    """One device's memory (pickled with the engine's checkpoint)."""

    __slots__ = ("cell", "pending", "last_active_w", "last_fault_w", "last_code", "codes", "first_seen_ms",
                 "last_seen_ms", "last_fault_ms", "rate", "telemetry", "gate", "metrics", "joined_ms", "fault_windows",
                 "flagged_ms", "clears")

    def __init__(self, cell: Cell, ts_ms: int):
        self.cell = cell
        self.pending: dict[int, list] = {}  # window -> [fault events, error logs, Counter(codes)]
        self.last_active_w = NEVER
        self.last_fault_w = NEVER
        self.last_code = ""  # dominant code of the recent windows (decayed counts in `codes`)
        self.codes: dict[str, float] = {}
        self.first_seen_ms = ts_ms
        self.last_seen_ms = ts_ms
        self.last_fault_ms = NEVER
        self.rate: DeviceFaultRate | None = None
        self.telemetry: TelemetryZ | None = None
        self.gate: EpisodeGate | None = None
        self.metrics: frozenset[str] = NO_METRICS  # the metric names its telemetry detector tracks
        self.joined_ms = ts_ms  # when the device entered its current cell (a firmware update moves it)
        self.fault_windows: list[tuple[int, int]] = []  # (window, faults) of the last POOL_WINDOWS windows
        self.flagged_ms = NEVER  # last report of the device's own fault-rate detector
        self.clears: list[int] = []  # times of its latest `fault_cleared` events (at most MAX_CLEARS)

    def move(self, cell: Cell, ts_ms: int) -> bool:
        """The device now belongs to ``cell`` (its pooled fault counts start again there); True if it moved."""
        if cell == self.cell:
            return False
        old = self.cell
        # learning a hardware revision that was unknown is not a move
        moved = bool(old[0]) and (old[:3] != cell[:3] or len(old) > 3 and bool(old[3]) and old[3:] != cell[3:])
        if moved:
            self.joined_ms = ts_ms
            self.fault_windows = []
        self.cell = cell
        return moved

    def count(self, window: int, event: bool, code: str, ts_ms: int) -> None:
        """Count one fault signal (a fault event, or an ERROR/FATAL line) in ``window``."""
        slot = self.pending.get(window)
        if slot is None:
            slot = self.pending[window] = [0, 0, None]
        slot[0 if event else 1] += 1
        if code:
            if slot[2] is None:
                slot[2] = Counter()
            slot[2][code] += 1
        self.last_fault_ms = max(self.last_fault_ms, ts_ms)

    def cleared(self, ts_ms: int) -> None:
        """A fault of the device cleared (a raise/clear cycle ended)."""
        self.clears.append(ts_ms)
        if len(self.clears) > MAX_CLEARS:
            del self.clears[0]

    def flaps_since(self, since_ms: int) -> int:
        """Raise/clear cycles that ended after ``since_ms``."""
        return sum(t >= since_ms for t in self.clears)

    def close(self, window: int) -> tuple[int, str]:
        """Close ``window`` for this (active) device: its fault count and the dominant recent code.

        The code is the one with the most faults over the recent windows
        (decayed), so a background fault on a device that flapped for hours
        does not rename the device's alert.
        """
        slot = self.pending.pop(window, None)
        self.last_active_w = window
        if slot is None:
            return 0, ""
        faults = max(slot[0], slot[1])
        if faults:
            if slot[2]:
                self._learn_codes(window, slot[2])
            self.last_fault_w = window
            self.fault_windows = [fw for fw in self.fault_windows if fw[0] > window - POOL_WINDOWS]
            self.fault_windows.append((window, faults))
        return faults, self.last_code

    def code_if_closed(self) -> str:
        """The dominant code the open windows would leave behind (a look names its alert like the close will)."""
        codes = dict(self.codes)
        for slot in self.pending.values():
            for code, n in (slot[2] or {}).items():
                codes[code] = codes.get(code, 0.0) + n
        return max(codes, key=codes.get) if codes else ""

    def _learn_codes(self, window: int, counts: Counter) -> None:
        """Decay the code counts by CODE_DECAY per window since the last fault, add this window's."""
        keep = CODE_DECAY ** max(0, window - self.last_fault_w) if self.last_fault_w != NEVER else 0.0
        codes = {c: v * keep for c, v in self.codes.items() if v * keep > 0.01}
        for code, n in counts.items():
            codes[code] = codes.get(code, 0.0) + n
        self.codes = dict(sorted(codes.items(), key=lambda kv: -kv[1])[:MAX_CODES])
        self.last_code = next(iter(self.codes), "")

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        self.metrics = NO_METRICS  # checkpoints written before the metric bound
        self.joined_ms = state.get("first_seen_ms", 0)  # checkpoints older than the pooled counts
        self.fault_windows = []
        self.flagged_ms = NEVER
        self.clears = []
        for k, v in state.items():
            setattr(self, k, v)
