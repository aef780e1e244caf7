"""The workspace's POSTs: ticket actions by role and the customer-report form.

Each POST needs the session's CSRF token and, for changes, the technician
role (a viewer's forged POST gets 403). The workflow's rules apply as in
the API: an illegal transition is 409 and bad input 422, both shown as a
message on the ticket page, never a stack trace. Success redirects back
(POST/redirect/GET).
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from api.ui.pages import ticket_page
from api.ui.web import Person, checked_form, ctx_of, person, render
from tickets.reports import FREQUENCIES, IMPACTS, CustomerReport, open_report
from tickets.store import TicketNotFound
from tickets.workflow import InvalidInput, InvalidTransition

router = APIRouter(prefix="/ui", include_in_schema=False)
ACTIONS = ("ack", "assign", "comment", "resolve", "reopen", "close")


def _do(wf, action: str, ticket_id: int, user: str, form) -> str:
    """Run one workflow action from the form's fields; the message to show."""
    f = {k: str(v) for k, v in form.items()}
    if action == "ack":
        wf.ack(ticket_id, user)
    elif action == "assign":
        wf.assign(ticket_id, f.get("assignee", ""), f.get("team") or None, user=user)
    elif action == "comment":
        wf.comment(ticket_id, user, f.get("text", ""))
    elif action == "resolve":
        wf.resolve(ticket_id, user, f.get("root_cause", ""), f.get("resolution", ""),
                   category=f.get("category") or None, confirmed_attribute=f.get("confirmed_attribute") or None,
                   attribution=f.get("attribution") or None)
    elif action == "reopen":
        wf.reopen(ticket_id, user, f.get("reason", ""))
    else:
        wf.close(ticket_id, user)
    return {"ack": "acknowledged", "comment": "comment added", "assign": "assigned"}.get(action, f"{action}d")


@router.post("/tickets/{ticket_id}/{action}")
async def act(request: Request, ticket_id: int, action: str, who: Person = Depends(person)):
    form, refused = await checked_form(request, who)
    if refused is not None:
        return refused
    if action not in ACTIONS:
        return render(request, "message.html", 404, who=who, title="Unknown action",
                      message=f"{action!r} is not one of {', '.join(ACTIONS)}")
    try:
        done = _do(ctx_of(request).workflow, action, ticket_id, who.user.name, form)
    except TicketNotFound as exc:
        return render(request, "message.html", 404, who=who, title="Not found", message=str(exc))
    except InvalidTransition as exc:
        return ticket_page(request, ticket_id, who, message=str(exc), status_code=409)
    except InvalidInput as exc:
        return ticket_page(request, ticket_id, who, message=str(exc), status_code=422)
    return RedirectResponse(f"/ui/tickets/{ticket_id}?done={quote(done)}", status_code=303)


def _reported_ms(value: str) -> int:
    """A datetime-local value (taken as UTC) or RFC 3339 with a zone.

    >>> _reported_ms("2026-01-01T00:00"), _reported_ms("2026-01-01T01:00+01:00")
    (1767225600000, 1767225600000)
    """
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


@router.post("/report")
async def report(request: Request, who: Person = Depends(person)):
    form, refused = await checked_form(request, who)
    if refused is not None:
        return refused
    f = {k: str(v) for k, v in form.items() if k != "csrf"}
    errors = {}
    try:
        reported = _reported_ms(f.get("reported_at", ""))
    except ValueError:
        errors["reported_at"] = "reported_at: give the date and time the problem was seen"
        reported = 0
    if not errors:
        try:
            ticket = open_report(ctx_of(request).tickets, CustomerReport(
                f.get("device", ""), f.get("customer", ""), reported, f.get("symptom", ""),
                f.get("frequency", ""), f.get("impact", ""), f.get("contact", "")))
        except InvalidInput as exc:
            errors[exc.field] = str(exc)
    if errors:
        return render(request, "report.html", 422, who=who, form=f, errors=errors, frequencies=FREQUENCIES,
                      impacts=IMPACTS)
    target = ticket.merged_into or ticket.id
    note = f"customer report {ticket.id} " + (f"linked to ticket {target}" if ticket.merged_into else "opened")
    return RedirectResponse(f"/ui/tickets/{target}?done={quote(note)}", status_code=303)
