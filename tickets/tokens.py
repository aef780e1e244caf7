"""The words of a case's text, as similar-case ranking and the full-text index both see them."""

from __future__ import annotations

import re

TOKEN = re.compile(r"[a-z0-9][a-z0-9_.-]*", re.I)
NUMBER = re.compile(r"[\d.]+")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; bare numbers are dropped (they are times, counts, versions).

    >>> tokens("E214: overcurrent on phase B, 42 times (fw 2.1.0)")
    ['e214', 'overcurrent', 'on', 'phase', 'b', 'times', 'fw']
    """
    return [t.rstrip(".-") for t in TOKEN.findall(text.lower()) if not (t[0].isdigit() and NUMBER.fullmatch(t))]
