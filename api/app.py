"""`create_app(settings, ...)`: the FastAPI application, built, never imported ready-made.

``faultline api`` calls it with settings alone (it then opens its own engine,
migrates the database and connects to InfluxDB); ``faultline run`` injects the
engine, InfluxDB client, alert manager, ticket workflow and clock it already
has, so both share one state.
"""

from __future__ import annotations

import time
from typing import Callable

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from api import docs, errors
from api.guards import DOCS_PATHS, METRICS_PATHS, BodyLimit, KeyGate
from api.context import ActiveAlerts, ApiContext, InfluxReader
from api import ui
from api.keys import KeyStore
from api.sessions import SessionStore, SignInThrottle
from api.users import UserStore
from api.kpi_metrics import KpiCollector
from api.metrics import ApiMetrics, instrument
from api.readiness import PipelineProbe, Readiness
from api.routes import alerts as alert_routes
from api.routes import apikeys, deadletters, devices, health, kpis, satisfaction, signature, silences, tickets
from api.stored_alerts import StoredAlerts
from api.strict_query import reject_unknown_query
from tickets.ticket_queries import counts_by_state
from database import make_engine, migrate
from faultline.settings import Settings
from influx.errors import InfluxError
from ingest import deadletters as dead_letters
from ingest.stats import totals_from as ingest_totals
from tickets.store import TicketNotFound
from tickets.service import TicketService
from tickets.wiring import build_service, build_workflow
from tickets.workflow import InvalidInput, InvalidTransition, Workflow

ERROR_STATUSES = {TicketNotFound: 404, InvalidTransition: 409, InvalidInput: 422}
DESCRIPTION = ("Devices, telemetry and logs, alerts, tickets and their workflow, silences, KPIs and "
               "dead letters. Authenticate with `Authorization: Bearer <API key>`; roles are "
               "viewer (reads) < technician (ticket workflow, silences) < admin (everything).")


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _influx_from(settings: Settings) -> InfluxReader:
    from influx.client import InfluxClient

    return InfluxClient(settings.influx_url, settings.influx_db, user=settings.influx_user,
                        password=settings.influx_password.get_secret_value(),
                        timeout=settings.influx_timeout_s)


def _metrics(engine: Engine, influx: InfluxReader) -> ApiMetrics:
    metrics = ApiMetrics()
    metrics.add_counts("faultline_tickets", "Tickets by state", "state", lambda: counts_by_state(engine))
    metrics.add_counts("faultline_dead_letters", "Dead letters by reason", "reason",
                       lambda: dead_letters.counts_by(engine, "reason_kind"))
    metrics.add_totals("faultline_ingest_messages", "Messages counted by ingest, by stage (stored, spooled, "
                       "decode/validate/write dead letters, clock_skew, redelivered) and reason",
                       ("stage", "reason"), lambda: ingest_totals(influx))
    return metrics


def from_environment() -> FastAPI:
    """The API over the settings of the environment (the factory each `faultline api --workers` process runs)."""
    from faultline.settings import load_settings

    return create_app(load_settings())


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    influx: InfluxReader | None = None,
    alerts: ActiveAlerts | None = None,
    workflow: Workflow | None = None,
    now: Callable[[], int] | None = None,
    pipeline: PipelineProbe | None = None,
    ticket_service: TicketService | None = None,
) -> FastAPI:
    """The API over `settings`; injected parts are shared, missing ones are built.

    An injected `engine` is assumed migrated (the caller owns it); without
    one, the database at ``settings.sql_url`` is migrated here. `now` returns
    epoch milliseconds. Without `alerts`, active alerts are read from the
    alert stage's SQL store; without `workflow`, one is built (queuing
    webhook deliveries when ``tickets_webhook_url`` is set). `pipeline` (given by ``faultline run``)
    adds the broker connection and the pipeline's liveness to ``/ready``.
    Without `ticket_service` (the one customer reports go through), one is
    built from the settings.
    """
    if engine is None:
        migrate(settings.sql_url)
        engine = make_engine(settings.sql_url)
    now = now or _wall_ms
    influx = influx if influx is not None else _influx_from(settings)
    ctx = ApiContext(settings=settings, engine=engine, keys=KeyStore(engine, now), influx=influx,
                     alerts=alerts if alerts is not None else StoredAlerts(engine),
                     workflow=workflow or build_workflow(settings, engine, now=now), now=now,
                     metrics=_metrics(engine, influx),
                     readiness=Readiness(engine, influx, pipeline, settings.ready_cache_s),
                     tickets=ticket_service or build_service(settings, engine, now=now, influx_client=influx),
                     users=UserStore(engine, now),
                     sessions=SessionStore(engine, now, settings.ui_session_hours * 3600),
                     throttle=SignInThrottle(settings.ui_signin_attempts, settings.ui_signin_window_s))
    app = FastAPI(title="Faultline API", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None)
    docs.install(app)  # /docs and /redoc with local assets (no CDN)
    app.state.ctx = ctx
    ctx.metrics.registry.register(KpiCollector(engine, now, settings.tickets_recurrence_days))
    errors.install(app, ERROR_STATUSES)
    app.add_exception_handler(InfluxError, errors.influx_unavailable)
    instrument(app, ctx.metrics)
    app.add_middleware(KeyGate, gates={DOCS_PATHS: settings.api_docs_key.get_secret_value(),
                                       METRICS_PATHS: settings.api_metrics_key.get_secret_value()})
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)  # outermost: before anything reads
    app.include_router(health.router)
    for resource in (tickets, alert_routes, silences, kpis, devices, deadletters, apikeys, satisfaction, signature):
        app.include_router(resource.router, dependencies=[Depends(reject_unknown_query)])
    ui.install(app)  # the workspace: /ui (server-rendered pages) and /ui/static
    return app
