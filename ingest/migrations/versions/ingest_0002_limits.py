"""ingest limits: metric-name catalogue per device; dead letters keep a digest of oversized payloads

Revision ID: ingest_0002
Revises: ingest_0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "ingest_0002"
down_revision = "ingest_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_fields",
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("first_ms", sa.BigInteger, nullable=False, server_default="0"),
    )
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("payload_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("payload_sha256")
    op.drop_table("device_fields")
