"""Where concrete things are built: settings in, clients and stages out.

Every command and `faultline run` gets its InfluxDB client and its SQL
engine here, so "where is this built?" has one answer. The stages below
never read `Settings`; they take what is built here.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from database import make_engine, migrate
from faultline.settings import Settings
from influx.client import InfluxClient

if TYPE_CHECKING:
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
    (sinks, persistent_session, supervisor, spool, completeness_ledger).
    """
    from ingest.config import IngestConfig  # here, so a command that needs no ingest does not load MQTT
    from ingest.service import IngestService

    return IngestService(IngestConfig.from_settings(settings), influx_client(settings),
                         engine if engine is not None else sql_engine(settings),
                         sql_engine(settings, durable=True), **options)


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
    from tickets.wiring import build_service

    manager = AlertManager(AlertConfig.from_settings(settings), SqlAlertStore(engine), InfluxEventWriter(client),
                           now=clock)
    return {"alerts": manager, "tickets": build_service(settings, engine, influx_client=client),
            "gate": ThresholdGate(engine)}
