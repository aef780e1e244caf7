"""Telemetry anomaly: exponentially weighted z-scores per metric, plus frozen sensors.

``TelemetryZ`` keeps, per metric, an exponentially weighted mean and variance
(half-life ``halflife`` samples) and scores a reading by its largest absolute
z-score across metrics. Why not River's HalfSpaceTrees: measured on SKAB with
the same protocol, gate and scorer (``bench/compare_telemetry_skab.py``),
HalfSpaceTrees on min-max scaled metrics scored NAB 17.2 / F1 0.23 (FAR
15.8 %) at its better threshold, this z-score NAB 56.1 / F1 0.32 (FAR
12.1 %). It is also cheap: six floats per metric, so a device's state stays
far below 16 KB. The engine gives every device its own detector (devices of
one model differ in base level and daily phase) and keeps pooled statistics
per model as a floor for young devices (`detectors.engine`).

Learning is robust: a reading beyond ``clip`` standard deviations moves the
mean by at most that much and leaves the variance alone, so an ongoing
degradation is neither absorbed at once nor hidden by an inflated variance
(clipping into the variance too made a 6-hour ramp invisible). With
``outlier_variance=True`` clipped outliers also widen the variance, which
re-adapts faster after a level shift: better for changepoint scoring on 1 Hz
test-bed data (SKAB), worse for slow degradations. Repeated
identical readings are not learned (a frozen sensor must not shrink the
variance).

A frozen sensor scores by the surprise of its run of identical readings,
``-log10(p_repeat ** run)``, where ``p_repeat`` is the metric's learned
chance of repeating the previous value; metrics that repeat more often than
``max_repeat`` (booleans, coarse counters) are never called frozen.

`EpisodeGate` turns scores into episodes (one anomaly per episode): an
episode opens when the score reaches the threshold and closes after
``quiet`` readings below ``release`` times the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from river.base import AnomalyDetector


@dataclass(frozen=True, slots=True)
class TelemetryAssessment:
    score: float
    metric: str
    kind: str  # "deviation" | "stuck" | ""
    observed: float
    expected: float


class TelemetryZ(AnomalyDetector):
    """Largest |z| over metrics against exponentially weighted statistics.

    >>> det = TelemetryZ(halflife=50, grace=10)
    >>> for i in range(200):
    ...     det.learn_one({"t": 20.0 + (i % 7) * 0.1})
    >>> det.score_one({"t": 20.3}) < 3
    True
    >>> det.score_one({"t": 30.0}) > 10
    True
    """

    def __init__(self, halflife: float = 720.0, grace: int = 60, clip: float = 4.0,
                 min_std: float = 1e-6, stuck_min_run: int = 5, max_repeat: float = 0.2,
                 outlier_variance: bool = False):
        self.halflife = halflife
        self.grace = grace
        self.clip = clip
        self.min_std = min_std
        self.stuck_min_run = stuck_min_run
        self.max_repeat = max_repeat
        self.outlier_variance = outlier_variance
        self._stats: dict[str, list[float]] = {}  # metric -> [n, mean, var, last, run, p_repeat]
        self._n = 0

    @property
    def n_learned(self) -> int:
        """Readings learned so far."""
        return self._n

    def stds(self) -> dict[str, float]:
        """The current standard deviation per metric."""
        return {name: math.sqrt(s[2]) for name, s in self._stats.items() if s[0] >= self.grace}

    def assess(self, x: dict, floor: dict[str, float] | None = None) -> TelemetryAssessment:
        """Score ``x`` and name the metric; ``floor`` is a lower bound per metric on the deviation used."""
        best, best_name, best_kind, stats, grace = 0.0, "", "", self._stats, self.grace
        floor = floor or {}
        for name, value in x.items():
            s = stats.get(name)
            if s is None or s[0] < grace:
                continue
            mean = s[1]
            std = math.sqrt(s[2]) if s[2] > 0 else 0.0
            std = max(std, floor.get(name, 0.0), self.min_std, 1e-9 * abs(mean))
            z = abs(value - mean) / std
            if z > best:
                best, best_name, best_kind = z, name, "deviation"
            if value == s[3] and s[4] + 1 >= self.stuck_min_run and s[5] < self.max_repeat:
                stuck = -(s[4] + 1) * math.log10(min(max(s[5], 1e-6), 0.999))
                if stuck > best:
                    best, best_name, best_kind = stuck, name, "stuck"
        if not best_name:
            return TelemetryAssessment(0.0, "", "", 0.0, 0.0)
        return TelemetryAssessment(best, best_name, best_kind, float(x[best_name]), stats[best_name][1])

    def score_one(self, x: dict) -> float:
        return self.assess(x).score

    def learn_one(self, x: dict) -> None:
        self._n += 1
        keep = 0.5 ** (1.0 / self.halflife)
        stats, grace, clip = self._stats, self.grace, self.clip
        for name, value in x.items():
            s = stats.get(name)
            if s is None:
                stats[name] = [1.0, float(value), 0.0, value, 1.0, 0.5]
                continue
            a = 1.0 / (s[0] + 1.0)  # a plain average until the half-life is reached
            if a < 1.0 - keep:
                a = 1.0 - keep
            if value == s[3]:
                s[5] += a * (1.0 - s[5])
                s[4] += 1
                if s[4] > 2:
                    continue
            else:
                s[5] -= a * s[5]
                s[4] = 1.0
                s[3] = value
            mean, var = s[1], s[2]
            diff = value - mean
            if s[0] >= grace and var > 0 and diff * diff > clip * clip * var:
                step = math.copysign(clip * math.sqrt(var), diff)
                if not self.outlier_variance:
                    # an outlier moves the mean by at most `clip` deviations, the variance not at all
                    s[1] = mean + a * step
                    s[0] += 1.0
                    continue
                diff = step
            s[1] = mean + a * diff
            s[2] = (1.0 - a) * (var + a * diff * diff)
            s[0] += 1.0


class EpisodeGate:
    """One alarm per episode: opens at ``threshold``, closes after ``quiet`` readings below ``release * threshold``.

    Counting readings, not seconds, makes the gate follow the series' own
    sampling interval (a minute-rate device and a 1 Hz test bed alike); the
    interval is learned too (`interval_ms`), so an episode's span can be
    stated in time.

    >>> g = EpisodeGate(threshold=5.0, quiet=2)
    >>> [g.step(t, s) for t, s in [(0, 1), (1, 6), (2, 9), (3, 1), (4, 1), (5, 7)]]
    [False, True, False, False, False, True]
    >>> g.active, g.interval_ms
    (True, 1.0)
    """

    __slots__ = ("threshold", "quiet", "release", "active", "_below", "_last_ts", "interval_ms")

    def __init__(self, threshold: float, quiet: int, release: float = 0.5):
        self.threshold = threshold
        self.quiet = quiet
        self.release = release
        self.active = False
        self._below = 0
        self._last_ts: int | None = None
        self.interval_ms = 0.0

    def step(self, ts_ms: int, score: float) -> bool:
        """Record a score; True when a new episode opens."""
        if self._last_ts is not None and ts_ms > self._last_ts:
            gap = ts_ms - self._last_ts
            self.interval_ms = gap if not self.interval_ms else self.interval_ms + 0.05 * (gap - self.interval_ms)
        self._last_ts = ts_ms
        if self.active:
            if score >= self.release * self.threshold:
                self._below = 0
            else:
                self._below += 1
                if self._below >= self.quiet:
                    self.active = False
        if not self.active and score >= self.threshold:
            self.active = True
            self._below = 0
            return True
        return False

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        self._below, self._last_ts, self.interval_ms = 0, None, 0.0  # checkpoints of the time-based gate
        for k, v in state.items():
            if k in self.__slots__:
                setattr(self, k, v)
        if not isinstance(getattr(self, "quiet", None), int):
            self.quiet = 60
