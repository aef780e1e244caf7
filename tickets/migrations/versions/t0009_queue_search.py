"""tickets: an index for the queue's text search (SQLite FTS5 trigram table kept by triggers, PostgreSQL pg_trgm)

The queue's search matches each word anywhere in a ticket's title, subject
or explanation (`tickets.queue.QueueQuery`). Without an index that is a scan
of every ticket, three times a page (count, tally, rows). SQLite: a
``ticket_search`` FTS5 table with the trigram tokenizer (substring matches,
case-insensitive) holds those three texts per ticket id, kept in step by
triggers on ``tickets``. PostgreSQL: a trigram GIN index on the three
texts joined by a space serves ``ILIKE`` on that same expression. Where the trigram tokenizer or the pg_trgm
extension is not available, nothing is created and the search stays a scan.

Revision ID: t0009_queue_search
Revises: t0008_feedback
Create Date: 2026-12-06
"""
import logging

from alembic import op
import sqlalchemy as sa

revision = "t0009_queue_search"
down_revision = "t0008_feedback"
branch_labels = None
depends_on = None

log = logging.getLogger("faultline.migrations")
BODY = "coalesce({0}.title, '') || char(10) || coalesce({0}.subject, '') || char(10) || coalesce({0}.explanation, '')"
PG_TEXT = "(coalesce(title, '') || ' ' || coalesce(subject, '') || ' ' || coalesce(explanation, ''))"  # as searched


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite(bind)
    elif bind.dialect.name == "postgresql":
        _postgresql(bind)


def _sqlite(bind) -> None:
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE VIRTUAL TABLE ticket_search USING fts5(body, tokenize='trigram')"))
    except sa.exc.OperationalError as exc:  # an SQLite before 3.34 has no trigram tokenizer
        log.warning("the queue's text search stays a scan: %s", exc)
        return
    new, old = BODY.format("new"), "old.id"
    bind.execute(sa.text(f"CREATE TRIGGER ticket_search_insert AFTER INSERT ON tickets BEGIN "
                         f"INSERT INTO ticket_search (rowid, body) VALUES (new.id, {new}); END"))
    bind.execute(sa.text(f"CREATE TRIGGER ticket_search_update AFTER UPDATE OF title, subject, explanation ON tickets "
                         f"BEGIN DELETE FROM ticket_search WHERE rowid = {old}; "
                         f"INSERT INTO ticket_search (rowid, body) VALUES (new.id, {new}); END"))
    bind.execute(sa.text(f"CREATE TRIGGER ticket_search_delete AFTER DELETE ON tickets BEGIN "
                         f"DELETE FROM ticket_search WHERE rowid = {old}; END"))
    bind.execute(sa.text(f"INSERT INTO ticket_search (rowid, body) SELECT id, {BODY.format('tickets')} FROM tickets"))


def _postgresql(bind) -> None:
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:  # not installed, or not allowed to this role
        log.warning("the queue's text search stays a scan: pg_trgm is not available (%s)", str(exc).splitlines()[0])
        return
    bind.execute(sa.text(f"CREATE INDEX ix_tickets_search_trgm ON tickets USING gin ({PG_TEXT} gin_trgm_ops)"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            bind.execute(sa.text(f"DROP TRIGGER IF EXISTS ticket_search_{name}"))
        bind.execute(sa.text("DROP TABLE IF EXISTS ticket_search"))
    elif bind.dialect.name == "postgresql":
        bind.execute(sa.text("DROP INDEX IF EXISTS ix_tickets_search_trgm"))
