"""Telemetry signals: a latent load drives correlated channels, plus drift and noise.

Values are a pure function of the device's parameters and time, plus white
noise drawn in sample order, so any stretch of a run can be computed alone.
"""

from __future__ import annotations

import math

import numpy as np

from simulators.models import DeviceModel
from simulators.plan import Ramp, Window

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class DeviceSignals:
    """The telemetry channels of one device (parameters drawn once from ``rng``)."""

    def __init__(self, model: DeviceModel, rng: np.random.Generator, start_ms: int):
        self.model = model
        self.start_ms = start_ms
        specs = model.metrics
        n = len(specs)
        self.names = tuple(s.name for s in specs)
        self.base = np.array([s.base for s in specs]) * (1.0 + rng.normal(0.0, 0.03, n))
        self.gain = np.array([s.gain for s in specs]) * (1.0 + rng.normal(0.0, 0.05, n))
        self.noise = np.array([s.noise for s in specs])
        self.drift = np.array([s.drift_per_day for s in specs]) * rng.uniform(0.3, 1.7, n)
        self.lo = np.array([-np.inf if s.lo is None else s.lo for s in specs])
        self.hi = np.array([np.inf if s.hi is None else s.hi for s in specs])
        self.peak_h = float(rng.uniform(11.0, 17.0))  # hour of the daily peak (UTC)
        self.wander = [(float(rng.uniform(0.5, 5.0)) * HOUR_MS, float(rng.uniform(0, 2 * math.pi)),
                        float(rng.uniform(0.04, 0.1))) for _ in range(2)]

    def load(self, t_ms: np.ndarray) -> np.ndarray:
        """The device's load in [0, 1]: a daily cycle with a slow wander.

        >>> from simulators.models import MODELS
        >>> signals = DeviceSignals(MODELS["PX-200"], np.random.default_rng(1), 0)
        >>> hours = np.arange(24) * HOUR_MS
        >>> load = signals.load(hours)
        >>> bool(load.min() >= 0 and load.max() <= 1), int(np.argmax(load)) in range(9, 20)
        (True, True)
        """
        hours = (t_ms % DAY_MS) / HOUR_MS
        load = 0.5 + 0.35 * np.cos(2 * np.pi * (hours - self.peak_h) / 24.0)
        for period, phase, amp in self.wander:
            load = load + amp * np.sin(2 * np.pi * t_ms / period + phase)
        return np.clip(load, 0.0, 1.0)

    def clean(self, t_ms: np.ndarray) -> np.ndarray:
        """Noise-free values, shape (samples, metrics)."""
        days = (t_ms - self.start_ms) / DAY_MS
        load = self.load(t_ms)
        return self.base + np.outer(load, self.gain) + np.outer(days, self.drift)

    def sample(self, t_ms: np.ndarray, rng: np.random.Generator, ramps: list[Ramp] = (),
               stuck: list[Window] = ()) -> tuple[np.ndarray, np.ndarray]:
        """Values (samples, metrics) with noise, incidents applied, and the load."""
        values = self.clean(t_ms) + rng.standard_normal((len(t_ms), len(self.names))) * self.noise
        for ramp in ramps:
            frac = np.clip((t_ms - ramp.start_ms) / max(ramp.full_ms - ramp.start_ms, 1), 0.0, 1.0)
            frac = np.where(t_ms < ramp.end_ms, frac, 0.0)
            for name, rise in ramp.rise:
                values[:, self.names.index(name)] += frac * rise
        values = np.clip(values, self.lo, self.hi)
        for window in stuck:
            col = self.names.index(window.metric)
            frozen = float(self.clean(np.array([window.start_ms]))[0, col])
            mask = (t_ms >= window.start_ms) & (t_ms < window.end_ms)
            values[mask, col] = frozen
        return values, self.load(t_ms)
