"""Device timestamps: the three accepted forms, and the clock-skew rule.

``ts`` may be epoch seconds (a number up to 10^11), epoch milliseconds (an
integer above 10^11) or an RFC 3339 string with a zone; absent means the time
of receipt.

Rule for clocks that are off (documented in the README): a timestamp more than
``max_skew_ms`` in the future, or older than ``max_age_ms``, is replaced by
the time of receipt and the record is counted as clock skew. The point is
stored, never dropped, and stays findable near the moment it arrived.
"""

from __future__ import annotations

import math
from datetime import datetime

MS_THRESHOLD = 10**11  # below: seconds; above: milliseconds (year 5138 in seconds)


class TimestampError(ValueError):
    """A `ts` value that is none of the accepted forms."""


def parse_ts(value: object) -> int | None:
    """Epoch milliseconds from a `ts` value, or None when absent.

    >>> parse_ts(1700000000.5)
    1700000000500
    >>> parse_ts(1700000000123)
    1700000000123
    >>> parse_ts("2023-11-14T22:13:20.25Z")
    1700000000250
    >>> parse_ts(None) is None
    True
    >>> parse_ts("yesterday")
    Traceback (most recent call last):
    ...
    ingest.timestamps.TimestampError: ts 'yesterday' is not RFC 3339
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TimestampError("ts must be a number or an RFC 3339 string, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise TimestampError(f"ts {value} is negative")
        return value if value > MS_THRESHOLD else value * 1000
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise TimestampError(f"ts {value!r} is not a finite positive number")
        return int(value) if value > MS_THRESHOLD else round(value * 1000)
    if isinstance(value, str):
        return _parse_rfc3339(value)
    raise TimestampError(f"ts must be a number or an RFC 3339 string, not {type(value).__name__}")


def _parse_rfc3339(text: str) -> int:
    if len(text) > 40:
        raise TimestampError("ts string is too long for RFC 3339")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(f"ts {text!r} is not RFC 3339") from None
    if parsed.tzinfo is None:
        raise TimestampError(f"ts {text!r} has no time zone (RFC 3339 requires Z or an offset)")
    return round(parsed.timestamp() * 1000)


def apply_skew_rule(ts_ms: int | None, received_ms: int, max_skew_ms: int, max_age_ms: int) -> tuple[int, bool]:
    """The time to store, and whether the device clock was off.

    >>> apply_skew_rule(None, 1000, 300_000, 10**12)
    (1000, False)
    >>> apply_skew_rule(10**9 + 400_000, 10**9, 300_000, 10**12)
    (1000000000, True)
    >>> apply_skew_rule(10**9 - 60_000, 10**9, 300_000, 10**12)
    (999940000, False)
    """
    if ts_ms is None:
        return received_ms, False
    if ts_ms > received_ms + max_skew_ms or ts_ms < received_ms - max_age_ms:
        return received_ms, True
    return ts_ms, False
