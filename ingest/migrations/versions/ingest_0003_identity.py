"""device identity: broker credentials, operator-pinned cohort attributes, meta claims and the audit trail

Revision ID: ingest_0003
Revises: ingest_0002
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "ingest_0003"
down_revision = "ingest_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broker_credentials",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked_ms", sa.BigInteger, nullable=True),
    )
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "device_meta_claims",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), nullable=False, index=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("claimed", sa.Text, nullable=False),
        sa.Column("contradicts", sa.String(64), nullable=False),
    )
    op.create_table(
        "device_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), nullable=False, index=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("device_audit")
    op.drop_table("device_meta_claims")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("pinned")
    op.drop_table("broker_credentials")
