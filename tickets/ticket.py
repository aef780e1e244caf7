"""`Ticket`: what the ticket store hands to the API, the CLI and webhooks."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from tickets.evidence import Evidence
from tickets.models import TicketRow


@dataclass(frozen=True, slots=True)
class Ticket:
    """One ticket: an alert key's episode, its workflow state and its evidence.

    ``count`` is the number of alert notifications applied to the ticket;
    ``recurrences`` the number of times the key came back after the ticket
    was resolved (within the recurrence window). ``devices`` lists the
    affected devices (the cohort's and the attached child alerts').
    ``source`` says who raised it (``detector`` or ``customer``, whose report
    fills ``reported_ms`` … ``contact``); ``root_cause_category``,
    ``confirmed_attribute`` and ``attribution`` are the technician's finding
    (`tickets.root_cause`).
    """

    id: int
    key: str
    episode: int
    title: str
    severity: str
    state: str
    detector: str
    scope: str
    subject: str
    code: str
    model: str
    firmware: str
    site: str
    customer: str
    tier: str
    opened_ms: int
    acknowledged_ms: int | None
    resolved_ms: int | None
    closed_ms: int | None
    reopened_ms: int | None
    updated_ms: int
    alert_state: str
    alert_starts_ms: int
    onset_ms: int
    last_seen_ms: int
    count: int
    alert_count: int
    recurrences: int
    flapping: bool
    assignee: str | None
    team: str | None
    resolved_by: str | None
    root_cause: str | None
    resolution: str | None
    merged_into: int | None
    version: int
    explanation: str
    evidence: Evidence | None
    evidence_complete: bool
    evidence_ms: int | None
    devices: tuple[str, ...] = ()
    source: str = "detector"
    reported_ms: int | None = None
    symptom: str | None = None
    frequency: str | None = None
    impact: str | None = None
    contact: str | None = None
    root_cause_category: str | None = None
    confirmed_attribute: str | None = None
    attribution: str | None = None
    first_response_ms: int | None = None
    reopens: int = 0
    satisfaction: int | None = None
    satisfaction_comment: str | None = None
    satisfaction_by: str | None = None
    known_issue_id: int | None = None

    @classmethod
    def from_row(cls, row, devices: tuple[str, ...] = ()) -> "Ticket":
        """Build from a `TicketRow` or a Core result row of the ``tickets`` table."""
        m = row._mapping if hasattr(row, "_mapping") else {c.name: getattr(row, c.name)
                                                           for c in TicketRow.__table__.columns}
        values = {f.name: m[f.name] for f in fields(cls) if f.name not in ("evidence", "devices")}
        raw = m["evidence"]
        evidence = Evidence.from_dict(json.loads(raw)) if raw else None
        return cls(**values, evidence=evidence, devices=tuple(devices))

    @property
    def detector_attribution(self) -> str:
        """What the detector blamed: the explanation's attribution, else a cohort's subject."""
        ev = self.evidence
        if ev is not None and ev.explanation is not None and ev.explanation.attribution:
            return ev.explanation.attribution
        return self.subject if self.scope == "cohort" else ""

    @property
    def cycle_start_ms(self) -> int:
        """Start of the current response cycle: the last reopen, else the opening."""
        return self.reopened_ms if self.reopened_ms is not None else self.opened_ms

    def to_dict(self) -> dict:
        """JSON-ready form (webhook payloads, CLI output)."""
        out = asdict(self)
        out["evidence"] = self.evidence.to_dict() if self.evidence else None
        out["devices"] = list(self.devices)
        return out
