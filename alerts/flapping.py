"""Flap detection: many on/off changes of one condition within a window.

Like Nagios' flap detection, with two thresholds so the flag itself does not
flap: an alert starts flapping when its condition changed state at least
``start`` times within the window and stops when at most ``stop`` changes
remain in it. A condition turns *off* when its detector stayed silent for
about one and a half detection windows, and *on* at the next anomaly; these
raw changes are counted even while the alert itself is held firing.
"""

from __future__ import annotations


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


def clear_gap_ms(window_s: float, clear_windows: float, resolve_after_ms: int) -> int:
    """How long a detector must stay silent before its condition counts as off.

    `clear_windows` detection windows, never longer than the quiet period that
    resolves the alert; the quiet period itself when the window is unknown.

    >>> clear_gap_ms(10.0, 1.5, 300_000), clear_gap_ms(0.0, 1.5, 300_000), clear_gap_ms(600.0, 1.5, 300_000)
    (15000, 300000, 300000)
    """
    if window_s <= 0:
        return resolve_after_ms
    return min(resolve_after_ms, max(1, round(window_s * clear_windows * 1000)))
