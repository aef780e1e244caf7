"""Ticket-store fixtures: a migrated SQLite file and a throwaway PostgreSQL database.

PostgreSQL is used when it answers on 127.0.0.1:5432 (trust auth, database
``test``; another server through ``TEST_PG_ADMIN_URL``): each test session creates ``faultline_test_<random>`` and drops
only that database at the end. Without PostgreSQL those tests are skipped
with the reason.
"""

from __future__ import annotations

import os
import uuid

import pytest

from database import make_engine, migrate
from ticket_support import Clock

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _admin_connect():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True,
                           connect_timeout=3)


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL database created for this session (dropped at the end)."""
    try:
        import psycopg  # noqa: F401
        admin = _admin_connect()
    except Exception as exc:  # no server, no driver: skip, saying why
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    name = f"faultline_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    yield url
    with _admin_connect() as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _truncate_pg(url: str) -> None:
    from sqlalchemy import text

    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("TRUNCATE ticket_outbox, ticket_events, ticket_comments, ticket_devices, "
                          "ticket_pending_children, tickets RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A migrated, empty ticket store: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tickets.db'}"
        migrate(url)
        return url
    url = request.getfixturevalue("pg_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    migrate(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()
