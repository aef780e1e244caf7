r"""InfluxQL building blocks: quoting and time ranges.

Values belong in bound parameters (``WHERE device = $device`` with
``params={"device": d}``); these functions are for what parameters cannot
carry (identifiers) and for statements that take no parameters.
"""

from __future__ import annotations

_STRING_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n"})


def quote_ident(name: str) -> str:
    r"""Quote an InfluxQL identifier (database, measurement, tag or field key).

    >>> quote_ident('my "db"')
    '"my \\"db\\""'
    >>> print(quote_ident("a\\b"))
    "a\\b"
    """
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    r"""A single-quoted InfluxQL string literal.

    InfluxQL has no escape for a carriage return (its scanner reads one as a
    newline, which ends a string): a value holding one makes the query fail
    with a parse error. Bound parameters carry any value.

    >>> print(quote_string("it's"))
    'it\'s'
    >>> print(quote_string("' OR 1=1 --"))
    '\' OR 1=1 --'
    >>> print(quote_string("C:\\temp"))
    'C:\\temp'
    """
    return "'" + value.translate(_STRING_ESCAPES) + "'"


def time_range(start_ms: int, end_ms: int) -> str:
    """``time >= start AND time < end`` for epoch milliseconds (end exclusive).

    >>> time_range(1700000000000, 1700000060000)
    'time >= 1700000000000ms AND time < 1700000060000ms'
    >>> time_range(5, 5)
    Traceback (most recent call last):
    ...
    ValueError: empty time range: start 5 is not before end 5
    """
    start, end = int(start_ms), int(end_ms)
    if start >= end:
        raise ValueError(f"empty time range: start {start} is not before end {end}")
    return f"time >= {start}ms AND time < {end}ms"
