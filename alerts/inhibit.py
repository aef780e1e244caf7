"""Grouping and inhibition: device alerts that a firing cohort alert explains.

A device alert is a child of a firing cohort alert when both carry the same
fault code (not empty: a shared fault is what makes them one incident) and
the device belongs to the cohort: it is listed in the cohort
anomaly's ``devices``, or it matches every cohort attribute the cohort names
(model, firmware, site). A child keeps its own key and lifecycle but carries
``parent_key``, so the ticket stage folds it into the cohort's ticket instead
of opening one of its own. The link holds for the rest of the child's episode.
"""

from __future__ import annotations

from collections.abc import Iterable

from detectors.anomaly import Anomaly


def is_member(cohort: Anomaly, device: Anomaly) -> bool:
    """Whether the device alert of `device` belongs under the cohort alert of `cohort`.

    >>> def a(scope, subject, code="E214", **kw):
    ...     return Anomaly("d", scope, subject, code, 0, 0, 5.0, 5.0, 1.0, 3.0, 60.0, "", **kw)
    >>> px = a("cohort", "model=PX-200,firmware=2.1.0", model="PX-200", firmware="2.1.0")
    >>> is_member(px, a("device", "pump-7", model="PX-200", firmware="2.1.0", site="sh-03"))
    True
    >>> is_member(px, a("device", "pump-8", model="PX-200", firmware="2.0.9"))
    False
    >>> is_member(px, a("device", "pump-7", code="E100", model="PX-200", firmware="2.1.0"))
    False
    >>> is_member(a("cohort", "c", devices=("pump-9",)), a("device", "pump-9"))
    True
    >>> is_member(a("cohort", "c", code="", model="PX-200"), a("device", "pump-7", code="", model="PX-200"))
    False
    """
    if cohort.scope != "cohort" or device.scope != "device" or not cohort.code or cohort.code != device.code:
        return False
    if device.subject in cohort.devices:
        return True
    named = [(want, have) for want, have in
             ((cohort.model, device.model), (cohort.firmware, device.firmware), (cohort.site, device.site))
             if want]
    return bool(named) and all(want == have for want, have in named)


def parent_for(device: Anomaly, cohorts: Iterable[tuple[str, Anomaly]]) -> str | None:
    """The key of the first (by key) firing cohort alert that `device` belongs to.

    `cohorts` are ``(key, latest anomaly)`` of the firing cohort alerts.
    """
    keys = sorted(key for key, cohort in cohorts if is_member(cohort, device))
    return keys[0] if keys else None
