"""Text from devices made harmless for a terminal.

Device ids, log messages, fault codes and dead-letter payloads are chosen by
whoever publishes; printed raw, an escape sequence among them could recolour,
retitle or rewrite the operator's terminal (or hide a line). `printable`
shows every control character (C0, DEL, C1, and the bidirectional overrides)
as a visible escape; tab and newline are kept where the output is multi-line.
"""

from __future__ import annotations

import re

import click

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` with control characters shown as escapes (newline and tab kept unless `one_line`).

    >>> printable("pump-1\\x1b[2J\\x1b]0;owned\\x07 ok")
    'pump-1\\\\x1b[2J\\\\x1b]0;owned\\\\x07 ok'
    >>> printable("a\\tb\\nc"), printable("a\\nb", one_line=True), printable("\\u202eevil")
    ('a\\tb\\nc', 'a\\\\x0ab', '\\\\u202eevil')
    """
    return (_CONTROL_ALL if one_line else _CONTROL).sub(_escape, text)


def echo(text: str = "", *, one_line: bool = False, **kwargs) -> None:
    """`click.echo` of `text` made printable (for output that carries device text)."""
    click.echo(printable(str(text), one_line=one_line), **kwargs)
