"""Error responses: every failure is JSON with a ``detail`` a person can act on.

- 422: ``detail`` names each bad field (``"limit: Input should be ..."``) and
  ``errors`` lists them as ``{field, location, message}``;
- 401/403/404/409: ``detail`` says what was missing, refused or conflicting;
- 500: a generic message (the cause is logged, never echoed).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class NotFound(LookupError):
    """An id the API does not know (404)."""


class Conflict(RuntimeError):
    """A request that the current state does not allow (409)."""


def field_errors(exc: RequestValidationError) -> list[dict]:
    """One ``{field, location, message}`` per pydantic error."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        location = loc[0] if loc else "request"
        field = ".".join(loc[1:]) or location
        out.append({"field": field, "location": location, "message": err.get("msg", "invalid")})
    return out


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = field_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the server log has the cause"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(Exception, _unexpected)


def invalid(location: str, field: str, message: str) -> RequestValidationError:
    """A 422 naming `field`, for checks that need more than the schema (raise it)."""
    return RequestValidationError([{"loc": (location, field), "msg": message, "type": "value_error"}])
