"""Tickets in evaluation: the real alert and ticket stages on the simulated clock.

A detector that finds an incident is only half the story: its anomalies
must pass the alert stage's firing rule (pending time, minimum count,
flapping) and open exactly one ticket. `replay_tickets` feeds a run's
anomalies, in event-time order, through the pipeline's alert half
(`faultline.pipeline.Pipeline.alert`: `AlertManager` and `TicketService`)
on a throwaway SQLite database, with the event time as their clock and a
sweep (`AlertManager.tick`) every ``tick_s`` of simulated time; then each
incident of the truth is matched with the tickets:

* a device ticket belongs to an incident when its subject is one of the
  incident's affected devices; a cohort ticket when its devices overlap
  them; only tickets opened in ``[start, end + grace]`` count;
* per incident: ticket opened (yes/no), time to the first ticket, number of
  tickets (one is right), and whether one was marked flapping;
* every other ticket is a false ticket.

InfluxDB is not involved: the tickets carry no log slice (evidence is the
ticket stage's own concern, tested with the real server elsewhere).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from detectors.anomaly import Anomaly


@dataclass(frozen=True, slots=True)
class TicketOutcome:
    id: str
    kind: str
    opened: bool
    delay_s: float | None
    tickets: int
    flapping: bool


@dataclass(frozen=True, slots=True)
class LoopResult:
    """What simulated technicians made of a run's tickets: the after-sales KPIs and two figures from the truth."""

    kpis: object  # tickets.after_sales.AfterSales
    mttr_s: float | None  # per response cycle (tickets.kpis), unlike handling time which spans reopens
    time_to_detect_s: float | None  # mean of incident start -> its first ticket, over incidents with one


@dataclass(frozen=True, slots=True)
class TicketReport:
    incidents: tuple[TicketOutcome, ...]
    tickets: int
    false_tickets: int
    loop: LoopResult | None = None  # when simulated technicians worked the tickets


class _KeptLines:
    """The `alert_events` writer of a replay: lines are kept, not sent."""

    def __init__(self):
        self.lines: list[str] = []

    def write_lines(self, lines) -> None:
        self.lines.extend(lines)


def replay_tickets(truth, anomalies: list[Anomaly], targets, grace_ms: int, alert_config=None,
                   tick_s: float = 30.0, technicians=None) -> TicketReport:
    """Run ``anomalies`` through the alert and ticket stages; score tickets per incident of ``targets`` kinds.

    ``technicians`` (a `faultline.evaluation.technicians.TechnicianModel`): simulated
    technicians work the tickets on the same clock (`loop`), and the report
    carries the after-sales KPIs of the run.
    """
    from alerts.config import AlertConfig
    from alerts.manager import AlertManager
    from alerts.store import SqlAlertStore
    from faultline.pipeline import Pipeline
    from database import make_engine, migrate
    from tickets.service import TicketService
    from tickets.store import list_tickets

    with tempfile.TemporaryDirectory(prefix="faultline-eval-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        migrate(url)
        engine = make_engine(url)
        clock = [truth.start_ms]
        manager = AlertManager(alert_config or AlertConfig(), SqlAlertStore(engine), _KeptLines(),
                               now=lambda: clock[0])
        stage = Pipeline(alerts=manager, tickets=TicketService(engine, None, now=lambda: clock[0]))
        people = _technicians(engine, clock, truth, anomalies, grace_ms, technicians) if technicians else None
        _drive(stage, clock, sorted(anomalies, key=lambda a: a.ts_ms), truth.end_ms + grace_ms, int(tick_s * 1000),
               people)
        kpis = mttr = None
        if people is not None:
            from tickets.after_sales_queries import after_sales_report
            from tickets.kpi_queries import kpi_report

            people.finish()
            kpis, mttr = after_sales_report(engine).overall, kpi_report(engine).overall.mttr_s
        tickets = list_tickets(engine, limit=100_000)
        engine.dispose()
    report = _score(truth, tickets, targets, grace_ms)
    if kpis is None:
        return report
    delays = [o.delay_s for o in report.incidents if o.delay_s is not None]
    return replace(report, loop=LoopResult(kpis, mttr, round(sum(delays) / len(delays), 3) if delays else None))


def _technicians(engine, clock: list[int], truth, anomalies: list[Anomaly], grace_ms: int, model):
    """Simulated technicians on the replay's store: the truth says what was at fault."""
    from faultline.evaluation.technicians import Technicians, pairs, truth_attribute
    from tickets.workflow import Workflow

    blamed: dict[str, str] = {}
    for a in anomalies:
        blamed.setdefault(a.key, a.attribution if a.scope == "cohort" else f"device={a.subject}")

    def attribution_of(ticket) -> str:
        return blamed.get(ticket.key) or (ticket.subject if ticket.scope == "cohort" else f"device={ticket.subject}")

    def incident_of(ticket):
        """The incident behind a ticket; of several on its devices, the one the detector named, as on site."""
        live = [inc for inc in truth.incidents
                if inc.start_ms <= ticket.opened_ms <= inc.end_ms + grace_ms and _belongs(ticket, inc)]
        named = pairs(attribution_of(ticket))
        return next((inc for inc in live if pairs(truth_attribute(inc)) <= named), live[0] if live else None)

    return Technicians(Workflow(engine, now=lambda: clock[0]), clock, incident_of, attribution_of, model)


def _drive(stage, clock: list[int], anomalies: list[Anomaly], until_ms: int, step_ms: int, people=None) -> None:
    i, t = 0, clock[0]
    while t <= until_ms or i < len(anomalies):
        batch = []
        while i < len(anomalies) and anomalies[i].ts_ms <= t:
            batch.append(anomalies[i])
            i += 1
        clock[0] = t
        if batch:
            stage.alert(batch)
        stage.sweep()
        if people is not None:
            people.tick(t)
        t += step_ms
        if not batch and i < len(anomalies) and anomalies[i].ts_ms > t and not stage.alerts.active():
            t += (anomalies[i].ts_ms - t) // step_ms * step_ms  # nothing alive: skip to the next anomaly


def _belongs(ticket, incident) -> bool:
    """Whether ``ticket`` is one of ``incident``'s: as `detectors.eval_sim.matches` for anomalies.

    A cohort ticket that lists among its devices a device with an incident of
    its own (a degrading pump of the hardware revision a rollout's faults fell
    on) is the cohort incident's, not a second ticket of the device's.
    """
    affected = set(incident.affected_devices) or {incident.device}
    if ticket.scope == "device":
        return ticket.subject in affected
    return incident.scope != "device" and bool(affected.intersection(ticket.devices))


def _score(truth, tickets, targets, grace_ms: int) -> TicketReport:
    claimed: set[int] = set()
    outcomes = []
    for inc in truth.incidents:
        mine = [t for t in tickets if inc.start_ms <= t.opened_ms <= inc.end_ms + grace_ms and _belongs(t, inc)]
        claimed.update(t.id for t in mine)
        if inc.kind not in targets:
            continue
        first = min((t.opened_ms for t in mine), default=None)
        outcomes.append(TicketOutcome(inc.id, inc.kind, bool(mine),
                                      (first - inc.start_ms) / 1000 if first is not None else None,
                                      len(mine), any(t.flapping for t in mine)))
    return TicketReport(tuple(outcomes), len(tickets), sum(t.id not in claimed for t in tickets))
