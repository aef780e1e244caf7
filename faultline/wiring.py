"""Where concrete things are built: settings in, clients and stages out.

Every command and `faultline run` gets its InfluxDB client and its SQL
engine here, so "where is this built?" has one answer. The stages below
never read `Settings`; they take what is built here.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from database import make_engine, migrate
from faultline.settings import Settings
from influx.client import InfluxClient

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
