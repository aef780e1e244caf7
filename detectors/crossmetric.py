"""Cross-metric residuals: each metric against what a device's other metrics say it should read.

A device's metrics share a driver (its load, its daily cycle), so a change
that one metric makes alone stands out against the others long before it
stands out against the metric's own swing. ``CommonFactor`` learns, online,
one factor common to a series' metrics and, per metric, a regression on the
factor built from the *other* metrics, and scores a reading by its largest
residual. What differs between series is learned from the series itself:

* **The factor**: for the first ``warm / 2`` readings, loadings are learned
  as each metric's covariance (standardized, clipped at ``clip``) with the
  others' factor, a power iteration on the off-diagonal correlations (the
  common part, not one metric's own noise); then the weights are fixed, so
  the factor is a fixed linear sum of the readings and a regression on it
  stays valid while levels and spreads move. A metric's weight is its
  correlation ``r`` with the others' factor over its unique variance,
  ``r / (1 - r²)`` (factor-score weights; ``r`` capped at ``MAX_R``), over
  its spread: a metric that follows the common driver closely counts for
  more than a noisy one, so each metric's expectation is as tight as the
  others allow. The weights are fixed once two metrics correlate at least
  ``MIN_R`` with the others' factor, or at ``warm`` readings: a device
  whose load sat still (clipped at night) does not fix them from noise.
  Metrics that repeat their value more often than ``max_repeat``
  (booleans, coarse counters) stay out.
* **Regressions**: per metric, exponentially weighted (half-life
  ``halflife``) level, variance and covariance with the others' factor,
  from the fixed factor on; scored from ``warm`` readings on, and only
  while the factor explains at least ``share`` of the metric's variance (a
  metric the others do not explain is left to the per-metric scores). The
  residual deviation is the larger of the regression's in-sample one and
  that of the residuals as they were scored.
* **Changes are not learned as normal**: a residual beyond ``clip``
  deviations is not learned, and while a metric's short-term residual
  (half-life ``local_halflife``) drifts beyond ``clip`` of the deviations
  such a level has by chance, the spread of its
  residuals is not learned and the metric counts in the others' factor
  without that drift (a ramp neither widens its own yardstick nor leaks
  into the others' expectations). A residual that stays out for ``adopt``
  readings and has stopped moving (a step, not a ramp) moves the metric's
  level: the residual is normal again.
* **Drifts**: a ramp holds the residual on one side, so its short-term
  level stands out against what such a level does by chance before any
  one reading's residual stands out against the residual's spread; it is
  scored too (kind ``drift``), in units of the deviation such a level has
  by chance: ``drift`` of them score as
  ``threshold`` (15 chance deviations of a level with a ten-reading
  half-life are 2.8 residual deviations held for a few half-lives; a
  healthy device's slow misfit to the others stays below that).
* **Its own threshold**: the score is divided by how far the series' own
  tail of residual scores reaches beyond ``threshold`` (peaks over
  ``base``, a Pareto tail exceeded with probability ``tail``, as
  `detectors.telemetry.EpisodeGate` learns its threshold), learned while
  no metric drifts; ``away`` tells the gate not to learn either.

State is sixteen floats per metric.

>>> import random
>>> rng = random.Random(1)
>>> cf = CommonFactor(warm=100)
>>> for i in range(1500):
...     load = math.sin(i / 60.0)
...     cf.learn_one({"a": 10 * load + rng.gauss(0, 0.1), "b": 3 * load + rng.gauss(0, 0.05)})
>>> load = math.sin(25.0)
>>> cf.score_one({"a": 10 * load, "b": 3 * load}) < 3
True
>>> score, metric, expected, kind = cf.assess({"a": 10 * load, "b": 3 * load + 2.0})
>>> score > 6, metric, kind, round(expected, 1) == round(3 * load, 1)
(True, 'b', 'residual', True)
"""

from __future__ import annotations

import math

from river.base import AnomalyDetector

# per metric: [n, level, variance, last value, repeat share, loading (raw, then its weight in the factor),
#              mean of the others' factor, its variance, covariance of the metric with it, short-term residual,
#              readings away, short-term residual half-way through the time away, factor of the others (scratch),
#              residual (scratch), variance of the residuals as scored, how far the short-term residual
#              wanders by chance]
N, LEVEL, VAR, LAST, REPEAT, LOAD, FMEAN, FVAR, COV, LOCAL, AWAY, HALF, F, RES, PVAR, LIMIT = range(16)
MAX_R = 0.975  # a correlation counted at most this close to 1 in the factor's weights
MIN_R = 0.5  # the factor is fixed once two metrics correlate at least this much with the others' factor
FIX_EVERY = 30  # readings between two looks at whether it can be


class CommonFactor(AnomalyDetector):
    """Largest residual over metrics after one factor common to them, in residual deviations.

    ``assess`` names the metric, the value the others expect of it, and
    whether one reading's residual or the short-term drift scored.
    """

    def __init__(self, halflife: float = 720.0, warm: int = 240, clip: float = 4.0, share: float = 0.5,
                 max_repeat: float = 0.2, local_halflife: float = 10.0, adopt: int = 60, threshold: float = 6.0,
                 base: float = 3.0, tail: float = 3e-4, drift: float = 15.0):
        self.halflife = halflife
        self.warm = warm
        self.clip = clip
        self.share = share
        self.max_repeat = max_repeat
        self.local_halflife = local_halflife
        self.adopt = adopt
        self.threshold = threshold
        self.base = base
        self.tail = tail
        self.drift = drift
        self._stats: dict[str, list] = {}
        self._n = 0
        self._fixed = False  # the factor's weights are fixed (half-way through the warm-up)
        self._tail = [0.003, 0.1, 0.0, 0.0]  # share of scores above base, mean log excess, scores seen, above
        self.scale = 1.0  # the residual's own threshold over ``threshold``
        self.away = False  # a metric's residual drifts, or is beyond ``clip`` for more than a reading

    drift = 15.0  # a detector checkpointed before drifts were scored scores them on restore

    def _parts(self, x: dict) -> float:
        """Each metric's part of the factor (scratch slot) and their sum.

        Until the weights are fixed, standardized values (clipped) teach the
        loadings; then the factor is a fixed linear sum of the readings, so
        a regression on it stays valid while levels and spreads move. A
        metric away from its regression, or drifting from it (its short-term
        residual beyond what chance gives), counts without that drift: a
        ramp does not leak into the others' factor. A metric's factor of the
        others is the sum less its own part.
        """
        total, clip, max_repeat = 0.0, self.clip, self.max_repeat
        if self._fixed:
            for name, s in self._stats.items():
                v = x.get(name)
                part = 0.0
                if v is not None and s[REPEAT] < max_repeat:
                    drift, lim = s[LOCAL], s[LIMIT]
                    if s[AWAY]:
                        v -= drift
                    elif drift > lim:
                        v -= drift - lim
                    elif drift < -lim:
                        v -= drift + lim
                    part = s[LOAD] * v
                s[F] = part
                total += part
            return total
        for name, s in self._stats.items():
            v = x.get(name)
            part = 0.0
            if v is not None and s[REPEAT] < max_repeat and s[VAR] > 0:
                z = (v - s[LEVEL]) / math.sqrt(s[VAR])
                part = s[LOAD] * (clip if z > clip else -clip if z < -clip else z)
            s[F] = part
            total += part
        return total

    def _fix(self) -> None:
        """Fix the factor's weights: each metric's correlation r with the others' factor over its unique
        variance, r / (1 - r²), over its spread (factor-score weights: a metric that follows the
        common driver closely counts for more than a noisy one)."""
        stats = self._stats.values()
        r = [max(-MAX_R, min(MAX_R, s[LOAD] / math.sqrt(s[FVAR]))) if s[REPEAT] < self.max_repeat and s[VAR] > 0
             and s[FVAR] > 0 else 0.0 for s in stats]
        if self._n < self.warm and sum(abs(c) >= MIN_R for c in r) < 2:
            return  # no common driver seen yet (a flat stretch, or unrelated metrics): learn on, up to `warm`
        weights = [c / (1.0 - c * c) for c in r]
        norm = math.sqrt(sum(w * w for w in weights)) or 1.0
        for s, w in zip(stats, weights):
            s[LOAD] = w / norm / math.sqrt(s[VAR]) if w else 0.0
            s[N] = 0.0  # the regression learns from here: level and spread too, over the same readings
        self._fixed = True

    def assess(self, x: dict) -> tuple[float, str, float, str]:
        """(score, metric, the value the other metrics expect of it, "residual" or "drift"); (0, "", 0, "")
        when none is scored.

        A metric scores the larger of its residual and its short-term
        residual (this reading included) in chance deviations times
        ``threshold / drift``. The residual variance is the regression's
        in-sample one, or that of the residuals as they were scored if more.
        """
        if len(self._stats) < 2 or not self._fixed:
            return 0.0, "", 0.0, ""
        return self._fixed_pass(x, learn=False)

    def score_one(self, x: dict) -> float:
        return self.assess(x)[0]

    def assess_learn(self, x: dict) -> tuple[float, str, float, str]:
        """`assess` then `learn_one` (what the telemetry detector does with every reading)."""
        if self._fixed:
            return self._fixed_pass(x)
        out = self.assess(x)
        self.learn_one(x)
        return out

    def learn_one(self, x: dict) -> None:
        if self._fixed:
            self._fixed_pass(x)  # (scored too: the residual's tail is learned from it)
            return
        self._n += 1
        if self._n >= self.warm // 2 and self._n % FIX_EVERY == 0:
            self._fix()
        stats, fixed = self._stats, self._fixed  # (fixed at this reading: its regressions learn from here)
        total = self._parts(x)
        for s in stats.values():
            s[F] = total - s[F]
        fast = 1.0 - 0.5 ** (1.0 / self.halflife)
        clip = self.clip
        for name, value in x.items():
            s = stats.get(name)
            if s is None:
                stats[name] = _first(value)
                continue
            n = s[N]
            a = 1.0 / (n + 1.0)
            if a < fast:
                a = fast
            s[N] = n + 1.0
            s[REPEAT] += a * ((value == s[LAST]) - s[REPEAT])
            s[LAST] = value
            s[AWAY] = 0
            # the reading learned: the loadings until the factor is fixed, then the regression on it
            diff, f = value - s[LEVEL], s[F]
            s[LEVEL] += a * diff
            var = s[VAR] = (1.0 - a) * (s[VAR] + a * diff * diff)
            if fixed:
                fdiff = f - s[FMEAN]
                s[FMEAN] += a * fdiff
                s[FVAR] = (1.0 - a) * (s[FVAR] + a * fdiff * fdiff)
                s[COV] = (1.0 - a) * (s[COV] + a * diff * fdiff)
            elif var > 0:
                z = diff / math.sqrt(var)
                z = clip if z > clip else -clip if z < -clip else z
                s[LOAD] += a * (z * f - s[LOAD])
                s[FVAR] += a * (f * f - s[FVAR])  # (until the factor is fixed: the others' factor's spread)
        self.away = False  # (no residual is learned, so none is away, before the factor is fixed)

    def _fixed_pass(self, x: dict, learn: bool = True) -> tuple[float, str, float, str]:
        """Score a reading once the factor is fixed and, with ``learn``, learn it, in one pass over the metrics:
        each metric is scored as the detector stood before the reading, then learned. Each metric's factor of
        the others and its residual are left in the scratch slots."""
        stats = self._stats
        scoring = len(stats) >= 2  # a metric alone has no others to expect anything of it
        total = self._parts(x)
        best, best_name, expected, kind = 0.0, "", 0.0, ""
        half, max_repeat, explained = self.warm // 2, self.max_repeat, 1.0 - self.share
        fast = 1.0 - 0.5 ** (1.0 / self.halflife)
        local = 1.0 - 0.5 ** (1.0 / self.local_halflife)
        weight = self.threshold / self.drift / math.sqrt(local / (2.0 - local))  # (a level's chance deviation)
        clip, clip2, drifting, held = self.clip, self.clip * self.clip, False, False
        for name, s in stats.items():
            f = s[F] = total - s[F]
            v = x.get(name)
            if v is None:
                s[RES] = 0.0
                continue
            fvar, cov, n = s[FVAR], s[COV], s[N]
            slope = cov / fvar if fvar > 0 else 0.0
            # (a metric alone has no residual, so it is never away)
            e = s[RES] = v - s[LEVEL] - slope * (f - s[FMEAN]) if scoring else 0.0
            if n >= half:
                var = s[VAR]
                rvar = var - cov * cov / fvar if fvar > 0 else var
                if s[PVAR] >= rvar:
                    rvar = s[PVAR]
                level = s[LOCAL] + local * (e - s[LOCAL])  # the short-term residual, this reading included
                if scoring and s[REPEAT] < max_repeat and 0.0 < rvar < explained * var:
                    sd = math.sqrt(rvar)
                    z = abs(e) / sd
                    if z > best:
                        best, best_name, expected, kind = z, name, v - e, "residual"
                    z = abs(level) * weight / sd
                    if z > best:
                        best, best_name, expected, kind = z, name, v - e, "drift"
            if not learn:
                continue
            a = 1.0 / (n + 1.0)
            if a < fast:
                a = fast
            n = s[N] = n + 1.0
            s[REPEAT] += a * ((v == s[LAST]) - s[REPEAT])
            s[LAST] = v
            if n > half:  # scored: the residual's short-term level, spread and threshold
                s[LOCAL] = level
                limit = s[LIMIT] = clip * math.sqrt(rvar * local / (2.0 - local))
                if e * e > clip2 * rvar:
                    if level > limit or level < -limit:
                        drifting = True
                    self._away(s, rvar)
                    if s[AWAY] > 1:
                        held = True
                    continue
                s[AWAY] = 0
                if level > limit or level < -limit:
                    drifting = True
                else:  # the spread of the residuals as scored, not while drifting
                    r = 1.0 / (n - half)
                    s[PVAR] += (r if r > fast else fast) * (e * e - s[PVAR])
            else:
                s[AWAY] = 0
            # the reading learned: the regression on the factor
            diff = v - s[LEVEL]
            s[LEVEL] += a * diff
            s[VAR] = (1.0 - a) * (s[VAR] + a * diff * diff)
            fdiff = f - s[FMEAN]
            s[FMEAN] += a * fdiff
            s[FVAR] = (1.0 - a) * (s[FVAR] + a * fdiff * fdiff)
            s[COV] = (1.0 - a) * (s[COV] + a * diff * fdiff)
        out = (best / self.scale, best_name, expected, kind)
        if not learn:
            return out
        self._n += 1
        if len(stats) != len(x):
            for name, value in x.items():
                if name not in stats:  # a metric first seen: learned from its next reading on
                    stats[name] = _first(value)
        away = drifting or held
        if not away and len(stats) != len(x):  # (metrics this reading lacks keep their count of readings away)
            away = any(s[AWAY] > 1 for s in stats.values())
        self.away = away
        scored = out[0] * self.scale
        if scored and not away:
            self._learn_tail(scored)  # an outlying score too, once: a tail learned only below it is too light
        return out

    def _away(self, s: list, rvar: float) -> None:
        """A residual beyond ``clip`` deviations: not learned; one that has settled (a step, not a ramp)
        moves the metric's level."""
        s[AWAY] += 1
        if s[AWAY] == self.adopt // 2:
            s[HALF] = s[LOCAL]
        elif s[AWAY] >= self.adopt:
            if abs(s[LOCAL] - s[HALF]) < 3.0 * math.sqrt(rvar):
                s[LEVEL] += s[LOCAL]
                s[LOCAL], s[AWAY] = 0.0, 0
            else:
                s[AWAY], s[HALF] = self.adopt // 2, s[LOCAL]  # still moving: look again later

    def _learn_tail(self, score: float) -> None:
        """The residual score's own tail (peaks over ``base``, Pareto): ``scale`` = its threshold / ``threshold``."""
        t = self._tail
        t[2] += 1.0
        a = max(1.0 / t[2], 1.0 / 2000.0) if t[2] > 300 else 1.0 / 300.0
        over = score > self.base
        t[0] += a * (over - t[0])
        if over:
            t[3] += 1.0
            b = max(1.0 / (t[3] + 20.0), 0.01)
            t[1] += b * (math.log(min(score, 10.0 * self.threshold) / self.base) - t[1])
        current = self.base * (t[0] / self.tail) ** t[1] if t[0] > self.tail else 0.0
        self.scale = max(1.0, current / self.threshold)


def _first(value: float) -> list:
    """A metric's statistics at its first reading (learned from its next one on)."""
    return [1.0, float(value), 0.0, value, 0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, math.inf]
