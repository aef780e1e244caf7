"""The text a past case is compared by: title, explanation and log lines, as word tokens.

Shared by the TF-IDF ranking (`tickets.similar`) and the database's
full-text index (`tickets.similar_search`).
"""

from __future__ import annotations

import json
import re

TOKEN = re.compile(r"[a-z0-9][a-z0-9_.-]*", re.I)
NUMBER = re.compile(r"[\d.]+")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; bare numbers are dropped (they are times, counts, versions).

    >>> tokens("E214: overcurrent on phase B, 42 times (fw 2.1.0)")
    ['e214', 'overcurrent', 'on', 'phase', 'b', 'times', 'fw']
    """
    return [t.rstrip(".-") for t in TOKEN.findall(text.lower()) if not (t[0].isdigit() and NUMBER.fullmatch(t))]


def case_text(title: str, explanation: str, evidence_json: str | None, log_msgs=()) -> str:
    """Title, explanation and log messages (from stored evidence, or given)."""
    msgs = list(log_msgs)
    if not msgs and evidence_json:
        msgs = [f"{x.get('code', '')} {x.get('msg', '')}" for x in json.loads(evidence_json).get("logs", ())]
    return " ".join([title, explanation, *msgs])
