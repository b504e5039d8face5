"""Statistics: the contact record (new columns of ``calls``), queue segments, the event log,
agent-state intervals, survey answers and the 15-minute figures per group.

Calls stored before this revision get the new columns computed from what they
have (their talk time then runs to the end of the call, their thresholds are
the defaults, 20 s and 5 s) and their figures in ``interval_stats``
(group "", the whole site): the reports include them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-06-01
"""
import datetime as dt
import json
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_CALL_COLUMNS = (
    sa.Column("channel", sa.String(), nullable=False, server_default="voice"),
    sa.Column("script_version", sa.Integer(), nullable=True),
    sa.Column("lookup_key", sa.String(), nullable=False, server_default=""),
    sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("first_group", sa.String(), nullable=False, server_default=""),
    sa.Column("arrived_ts", sa.Float(), nullable=True),
    sa.Column("agent_ended_ts", sa.Float(), nullable=True),
    sa.Column("slot", sa.Integer(), nullable=True),
    sa.Column("wait", sa.Float(), nullable=True),
    sa.Column("talk", sa.Float(), nullable=True),
    sa.Column("callback_answered", sa.Boolean(), nullable=True),
    sa.Column("threshold", sa.Float(), nullable=True),
    sa.Column("short_abandon", sa.Float(), nullable=True),
)
_COUNTERS = ("offered", "queued", "answered", "answered_in_sl", "abandoned", "short_abandoned",
             "answered_elsewhere", "removed", "callback", "callback_answered", "transferred",
             "voicemail", "hung_up", "failed", "ended")
_SUMS = ("wait_answered", "wait_abandoned", "max_wait", "talk")


def upgrade() -> None:
    for column in _CALL_COLUMNS:
        op.add_column("calls", column)
    op.create_index("ix_calls_arrived_ts", "calls", ["arrived_ts"])
    # Lookups by call id use the unique (call_id, arrived_at) index, and nothing looks
    # calls up by agent alone: these two only slowed every insert down.
    op.drop_index("ix_calls_call_id", table_name="calls")
    op.drop_index("ix_calls_agent", table_name="calls")
    op.create_table(
        "queue_segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("grp", sa.String(), nullable=False),
        sa.Column("entered_ts", sa.Float(), nullable=False),
        sa.Column("left_ts", sa.Float(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("how", sa.String(), nullable=False),
        sa.Column("wait", sa.Float(), nullable=False),
        sa.Column("talk", sa.Float(), nullable=True),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("short_abandon", sa.Float(), nullable=False),
    )
    op.create_index("ix_queue_segments_contact_id", "queue_segments", ["contact_id"])
    op.create_index("ix_queue_segments_slot_grp", "queue_segments", ["slot", "grp"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("grp", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("data", sa.String(), nullable=False),
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("grp", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("data", sa.String(), nullable=False),
    )
    op.create_index("ix_agent_events_ts", "agent_events", ["ts"])
    op.create_index("ix_agent_events_agent_ts_kind", "agent_events", ["agent", "ts", "kind"],
                    unique=True)
    op.create_table(
        "agent_intervals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("started_ts", sa.Float(), nullable=False),
        sa.Column("ended_ts", sa.Float(), nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("grp", sa.String(), nullable=False),
    )
    op.create_index("ix_agent_intervals_started_ts", "agent_intervals", ["started_ts"])
    op.create_index("ix_agent_intervals_agent_started", "agent_intervals",
                    ["agent", "started_ts", "state"], unique=True)
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("grp", sa.String(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
    )
    op.create_index("ix_survey_answers_contact_id", "survey_answers", ["contact_id"])
    op.create_index("ix_survey_answers_question", "survey_answers", ["question"])
    op.create_index("ix_survey_answers_ts", "survey_answers", ["ts"])
    op.create_table(
        "interval_stats",
        sa.Column("slot", sa.Integer(), primary_key=True),
        sa.Column("grp", sa.String(), primary_key=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTERS],
        *[sa.Column(name, sa.Float(), nullable=False) for name in _SUMS],
    )
    _backfill_calls()


def _utc_ts(moment):
    if moment is None:
        return None
    if isinstance(moment, str):        # SQLite hands back text where the type is not declared
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:          # SQLite stores UTC without the zone
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def _backfill_calls() -> None:
    """Calls stored before statistics existed: their new columns and site figures."""
    bind = op.get_bind()
    calls = sa.table("calls", *(sa.column(name) for name in (
        "id", "arrived_at", "queued_at", "answered_at", "ended_at", "outcome", "groups",
        "arrived_ts", "slot", "wait", "talk", "first_group", "threshold", "short_abandon",
        "callback_answered")))
    rows = bind.execute(sa.select(calls.c.id, calls.c.arrived_at, calls.c.queued_at,
                                  calls.c.answered_at, calls.c.ended_at, calls.c.outcome,
                                  calls.c.groups)).all()
    if not rows:
        return
    updates, figures = [], {}
    for row in rows:
        arrived, queued, answered, ended = (_utc_ts(row.arrived_at), _utc_ts(row.queued_at),
                                            _utc_ts(row.answered_at), _utc_ts(row.ended_at))
        until = answered if answered is not None else ended
        wait = None if queued is None or until is None else max(0.0, until - queued)
        talk = None if answered is None or ended is None else max(0.0, ended - answered)
        try:
            groups = json.loads(row.groups or "[]")
        except ValueError:
            groups = []
        slot = int(arrived // 900)
        updates.append({"key": row.id, "arrived_ts": arrived, "slot": slot, "wait": wait,
                        "talk": talk, "first_group": str(groups[0]) if groups else "",
                        "threshold": 20.0, "short_abandon": 5.0,
                        "callback_answered": (answered is not None)
                        if row.outcome == "callback" else None})
        figure = figures.setdefault(slot, dict.fromkeys(_COUNTERS + _SUMS, 0))
        figure["offered"] += 1
        figure["queued"] += queued is not None
        outcome = row.outcome
        if outcome == "answered":
            figure["answered"] += 1
            figure["answered_in_sl"] += wait is not None and wait <= 20.0
            figure["wait_answered"] += wait or 0.0
            figure["talk"] += talk or 0.0
        elif outcome == "abandoned":
            figure["abandoned"] += 1
            figure["short_abandoned"] += wait is not None and wait < 5.0
            figure["wait_abandoned"] += wait or 0.0
        elif outcome == "callback":
            figure["callback"] += 1
            figure["callback_answered"] += answered is not None
        elif outcome in ("transferred", "voicemail", "hung_up", "failed"):
            figure[outcome] += 1
        figure["max_wait"] = max(figure["max_wait"], wait or 0.0)
    bind.execute(calls.update().where(calls.c.id == sa.bindparam("key")).values(
        arrived_ts=sa.bindparam("arrived_ts"), slot=sa.bindparam("slot"),
        wait=sa.bindparam("wait"), talk=sa.bindparam("talk"),
        first_group=sa.bindparam("first_group"), threshold=sa.bindparam("threshold"),
        short_abandon=sa.bindparam("short_abandon"),
        callback_answered=sa.bindparam("callback_answered")), updates)
    stats = sa.table("interval_stats", sa.column("slot"), sa.column("grp"),
                     *(sa.column(name) for name in _COUNTERS + _SUMS))
    bind.execute(stats.insert(), [{"slot": slot, "grp": "", **values}
                                  for slot, values in sorted(figures.items())])


def downgrade() -> None:
    for table in ("interval_stats", "survey_answers", "agent_intervals", "agent_events",
                  "events", "queue_segments"):
        op.drop_table(table)
    op.drop_index("ix_calls_arrived_ts", table_name="calls")
    op.create_index("ix_calls_call_id", "calls", ["call_id"])
    op.create_index("ix_calls_agent", "calls", ["agent"])
    with op.batch_alter_table("calls") as batch:
        for column in reversed(_CALL_COLUMNS):
            batch.drop_column(column.name)
