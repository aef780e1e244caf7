"""Devices (viewer): the registry, and each device's telemetry and logs from InfluxDB."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from api import auth
from api.bounds import MAX_TIME_MS
from api.context import ApiContext, context
from api.device_data import Window, device_events, events_query, log_lines, logs_query, telemetry_points, \
    telemetry_query
from api.errors import NotFound, invalid
from api.pages import Page, PageParams
from api.responses import errors
from api.routes import API_PREFIX
from ingest import registry
from ingest.decode import metric_name_problem
from ingest.fields import field_names

router = APIRouter(prefix=f"{API_PREFIX}/devices", tags=["devices"], dependencies=[Depends(auth.viewer)],
                   responses=errors(401, 403, 404, 422, 503))

DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Device id as in the MQTT topic")]
HOUR_MS = 3_600_000
MAX_METRIC_NAMES = 100_000
Level = Literal["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
EventType = Literal["fault", "fault_cleared", "reboot", "maintenance", "firmware_update"]
EventSeverity = Literal["minor", "major", "critical"]


class DeviceOut(BaseModel):
    device: str
    model: str
    firmware: str
    site: str
    hw_rev: str
    customer: str
    tier: str
    extra: dict[str, str]
    meta_ms: int
    online: bool | None
    status_ms: int

    @classmethod
    def of(cls, row) -> "DeviceOut":
        return cls(device=row.device, model=row.model, firmware=row.firmware, site=row.site,
                   hw_rev=row.hw_rev, customer=row.customer, tier=row.tier,
                   extra=json.loads(row.extra or "{}"), meta_ms=row.meta_ms,
                   online=row.online, status_ms=row.status_ms)


class DeviceSlice(BaseModel):
    device: str
    start_ms: int
    end_ms: int
    limit: int


class TelemetryOut(DeviceSlice):
    points: list[dict]


class MetricsOut(BaseModel):
    device: str
    metrics: list[str]


class LogsOut(DeviceSlice):
    lines: list[dict]


class EventsOut(DeviceSlice):
    events: list[dict]


class TimeRange:
    """Query parameters ``start_ms`` and ``end_ms`` (a FastAPI dependency)."""

    def __init__(self,
                 start_ms: int | None = Query(None, ge=0, le=MAX_TIME_MS, description="Epoch ms, inclusive; default end_ms - 1 h"),
                 end_ms: int | None = Query(None, ge=1, le=MAX_TIME_MS, description="Epoch ms, exclusive; default now")):
        self.start_ms = start_ms
        self.end_ms = end_ms


@router.get("", summary="Registered devices, filtered and paged")
def list_devices(
    model: str | None = Query(None, max_length=256),
    firmware: str | None = Query(None, max_length=256),
    site: str | None = Query(None, max_length=256),
    online: bool | None = None,
    page: PageParams = Depends(),
    ctx: ApiContext = Depends(context),
) -> Page[DeviceOut]:
    rows, total = registry.device_page(ctx.engine, limit=page.limit, offset=page.offset, model=model,
                                       firmware=firmware, site=site, online=online)
    return page.of([DeviceOut.of(r) for r in rows], total)


def _registered(ctx: ApiContext, device: str):
    return registry.registered(ctx.engine, device)


@router.get("/{device_id}", summary="One registered device")
def get_device(device_id: DeviceId, ctx: ApiContext = Depends(context)) -> DeviceOut:
    row = _registered(ctx, device_id)
    if row is None:
        raise NotFound(f"device {device_id!r} not found")
    return DeviceOut.of(row)


def _window(ctx: ApiContext, span: TimeRange, limit: int) -> Window:
    end = ctx.now() if span.end_ms is None else span.end_ms
    start = max(0, end - HOUR_MS) if span.start_ms is None else span.start_ms
    if start >= end:
        raise invalid("query", "start_ms", f"must be before end_ms ({end})")
    return Window(start, end, limit)


def _read(ctx: ApiContext, device: str, q: str, params: dict) -> list[dict]:
    rows = ctx.influx.rows(q, params)
    if not rows and _registered(ctx, device) is None:
        raise NotFound(f"device {device!r} not found (not registered, no data in range)")
    return rows


@router.get("/{device_id}/telemetry", summary="A device's metrics from InfluxDB (newest `limit` in range)")
def telemetry(
    device_id: DeviceId,
    span: TimeRange = Depends(),
    metric: list[str] = Query([], max_length=50, description="Only these metrics (repeat the parameter)"),
    limit: int = Query(1000, ge=1, le=10_000),
    ctx: ApiContext = Depends(context),
) -> TelemetryOut:
    window = _window(ctx, span, limit)
    for name in metric:
        if metric_name_problem(name):
            raise invalid("query", "metric", metric_name_problem(name))
    names = list(dict.fromkeys(metric)) or field_names(ctx.engine, {"device": device_id})
    if names:
        points = telemetry_points(_read(ctx, device_id, *telemetry_query(device_id, window, names)))
    elif _registered(ctx, device_id) is None:
        raise NotFound(f"device {device_id!r} not found (not registered, no metrics recorded)")
    else:
        points = []
    return TelemetryOut(device=device_id, start_ms=window.start_ms, end_ms=window.end_ms,
                        limit=limit, points=points)


@router.get("/{device_id}/metrics", summary="The metric names a device has written (its own telemetry fields)")
def metrics(device_id: DeviceId, ctx: ApiContext = Depends(context)) -> MetricsOut:
    names = field_names(ctx.engine, {"device": device_id}, limit=MAX_METRIC_NAMES)
    if not names and _registered(ctx, device_id) is None:
        raise NotFound(f"device {device_id!r} not found (not registered, no metrics recorded)")
    return MetricsOut(device=device_id, metrics=sorted(names))


@router.get("/{device_id}/logs", summary="A device's log lines from InfluxDB (newest `limit` in range)")
def logs(
    device_id: DeviceId,
    span: TimeRange = Depends(),
    level: list[Level] = Query([], description="Only these levels (repeat the parameter)"),
    component: str | None = Query(None, max_length=256),
    code: str | None = Query(None, max_length=256),
    limit: int = Query(500, ge=1, le=10_000),
    ctx: ApiContext = Depends(context),
) -> LogsOut:
    window = _window(ctx, span, limit)
    q, params = logs_query(device_id, window, level, component, code)
    lines = log_lines(_read(ctx, device_id, q, params))
    return LogsOut(device=device_id, start_ms=window.start_ms, end_ms=window.end_ms, limit=limit, lines=lines)


@router.get("/{device_id}/events", summary="A device's events from InfluxDB (faults, reboots, updates)")
def events(
    device_id: DeviceId,
    span: TimeRange = Depends(),
    type: list[EventType] = Query([], description="Only these types (repeat the parameter)"),
    severity: list[EventSeverity] = Query([], description="Only these severities (repeat the parameter)"),
    code: str | None = Query(None, max_length=256),
    limit: int = Query(500, ge=1, le=10_000),
    ctx: ApiContext = Depends(context),
) -> EventsOut:
    window = _window(ctx, span, limit)
    q, params = events_query(device_id, window, type, severity, code)
    found = device_events(_read(ctx, device_id, q, params))
    return EventsOut(device=device_id, start_ms=window.start_ms, end_ms=window.end_ms, limit=limit, events=found)
