"""`create_app(config, ...)`: the FastAPI application, built, never imported ready-made.

It takes its configuration (`api.config.ApiConfig`) and the parts it works
with, already built: the SQL engine (migrated), the InfluxDB client, the
ticket workflow and service. `faultline.wiring.api_app` builds them from
the settings for ``faultline api``; ``faultline run`` shares its own (and
its alert manager and clock), so both see one state.
"""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager
from typing import Any, Callable

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from alerts.active import StoredAlerts
from api import docs, errors, ui
from api.config import ApiConfig
from api.context import ActiveAlerts, ApiContext, InfluxReader
from api.guards import DOCS_PATHS, METRICS_PATHS, BodyLimit, KeyGate
from api.keys import KeyStore
from api.kpi_metrics import KpiCollector
from api.metrics import ApiMetrics, instrument
from api.readiness import PipelineProbe, Readiness
from api.routes import alerts as alert_routes
from api.routes import apikeys, deadletters, devices, health, kpis, satisfaction, signature, silences
from api.routes import tickets as ticket_routes
from api.sessions import SessionStore, SignInThrottle
from api.strict_query import reject_unknown_query
from api.users import UserStore
from api.warm import warm_behind
from influx.errors import InfluxError
from ingest import deadletters as dead_letters
from ingest.stats import totals_from as ingest_totals
from runtime.clock import wall_ms
from tickets.service import TicketService
from tickets.store import TicketNotFound
from tickets.ticket_queries import counts_by_state
from tickets.workflow import InvalidInput, InvalidTransition, Workflow

ERROR_STATUSES = {TicketNotFound: 404, InvalidTransition: 409, InvalidInput: 422}
DESCRIPTION = ("Devices, telemetry and logs, alerts, tickets and their workflow, silences, KPIs and "
               "dead letters. Authenticate with `Authorization: Bearer <API key>`; roles are "
               "viewer (reads) < technician (ticket workflow, silences) < admin (everything).")


def _metrics(engine: Engine, influx: InfluxReader) -> ApiMetrics:
    metrics = ApiMetrics()
    metrics.add_counts("faultline_tickets", "Tickets by state", "state", lambda: counts_by_state(engine))
    metrics.add_counts("faultline_dead_letters", "Dead letters by reason", "reason",
                       lambda: dead_letters.counts_by(engine, "reason_kind"))
    metrics.add_totals("faultline_ingest_messages", "Messages counted by ingest, by stage (stored, spooled, "
                       "decode/validate/write dead letters, clock_skew, redelivered) and reason",
                       ("stage", "reason"), lambda: ingest_totals(influx))
    return metrics


def create_app(
    config: ApiConfig,
    *,
    engine: Engine,
    influx: InfluxReader,
    workflow: Workflow,
    tickets: TicketService,
    alerts: ActiveAlerts | None = None,
    now: Callable[[], int] = wall_ms,
    pipeline: PipelineProbe | None = None,
    settings: Any = None,
) -> FastAPI:
    """The API over the given parts.

    `engine` is migrated and owned by the caller; `now` returns epoch
    milliseconds. Without `alerts`, active alerts are read from the alert
    stage's SQL store. `workflow` is the ticket workflow of the technicians'
    actions, `tickets` the ticket service customer reports go through.
    `pipeline` (given by ``faultline run``) adds the broker connection and
    the pipeline's liveness to ``/ready``. `settings` is what the dead-letter
    replay rebuilds ingest's decoding from.
    """
    ctx = ApiContext(config=config, engine=engine, keys=KeyStore(engine, now), influx=influx,
                     alerts=alerts if alerts is not None else StoredAlerts(engine),
                     workflow=workflow, now=now, metrics=_metrics(engine, influx),
                     readiness=Readiness(engine, influx, pipeline, config.ready_cache_s),
                     tickets=tickets, users=UserStore(engine, now),
                     sessions=SessionStore(engine, now, config.session_hours * 3600),
                     throttle=SignInThrottle(config.signin_attempts, config.signin_window_s), settings=settings)
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # What exists once the app is built (modules, classes, routes, models: ~135,000 objects) lives as long
        # as the process: frozen, a full collection no longer walks it (~60 ms a time, paid by every request in
        # flight), and only what requests create is collected.
        gc.collect()
        gc.freeze()
        warm_behind(engine, config.recurrence_days, lambda: ui.pages.kpi_window_start(now()))
        yield

    app = FastAPI(title="Faultline API", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    docs.install(app)  # /docs and /redoc with local assets (no CDN)
    app.state.ctx = ctx
    ctx.metrics.registry.register(KpiCollector(engine, now, config.recurrence_days))
    errors.install(app, ERROR_STATUSES)
    app.add_exception_handler(InfluxError, errors.influx_unavailable)
    instrument(app, ctx.metrics)
    app.add_middleware(KeyGate, gates={DOCS_PATHS: config.docs_key, METRICS_PATHS: config.metrics_key})
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)  # outermost: before anything reads
    app.include_router(health.router)
    for resource in (ticket_routes, alert_routes, silences, kpis, devices, deadletters, apikeys, satisfaction,
                     signature):
        app.include_router(resource.router, dependencies=[Depends(reject_unknown_query)])
    ui.install(app)  # the workspace: /ui (server-rendered pages) and /ui/static
    return app
