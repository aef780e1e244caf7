"""Tickets: list and read (viewer); ack, assign, comment, resolve, reopen, close (technician).

The acting user recorded in the ticket's history is the API key's name.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from api import auth
from api.bounds import MAX_ID
from api.context import ApiContext, context
from api.keys import ApiKey
from api.pages import Page, PageParams
from api.responses import errors
from api.routes import API_PREFIX
from tickets import store
from tickets.reports import FREQUENCIES, IMPACTS, CustomerReport, open_report
from tickets.root_cause import CATEGORIES, VERDICTS
from tickets.ticket import Ticket
from tickets.ticket_queries import TicketFilter, children_of, merged_into, page_of_tickets

router = APIRouter(prefix=f"{API_PREFIX}/tickets", tags=["tickets"], responses=errors(401, 403, 404, 409, 422))

TicketId = Annotated[int, Path(ge=1, le=MAX_ID, description="Ticket id")]
State = Literal["open", "acknowledged", "resolved", "closed", "reopened", "active"]
Severity = Literal["info", "minor", "major", "critical"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
RootCauseCategory = Literal[CATEGORIES]
Verdict = Literal[VERDICTS]
Attribute = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
Value = Annotated[str | None, Query(max_length=256, description="Exact match")]


class TicketSummary(BaseModel):
    id: int
    key: str
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
    assignee: str | None
    team: str | None
    opened_ms: int
    opened_at: str = Field(description="opened_ms as RFC 3339 (UTC)")
    acknowledged_ms: int | None
    resolved_ms: int | None
    closed_ms: int | None
    reopened_ms: int | None
    updated_ms: int
    alert_state: str
    count: int
    recurrences: int
    flapping: bool
    source: str
    devices: list[str]
    version: int

    @classmethod
    def of(cls, ticket: Ticket) -> "TicketSummary":
        data = {name: getattr(ticket, name) for name in cls.model_fields if hasattr(ticket, name)}
        data["devices"] = list(ticket.devices)
        data["opened_at"] = datetime.fromtimestamp(ticket.opened_ms / 1000, timezone.utc).isoformat()
        return cls(**data)


class TicketDetail(TicketSummary):
    episode: int
    onset_ms: int
    alert_starts_ms: int
    last_seen_ms: int
    explanation: str
    resolved_by: str | None
    root_cause: str | None
    resolution: str | None
    root_cause_category: str | None
    confirmed_attribute: str | None
    attribution: str | None
    reported_ms: int | None
    symptom: str | None
    frequency: str | None
    impact: str | None
    contact: str | None
    first_response_ms: int | None = None
    reopens: int = 0
    satisfaction: int | None = None
    satisfaction_comment: str | None = None
    satisfaction_by: str | None = None
    known_issue_id: int | None = Field(None, description="The known issue (confirmed cohort root cause) this "
                                                         "ticket's signature matched; its fix is in the history")
    merged_into: int | None
    evidence: dict | None
    evidence_complete: bool
    children: list[dict] = Field(description="Affected devices and the child alert that attached each")
    merged: list[int] = Field(description="Tickets folded into this one")
    comments: list[dict]
    history: list[dict]


def _detail(ctx: ApiContext, ticket: Ticket) -> TicketDetail:
    summary = TicketSummary.of(ticket).model_dump()
    extra = {name: getattr(ticket, name) for name in TicketDetail.model_fields
             if name not in summary and hasattr(ticket, name)}
    extra["evidence"] = ticket.evidence.to_dict() if ticket.evidence else None
    return TicketDetail(
        **summary, **extra,
        children=children_of(ctx.engine, ticket.id), merged=merged_into(ctx.engine, ticket.id),
        comments=[{"id": c.id, "user": c.user, "text": c.text, "ts_ms": c.ts_ms}
                  for c in store.comments(ctx.engine, ticket.id)],
        history=[{"version": h.version, "kind": h.kind, "user": h.user, "detail": h.detail, "ts_ms": h.ts_ms}
                 for h in store.history(ctx.engine, ticket.id)])


@router.get("", summary="Tickets, newest first, filtered and paged", dependencies=[Depends(auth.viewer)])
def list_tickets(
    state: list[State] = Query([], description="Repeatable; `active` = open, acknowledged or reopened"),
    severity: list[Severity] = Query([], description="Repeatable"),
    device: str | None = Query(None, max_length=256, description="Subject or affected device"),
    model: Value = None, firmware: Value = None, site: Value = None,
    assignee: Value = None, team: Value = None, code: Value = None,
    include_merged: bool = Query(False, description="Also tickets folded into a cohort ticket"),
    page: PageParams = Depends(),
    ctx: ApiContext = Depends(context),
) -> Page[TicketSummary]:
    flt = TicketFilter(tuple(state), tuple(severity), device, model, firmware, site, assignee, team, code,
                       include_merged)
    tickets, total = page_of_tickets(ctx.engine, flt, page.limit, page.offset)
    return page.of([TicketSummary.of(t) for t in tickets], total)


@router.get("/{ticket_id}", summary="One ticket with evidence, devices, comments and history",
            dependencies=[Depends(auth.viewer)])
def get_ticket(ticket_id: TicketId, ctx: ApiContext = Depends(context)) -> TicketDetail:
    return _detail(ctx, store.get_ticket(ctx.engine, ticket_id))


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignBody(Body):
    assignee: Name
    team: Name | None = None


class CommentBody(Body):
    text: Text


class ResolveBody(Body):
    root_cause: Text
    resolution: Text
    root_cause_category: RootCauseCategory | None = Field(None, description="From the root-cause catalogue")
    confirmed_attribute: Attribute | None = Field(
        None, description="What was at fault, e.g. `firmware=2.1.0`; a confirmed attribution defaults to the "
                          "detector's, a corrected one requires it")
    attribution: Verdict | None = Field(None, description="The technician's verdict on the detector's attribution")


class ReopenBody(Body):
    reason: Text


class ReportBody(Body):
    device: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    customer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
    reported_at: AwareDatetime = Field(description="When the customer saw the problem (RFC 3339 with a zone)")
    symptom: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    frequency: Literal[FREQUENCIES]
    impact: Literal[tuple(IMPACTS)]
    contact: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


@router.post("", status_code=201, summary="Open a ticket for a customer-reported problem",
             description="Linked to the device's evidence around `reported_at`; when the device belongs to an "
                         "active cohort or device ticket, the report is folded into it as a child "
                         "(`merged_into`). Routing applies.")
def report(body: ReportBody, key: ApiKey = Depends(auth.technician),
           ctx: ApiContext = Depends(context)) -> TicketDetail:
    ticket = open_report(ctx.tickets, CustomerReport(
        body.device, body.customer, int(body.reported_at.timestamp() * 1000), body.symptom, body.frequency,
        body.impact, body.contact))
    return _detail(ctx, ticket)


@router.post("/{ticket_id}/ack", summary="Acknowledge (open or reopened → acknowledged)")
def ack(ticket_id: TicketId, key: ApiKey = Depends(auth.technician),
        ctx: ApiContext = Depends(context)) -> TicketDetail:
    return _detail(ctx, ctx.workflow.ack(ticket_id, key.name))


@router.post("/{ticket_id}/assign", summary="Assign to a person (and team)")
def assign(body: AssignBody, ticket_id: TicketId, key: ApiKey = Depends(auth.technician),
           ctx: ApiContext = Depends(context)) -> TicketDetail:
    return _detail(ctx, ctx.workflow.assign(ticket_id, body.assignee, body.team, user=key.name))


@router.post("/{ticket_id}/comments", status_code=201, summary="Add a comment")
def comment(body: CommentBody, ticket_id: TicketId, key: ApiKey = Depends(auth.technician),
            ctx: ApiContext = Depends(context)) -> TicketDetail:
    return _detail(ctx, ctx.workflow.comment(ticket_id, key.name, body.text))


@router.post("/{ticket_id}/resolve", summary="Resolve with root cause and resolution")
def resolve(body: ResolveBody, ticket_id: TicketId, key: ApiKey = Depends(auth.technician),
            ctx: ApiContext = Depends(context)) -> TicketDetail:
    return _detail(ctx, ctx.workflow.resolve(
        ticket_id, key.name, body.root_cause, body.resolution, category=body.root_cause_category,
        confirmed_attribute=body.confirmed_attribute, attribution=body.attribution))


@router.post("/{ticket_id}/reopen", summary="Reopen a resolved or closed ticket")
def reopen(body: ReopenBody, ticket_id: TicketId, key: ApiKey = Depends(auth.technician),
           ctx: ApiContext = Depends(context)) -> TicketDetail:
    return _detail(ctx, ctx.workflow.reopen(ticket_id, key.name, body.reason))


class CloseBody(Body):
    satisfaction: int | None = Field(None, ge=1, le=5, description="The customer's rating (1-5), customer-reported tickets")
    satisfaction_comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


@router.post("/{ticket_id}/close", summary="Close a resolved ticket (with the customer's rating)")
def close(ticket_id: TicketId, body: CloseBody | None = None, key: ApiKey = Depends(auth.technician),
          ctx: ApiContext = Depends(context)) -> TicketDetail:
    body = body or CloseBody()
    return _detail(ctx, ctx.workflow.close(ticket_id, key.name, satisfaction=body.satisfaction,
                                           satisfaction_comment=body.satisfaction_comment))
