"""tickets: source (detector or customer), the customer report's fields, root cause against the attribution

Revision ID: t0004_source_and_root_cause
Revises: t0003_merged_index
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "t0004_source_and_root_cause"
down_revision = "t0003_merged_index"
branch_labels = None
depends_on = None

COLUMNS = (
    ("source", lambda: sa.Column("source", sa.String(16), nullable=False, server_default="detector")),
    ("reported_ms", lambda: sa.Column("reported_ms", sa.BigInteger(), nullable=True)),
    ("symptom", lambda: sa.Column("symptom", sa.Text(), nullable=True)),
    ("frequency", lambda: sa.Column("frequency", sa.String(32), nullable=True)),
    ("impact", lambda: sa.Column("impact", sa.String(32), nullable=True)),
    ("contact", lambda: sa.Column("contact", sa.String(256), nullable=True)),
    ("root_cause_category", lambda: sa.Column("root_cause_category", sa.String(32), nullable=True)),
    ("confirmed_attribute", lambda: sa.Column("confirmed_attribute", sa.String(256), nullable=True)),
    ("attribution", lambda: sa.Column("attribution", sa.String(16), nullable=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for _, column in COLUMNS:
            batch.add_column(column())
    op.create_index("ix_tickets_source", "tickets", ["source"])


def downgrade() -> None:
    op.drop_index("ix_tickets_source", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
