"""Liveness, readiness and Prometheus metrics (no API key: probes and scrapers)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from api.context import ApiContext, context

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
def health() -> dict:
    return {"status": "ok"}


def _check_sql(ctx: ApiContext) -> str | None:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("readiness: SQL database unreachable: %s", type(exc).__name__)
        return f"unreachable ({type(exc).__name__})"
    return None


def _check_influx(ctx: ApiContext) -> str | None:
    try:
        ctx.influx.ping()
    except Exception as exc:
        log.warning("readiness: InfluxDB unreachable: %s", type(exc).__name__)
        return f"unreachable ({type(exc).__name__})"
    return None


@router.get("/ready", summary="Readiness: the SQL database and InfluxDB answer",
            responses={503: {"description": "a dependency is down; `checks` says which"}})
def ready(ctx: ApiContext = Depends(context)) -> JSONResponse:
    failures = {"sql": _check_sql(ctx), "influxdb": _check_influx(ctx)}
    checks = {name: problem or "ok" for name, problem in failures.items()}
    ok = not any(failures.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                        status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics (text exposition format)",
            response_class=Response)
def metrics(ctx: ApiContext = Depends(context)) -> Response:
    body, content_type = ctx.metrics.render()
    return Response(body, media_type=content_type)
