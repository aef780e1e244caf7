"""Whether retrying an outbound HTTP request can help, and how long the server asked us to wait.

One policy for every client Faultline runs against another service (InfluxDB,
the ticket webhook, Grafana): a network error or timeout may pass, and so may
408 (timeout), 425 (too early), 429 (too many requests) and every 5xx; any
other answer will be the same next time. A ``Retry-After`` in seconds is the
server's hint for the wait (its HTTP-date form is not honoured).

>>> [retryable_status(s) for s in (408, 425, 429, 500, 503)]
[True, True, True, True, True]
>>> [retryable_status(s) for s in (400, 401, 403, 404, 413, 422)]
[False, False, False, False, False, False]
"""

from __future__ import annotations

RETRYABLE_STATUSES = frozenset({408, 425, 429})  # and every 5xx


def retryable_status(status: int) -> bool:
    """True when the same request may succeed later (a network error or timeout is retryable too)."""
    return status in RETRYABLE_STATUSES or status >= 500


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form only).

    >>> parse_retry_after("7"), parse_retry_after(" 1.5 "), parse_retry_after(None)
    (7.0, 1.5, None)
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None, parse_retry_after("-3") is None
    (True, True)
    """
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
