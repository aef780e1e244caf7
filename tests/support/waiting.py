"""Waiting on a condition with a deadline (tests never sleep for a fixed time to let something happen)."""

from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value (returned) or the deadline passes (AssertionError).

    >>> wait_until(lambda: 42, timeout=1)
    42
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
