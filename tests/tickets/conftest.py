"""Ticket-store fixtures: a migrated SQLite file and a throwaway PostgreSQL database.

PostgreSQL is used when it answers (see `support.postgres`): each test
session creates ``faultline_test_<random>``, migrates it once and empties it
for every test. Without PostgreSQL those tests are skipped with the reason.
"""

from __future__ import annotations

import pytest

from database import make_engine, migrate
from support.clock import Clock
from support.postgres import postgres_database
from support.sqlite import migrated_sqlite
from support.tickets import ALERT_MS


@pytest.fixture
def clock() -> Clock:
    return Clock(ALERT_MS)


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL database created and migrated for this session (dropped at the end)."""
    with postgres_database("faultline_test") as url:
        migrate(url)
        yield url


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
        return migrated_sqlite(tmp_path / "tickets.db")
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
    eng = make_engine(migrated_sqlite(tmp_path / "tickets.db"))
    yield eng
    eng.dispose()
