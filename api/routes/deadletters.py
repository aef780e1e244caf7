"""Dead letters: list (viewer) and replay with the current code (admin)."""

from __future__ import annotations

import logging

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api import auth
from api.context import ApiContext, context
from api.bounds import MAX_ID
from api.errors import NotFound, invalid
from api.pages import Page, PageParams
from api.responses import errors
from api.routes import API_PREFIX
from influx.errors import InfluxError
from ingest import deadletters as dead_letters

log = logging.getLogger(__name__)

router = APIRouter(prefix=f"{API_PREFIX}/deadletters", tags=["dead letters"],
                   responses=errors(401, 403, 404, 422, 503))
PAYLOAD_EXCERPT = 2000
MAX_REPLAY_IDS = 10_000
Value = Annotated[str | None, Query(max_length=256, description="Exact match")]


class DeadLetterOut(BaseModel):
    id: int
    received_ms: int
    topic: str
    device: str | None
    firmware: str | None
    stage: str
    reason_kind: str
    reason: str
    payload_size: int
    payload: str = Field(description=f"First {PAYLOAD_EXCERPT} characters, undecodable bytes escaped")

    @classmethod
    def of(cls, row) -> "DeadLetterOut":
        return cls(id=row.id, received_ms=row.received_ms, topic=row.topic, device=row.device,
                   firmware=row.firmware, stage=row.stage, reason_kind=row.reason_kind, reason=row.reason,
                   payload_size=row.payload_size,
                   payload=row.payload.decode("utf-8", "backslashreplace")[:PAYLOAD_EXCERPT])


class ReplayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(None, max_length=MAX_REPLAY_IDS)
    all: bool = Field(False, description="Replay the dead letters in id order, a page of `limit` per request")
    after_id: int = Field(0, ge=0, le=MAX_ID, description="With all: start after this id (`next_after_id` of the last page)")
    limit: int = Field(1000, ge=1, le=MAX_REPLAY_IDS, description="With all: dead letters replayed in this request")


class ReplayOut(BaseModel):
    replayed: int = Field(description="Stored now and removed from the dead letters")
    still_failing: int
    reasons: dict[int, str] = Field(description="Current reason per dead letter still failing (the first 100)")
    next_after_id: int | None = Field(None, description="With all: pass as after_id for the next page; null when done")


@router.get("", summary="Dead letters, oldest first", dependencies=[Depends(auth.viewer)])
def list_dead_letters(
    reason_kind: Value = None, device: Value = None, firmware: Value = None, stage: Value = None,
    page: PageParams = Depends(), ctx: ApiContext = Depends(context),
) -> Page[DeadLetterOut]:
    rows, total = dead_letters.page(ctx.engine, limit=page.limit, offset=page.offset, reason_kind=reason_kind,
                                    device=device, firmware=firmware, stage=stage)
    return page.of([DeadLetterOut.of(r) for r in rows], total)


def _check_ids(ctx: ApiContext, ids: list[int]) -> None:
    missing = dead_letters.unknown_ids(ctx.engine, ids)
    if missing:
        raise NotFound(f"no dead letter with id {', '.join(map(str, missing[:20]))}")


@router.post("/replay", summary="Re-run decode and write; what now succeeds leaves the store",
             dependencies=[Depends(auth.admin)])
def replay(body: ReplayBody, ctx: ApiContext = Depends(context)) -> ReplayOut:
    from ingest.config import IngestConfig
    from ingest.replay import replay as run_replay

    if bool(body.ids) == body.all:
        raise invalid("body", "ids", "give a non-empty ids list or all=true (not both)")
    if body.ids:
        _check_ids(ctx, body.ids)
    config = IngestConfig.from_settings(ctx.settings)
    try:
        if body.all:
            result = run_replay(config, ctx.influx, ctx.engine, limit=body.limit, after_id=body.after_id)
        else:
            result = run_replay(config, ctx.influx, ctx.engine, body.ids)
    except InfluxError as exc:
        log.warning("dead-letter replay: InfluxDB request failed: %s", exc)
        raise HTTPException(503, "InfluxDB unavailable, nothing replayed from this page on "
                                 "(the server log has the cause)") from None
    return ReplayOut(replayed=result.replayed, still_failing=result.still_failing, reasons=result.reasons,
                     next_after_id=result.next_after_id)
