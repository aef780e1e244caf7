"""`create_app(settings, ...)`: the FastAPI application, built, never imported ready-made.

``faultline api`` calls it with settings alone (it then opens its own engine,
migrates the database and connects to InfluxDB); ``faultline run`` injects the
engine, InfluxDB client, alert manager and clock it already has.
"""

from __future__ import annotations

import time
from typing import Callable

from fastapi import FastAPI
from sqlalchemy import Engine

from api import errors
from api.context import ActiveAlerts, ApiContext, InfluxReader
from api.keys import KeyStore
from api.metrics import ApiMetrics, instrument
from api.routes import apikeys, devices, health, silences
from faultline.db import make_engine, migrate
from faultline.settings import Settings


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _influx_from(settings: Settings) -> InfluxReader:
    from influx.client import InfluxClient

    return InfluxClient(settings.influx_url, settings.influx_db, user=settings.influx_user,
                        password=settings.influx_password.get_secret_value(),
                        timeout=settings.influx_timeout_s)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    influx: InfluxReader | None = None,
    alerts: ActiveAlerts | None = None,
    now: Callable[[], int] | None = None,
) -> FastAPI:
    """The API over `settings`; injected parts are shared, missing ones are built.

    An injected `engine` is assumed migrated (the caller owns it); without
    one, the database at ``settings.sql_url`` is migrated here.
    """
    if engine is None:
        migrate(settings.sql_url)
        engine = make_engine(settings.sql_url)
    now = now or _wall_ms
    ctx = ApiContext(settings=settings, engine=engine, keys=KeyStore(engine, now),
                     influx=influx if influx is not None else _influx_from(settings),
                     alerts=alerts, now=now, metrics=ApiMetrics())
    app = FastAPI(title="Faultline API", version="1",
                  description="Devices, telemetry and logs, alerts, tickets and their workflow, "
                              "silences, KPIs and dead letters. Authenticate with "
                              "`Authorization: Bearer <API key>`.")
    app.state.ctx = ctx
    errors.install(app)
    instrument(app, ctx.metrics)
    app.include_router(health.router)
    for resource in (devices, silences, apikeys):
        app.include_router(resource.router)
    return app
