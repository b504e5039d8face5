"""The schema before migrations: script versions, calls, agents, hot prompts.

Exactly what ``SQLModel.metadata.create_all`` made before revision 0002; a
database made that way (no ``alembic_version`` table) is stamped with this
revision when first opened (runtime/store/migrate.py), then upgraded.

Revision ID: 0001
Revises:
Create Date: 2026-06-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "script_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("bytecode", sa.LargeBinary(), nullable=False),
        sa.Column("source_hash", sa.String(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.String(), nullable=False),
    )
    op.create_index("ix_script_versions_name", "script_versions", ["name"])
    op.create_index("ix_script_versions_active", "script_versions", ["active"])
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("caller", sa.String(), nullable=False),
        sa.Column("dialled", sa.String(), nullable=False),
        sa.Column("script", sa.String(), nullable=False),
        sa.Column("script_hash", sa.String(), nullable=False),
        sa.Column("arrived_at", _TIME, nullable=False),
        sa.Column("queued_at", _TIME, nullable=True),
        sa.Column("answered_at", _TIME, nullable=True),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("groups", sa.String(), nullable=False),
        sa.Column("answered_group", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("digits", sa.String(), nullable=False),
        sa.Column("saved", sa.String(), nullable=False),
        sa.Column("error", sa.String(), nullable=False),
        sa.UniqueConstraint("call_id", "arrived_at", name="calls_call_arrival"),
    )
    op.create_index("ix_calls_call_id", "calls", ["call_id"])
    op.create_index("ix_calls_caller", "calls", ["caller"])
    op.create_index("ix_calls_agent", "calls", ["agent"])
    op.create_table(
        "agents",
        sa.Column("agent_id", sa.String(), primary_key=True),
        sa.Column("logged_in", sa.Boolean(), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("pause_reason", sa.String(), nullable=False),
        sa.Column("groups", sa.String(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_table(
        "hot_prompts",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )


def downgrade() -> None:
    for table in ("hot_prompts", "agents", "calls", "script_versions"):
        op.drop_table(table)
