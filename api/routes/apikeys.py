"""API key management (admin): list, create (the key is returned once), revoke."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api import auth
from api.bounds import MAX_ID
from api.context import ApiContext, context
from api.errors import NotFound
from api.keys import ApiKey, UnknownApiKey
from api.responses import errors
from api.routes import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/apikeys", tags=["api keys"], dependencies=[Depends(auth.admin)],
                   responses=errors(401, 403, 404, 422))


class ApiKeyOut(BaseModel):
    id: int
    name: str
    role: str
    prefix: str = Field(description="First characters of the key, to recognise it")
    created_ms: int
    revoked_ms: int | None
    active: bool

    @classmethod
    def of(cls, key: ApiKey) -> "ApiKeyOut":
        return cls(id=key.id, name=key.name, role=key.role, prefix=key.prefix,
                   created_ms=key.created_ms, revoked_ms=key.revoked_ms, active=key.active)


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    role: Literal["viewer", "technician", "admin"]


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, stored only hashed")


@router.get("", summary="List API keys (never the keys themselves)")
def list_keys(ctx: ApiContext = Depends(context)) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(k) for k in ctx.keys.list()]


@router.post("", status_code=201, summary="Create an API key")
def create_key(body: ApiKeyCreate, ctx: ApiContext = Depends(context)) -> ApiKeyCreated:
    key, plain = ctx.keys.create(body.name, body.role)
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), key=plain)


@router.delete("/{key_id}", summary="Revoke an API key")
def revoke_key(key_id: int = Path(ge=1, le=MAX_ID), ctx: ApiContext = Depends(context)) -> ApiKeyOut:
    try:
        return ApiKeyOut.of(ctx.keys.revoke(key_id))
    except UnknownApiKey as exc:
        raise NotFound(str(exc)) from None
