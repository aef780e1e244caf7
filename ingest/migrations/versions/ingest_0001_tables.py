"""ingest tables: device registry, dead letters, completeness ledger

Revision ID: ingest_0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "ingest_0001"
down_revision = None
branch_labels = ("ingest",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(256), nullable=False, server_default=""),
        sa.Column("firmware", sa.String(256), nullable=False, server_default=""),
        sa.Column("site", sa.String(256), nullable=False, server_default=""),
        sa.Column("hw_rev", sa.String(256), nullable=False, server_default=""),
        sa.Column("customer", sa.String(256), nullable=False, server_default=""),
        sa.Column("tier", sa.String(256), nullable=False, server_default=""),
        sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
        sa.Column("meta_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("online", sa.Boolean, nullable=True),
        sa.Column("status_ms", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("device", sa.String(64), nullable=True, index=True),
        sa.Column("firmware", sa.String(256), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reason_kind", sa.String(32), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("payload_size", sa.Integer, nullable=False),
    )
    op.create_table(
        "ingest_ledger",
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(16), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=True),
        sa.Column("received", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("late", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("resets", sa.Integer, nullable=False, server_default="0"),
        sa.Column("gaps_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("missing", sa.Text, nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    op.drop_table("ingest_ledger")
    op.drop_table("dead_letters")
    op.drop_table("devices")
