"""tickets: cohort attributes as wide as the device registry's, subjects as wide as alert keys

Revision ID: t0002_wider_names
Revises: t0001_tickets
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa

revision = "t0002_wider_names"
down_revision = "t0001_tickets"
branch_labels = None
depends_on = None

WIDER = {"subject": (256, 512), "model": (64, 256), "firmware": (64, 256), "site": (64, 256),
         "customer": (64, 256), "tier": (32, 256)}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite does not enforce VARCHAR lengths; rebuilding the table is not worth it
    for column, (old, new) in WIDER.items():
        op.alter_column("tickets", column, type_=sa.String(new), existing_type=sa.String(old),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for column, (old, new) in WIDER.items():
        op.alter_column("tickets", column, type_=sa.String(old), existing_type=sa.String(new),
                        existing_nullable=False)
