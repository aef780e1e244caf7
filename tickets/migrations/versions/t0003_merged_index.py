"""tickets: index on merged_into (every ticket list filters on it)

Revision ID: t0003_merged_index
Revises: t0002_wider_names
Create Date: 2026-11-24
"""
from alembic import op

revision = "t0003_merged_index"
down_revision = "t0002_wider_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_merged_into", "tickets", ["merged_into"])


def downgrade() -> None:
    op.drop_index("ix_tickets_merged_into", table_name="tickets")
