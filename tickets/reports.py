"""Customer-reported problems: a report becomes a ticket in the same queue, linked to what is known.

A report names a registered device, the customer, when the problem was seen,
the symptom, how often and its impact, and a contact. It opens a ticket of
``source`` ``customer`` on that device, whose evidence (logs, metrics, events
around the reported time) is gathered like an alert ticket's, and routing
applies as to an alert. When the device already belongs to an active ticket
(a cohort ticket listing it or matching its attributes, or its own device
ticket), the report does not become an unrelated duplicate: it is folded
into that ticket as a child (``merged_into``), its device is attached, and
the ticket's history records the report.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, and_, exists, or_, select, update

from tickets import history
from tickets.children import add_devices
from tickets.models import ACTIVE_STATES, TicketDeviceRow, TicketRow
from tickets.routing import RouteInput, pick_assignee
from tickets.ticket import Ticket
from tickets.workflow import InvalidInput

T = TicketRow.__table__
D = TicketDeviceRow.__table__
DEVICE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
FREQUENCIES = ("once", "intermittent", "daily", "constant")
IMPACTS = {"none": "info", "degraded": "minor", "down": "major", "safety": "critical"}  # impact -> severity
SYSTEM_USER = "faultline"


@dataclass(frozen=True, slots=True)
class CustomerReport:
    device: str
    customer: str
    reported_ms: int  # when the customer saw the problem (epoch ms)
    symptom: str
    frequency: str
    impact: str
    contact: str


def check(report: CustomerReport, now_ms: int) -> CustomerReport:
    """Fields stripped and bounded; unknown choices and times in the future are refused.

    >>> r = CustomerReport("pump-1", " acme ", 1000, " hums ", "daily", "degraded", "ann@acme")
    >>> check(r, 2000).customer
    'acme'
    >>> check(CustomerReport("pump 1", "a", 1, "s", "once", "none", "c"), 2)
    Traceback (most recent call last):
    ...
    tickets.workflow.InvalidInput: device: must be 1 to 64 letters, digits or _ . : -
    """
    device = (report.device or "").strip()
    if not DEVICE.fullmatch(device):
        raise InvalidInput("device", "must be 1 to 64 letters, digits or _ . : -")
    values = {}
    for field, limit in (("customer", 256), ("symptom", 2000), ("contact", 256)):
        value = (getattr(report, field) or "").strip()
        if not value:
            raise InvalidInput(field, "is required")
        if len(value) > limit:
            raise InvalidInput(field, f"is longer than {limit} characters")
        values[field] = value
    if report.frequency not in FREQUENCIES:
        raise InvalidInput("frequency", f"must be one of {', '.join(FREQUENCIES)}")
    if report.impact not in IMPACTS:
        raise InvalidInput("impact", f"must be one of {', '.join(IMPACTS)}")
    if report.reported_ms > now_ms + 300_000:
        raise InvalidInput("reported_at", "is in the future")
    return CustomerReport(device, values["customer"], report.reported_ms, values["symptom"], report.frequency,
                          report.impact, values["contact"])


def _parent(conn: Connection, device: str, meta) -> int | None:
    """The active ticket this device's report belongs to: a cohort ticket first, else its device ticket."""
    listed = exists().where(D.c.ticket_id == T.c.id, D.c.device == device)
    base = and_(T.c.state.in_(ACTIVE_STATES), T.c.merged_into.is_(None), T.c.source == "detector")
    cohorts = conn.execute(select(T.c.id, T.c.subject, listed.label("listed")).where(
        base, T.c.scope == "cohort", or_(listed, T.c.model == (meta.model if meta else ""))
    ).order_by(T.c.id.desc()).limit(200)).all()
    attrs = {k: getattr(meta, k, "") or "" for k in ("model", "firmware", "site", "hw_rev")} if meta else {}
    for row in cohorts:
        pairs = [p.partition("=") for p in row.subject.split(",")]
        if row.listed or (pairs and all(attrs.get(k) == v for k, _, v in pairs)):
            return row.id
    own = conn.execute(select(T.c.id).where(base, T.c.scope == "device", T.c.subject == device)
                       .order_by(T.c.id.desc()).limit(1)).scalar()
    return own


def open_report(service, report: CustomerReport) -> Ticket:
    """Open the report's ticket (folded into the device's active ticket when there is one).

    `service` is the `tickets.service.TicketService`: its registry, router,
    evidence source, webhooks and clock apply.
    """
    now = service.now()
    report = check(report, now)
    meta = service.registry(report.device) if service.registry is not None else None
    if meta is None:
        raise InvalidInput("device", f"{report.device!r} is not a registered device")
    cohort = {k: getattr(meta, k, "") or "" for k in ("model", "firmware", "site", "customer", "tier")}
    severity = IMPACTS[report.impact]
    explanation = (f"{report.customer} reported on {report.device}: {report.symptom} "
                   f"({report.frequency}, impact {report.impact})")
    with service.engine.begin() as conn:
        parent = _parent(conn, report.device, meta)
        values = dict(
            key=f"customer|{report.device}|{uuid.uuid4().hex[:16]}", episode=1,
            title=f"customer report: {report.device}: {report.symptom}"[:300], severity=severity, state="open",
            detector="customer", scope="device", subject=report.device, code="", opened_ms=now, updated_ms=now,
            alert_state="reported", alert_starts_ms=report.reported_ms, onset_ms=report.reported_ms,
            last_seen_ms=report.reported_ms, count=1, alert_count=0, recurrences=0, flapping=False, version=0,
            explanation=explanation[:2000], evidence_complete=False, source="customer",
            reported_ms=report.reported_ms, symptom=report.symptom, frequency=report.frequency,
            impact=report.impact, contact=report.contact, merged_into=parent, **cohort)
        values["customer"] = report.customer[:256]
        ticket_id = conn.execute(T.insert().values(**values)).inserted_primary_key[0]
        add_devices(conn, ticket_id, (report.device,), None, now)
        detail = {"source": "customer", "impact": report.impact}
        if service.router is not None:
            detail.update(_route(conn, service.router, ticket_id, values))
        if parent is not None:
            detail["linked_to"] = parent
            add_devices(conn, parent, (report.device,), values["key"], now)
            history.record(conn, parent, "customer_report", SYSTEM_USER,
                           {"report": ticket_id, "device": report.device, "customer": report.customer[:200],
                            "symptom": report.symptom[:500]}, now, outbox=service.outbox is not None)
        history.record(conn, ticket_id, "opened", SYSTEM_USER, detail, now, outbox=service.outbox is not None)
    return service._evidence.refresh(ticket_id, None, force=True)


def _route(conn: Connection, router, ticket_id: int, values: dict) -> dict:
    route = router.route(RouteInput(code="", detector="customer", scope="device", model=values["model"],
                                    firmware=values["firmware"], site=values["site"], customer=values["customer"],
                                    tier=values["tier"], severity=values["severity"]))
    if route is None:
        return {}
    out = {"team": route.team, "assignee": pick_assignee(conn, route)}
    if route.severity:
        out["severity"] = route.severity
    conn.execute(update(T).where(T.c.id == ticket_id).values(**out))
    return {"route": route.rule, **out}


def linked_reports(engine, ticket_id: int) -> list[Ticket]:
    """The customer reports folded into a ticket, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(T).where(T.c.merged_into == ticket_id, T.c.source == "customer")
                            .order_by(T.c.id.desc()).limit(100)).all()
    return [Ticket.from_row(r) for r in rows]

