"""Alert severity: how far an anomaly is past its threshold.

The rule, in one place: the excess ``r = score / threshold`` (a detector
scores higher for more anomalous; ``r = 1`` is exactly at the threshold)
maps to ``info`` below 1, ``minor`` from 1, ``major`` from 2 and
``critical`` from 4. A cohort alert is one level higher (it spans many
devices), capped at ``critical``. A non-positive threshold counts as
``minor`` at or above it. Within one episode the alert keeps the highest
severity it reached, so a ticket never bounces between levels.
"""

from __future__ import annotations

from alerts.alert import ALERT_SEVERITIES

MAJOR_EXCESS = 2.0
CRITICAL_EXCESS = 4.0


def severity_for(score: float, threshold: float, scope: str = "device") -> str:
    """The severity of one anomaly.

    >>> severity_for(0.9, 1.0), severity_for(1.0, 1.0), severity_for(2.5, 1.0), severity_for(9, 2)
    ('info', 'minor', 'major', 'critical')
    >>> severity_for(1.2, 1.0, scope="cohort")
    'major'
    >>> severity_for(0.0, 0.0)
    'minor'
    """
    if threshold > 0:
        excess = score / threshold
    else:
        excess = 1.0 if score >= threshold else 0.0
    if excess >= CRITICAL_EXCESS:
        level = 3
    elif excess >= MAJOR_EXCESS:
        level = 2
    elif excess >= 1.0:
        level = 1
    else:
        level = 0
    if scope == "cohort":
        level = min(level + 1, 3)
    return ALERT_SEVERITIES[level]


def higher(a: str, b: str) -> str:
    """The more severe of two severities.

    >>> higher("minor", "major"), higher("critical", "info")
    ('major', 'critical')
    """
    return a if ALERT_SEVERITIES.index(a) >= ALERT_SEVERITIES.index(b) else b


def rank(severity: str) -> int:
    """Where a severity sorts in a listing: the most severe first, an unknown one last.

    >>> sorted(["minor", "critical", "bogus", "info", "major"], key=rank)
    ['critical', 'major', 'minor', 'info', 'bogus']
    """
    try:
        return len(ALERT_SEVERITIES) - 1 - ALERT_SEVERITIES.index(severity)
    except ValueError:
        return len(ALERT_SEVERITIES)
