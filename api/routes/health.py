"""Liveness, readiness and Prometheus metrics (no API key: probes and scrapers)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.context import ApiContext, context

router = APIRouter(tags=["health"])


class ReadyOut(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="Per check `ok` or the problem: sql, influxdb; in `faultline run` "
                                               "also mqtt, ingest, detectors")


@router.get("/health", summary="Liveness: the process answers")
def health() -> dict:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: SQL, InfluxDB and, in `faultline run`, the broker and the pipeline",
            response_model=ReadyOut,
            responses={503: {"model": ReadyOut, "description": "Not ready: `checks` names each problem"}})
def ready(ctx: ApiContext = Depends(context)) -> JSONResponse:
    status, body = ctx.readiness.answer()
    return JSONResponse(body, status_code=status)


@router.get("/metrics", summary="Prometheus metrics (text exposition format)",
            response_class=Response)
def metrics(ctx: ApiContext = Depends(context)) -> Response:
    body, content_type = ctx.metrics.render()
    return Response(body, media_type=content_type)
