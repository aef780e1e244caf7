"""Simulated technicians: they work the tickets so the loop from alarm to repair can be measured.

On the simulated clock, each ticket that is open (or reopened) is
acknowledged after a delay drawn from ``ack_s`` and resolved after a
further delay drawn from ``fix_s`` (uniform, seeded), with what the
scenario's ground truth says was at fault:

* the ticket belongs to an incident (``incident_of``): category by the
  incident's kind (`CATEGORY_OF_KIND`), confirmed attribute the incident's
  attribution (``device=…`` for a device incident); the verdict is
  ``confirmed`` when the detector's attribution names every ``key=value`` of
  the truth (``model=PX-200,site=sh-02`` for ``site=sh-02`` counts: the site
  is named), else ``corrected``;
* it belongs to none: no fault found, attribution ``rejected``;
* with probability ``nff_share`` a real fault is resolved as no fault found
  (the technician did not find it), and with ``wrong_share`` the
  technician disputes a right attribution (category ``other``,
  ``corrected``) — the human error a real loop has.

A ticket the service resolved on its own before the acknowledgement (the
alert went quiet) is left alone. The technicians only use the workflow
(`tickets.workflow.Workflow`), as people do through the API.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select

CATEGORY_OF_KIND = {"firmware-regression": "firmware", "hw-batch": "hardware", "site-fault": "environment",
                    "device-degradation": "hardware", "stuck-sensor": "hardware", "flapping": "hardware",
                    "offline": "network"}


@dataclass(frozen=True, slots=True)
class Finding:
    category: str
    confirmed_attribute: str | None
    attribution: str


def pairs(attribution: str) -> set[str]:
    return {p.strip() for p in attribution.split(",") if "=" in p}


def truth_attribute(incident) -> str:
    return incident.attribution or f"device={incident.device}"


def finding(incident, detector_attribution: str, draw: float, wrong_share: float = 0.0,
            nff_share: float = 0.0) -> Finding:
    """What the technician records for one ticket, given the incident it belongs to (or None).

    >>> from types import SimpleNamespace as I
    >>> fw = I(kind="firmware-regression", attribution="firmware=2.1.0", device="")
    >>> finding(fw, "firmware=2.1.0", 0.5)
    Finding(category='firmware', confirmed_attribute='firmware=2.1.0', attribution='confirmed')
    >>> finding(fw, "device=px200-0004", 0.5).attribution
    'corrected'
    >>> finding(I(kind="site-fault", attribution="site=sh-02", device=""), "model=PX-200,site=sh-02", 0.5).attribution
    'confirmed'
    >>> finding(None, "device=px200-0009", 0.5)
    Finding(category='no_fault_found', confirmed_attribute=None, attribution='rejected')
    >>> finding(fw, "firmware=2.1.0", 0.05, nff_share=0.1).category
    'no_fault_found'
    """
    if incident is None or draw < nff_share:
        return Finding("no_fault_found", None, "rejected")
    if draw < nff_share + wrong_share:
        return Finding("other", "unexplained", "corrected")
    truth = truth_attribute(incident)
    named = pairs(detector_attribution)
    verdict = "confirmed" if named and pairs(truth) <= named else "corrected"
    return Finding(CATEGORY_OF_KIND.get(incident.kind, "other"), truth, verdict)


@dataclass(frozen=True, slots=True)
class TechnicianModel:
    """How the simulated technicians behave (delays in seconds, uniform; shares of tickets; seed)."""

    ack_s: tuple[float, float] = (120.0, 1800.0)
    fix_s: tuple[float, float] = (1800.0, 4 * 3600.0)
    wrong_share: float = 0.0
    nff_share: float = 0.0
    seed: int = 0
    names: tuple[str, ...] = ("tech-a", "tech-b", "tech-c")

    def __post_init__(self):
        if not (0 <= self.wrong_share <= 1 and 0 <= self.nff_share <= 1 and self.wrong_share + self.nff_share <= 1):
            raise ValueError("wrong_share and nff_share must be shares (0-1) whose sum is at most 1")


@dataclass
class Technicians:
    """Plays the technicians on one ticket store; call `tick` as the simulated clock advances.

    ``incident_of(ticket)`` names the truth's incident of a ticket (or None);
    ``attribution_of(ticket)`` what the detector blamed.
    """

    workflow: object
    clock: list  # [epoch ms], shared with the workflow's `now`
    incident_of: Callable
    attribution_of: Callable
    model: TechnicianModel = TechnicianModel()
    _due: list = field(default_factory=list)  # (time ms, order, action, ticket id, cycle start)
    _seen: set = field(default_factory=set)
    _rng: random.Random | None = None
    _n: int = 0

    def tick(self, now_ms: int) -> None:
        """Schedule the tickets that became open, then do what is due by `now_ms`."""
        self._schedule()
        self._run(now_ms)

    def finish(self) -> None:
        """Do everything still scheduled (the replay is over), in time order."""
        self._schedule()
        while self._due:
            self._run(self._due[0][0])
            self._schedule()

    def _schedule(self) -> None:
        from tickets.models import TicketRow

        T = TicketRow.__table__
        rng = self._rng = self._rng or random.Random(self.model.seed)
        with self.workflow.engine.connect() as conn:
            rows = conn.execute(select(T.c.id, T.c.opened_ms, T.c.reopened_ms).where(
                T.c.state.in_(("open", "reopened")), T.c.merged_into.is_(None))).all()
        for r in rows:
            start = r.reopened_ms if r.reopened_ms is not None else r.opened_ms
            if (r.id, start) in self._seen:
                continue
            self._seen.add((r.id, start))
            ack = start + int(rng.uniform(*self.model.ack_s) * 1000)
            fix = ack + int(rng.uniform(*self.model.fix_s) * 1000)
            user = self.model.names[r.id % len(self.model.names)]
            self._push(ack, "ack", r.id, user)
            self._push(fix, "resolve", r.id, user, rng.random())
        self._due.sort()

    def _push(self, at_ms: int, action: str, ticket_id: int, user: str, draw: float = 0.0) -> None:
        self._n += 1
        self._due.append((at_ms, self._n, action, ticket_id, user, draw))

    def _run(self, now_ms: int) -> None:
        from tickets.store import get_ticket
        from tickets.workflow import InvalidTransition

        while self._due and self._due[0][0] <= now_ms:
            at, _, action, ticket_id, user, draw = self._due.pop(0)
            saved, self.clock[0] = self.clock[0], at
            try:
                if action == "ack":
                    self.workflow.ack(ticket_id, user)
                else:
                    ticket = get_ticket(self.workflow.engine, ticket_id)
                    if ticket.state != "acknowledged" or ticket.acknowledged_ms is None:
                        continue  # resolved by the service first, or merged
                    found = finding(self.incident_of(ticket), self.attribution_of(ticket), draw,
                                    self.model.wrong_share, self.model.nff_share)
                    self.workflow.resolve(ticket_id, user, found.category.replace("_", " "),
                                          "simulated repair", category=found.category,
                                          confirmed_attribute=found.confirmed_attribute,
                                          attribution=found.attribution)
            except InvalidTransition:
                pass  # the service moved it first (auto-resolved before the acknowledgement)
            finally:
                self.clock[0] = saved
