"""Alerts: a version per alert state row, so processes sharing the table never overwrite each other.

Revision ID: alerts_0002
Revises: alerts_0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa

revision = "alerts_0002"
down_revision = "alerts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert_states", sa.Column("version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("alert_states") as batch:
        batch.drop_column("version")
