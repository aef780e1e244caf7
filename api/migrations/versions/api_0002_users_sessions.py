"""Users who sign in to the workspace (argon2 hashes) and their server-side sessions.

Revision ID: api_0002
Revises: api_0001
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "api_0002"
down_revision = "api_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("disabled_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_users_name", "users", ["name"], unique=True)
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ui_sessions_token_hash", "ui_sessions", ["token_hash"], unique=True)
    op.create_index("ix_ui_sessions_user_id", "ui_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_ui_sessions_user_id", table_name="ui_sessions")
    op.drop_index("ix_ui_sessions_token_hash", table_name="ui_sessions")
    op.drop_table("ui_sessions")
    op.drop_index("ix_users_name", table_name="users")
    op.drop_table("users")
