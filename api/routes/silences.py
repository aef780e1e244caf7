"""Silences (maintenance windows): list and read (viewer), create and expire (technician)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from alerts.silences import Matcher, SilenceError, SilenceNotFound, create_silence, expire_silence, \
    get_silence, list_silences
from api import auth
from api.bounds import MAX_TIME_MS
from api.context import ApiContext, context
from api.errors import NotFound, invalid
from api.keys import ApiKey
from api.responses import errors
from api.routes import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/silences", tags=["silences"], responses=errors(401, 403, 404, 422))
MAX_SILENCE_MS = 366 * 86_400_000
SilenceId = Annotated[str, Path(max_length=64, description="Silence id")]


class SilenceOut(BaseModel):
    id: str
    matchers: list[str]
    starts_at_ms: int
    ends_at_ms: int
    created_by: str
    comment: str
    created_at_ms: int
    state: Literal["pending", "active", "expired"]


def _matcher(text: str) -> str:
    try:
        Matcher.parse(text)
    except SilenceError as exc:
        raise ValueError(str(exc)) from None
    return text


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[Annotated[str, AfterValidator(_matcher)]] = Field(
        min_length=1, max_length=20, examples=[["firmware=2.1.0", "site=sh-03"]],
        description="label=value, label!=value, label=~regex or label!~regex; all must match")
    starts_at_ms: int | None = Field(None, ge=0, le=MAX_TIME_MS, description="Epoch ms; default now")
    ends_at_ms: int | None = Field(None, ge=0, le=MAX_TIME_MS, description="Epoch ms; give this or duration_s")
    duration_s: float | None = Field(None, gt=0, le=MAX_SILENCE_MS / 1000, description="Length from the start")
    comment: str = Field("", max_length=2000)


def _window(body: SilenceCreate, now_ms: int) -> tuple[int, int]:
    starts = now_ms if body.starts_at_ms is None else body.starts_at_ms
    if (body.ends_at_ms is None) == (body.duration_s is None):
        raise invalid("body", "ends_at_ms", "give exactly one of ends_at_ms and duration_s")
    ends = body.ends_at_ms if body.ends_at_ms is not None else starts + int(body.duration_s * 1000)
    if ends <= starts:
        raise invalid("body", "ends_at_ms", f"must be after starts_at_ms ({starts})")
    if ends <= now_ms:
        raise invalid("body", "ends_at_ms", f"must be in the future (now is {now_ms})")
    if ends - starts > MAX_SILENCE_MS:
        raise invalid("body", "ends_at_ms", "a silence lasts at most 366 days")
    return starts, ends


@router.get("", summary="List silences, newest first", dependencies=[Depends(auth.viewer)])
def list_all(
    state: Literal["active", "pending", "expired", "current", "all"] = Query(
        "current", description="current = active or pending"),
    ctx: ApiContext = Depends(context),
) -> list[SilenceOut]:
    now = ctx.now()
    silences = list_silences(ctx.engine, include_expired=state in ("expired", "all"), now_ms=now)
    wanted = {"current": {"active", "pending"}, "all": {"active", "pending", "expired"}}.get(state, {state})
    return [SilenceOut(**s.to_json(now)) for s in silences if s.state(now) in wanted]


@router.get("/{silence_id}", summary="One silence", dependencies=[Depends(auth.viewer)])
def get_one(silence_id: SilenceId, ctx: ApiContext = Depends(context)) -> SilenceOut:
    try:
        return SilenceOut(**get_silence(ctx.engine, silence_id).to_json(ctx.now()))
    except SilenceNotFound as exc:
        raise NotFound(exc.args[0]) from None


@router.post("", status_code=201, summary="Create a silence")
def create(body: SilenceCreate, key: ApiKey = Depends(auth.technician),
           ctx: ApiContext = Depends(context)) -> SilenceOut:
    now = ctx.now()
    starts, ends = _window(body, now)
    try:
        silence = create_silence(ctx.engine, body.matchers, starts_at_ms=starts, ends_at_ms=ends,
                                 now_ms=now, created_by=key.name, comment=body.comment)
    except SilenceError as exc:
        raise invalid("body", "matchers", str(exc)) from None
    return SilenceOut(**silence.to_json(now))


@router.delete("/{silence_id}", summary="Expire a silence now (idempotent)",
               dependencies=[Depends(auth.technician)])
def expire(silence_id: SilenceId, ctx: ApiContext = Depends(context)) -> SilenceOut:
    now = ctx.now()
    try:
        return SilenceOut(**expire_silence(ctx.engine, silence_id, now_ms=now).to_json(now))
    except SilenceNotFound as exc:
        raise NotFound(exc.args[0]) from None
