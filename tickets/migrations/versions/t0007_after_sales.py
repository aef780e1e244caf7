"""tickets: first response, reopen count and the customer's satisfaction (rating, comment, one-time link)

Revision ID: t0007_after_sales
Revises: t0006_similar_fts
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "t0007_after_sales"
down_revision = "t0006_similar_fts"
branch_labels = None
depends_on = None

COLUMNS = (
    ("first_response_ms", lambda: sa.Column("first_response_ms", sa.BigInteger(), nullable=True)),
    ("reopens", lambda: sa.Column("reopens", sa.Integer(), nullable=False, server_default="0")),
    ("satisfaction", lambda: sa.Column("satisfaction", sa.Integer(), nullable=True)),
    ("satisfaction_comment", lambda: sa.Column("satisfaction_comment", sa.Text(), nullable=True)),
    ("satisfaction_by", lambda: sa.Column("satisfaction_by", sa.String(16), nullable=True)),
    ("satisfaction_nonce", lambda: sa.Column("satisfaction_nonce", sa.String(64), nullable=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for _, column in COLUMNS:
            batch.add_column(column())
    # recurrence by cause looks for a later ticket with the same confirmed attribute
    op.create_index("ix_tickets_confirmed_attribute", "tickets", ["confirmed_attribute", "opened_ms"])
    # existing tickets: an acknowledgement is their first response
    op.execute("UPDATE tickets SET first_response_ms = acknowledged_ms WHERE acknowledged_ms IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_tickets_confirmed_attribute", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
