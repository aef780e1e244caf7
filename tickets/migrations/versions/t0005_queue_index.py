"""tickets: the queue's index (by severity, oldest first)

Revision ID: t0005_queue_index
Revises: t0004_source_and_root_cause
Create Date: 2026-12-05
"""
from alembic import op

revision = "t0005_queue_index"
down_revision = "t0004_source_and_root_cause"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_queue", "tickets", ["severity", "opened_ms", "id"])


def downgrade() -> None:
    op.drop_index("ix_tickets_queue", table_name="tickets")
