"""The root-cause catalogue and the technician's verdict on the detector's attribution.

A resolved ticket names a root-cause *category* from one shared catalogue,
the *confirmed attribute* (what was really at fault: ``firmware=2.1.0``, a
device, ``site=sh-03``, ``hw_rev=B``) and whether the detector's attribution
was ``confirmed``, ``corrected`` (the fault was real but lies elsewhere: the
confirmed attribute says where) or ``rejected`` (the detector was wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("firmware", "hardware", "installation", "environment", "network", "operator",
              "no_fault_found", "other")
CATEGORY_LABELS = {c: c.replace("_", " ") for c in CATEGORIES}
VERDICTS = ("confirmed", "corrected", "rejected")
MAX_ATTRIBUTE = 256


class RootCauseError(ValueError):
    """A root-cause field is unknown or inconsistent (HTTP 422)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True, slots=True)
class RootCause:
    """What the technician found, checked against the catalogue."""

    category: str | None
    confirmed_attribute: str | None
    attribution: str | None


def check(category: str | None, confirmed_attribute: str | None, attribution: str | None,
          detector_attribution: str = "") -> RootCause:
    """Validate the fields; a confirmed attribution without an attribute takes the detector's.

    >>> check("firmware", None, "confirmed", "firmware=2.1.0")
    RootCause(category='firmware', confirmed_attribute='firmware=2.1.0', attribution='confirmed')
    >>> check("hardware", " hw_rev=B ", "corrected", "firmware=2.1.0").confirmed_attribute
    'hw_rev=B'
    >>> check("bad luck", None, None)
    Traceback (most recent call last):
    ...
    tickets.root_cause.RootCauseError: root_cause_category: 'bad luck' is not one of firmware, hardware, \
installation, environment, network, operator, no_fault_found, other
    >>> check("network", None, "corrected")
    Traceback (most recent call last):
    ...
    tickets.root_cause.RootCauseError: confirmed_attribute: is required when the attribution is corrected
    """
    category = (category or "").strip() or None
    attribute = (confirmed_attribute or "").strip() or None
    verdict = (attribution or "").strip() or None
    if category is not None and category not in CATEGORIES:
        raise RootCauseError("root_cause_category", f"{category!r} is not one of {', '.join(CATEGORIES)}")
    if verdict is not None and verdict not in VERDICTS:
        raise RootCauseError("attribution", f"{verdict!r} is not one of {', '.join(VERDICTS)}")
    if attribute is not None and len(attribute) > MAX_ATTRIBUTE:
        raise RootCauseError("confirmed_attribute", f"is longer than {MAX_ATTRIBUTE} characters")
    if verdict == "corrected" and attribute is None:
        raise RootCauseError("confirmed_attribute", "is required when the attribution is corrected")
    if verdict == "confirmed" and attribute is None and detector_attribution:
        attribute = detector_attribution
    return RootCause(category, attribute, verdict)
