"""Similar past cases by signature (viewer): fault-code sequence, cohort, metric shape; each fix with its record."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from api import auth
from api.bounds import MAX_ID
from api.context import ApiContext, context
from api.responses import errors
from api.routes import API_PREFIX
from tickets import store
from tickets.signature_similar import similar_by_signature

router = APIRouter(prefix=f"{API_PREFIX}/tickets", tags=["tickets"], dependencies=[Depends(auth.viewer)],
                   responses=errors(401, 403, 404, 422))


class SignatureCaseOut(BaseModel):
    ticket_id: int
    title: str
    score: float
    codes: float
    cohort: float
    shape: float | None
    root_cause: str
    fix: str
    fix_worked: int
    fix_tried: int


@router.get("/{ticket_id}/similar-by-signature", summary="Past cases with the same signature, each fix with how often it worked")
def similar(ticket_id: Annotated[int, Path(ge=1, le=MAX_ID)], limit: int = Query(5, ge=1, le=20),
            ctx: ApiContext = Depends(context)) -> list[SignatureCaseOut]:
    with ctx.engine.connect() as conn:
        ticket = store.get(conn, ticket_id)
        return [SignatureCaseOut(**asdict(c)) for c in similar_by_signature(conn, ticket, limit)]
