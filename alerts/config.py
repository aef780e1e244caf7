"""`AlertConfig`: the knobs of the alert lifecycle, read once from settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Lifecycle configuration (times in seconds).

    - an alert is *pending* until it has seen `min_count` anomalies at or
      above their threshold and `pending_s` has passed since the first one;
    - a firing alert stays firing while anomalies keep coming at or above the
      re-arm level ``threshold * rearm_ratio`` (hysteresis) and *resolves*
      after `resolve_after_s` without one, but never before its detector has
      missed `clear_windows` steps (a detector's step is learnt from the event
      times of consecutive anomalies, else the anomaly's ``window_s``) and,
      for a cohort finding, never before a whole evidence window (its
      ``window_s``) has passed without one, and for a cohort fault-rate
      finding never before `cohort_hold_s` (24 h: the longest horizon of the
      devices-with-a-fault test, over which the faults that raised it still
      count, so a 6 h finding that fades before the 24 h test confirms it
      stays one alert);
    - its condition turns *off* after `clear_windows` silent steps and *on*
      again at the next anomaly; it is *flapping* when it changed
      `flap_start_changes` times within `flap_window_s` (at least 20 steps),
      until at most `flap_stop_changes` remain: a flapping alert is held
      firing instead of resolving and re-opening;
    - a firing alert is handed to tickets again every `repeat_interval_s`
      while it keeps firing, so the ticket sees its latest evidence.
    """

    min_count: int = 2
    pending_s: float = 60.0
    resolve_after_s: float = 300.0
    rearm_ratio: float = 0.8
    clear_windows: float = 1.5
    flap_window_s: float = 1800.0
    flap_start_changes: int = 6
    flap_stop_changes: int = 2
    repeat_interval_s: float = 900.0
    cohort_hold_s: float = 86400.0

    def __post_init__(self) -> None:
        if self.min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {self.min_count}")
        if not 0 < self.rearm_ratio <= 1:
            raise ValueError(f"rearm_ratio must be in (0, 1], got {self.rearm_ratio}")
        if self.flap_stop_changes >= self.flap_start_changes:
            raise ValueError(f"flap_stop_changes ({self.flap_stop_changes}, FAULTLINE_ALERT_FLAP_STOP_CHANGES) must be "
                             f"below flap_start_changes ({self.flap_start_changes})")
        if min(self.pending_s, self.resolve_after_s, self.flap_window_s, self.repeat_interval_s,
               self.cohort_hold_s) < 0:
            raise ValueError("alert durations must not be negative")

    @classmethod
    def from_settings(cls, settings) -> AlertConfig:
        return cls(
            min_count=settings.alert_min_count,
            pending_s=settings.alert_pending_s,
            resolve_after_s=settings.alert_resolve_after_s,
            rearm_ratio=settings.alert_rearm_ratio,
            flap_window_s=settings.alert_flap_window_s,
            flap_start_changes=settings.alert_flap_start_changes,
            flap_stop_changes=settings.alert_flap_stop_changes,
            repeat_interval_s=settings.alert_repeat_interval_s,
        )

    @property
    def pending_ms(self) -> int:
        return round(self.pending_s * 1000)

    @property
    def resolve_after_ms(self) -> int:
        return round(self.resolve_after_s * 1000)

    @property
    def flap_window_ms(self) -> int:
        return round(self.flap_window_s * 1000)

    @property
    def repeat_interval_ms(self) -> int:
        return round(self.repeat_interval_s * 1000)
