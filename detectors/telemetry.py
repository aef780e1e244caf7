"""Telemetry anomaly: robust z-scores per metric against a learned level, spread and daily cycle,
plus frozen sensors, with an alarm threshold each series learns from its own scores.

``TelemetryZ`` keeps, per metric, an exponentially weighted level and
variance (half-life ``halflife`` readings) and scores a reading by its
largest absolute z-score across metrics. One configuration serves every
series; what differs between series is learned online from the series:

* **Warm-up**: the first ``grace`` readings are learned, not scored; at its
  end the level and spread restart from their median and median absolute
  deviation, so outliers in the warm-up neither shift nor widen them.
* **Spikes against lasting changes**: a reading beyond ``clip`` deviations
  moves the level by at most that much and leaves the variance alone (a
  spike is not learned as normal, and a slow degradation is neither
  absorbed at once nor hidden by an inflated variance). A short-term level
  and spread (half-life ``local_halflife``) follow the series; when the
  short-term level stays more than ``shift`` deviations away, or its spread
  more than ``spread`` times wider, for ``adopt`` readings and has stopped
  moving (a step, not a ramp), it is adopted as the new normal: the alarm
  ends and the next change is alarmed again. While away, the metric is not
  learned, so a ramp does not widen the spread it is measured by and keeps
  being reported. The short-term level is scored too (kind ``level``):
  its distance from the level in the deviations such a level has had on
  this series (learned robustly, so a series that wanders teaches how far
  its level goes) or would have by chance from the spread, whichever is
  more, ``drift`` of them scoring as ``threshold``: a small lasting step
  that no single reading shows stands out within a few half-lives.
* **Daily cycle**: a profile of the offset from a slowly moving level
  (half-life two days) per time of day (``season_bins`` bins, interpolated
  between their centres), learned from non-outlying readings; once two
  days have been seen with all but a tenth of the bins visited, readings
  are scored without their daily cycle (a series without one learns a flat
  profile), against the spread around the profile learned alongside (the
  second day shows how far one day's profile fits the next, so slow wander
  stays normal). A bin or two whose readings were all outlying (the load
  away through that hour on both days) does not keep the profile out of use.
  From then on the level and spread are averaged afresh (the estimate at
  the switch counting as ``grace`` readings): what the first days taught
  them, cycle and all, is not left to decay at the half-life.
* **Frozen sensors**: a run of identical readings scores its surprise,
  ``-log10(p_repeat ** run)`` times ``stuck_scale`` (a run as improbable as
  10⁻¹⁰ scores 6), where ``p_repeat`` is the metric's learned chance of
  repeating the previous value; metrics that repeat more often than
  ``max_repeat`` (booleans, coarse counters) are never called frozen.
  Repeated readings are not learned (a frozen sensor must not shrink the
  variance).
* **Against the other metrics** (``factor``, `detectors.crossmetric`): a
  device's metrics share a driver (load, daily cycle), so each metric is
  also scored by its residual against a regression on a factor common to
  the others (kind ``residual``), learned online with its own tail-learned
  threshold. The shared swing is explained away, so a change one metric
  makes alone shows while its own deviation is still floored by its
  model's pooled one (a young device) or hidden in its daily swing; a slow
  ramp shows in the residual's short-term level first (kind ``drift``).

`EpisodeGate` turns scores into episodes (one anomaly per episode) and
learns the threshold from the tail of the series' own scores (peaks over a
base level, Pareto tail): a heavy-tailed series earns a higher threshold,
a calm one keeps the floor.

Measured against River (`bench/compare_telemetry_skab.py`,
`bench/compare_telemetry_nab.py`, figures in docs/detection.md):
HalfSpaceTrees on SKAB, GaussianScorer (a windowed Gaussian) and
StandardAbsoluteDeviation on NAB-format corpora score below this detector.
State is a few dozen floats per metric, so a device stays far below 16 KB.
The engine gives every device its own detector (devices of one model differ
in base level and daily phase) and keeps pooled statistics per model as a
floor for young devices (`detectors.engine`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from river.base import AnomalyDetector

from detectors.crossmetric import CommonFactor

DAY_MS = 86_400_000
TWO_DAYS_MS = 2 * DAY_MS  # the daily profile is used once two days have been seen


class TelemetryAssessment(NamedTuple):  # (a tuple: one is built per reading)
    score: float
    metric: str
    kind: str  # "deviation" | "level" | "residual", "drift" (against the other metrics) | "stuck" | ""
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
                 outlier_variance: bool = False, local_halflife: float = 10.0, adopt: int = 60,
                 shift: float = 3.0, spread: float = 4.0, season_bins: int = 24, stuck_scale: float = 0.6,
                 factor: bool = True, drift: float = 10.0, threshold: float = 6.0):
        self.halflife = halflife
        self.grace = grace
        self.clip = clip
        self.min_std = min_std
        self.stuck_min_run = stuck_min_run
        self.max_repeat = max_repeat
        self.outlier_variance = outlier_variance
        self.local_halflife = local_halflife
        self.adopt = adopt
        self.shift = shift
        self.spread = spread
        self.season_bins = season_bins
        self.stuck_scale = stuck_scale
        self.factor = factor
        self.drift = drift
        self.threshold = threshold
        # metric -> [n, mean, var, last, run, p_repeat, local mean, local var, readings away, warm-up values,
        #            daily profile (offset per time-of-day bin), readings per bin, first time seen,
        #            local mean half-way through the time away, the level the profile is measured from,
        #            sum of the profile, whether the profile is in use, variance around the profile,
        #            variance of the short-term level about the level]
        self._stats: dict[str, list] = {}
        self._n = 0
        self.away = False  # some metric's local level or spread is away from its learned one
        self._first_ms: int | None = None  # times of the first and the latest reading (the daily profile's level)
        self._last_ms = 0
        self._cross = self._common_factor() if factor else None

    factor = True  # a detector checkpointed before the cross-metric residual starts learning it on restore
    _cross = None
    drift = 10.0  # checkpoints from before the short-term level was scored score it on restore
    threshold = 6.0

    def _common_factor(self) -> CommonFactor:
        return CommonFactor(self.halflife, clip=self.clip, local_halflife=self.local_halflife, adopt=self.adopt)

    @property
    def n_learned(self) -> int:
        """Readings learned so far."""
        return self._n

    def stds(self) -> dict[str, float]:
        """The current standard deviation per metric."""
        return {name: math.sqrt(s[2]) for name, s in self._stats.items() if s[0] >= self.grace}

    def _position(self, ts_ms: int | None) -> tuple[int, float]:
        """(time-of-day bin, weight of the next bin) of a reading; (-1, 0) without a time."""
        n = self.season_bins
        if ts_ms is None or not n:
            return -1, 0.0
        pos = (ts_ms % DAY_MS) * n / DAY_MS - 0.5
        b = math.floor(pos)
        return b % n, pos - b

    def _profile(self, s: list, ts_ms: int, b: int, w: float) -> tuple[float, float]:
        """(the daily profile at bin ``b`` + ``w``, its offset from the day's mean; 0 until it is in use).

        The profile is interpolated linearly between bin centres; it is used
        once two days have been seen with all but a tenth of the bins visited
        three times (a second day shows how far one day's profile fits the next).
        """
        prof = s[10]
        if prof is None:
            prof = s[10] = [0.0] * self.season_bins
            s[11], s[12] = [0] * self.season_bins, ts_ms
        here = (1.0 - w) * prof[b] + w * prof[(b + 1) % len(prof)]
        if not s[16]:
            # more than a tenth of the bins seen fewer than three times (sorted in C: this runs per reading)
            if ts_ms - s[12] < TWO_DAYS_MS or sorted(s[11])[len(prof) // 10] < 3:
                return here, 0.0
            s[16] = True
            if 0.0 < s[17] < s[2]:
                s[2] = s[17]  # the spread without the daily cycle, learned alongside
            # the series without its cycle is a new series: its level and spread are averaged afresh (the first
            # estimate counting as `grace` readings), not decayed from the first days' at the half-life
            s[0] = min(s[0], float(self.grace))
        return here, here - s[15] / len(prof)

    def assess(self, x: dict, floor: dict[str, float] | None = None, ts_ms: int | None = None) -> TelemetryAssessment:
        """Score ``x`` and name the metric; ``floor`` is a lower bound per metric on the deviation used (given
        for a young series, whose short-term level is then not scored)."""
        return self._pass(x, ts_ms, floor, score=True, learn=False)

    def score_one(self, x: dict) -> float:
        return self.assess(x).score

    def learn_one(self, x: dict, ts_ms: int | None = None, floor: dict[str, float] | None = None) -> None:
        self._pass(x, ts_ms, floor, score=False, learn=True)

    def assess_learn(self, x: dict, ts_ms: int | None = None,
                     floor: dict[str, float] | None = None) -> TelemetryAssessment:
        """`assess` then `learn_one` in one pass over the metrics (what the engine does with every reading)."""
        return self._pass(x, ts_ms, floor, score=True, learn=True)

    def _pass(self, x: dict, ts_ms: int | None, floor: dict[str, float] | None, score: bool,
              learn: bool) -> TelemetryAssessment | None:
        """Score each metric as the detector stood before this reading (``score``), then learn it (``learn``)."""
        best, best_name, best_kind, best_mean = 0.0, "", "", 0.0
        stats, grace, clip, clip2 = self._stats, self.grace, self.clip, self.clip * self.clip
        # the short-term level is the series' own yardstick: not scored while a floor says it is not yet trusted
        weight = self.threshold / self.drift if self.drift > 0 and floor is None else 0.0
        weight2 = weight * weight
        sfloor = floor or {}
        min_std, stuck_min_run, max_repeat = self.min_std, self.stuck_min_run, self.max_repeat
        local = 1.0 - 0.5 ** (1.0 / self.local_halflife)
        settle, chance = 1.0 - local, local / (2.0 - local)  # (a level's variance by chance, per unit of the readings')
        fast = 1.0 - 0.5 ** (1.0 / self.halflife)  # (the learning rate once the half-life is reached)
        shift2, spread, adopt = self.shift * self.shift, self.spread, self.adopt
        b, w = self._position(ts_ms)
        nb, w0, bins = (b + 1) % self.season_bins if b >= 0 else 0, 1.0 - w, self.season_bins
        cross = self._cross
        score_cross = score and cross is not None  # (a factor created by this reading scores from the next)
        if learn:
            self._n += 1
            if self.factor and cross is None:
                cross = self._cross = self._common_factor()
        k = 0.0  # the step of the slow level the daily profile is measured from (half-life two days of time)
        if learn and b >= 0:
            if self._first_ms is None:
                self._first_ms = ts_ms
            elif ts_ms > self._last_ms:
                dt = ts_ms - self._last_ms
                k = max(dt / max(ts_ms - self._first_ms, 1), 1.0 - 0.5 ** (dt / (2 * DAY_MS)))
            self._last_ms = ts_ms
        away = False
        for name, value in x.items():
            s = stats.get(name)
            if score and s is not None and s[0] >= grace:
                mean = s[1]
                if b >= 0 and s[16]:  # the daily profile in use: its offset at this time of day
                    prof = s[10]
                    mean += w0 * prof[b] + w * prof[nb] - s[15] / bins
                var = s[2]
                std = math.sqrt(var) if var > 0 else 0.0  # never below the floor, min_std, or 1e-9 of the level
                if sfloor:
                    f = sfloor.get(name, 0.0)
                    if f > std:
                        std = f
                if min_std > std:
                    std = min_std
                if 1e-9 * abs(mean) > std:
                    std = 1e-9 * abs(mean)
                dev = value - mean
                z = abs(dev) / std
                if z > best:
                    best, best_name, best_kind, best_mean = z, name, "deviation", mean
                if weight2:
                    # the short-term level (this reading included) against the level, in the deviations such a
                    # level has had here (learned) or would have by chance, whichever is more (compared squared)
                    gap = settle * (s[6] - s[1]) + local * dev
                    lvar = chance * std * std
                    if s[18] > lvar:
                        lvar = s[18]
                    z = gap * gap * weight2
                    if z > best * best * lvar:
                        best, best_name, best_kind, best_mean = math.sqrt(z / lvar), name, "level", mean
                if value == s[3] and s[4] + 1 >= stuck_min_run and s[5] < max_repeat:
                    stuck = -(s[4] + 1) * math.log10(min(max(s[5], 1e-6), 0.999)) * self.stuck_scale
                    if stuck > best:
                        best, best_name, best_kind, best_mean = stuck, name, "stuck", mean
            if not learn:
                continue
            if s is None:
                s = stats[name] = [1.0, float(value), 0.0, value, 1.0, 0.5, float(value), 0.0, 0, [float(value)],
                                   None, None, None, 0.0, float(value), 0.0, False, 0.0, 0.0]
                if b >= 0:
                    self._profile(s, ts_ms, b, w)
                continue
            a = 1.0 / (s[0] + 1.0)  # a plain average until the half-life is reached
            if a < fast:
                a = fast
            if value == s[3]:
                s[5] += a * (1.0 - s[5])
                s[4] += 1
                if s[4] > 2:
                    continue
            else:
                s[5] -= a * s[5]
                s[4] = 1.0
                s[3] = value
            raw = value
            mean, var = s[1], s[2]
            if b >= 0:
                prof = s[10]
                if s[16]:  # the profile in use (as `_profile` says it)
                    here = w0 * prof[b] + w * prof[nb]
                    offset = here - s[15] / bins
                elif prof is not None and ts_ms - s[12] < TWO_DAYS_MS:  # too early to use it (as `_profile` says)
                    here, offset = w0 * prof[b] + w * prof[nb], 0.0
                else:
                    here, offset = self._profile(s, ts_ms, b, w)  # (may put it in use, and reset the spread)
                    mean, var = s[1], s[2]
                value -= offset  # the reading without its daily cycle
                diff = value - mean
                if var <= 0 or diff * diff <= clip2 * var:
                    prof, seen = s[10], s[11]
                    seen[b if w < 0.5 else nb] += 1
                    s[14] += k * (raw - s[14]) if k < 1.0 else raw - s[14]
                    err = raw - s[14] - here
                    r0, r1 = 1.0 / (seen[b] or 1), 1.0 / (seen[nb] or 1)
                    d0 = (r0 if r0 > 0.05 else 0.05) * w0 * err
                    d1 = (r1 if r1 > 0.05 else 0.05) * w * err
                    prof[b] += d0
                    prof[nb] += d1
                    s[15] += d0 + d1
                    s[17] += a * (err * err - s[17])
            diff = value - mean
            if s[0] < grace:
                s[1] = mean + a * diff
                s[2] = (1.0 - a) * (var + a * diff * diff)
                s[0] += 1.0
                s[9].append(float(value))
                if s[0] >= grace:
                    self._warmed(s)
                continue
            # the local level and spread (half-life `local_halflife`): a lasting change is adopted
            ldiff = value - s[6]
            s[6] += local * ldiff
            s[7] = settle * (s[7] + local * ldiff * ldiff)
            wide = var
            if floor:
                f = floor.get(name, 0.0)
                if f * f > wide:
                    wide = f * f
            gap = s[6] - mean
            g2, cap = gap * gap, chance * wide  # the level's deviations as `assess` measures them, `clip` of them
            if s[18] > cap:
                cap = s[18]
            cap *= clip2
            if g2 > cap and floor is None:
                away = True  # the short-term level beyond `clip` of its deviations: no tail is learned from it
            if var > 0 and (g2 > shift2 * wide or s[7] > spread * wide):
                away = True
                s[8] += 1
                if s[8] == adopt // 2:
                    s[13] = s[6]
                elif s[8] >= adopt:
                    if abs(s[6] - s[13]) < 3.0 * math.sqrt(s[7] * local / (2.0 - local)):
                        # settled at a new level or spread (a step, not a ramp): adopt it
                        s[1], s[2], s[8] = s[6], max(s[7], self.min_std ** 2), 0
                        s[0] += 1.0
                        continue
                    s[8], s[13] = adopt // 2, s[6]  # still moving: look again later
                s[0] += 1.0
                continue  # not learned while away: a ramp must not widen the spread it is measured by
            s[8] = 0
            if var > 0 and diff * diff > clip2 * var:
                step = math.copysign(clip * math.sqrt(var), diff)
                if not self.outlier_variance:
                    # an outlier moves the mean by at most `clip` deviations, the variance not at all
                    s[1] = mean + a * step
                    s[0] += 1.0
                    continue
                diff = step
            s[1] = mean + a * diff
            s[2] = (1.0 - a) * (var + a * diff * diff)
            # the short-term level's variance about the level, learned robustly (a level beyond `clip` of its
            # deviations counts as at `clip`, so a change under way hardly widens the yardstick it is measured by)
            s[18] += a * ((g2 if g2 < cap else cap) - s[18])
            s[0] += 1.0
        learn_cross = learn and cross is not None and self.factor
        if score_cross:
            c_score, c_name, expected, kind = cross.assess_learn(x) if learn_cross else cross.assess(x)
            if c_score > best:
                best, best_name, best_kind, best_mean = c_score, c_name, kind, expected
        elif learn_cross:
            cross.learn_one(x)
        if learn:
            self.away = away or (cross is not None and cross.away)
        if not score:
            return None
        if not best_name:
            return TelemetryAssessment(0.0, "", "", 0.0, 0.0)
        return TelemetryAssessment(best, best_name, best_kind, float(x[best_name]), best_mean)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for s in self._stats.values():
            if len(s) < 19:
                # checkpoints from before the short-term level was scored: its variance starts at the readings'
                # (no level is scored at first) and is learned down over the next days, as the level goes
                s.append(s[2])

    @staticmethod
    def _warmed(s: list) -> None:
        """End of warm-up: the level and spread from the median and MAD of the warm-up values."""
        values = sorted(s[9])
        s[9] = None
        n = len(values)
        median = values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])
        mad = sorted(abs(v - median) for v in values)[n // 2]
        s[1] = s[6] = median
        if mad > 0:
            s[2] = (1.4826 * mad) ** 2
        s[7] = s[2]


class EpisodeGate:
    """One alarm per episode: opens at the threshold, closes after ``quiet`` readings below ``release`` times it.

    The threshold is learned from the tail of the series' own scores (peaks
    over threshold): outside episodes and while the detector is settled
    (``learn``), the share ``p_u`` of scores above ``base`` and their mean
    log excess ``m`` (a Pareto tail) give the score exceeded with
    probability ``tail``, ``base * (p_u / tail) ** m``; the threshold is
    that, but never below ``threshold`` (a heavy-tailed series earns a
    higher threshold, a calm one keeps the floor). ``tail=1`` keeps the
    threshold fixed.

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

    __slots__ = ("threshold", "quiet", "release", "active", "_below", "_last_ts", "interval_ms",
                 "base", "tail", "_p_u", "_excess", "_seen", "_over", "current")

    def __init__(self, threshold: float, quiet: int, release: float = 0.5, base: float = 3.0,
                 tail: float = 3e-4, halflife: float = 2000.0):
        self.threshold = threshold
        self.quiet = quiet
        self.release = release
        self.active = False
        self._below = 0
        self._last_ts: int | None = None
        self.interval_ms = 0.0
        self.base = base
        self.tail = tail
        self._p_u = 0.003  # a Gaussian tail as the prior
        self._excess = 0.1
        self._seen = 0.0
        self._over = 0.0
        self.current = threshold

    def _learn_tail(self, score: float) -> None:
        self._seen += 1.0
        a = max(1.0 / self._seen, 1.0 / 2000.0) if self._seen > 300 else 1.0 / 300.0
        over = score > self.base
        self._p_u += a * (over - self._p_u)
        if over:
            self._over += 1.0
            b = max(1.0 / (self._over + 20.0), 0.01)  # a prior worth 20 exceedances, then about the last 100
            self._excess += b * (math.log(min(score, 10.0 * self.threshold) / self.base) - self._excess)
        if self._p_u > self.tail:
            self.current = max(self.threshold, self.base * (self._p_u / self.tail) ** self._excess)
        else:
            self.current = self.threshold

    def step(self, ts_ms: int, score: float, learn: bool = True) -> bool:
        """Record a score; True when a new episode opens. ``learn=False``: not a score of normal behaviour."""
        if self._last_ts is not None and ts_ms > self._last_ts:
            gap = ts_ms - self._last_ts
            self.interval_ms = gap if not self.interval_ms else self.interval_ms + 0.05 * (gap - self.interval_ms)
        self._last_ts = ts_ms
        threshold = self.current
        if self.active:
            if score >= self.release * threshold:
                self._below = 0
            else:
                self._below += 1
                if self._below >= self.quiet:
                    self.active = False
            return False
        if score > 0 and learn:
            self._learn_tail(score)  # an opening score too: a tail learned only below the threshold is too light
        if score >= threshold:
            self.active = True
            self._below = 0
            return True
        return False

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        self._below, self._last_ts, self.interval_ms = 0, None, 0.0  # checkpoints of the time-based gate
        self.base, self.tail, self._p_u, self._excess, self._seen, self._over = 3.0, 3e-4, 0.003, 0.1, 0.0, 0.0
        for k, v in state.items():
            if k in self.__slots__:
                setattr(self, k, v)
        if not isinstance(getattr(self, "quiet", None), int):
            self.quiet = 60
        if not hasattr(self, "current") or "current" not in state:
            self.current = self.threshold
