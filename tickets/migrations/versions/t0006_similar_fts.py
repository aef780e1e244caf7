"""tickets: the full-text index of resolved cases (SQLite FTS5, PostgreSQL tsvector + GIN), filled from history

Revision ID: t0006_similar_fts
Revises: t0005_queue_index
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "t0006_similar_fts"
down_revision = "t0005_queue_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE ticket_fts USING fts5(body)")
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE TABLE ticket_fts (ticket_id INTEGER PRIMARY KEY REFERENCES tickets (id), doc tsvector NOT NULL)")
        op.execute("CREATE INDEX ix_ticket_fts_doc ON ticket_fts USING gin (doc)")
    else:
        return
    from tickets.case_text import case_text
    from tickets.similar_search import index_case

    rows = bind.execute(sa.text(
        "SELECT id, title, explanation, evidence FROM tickets WHERE state IN ('resolved', 'closed') "
        "AND merged_into IS NULL AND root_cause IS NOT NULL AND root_cause NOT LIKE 'auto-resolved%'")).all()
    for r in rows:
        index_case(bind, r.id, case_text(r.title, r.explanation, r.evidence))


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS ticket_fts")
