"""The tickets branch of the Alembic migrations matches the models, and goes down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from database import Base, alembic_config, make_engine, migrate
from tickets import models

OURS = {t.name for t in Base.metadata.sorted_tables if t.name.startswith("ticket")}


def _our_diffs(url: str) -> list:
    engine = make_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()

    def table_of(d):
        d = d[0] if isinstance(d, list) else d
        obj = d[1] if len(d) > 1 else None
        name = getattr(obj, "name", None) if d[0].endswith("table") else getattr(getattr(obj, "table", None), "name", None)
        return name or (d[2] if len(d) > 2 and isinstance(d[2], str) else None)

    ours = [d for d in diffs if table_of(d) in OURS]
    # the queue search's trigram indexes are PostgreSQL's alone, made by t0009 and not in the models
    # (tests/tickets/test_queue_search.py checks that they exist and serve the search)
    ours = [d for d in ours if not (isinstance(d, tuple) and d[0] == "remove_index" and d[1].name.endswith("_trgm"))]
    if url.startswith("sqlite"):  # SQLite does not enforce VARCHAR lengths (see t0002)
        ours = [d for d in ours if not (isinstance(d, list) and d[0][0] == "modify_type")]
    return ours


def test_models_and_migrations_agree(db_url):
    assert OURS == {"tickets", "ticket_devices", "ticket_pending_children", "ticket_comments", "ticket_events",
                    "ticket_outbox"}
    assert models.TicketRow.__table__.name == "tickets"
    assert _our_diffs(db_url) == []


def test_tickets_branch_downgrades_and_upgrades(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    command.downgrade(alembic_config(url), "tickets@base")
    engine = make_engine(url)
    with engine.connect() as conn:
        names = set(conn.dialect.get_table_names(conn))
    engine.dispose()
    assert not names & OURS
    migrate(url)
    assert _our_diffs(url) == []
