"""Flap detection: many on/off changes of one condition within a window.

Like Nagios' flap detection, with two thresholds so the flag itself does not
flap: an alert starts flapping when its condition changed state at least
``start`` times within the window and stops when at most ``stop`` changes
remain in it. A condition turns *off* when its detector stayed silent for
about one and a half detection windows, and *on* at the next anomaly; these
raw changes are counted even while the alert itself is held firing.
Both time scales follow the detector's own cadence, so an hourly detector
and a ten-second one are judged alike.
"""

from __future__ import annotations

FLAP_WINDOW_STEPS = 20


def recent(changes: tuple[int, ...], now_ms: int, window_ms: int) -> tuple[int, ...]:
    """The change times that fall inside the window ending at `now_ms`.

    >>> recent((100, 500, 900), now_ms=1000, window_ms=600)
    (500, 900)
    """
    return tuple(t for t in changes if t > now_ms - window_ms)


def is_flapping(was_flapping: bool, changes: int, start: int, stop: int) -> bool:
    """Flapping with hysteresis: on at `start` changes or more, off at `stop` or fewer.

    >>> is_flapping(False, 5, start=6, stop=2), is_flapping(False, 6, start=6, stop=2)
    (False, True)
    >>> is_flapping(True, 3, start=6, stop=2), is_flapping(True, 2, start=6, stop=2)
    (True, False)
    """
    if changes >= start:
        return True
    if changes <= stop:
        return False
    return was_flapping


def clear_gap_ms(step_ms: int, clear_windows: float, resolve_after_ms: int) -> int:
    """How long a detector must stay silent before its condition counts as off.

    `clear_windows` detector steps (`step_ms`, 0 when unknown: then the quiet
    period that resolves the alert).

    >>> clear_gap_ms(10_000, 1.5, 300_000), clear_gap_ms(3_600_000, 1.5, 300_000), clear_gap_ms(0, 1.5, 300_000)
    (15000, 5400000, 300000)
    """
    return max(1, round(step_ms * clear_windows)) if step_ms > 0 else resolve_after_ms


def step_ms(cadence_ms: int, window_s: float) -> int:
    """The detector's step: the spacing seen between consecutive anomalies, else the anomaly's window.

    >>> step_ms(60_000, 3600.0), step_ms(0, 3600.0), step_ms(0, 0.0)
    (60000, 3600000, 0)
    """
    return cadence_ms if cadence_ms > 0 else max(0, round(window_s * 1000))


def flap_window_ms(window_ms: int, cadence_ms: int) -> int:
    """The flap window: the configured one, but at least `FLAP_WINDOW_STEPS` detector steps.

    Like Nagios, which looks at the last 21 checks: a detector that speaks
    once an hour needs hours to show a flap.

    >>> flap_window_ms(1_800_000, 10_000), flap_window_ms(1_800_000, 3_600_000)
    (1800000, 72000000)
    """
    return max(window_ms, FLAP_WINDOW_STEPS * cadence_ms)
