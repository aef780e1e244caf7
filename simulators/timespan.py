"""Spans of simulated time as written in scenario files and on the command line."""

from __future__ import annotations

import re

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SPAN = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$")


def parse_span(text: str | float | int) -> float:
    """Seconds in a span such as ``"90s"``, ``"2h"``, ``"1.5d"``, ``"-3h"`` or a bare number.

    >>> parse_span("2h"), parse_span("90"), parse_span(45), parse_span("-1d")
    (7200.0, 90.0, 45.0, -86400.0)
    >>> parse_span("soon")
    Traceback (most recent call last):
    ...
    ValueError: 'soon' is not a time span (examples: 90s, 15m, 2h, 1.5d)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    match = _SPAN.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a time span (examples: 90s, 15m, 2h, 1.5d)")
    return float(match.group(1)) * UNITS[match.group(2) or "s"]


def resolve_offset(text: str | float | int, duration_s: float) -> float:
    """Seconds after the start for an offset: a span, or a percentage of the run.

    >>> resolve_offset("25%", 7200), resolve_offset("30m", 7200)
    (1800.0, 1800.0)
    """
    value = str(text).strip()
    if value.endswith("%"):
        try:
            return float(value[:-1]) / 100.0 * duration_s
        except ValueError:
            raise ValueError(f"{text!r} is not a percentage") from None
    return parse_span(text)


def check_span(text: str | float | int) -> str | float | int:
    """Validate a span (for scenario files), keeping it as written.

    >>> check_span("2h")
    '2h'
    """
    parse_span(text)
    return text


def check_positive_span(text: str | float | int) -> str | float | int:
    """Validate a span that must be longer than zero.

    >>> check_positive_span("-2h")
    Traceback (most recent call last):
    ...
    ValueError: '-2h' must be longer than zero
    """
    if parse_span(text) <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return text


def check_offset(text: str | float | int) -> str | float | int:
    """Validate an offset without a run length (for scenario files).

    >>> check_offset("40%")
    '40%'
    """
    resolve_offset(text, 1.0)
    return text
