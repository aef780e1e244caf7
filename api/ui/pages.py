"""The workspace's pages: queue, ticket, device, customer-report form (GET; the actions are in `actions`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from api.ui import evidence_view
from api.ui.web import Person, age, ctx_of, person, render
from tickets import store
from tickets.after_sales_queries import after_sales_report
from tickets.models import SOURCES, TICKET_STATES
from tickets.queue import PAGE_SIZE, SEVERITIES, QueueQuery, headline, queue_page
from tickets.reports import FREQUENCIES, IMPACTS, linked_reports
from tickets.root_cause import CATEGORIES, CATEGORY_LABELS, VERDICTS
from tickets.ticket_queries import TicketFilter, children_of

router = APIRouter(prefix="/ui", include_in_schema=False)
TEXT_FILTERS = ("team", "assignee", "model", "firmware", "site")


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/tickets", status_code=303)


def _queue_query(request: Request) -> tuple[QueueQuery | None, str]:
    """The filter form's values, or an error message naming the bad one."""
    p = request.query_params
    states = tuple(s for s in p.getlist("state") if s)
    for s in states:
        if s not in TICKET_STATES and s != "active":
            return None, f"state: {s!r} is not one of active, {', '.join(TICKET_STATES)}"
    severity = p.get("severity") or ""
    if severity and severity not in SEVERITIES:
        return None, f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}"
    source = p.get("source") or None
    if source and source not in SOURCES:
        return None, f"source: {source!r} is not one of {', '.join(SOURCES)}"
    values = {k: (p.get(k) or "").strip() or None for k in TEXT_FILTERS}
    for k, v in list(values.items()) + [("q", p.get("q"))]:
        if v and len(v) > 256:
            return None, f"{k}: is longer than 256 characters"
    page = p.get("page") or "1"
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        return None, "page: must be a whole number from 1"
    flt = TicketFilter(states, (severity,) if severity else (), None, values["model"], values["firmware"],
                       values["site"], values["assignee"], values["team"])
    return QueueQuery(flt, source, (p.get("q") or "").strip(), int(page)), ""

KPI_DAYS = 30  # the queue's after-sales panel: tickets opened in the last 30 days


@router.get("/tickets")
def queue(request: Request, who: Person = Depends(person)):
    ctx = ctx_of(request)
    query, error = _queue_query(request)
    if query is None:
        return render(request, "message.html", 422, who=who, title="Bad filter", message=error)
    found = queue_page(ctx.engine, query)
    if request.query_params.get("fragment") == "rows":
        return render(request, "queue_rows.html", who=who, page=found, now_ms=ctx.now(), age=age,
                      query=query)
    if request.query_params.get("fragment") == "newest":
        return JSONResponse({"newest_id": found.newest_id, "total": found.total})
    pages = max(1, -(-found.total // PAGE_SIZE))
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "fragment")]
    return render(request, "queue.html", who=who, page=found, query=query, pages=pages, params=params,
                  now_ms=ctx.now(), age=age, states=TICKET_STATES, severities=SEVERITIES, sources=SOURCES,
                  head=headline(ctx.engine), filters=TEXT_FILTERS, values=request.query_params,
                  after=after_sales_report(ctx.engine, opened_from_ms=kpi_window_start(ctx.now()),
                                           recurrence_days=ctx.config.recurrence_days).overall,
                  kpi_days=KPI_DAYS)


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: int, who: Person = Depends(person), message: str = "",
                status_code: int = 200) -> HTMLResponse:
    ctx = ctx_of(request)
    ticket = store.get_ticket(ctx.engine, ticket_id)
    return render(request, "ticket.html", status_code, who=who, t=ticket, message=message,
                  view=evidence_view.of(ticket), children=children_of(ctx.engine, ticket_id),
                  reports=linked_reports(ctx.engine, ticket_id), comments=store.comments(ctx.engine, ticket_id),
                  history=store.history(ctx.engine, ticket_id), categories=CATEGORIES,
                  labels=CATEGORY_LABELS, verdicts=VERDICTS, now_ms=ctx.now(), age=age)


@router.get("/devices/{device}")
def device_page(request: Request, device: str, who: Person = Depends(person)) -> HTMLResponse:
    ctx = ctx_of(request)
    view = evidence_view.device(ctx, device)
    if view is None:
        return render(request, "message.html", 404, who=who, title="Unknown device",
                      message=f"No device named {device!r} is registered.")
    found = queue_page(ctx.engine, QueueQuery(TicketFilter(device=device, include_merged=True)))
    return render(request, "device.html", who=who, d=view, tickets=found.tickets, now_ms=ctx.now(), age=age)


@router.get("/report")
def report_form(request: Request, who: Person = Depends(person)) -> HTMLResponse:
    return render(request, "report.html", who=who, form={"device": request.query_params.get("device", "")[:64]},
                  errors={}, frequencies=FREQUENCIES, impacts=IMPACTS)


def kpi_window_start(now_ms: int) -> int:
    """Where the queue's after-sales panel starts: `KPI_DAYS` before the start of the current hour, so the
    window moves by whole hours and its aggregate is reused between (`tickets.aggregates`) — a minute's
    step made the first request of every minute compute it afresh.

    >>> kpi_window_start(1_767_225_659_999) == 1_767_225_600_000 - KPI_DAYS * 86_400_000
    True
    """
    return now_ms - now_ms % 3_600_000 - KPI_DAYS * 86_400_000
