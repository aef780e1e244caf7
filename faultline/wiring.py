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
