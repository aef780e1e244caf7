"""The customer's page behind a satisfaction link: rate the handling of a report (1–5) and comment.

No sign-in: the signed one-time token in the path is the customer's only
credential (`tickets.satisfaction`); a forged token is refused (403), a used or
replaced one answered as such (409). The page shows nothing of the ticket but
its number, the device and the reported symptom the customer already knows.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from api.ui.web import ctx_of, render
from tickets import satisfaction as sat
from tickets.store import TicketNotFound

router = APIRouter(prefix="/ui", include_in_schema=False)
TOKEN = Path(max_length=200)


def _secret(request: Request) -> str:
    return ctx_of(request).config.satisfaction_secret


def _closed(request: Request, exc: Exception) -> HTMLResponse:
    status, text = (exc.status, exc.reason) if isinstance(exc, sat.SatisfactionError) else (404, "no such ticket")
    if status == 403:
        text = "This link is not valid. Please use the link exactly as you received it."
    elif status == 409:
        text = "Thank you: this link was already used, or a newer one was sent to you."
    return render(request, "rate.html", status_code=status, message=text, ticket=None)


@router.get("/rate/{token}")
def rate_form(request: Request, token: str = TOKEN) -> HTMLResponse:
    ctx = ctx_of(request)
    try:
        ticket = sat.link_ticket(ctx.engine, token, _secret(request))
    except (sat.SatisfactionError, TicketNotFound) as exc:
        return _closed(request, exc)
    return render(request, "rate.html", ticket=ticket, token=token, message="")


@router.post("/rate/{token}")
async def rate(request: Request, token: str = TOKEN) -> HTMLResponse:
    ctx = ctx_of(request)
    form = await request.form()
    raw = str(form.get("rating", ""))
    comment = str(form.get("comment", ""))
    try:
        ticket = sat.link_ticket(ctx.engine, token, _secret(request))
    except (sat.SatisfactionError, TicketNotFound) as exc:
        return _closed(request, exc)
    try:
        sat.rate_by_link(ctx.engine, token, _secret(request), int(raw) if raw.isdigit() else raw, comment,
                         now=ctx.now)
    except sat.SatisfactionError as exc:
        if exc.status != 422:
            return _closed(request, exc)
        return render(request, "rate.html", status_code=422, ticket=ticket, token=token, comment=comment,
                      message=f"Please choose a rating from 1 to 5 ({exc.field} {exc.reason}).")
    return render(request, "rate.html", ticket=None, message="Thank you for your rating.", done=True)
