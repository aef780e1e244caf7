"""tickets: known issues from confirmed cohort root causes, and threshold adjustments from no-fault-found

Revision ID: t0008_feedback
Revises: t0007_after_sales
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "t0008_feedback"
down_revision = "t0007_after_sales"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_issues",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("attribute", sa.String(256), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("log_pattern", sa.String(512), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("fix", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("code", "attribute", name="uq_known_issues_signature"),
    )
    op.create_table(
        "threshold_adjustments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("detector", sa.String(128), nullable=False),
        sa.Column("cohort", sa.String(512), nullable=False),
        sa.Column("factor", sa.Float(), nullable=False),
        sa.Column("tickets", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("reverted_ms", sa.BigInteger(), nullable=True),
        sa.Column("reverted_by", sa.String(128), nullable=True),
    )
    op.create_index("ix_threshold_adjustments_detector", "threshold_adjustments", ["detector", "cohort"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("known_issue_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("known_issue_id")
    op.drop_index("ix_threshold_adjustments_detector", table_name="threshold_adjustments")
    op.drop_table("threshold_adjustments")
    op.drop_table("known_issues")
