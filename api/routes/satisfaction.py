"""Customer satisfaction through a signed one-time link (`tickets.satisfaction`).

A technician asks for a link on a resolved or closed customer-reported
ticket (``POST /api/v1/tickets/{id}/satisfaction-link``) and sends it to the
customer, who rates once without an API key
(``POST /api/v1/satisfaction/{token}``: rating 1–5 and a comment). A forged
token is 403, a used or replaced one 409. Links need
``FAULTLINE_TICKETS_SATISFACTION_SECRET``; without it they are refused (409).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api import auth
from api.bounds import MAX_ID
from api.context import ApiContext, context
from api.errors import invalid
from api.keys import ApiKey
from api.responses import errors
from api.routes import API_PREFIX
from tickets import satisfaction as sat

router = APIRouter(prefix=API_PREFIX, tags=["satisfaction"])


class LinkOut(BaseModel):
    ticket_id: int
    token: str
    path: str = Field(description="Where the customer posts the rating, relative to the API's base URL")
    page: str = Field(description="The customer's rating page to send them (relative to the base URL)")


class RatingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=sat.MAX_COMMENT)] | None = None


class RatedOut(BaseModel):
    ticket_id: int
    satisfaction: int
    satisfaction_comment: str | None


def _refuse(exc: sat.SatisfactionError):
    if exc.status == 422:
        return invalid("body", exc.field, exc.reason)
    return HTTPException(exc.status, str(exc))


def _secret(ctx: ApiContext) -> str:
    return ctx.config.satisfaction_secret


@router.post("/tickets/{ticket_id}/satisfaction-link", summary="A one-time link for the customer's rating",
             responses=errors(401, 403, 404, 409, 422))
def issue(ticket_id: Annotated[int, Path(ge=1, le=MAX_ID)], key: ApiKey = Depends(auth.technician),
          ctx: ApiContext = Depends(context)) -> LinkOut:
    try:
        token = sat.issue_link(ctx.engine, ticket_id, _secret(ctx))
    except sat.SatisfactionError as exc:
        raise _refuse(exc) from None
    return LinkOut(ticket_id=ticket_id, token=token, path=f"{API_PREFIX}/satisfaction/{token}",
                   page=f"/ui/rate/{token}")


@router.post("/satisfaction/{token}", summary="The customer's rating through the one-time link (no key)",
             responses=errors(403, 409, 422))
def rate(body: RatingBody, token: Annotated[str, Path(max_length=200)],
         ctx: ApiContext = Depends(context)) -> RatedOut:
    try:
        ticket = sat.rate_by_link(ctx.engine, token, _secret(ctx), body.rating, body.comment, now=ctx.now)
    except sat.SatisfactionError as exc:
        raise _refuse(exc) from None
    return RatedOut(ticket_id=ticket.id, satisfaction=ticket.satisfaction,
                    satisfaction_comment=ticket.satisfaction_comment)
