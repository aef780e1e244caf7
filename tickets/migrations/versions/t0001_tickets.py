"""tickets: tickets, affected devices, pending children, comments, history, outbox

Revision ID: t0001_tickets
Revises:
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa

revision = "t0001_tickets"
down_revision = None
branch_labels = ("tickets",)
depends_on = None


def _ms(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detector", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("firmware", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        _ms("opened_ms"), _ms("acknowledged_ms", True), _ms("resolved_ms", True),
        _ms("closed_ms", True), _ms("reopened_ms", True), _ms("updated_ms"),
        sa.Column("alert_state", sa.String(16), nullable=False),
        _ms("alert_starts_ms"), _ms("onset_ms"), _ms("last_seen_ms"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("recurrences", sa.Integer(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("assignee", sa.String(128), nullable=True),
        sa.Column("team", sa.String(128), nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("merged_into", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("evidence_complete", sa.Boolean(), nullable=False),
        _ms("evidence_ms", True),
        sa.UniqueConstraint("key", "episode", name="uq_tickets_key_episode"),
    )
    op.create_index("ix_tickets_state", "tickets", ["state"])
    op.create_index("ix_tickets_assignee", "tickets", ["assignee"])
    op.create_table(
        "ticket_devices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("child_key", sa.String(512), nullable=True),
        _ms("attached_ms"),
        sa.UniqueConstraint("ticket_id", "device", name="uq_ticket_devices"),
    )
    op.create_index("ix_ticket_devices_ticket_id", "ticket_devices", ["ticket_id"])
    op.create_table(
        "ticket_pending_children",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("parent_key", sa.String(512), nullable=False),
        sa.Column("child_key", sa.String(512), nullable=False),
        sa.Column("device", sa.String(128), nullable=False),
        _ms("ts_ms"),
        sa.UniqueConstraint("parent_key", "child_key", name="uq_ticket_pending_children"),
    )
    op.create_index("ix_ticket_pending_children_parent_key", "ticket_pending_children", ["parent_key"])
    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _ms("ts_ms"),
    )
    op.create_index("ix_ticket_comments_ticket_id", "ticket_comments", ["ticket_id"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _ms("ts_ms"),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])
    op.create_table(
        "ticket_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(600), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _ms("created_ms"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ms("next_attempt_ms"),
        _ms("delivered_ms", True),
        sa.Column("dead", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("idempotency_key", name="uq_ticket_outbox_key"),
    )
    op.create_index("ix_ticket_outbox_due", "ticket_outbox", ["delivered_ms", "dead", "next_attempt_ms"])
    op.create_index("ix_ticket_outbox_ticket_id", "ticket_outbox", ["ticket_id"])


def downgrade() -> None:
    for index, table in (("ix_ticket_outbox_ticket_id", "ticket_outbox"), ("ix_ticket_outbox_due", "ticket_outbox"),
                         ("ix_ticket_events_ticket_id", "ticket_events"),
                         ("ix_ticket_comments_ticket_id", "ticket_comments"),
                         ("ix_ticket_pending_children_parent_key", "ticket_pending_children"),
                         ("ix_ticket_devices_ticket_id", "ticket_devices"),
                         ("ix_tickets_assignee", "tickets"), ("ix_tickets_state", "tickets")):
        op.drop_index(index, table_name=table)
    for table in ("ticket_outbox", "ticket_events", "ticket_comments", "ticket_pending_children",
                  "ticket_devices", "tickets"):
        op.drop_table(table)
