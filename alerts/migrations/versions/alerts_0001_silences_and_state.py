"""Alerts: silences and the per-key alert state that survives restarts.

Revision ID: alerts_0001
Revises:
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa

revision = "alerts_0001"
down_revision = None
branch_labels = ("alerts",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("matchers", sa.Text, nullable=False),
        sa.Column("starts_at_ms", sa.BigInteger, nullable=False),
        sa.Column("ends_at_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_alert_silences_ends_at_ms", "alert_silences", ["ends_at_ms"])
    op.create_table(
        "alert_states",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_states")
    op.drop_index("ix_alert_silences_ends_at_ms", table_name="alert_silences")
    op.drop_table("alert_silences")
