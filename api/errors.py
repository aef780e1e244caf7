"""Error responses: every failure is JSON with a ``detail`` a person can act on.

- 422: ``detail`` names each bad field (``"limit: Input should be ..."``) and
  ``errors`` lists them as ``{field, location, message}``;
- 401/403/404/409: ``detail`` says what was missing, refused or conflicting;
- 500, and 503 when InfluxDB fails: a generic message (the cause, which may name
  internal URLs, is logged, never echoed).
"""

from __future__ import annotations

import logging
from typing import Mapping

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
        message = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":  # loc carries the character position, not a field
            field = "body"
            reason = (err.get("ctx") or {}).get("error", "")
            message = f"invalid JSON at character {loc[1] if len(loc) > 1 else '?'}: {reason}".rstrip(": ")
        out.append({"field": field, "location": location, "message": message})
    return out


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = field_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    too_large = request.scope.get("faultline.body_too_large")  # set by api.guards.BodyLimit
    if too_large:
        return JSONResponse({"detail": too_large}, status_code=413, headers={"Connection": "close"})
    if exc.status_code == 400:  # FastAPI could not read the body (e.g. not UTF-8): bad input like any other
        errors = [{"field": "body", "location": "body", "message": f"could not be read: {exc.detail}"}]
        return JSONResponse({"detail": f"body: could not be read: {exc.detail}", "errors": errors}, status_code=422)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the server log has the cause"}, status_code=500)


async def influx_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 for a failed InfluxDB request: the cause (with InfluxDB's URL) goes to the log, not to the client."""
    log.warning("InfluxDB request failed on %s %s: %s", request.method, request.url.path, exc)
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(int(retry_after or 5))}
    return JSONResponse({"detail": "InfluxDB is unavailable; retry later (the server log has the cause)"},
                        status_code=503, headers=headers)


def _by_status(status: int):
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        field = getattr(exc, "field", None)
        if status == 422 and field:  # a domain check on one input field
            errors = [{"field": field, "location": "body", "message": getattr(exc, "reason", str(exc))}]
            return JSONResponse({"detail": str(exc), "errors": errors}, status_code=422)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler


def install(app: FastAPI, statuses: Mapping[type[Exception], int] | None = None) -> None:
    """Register the handlers on `app`; `statuses` maps other packages' errors to HTTP codes."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    for exc_type, status in (statuses or {}).items():
        app.add_exception_handler(exc_type, _by_status(status))
    app.add_exception_handler(Exception, _unexpected)


def invalid(location: str, field: str, message: str) -> RequestValidationError:
    """A 422 naming `field`, for checks that need more than the schema (raise it)."""
    return RequestValidationError([{"loc": (location, field), "msg": message, "type": "value_error"}])
