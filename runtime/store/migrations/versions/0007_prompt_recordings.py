"""Uploaded prompt recordings (``prompt_recordings``): per prompt name and language,
the WAV audio itself, so that every server on the database can play it
(runtime/store/prompt_recordings.py).

Revision ID: 0007
Revises: 0005 (on main with the console foundation; the integrator sets the revision before it)
Create Date: 2026-12-03
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "prompt_recordings",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.String(), nullable=False),
        sa.Column("uploaded_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("name", "language"),
    )


def downgrade() -> None:
    op.drop_table("prompt_recordings")
