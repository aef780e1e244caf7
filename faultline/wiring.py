"""Where concrete things are built: settings in, clients and stages out.

Every command and `faultline run` gets its InfluxDB client and its SQL
engine here, so "where is this built?" has one answer. The stages below
never read `Settings`; they take what is built here.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable

from sqlalchemy import Engine

from database import make_engine, migrate
from faultline.settings import Settings
from influx.client import InfluxClient
from runtime.clock import wall_ms

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tickets.config import TicketsConfig
    from tickets.service import TicketService
    from tickets.webhook import Outbox
    from tickets.wiring import Job
    from tickets.workflow import Workflow
    from ingest.ledger_keeper import LedgerKeeper
    from ingest.service import IngestService

_migrated: set[str] = set()
_migrated_lock = threading.Lock()


def influx_client(settings: Settings) -> InfluxClient:
    """The InfluxDB client for `settings` (URL, database, credentials, timeout)."""
    return InfluxClient(settings.influx_url, settings.influx_db, settings.influx_user,
                        settings.influx_password.get_secret_value(), settings.influx_timeout_s)


def sql_engine(settings: Settings, *, durable: bool = False) -> Engine:
    """The SQL engine for `settings`, its database migrated to every stage's head (once per process)."""
    url = settings.sql_url
    with _migrated_lock:
        if url not in _migrated:
            migrate(url)
            _migrated.add(url)
    return make_engine(url, durable=durable)


# --- ingest -----------------------------------------------------------------------


def ingest_service(settings: Settings, *, engine: Engine | None = None, **options) -> IngestService:
    """The ingest service for `settings`: its config, InfluxDB client, SQL engine and durable engine.

    `engine` (already migrated) is shared when given; `options` are `IngestService`'s own
    (sinks, persistent_session, supervisor, spool, ledger_feed).
    """
    from ingest.config import IngestConfig  # here, so a command that needs no ingest does not load MQTT
    from ingest.service import IngestService

    return IngestService(IngestConfig.from_settings(settings), influx_client(settings),
                         engine if engine is not None else sql_engine(settings),
                         sql_engine(settings, durable=True), **options)


def relay_subscriber(settings: Settings, on_message, workers: int):
    """The MQTT session of `faultline ingest --workers N` (`ingest.relay`): one process's own, with the window
    of N workers."""
    from ingest.config import IngestConfig
    from ingest.relay import window
    from ingest.service import session

    config = IngestConfig.from_settings(settings)
    return session(IngestConfig.from_settings(settings, mqtt_max_inflight=window(config, workers)[0]), on_message)


def ledger_keeper(settings: Settings) -> LedgerKeeper:
    """The one completeness ledger of `faultline ingest --workers N`, fed by its workers (ingest's settings)."""
    from ingest.config import IngestConfig
    from ingest.ledger import Ledger
    from ingest.ledger_keeper import LedgerKeeper

    config = IngestConfig.from_settings(settings)
    hold_ms = config.linger_ms + 2_000
    ledger = Ledger(grace_ms=int(config.gap_grace_s * 1000), engine=sql_engine(settings), reorder_ms=hold_ms)
    return LedgerKeeper(ledger, influx_client(settings), config.stats_interval_s, config.idle_ms, hold_ms)


# --- the detect → alert → ticket pipeline (`faultline run`, `faultline detect`) ---------------------

def decode_limits(settings: Settings):
    """The decode limits of every consumer of device messages: ingest's own, so detect decodes as ingest stores
    (payload size, clock skew, maximum age, ...)."""
    from ingest.config import IngestConfig

    return IngestConfig.from_settings(settings).decode_limits


def pipeline(settings: Settings, client: InfluxClient, *, detector_config=None, engine: Engine | None = None,
             alerts: bool = True, guard=None):
    """`faultline.pipeline.Pipeline` for `settings`: detectors (``detector_config`` or the settings' own),
    anomalies to InfluxDB through `client`, and with ``alerts`` the alert and ticket stages on `engine` (default:
    `sql_engine(settings)`), the alert manager's ``now`` the pipeline's event clock."""
    from detectors.engine import DetectorEngine, EngineConfig
    from detectors.sink import AnomalySink
    from faultline.pipeline import Pipeline, unguarded
    from runtime.clock import EventClock

    clock = EventClock()
    detectors = DetectorEngine(detector_config if detector_config is not None else EngineConfig.from_settings(settings))
    parts = alert_stages(settings, engine if engine is not None else sql_engine(settings), client, clock) if alerts \
        else {}
    return Pipeline(detectors, AnomalySink(client), clock=clock, guard=guard or unguarded, **parts)


def alert_stages(settings: Settings, engine: Engine, client: InfluxClient, clock) -> dict:
    """The pipeline's alert half over one SQL engine and InfluxDB client, alert time from `clock`:
    ``alerts`` (the alert manager), ``tickets`` (the ticket service) and ``gate`` (raised thresholds)."""
    from alerts.config import AlertConfig
    from alerts.events import InfluxEventWriter
    from alerts.manager import AlertManager
    from alerts.store import SqlAlertStore
    from tickets.threshold_feedback import ThresholdGate

    manager = AlertManager(AlertConfig.from_settings(settings), SqlAlertStore(engine), InfluxEventWriter(client),
                           now=clock)
    return {"alerts": manager, "tickets": ticket_service(settings, engine, influx=client),
            "gate": ThresholdGate(engine)}


# --- the ticket stage ------------------------------------------------------------------------


def tickets_config(settings: Settings) -> TicketsConfig:
    """The ticket stage's configuration."""
    from tickets.config import TicketsConfig

    return TicketsConfig.from_settings(settings)


def ticket_service(settings: Settings, engine: Engine, *, influx: InfluxClient | None = None,
                   now: Callable[[], int] = wall_ms) -> TicketService:
    """The ticket service over `engine`, gathering evidence through `influx` (built from settings if not given)."""
    from tickets.wiring import build_service

    return build_service(tickets_config(settings), engine, influx if influx is not None else influx_client(settings),
                         now=now)


def ticket_workflow(settings: Settings, engine: Engine, *, now: Callable[[], int] = wall_ms) -> Workflow:
    """The technicians' ticket workflow over `engine`."""
    from tickets.wiring import build_workflow

    return build_workflow(tickets_config(settings), engine, now=now)


def ticket_outbox(settings: Settings, engine: Engine, *, now: Callable[[], int] = wall_ms) -> Outbox | None:
    """The webhook outbox, or None when no webhook URL is configured."""
    from tickets.wiring import build_outbox

    return build_outbox(tickets_config(settings), engine, now)


def ticket_jobs(settings: Settings, service: TicketService) -> list[Job]:
    """The ticket stage's periodic jobs for `faultline run`'s scheduler (`tickets.wiring.scheduled_jobs`)."""
    from tickets.wiring import scheduled_jobs

    return scheduled_jobs(service, ticket_outbox(settings, service.engine), tickets_config(settings))


# --- the API ----------------------------------------------------------------------------------


def api_app(settings: Settings, *, engine: Engine | None = None, influx: InfluxClient | None = None,
            alerts=None, workflow: Workflow | None = None, now: Callable[[], int] | None = None,
            pipeline=None, tickets: TicketService | None = None) -> FastAPI:
    """The API over `settings` (`api.app.create_app`): the parts given are shared, the missing ones built here.

    `engine` is assumed migrated (the caller owns it); without one, the
    database at ``settings.sql_url`` is migrated and opened. `alerts` (the
    alert manager) defaults to the alert stage's SQL store, `workflow` and
    `tickets` (the ticket service) to new ones over the same engine. `now`
    returns epoch milliseconds; `pipeline` (``faultline run``) adds the
    broker and the pipeline's liveness to ``/ready``.
    """
    from api.app import create_app
    from api.config import ApiConfig

    now = now or wall_ms
    engine = engine if engine is not None else sql_engine(settings)
    influx = influx if influx is not None else influx_client(settings)
    return create_app(ApiConfig.from_settings(settings), engine=engine, influx=influx,
                      workflow=workflow or ticket_workflow(settings, engine, now=now),
                      tickets=tickets or ticket_service(settings, engine, influx=influx, now=now),
                      alerts=alerts, now=now, pipeline=pipeline, settings=settings)


def api_from_environment() -> FastAPI:
    """The API over the settings of the environment: the factory each `faultline api --workers` process runs."""
    from faultline.settings import load_settings

    return api_app(load_settings())
