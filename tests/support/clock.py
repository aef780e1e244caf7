"""The test clock: epoch milliseconds a test moves by hand, injected as a stage's `now`."""

from __future__ import annotations

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class Clock:
    """A callable clock (epoch ms) that only moves when the test moves it.

    >>> clock = Clock(1_000)
    >>> clock.advance(1.5); clock()
    2500
    >>> clock.at(10).ms
    11000
    """

    def __init__(self, start_ms: int = T0):
        self.start_ms = start_ms
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        """Move the time forward by `seconds`."""
        self.ms += int(seconds * 1000)

    def at(self, seconds: float) -> Clock:
        """Set the time to `seconds` after the start."""
        self.ms = self.start_ms + round(seconds * 1000)
        return self
