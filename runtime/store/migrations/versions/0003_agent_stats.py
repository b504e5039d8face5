"""Agent figures per 15-minute slot (``agent_stats``), kept by the writer like
``interval_stats``: the agent and staffing reports over a month read a few
hundred thousand kept rows instead of clipping millions of agent intervals.

The figures of the intervals and ring_no_answer events already stored are
computed here, with the writer's own rules (runtime/store/rows.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-06-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_KEY = ("slot", "agent", "state", "reason", "grp")
_BATCH = 50_000


def upgrade() -> None:
    op.create_table(
        "agent_stats",
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("grp", sa.String(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("rings_unanswered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY),
    )
    _backfill()


def _backfill() -> None:
    # The writer's rules, not a copy of them: a test holds the two equal anyway.
    from runtime.store.rows import add_interval_figures, add_ring_unanswered

    bind = op.get_bind()
    figures: dict = {}
    intervals = sa.table("agent_intervals", *(sa.column(name) for name in (
        "agent", "state", "reason", "started_ts", "ended_ts", "call_id", "grp")))
    for row in bind.execute(sa.select(intervals.c.agent, intervals.c.state, intervals.c.reason,
                                      intervals.c.started_ts, intervals.c.ended_ts,
                                      intervals.c.call_id, intervals.c.grp)):
        add_interval_figures(figures, tuple(row))
    events = sa.table("events", sa.column("ts"), sa.column("kind"), sa.column("agent"),
                      sa.column("grp"))
    for ts, agent, grp in bind.execute(sa.select(events.c.ts, events.c.agent, events.c.grp)
                                       .where(events.c.kind == "ring_no_answer")):
        add_ring_unanswered(figures, ts, agent, grp)
    stats = sa.table("agent_stats", *(sa.column(name) for name in _KEY + (
        "seconds", "started", "rings_unanswered")))
    rows = [dict(zip(_KEY, key), seconds=values[0], started=int(values[1]),
                 rings_unanswered=int(values[2])) for key, values in sorted(figures.items())]
    for start in range(0, len(rows), _BATCH):
        bind.execute(stats.insert(), rows[start:start + _BATCH])


def downgrade() -> None:
    op.drop_table("agent_stats")
