"""The error bodies the API really sends, declared in the OpenAPI document.

Every error is JSON with a ``detail`` a person can act on (`api.errors`);
a 422 also lists each bad field. Routers declare the statuses they can
answer with `errors(...)`, so the document says what a client must handle
(a test runs an OpenAPI fuzzer against the app and checks every answer
against it).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="What was missing, refused or conflicting")


class FieldError(BaseModel):
    field: str = Field(description="The field, e.g. `limit` or `body.ids.0`")
    location: str = Field(description="query, path, body or header")
    message: str


class ValidationErrorOut(BaseModel):
    detail: str = Field(description="Every bad field with its problem, `; `-separated")
    errors: list[FieldError]


DESCRIPTIONS = {
    401: "No API key, or an unknown or revoked one (`WWW-Authenticate: Bearer`)",
    403: "The key's role is below the route's",
    404: "No such id",
    409: "The current state does not allow this transition",
    422: "Bad input: `errors` names each field",
    503: "InfluxDB (or the database) did not answer; retry later",
}


def errors(*statuses: int) -> dict[int | str, dict]:
    """``responses=`` for a router or route: these statuses with their real bodies."""
    return {status: {"model": ValidationErrorOut if status == 422 else ErrorOut,
                     "description": DESCRIPTIONS[status]} for status in statuses}
