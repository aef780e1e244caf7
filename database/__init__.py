"""The SQL database: engine factory and migrations.

Each stage owns its tables and an Alembic branch of its own
(``<package>/migrations/versions``, with a ``branch_labels`` of the package
name); `migrate` upgrades every branch to its head. SQLite runs in WAL mode
with a busy timeout so several processes can share the file. An engine made
``durable`` commits with ``synchronous=FULL``: ingest acknowledges a message
to the broker once its dead letter, registry row or metric names are
committed, so that commit must survive a power loss, not only a crash of
the process (``NORMAL``, the default, may lose the last commits then).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase

MIGRATION_PACKAGES = ("ingest", "alerts", "tickets", "api")


class Base(DeclarativeBase):
    """Declarative base shared by every stage's tables."""


def make_engine(url: str, durable: bool = False) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout, foreign keys (and FULL sync when `durable`)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas_full if durable else _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas_full(dbapi_conn, record) -> None:
    _sqlite_pragmas(dbapi_conn, record, "FULL")


def _sqlite_pragmas(dbapi_conn, _record, synchronous: str = "NORMAL") -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={synchronous}")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def alembic_config(url: str):
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    locations = [str(root / pkg / "migrations" / "versions") for pkg in MIGRATION_PACKAGES
                 if (root / pkg / "migrations" / "versions").is_dir()]
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database at `url` to the head of every stage's branch."""
    from alembic import command

    command.upgrade(alembic_config(url), "heads")
