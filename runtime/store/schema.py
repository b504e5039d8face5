"""The statistics tables (besides the contact record, ``calls``, in runtime/store/database.py).

Times are UTC epoch seconds (``*_ts``, double precision): the report queries
compute durations and overlaps with plain arithmetic that SQLite and
PostgreSQL evaluate alike, and the writer inserts numbers, the cheapest value
there is. ``slot`` is the 15-minute slot of a time, ``floor(ts / 900)``:
every time zone's offset is a whole number of quarter hours, so a UTC slot is
also a local quarter hour, and half hours, hours and days are made of slots.

The schema is created and changed by migrations (runtime/store/migrations/),
never by ``create_all``; a test compares the migrated schema to these models.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

SLOT_SECONDS = 900


class QueueSegmentRow(SQLModel, table=True):
    """A call's stint in one group (overflow statistics, per-group figures)."""

    __tablename__ = "queue_segments"
    __table_args__ = (Index("ix_queue_segments_slot_grp", "slot", "grp"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="calls.id", index=True)
    seq: int = 0                     # 0, 1, ... in the order the call joined its groups
    grp: str                         # the group ("group" is an SQL keyword)
    entered_ts: float
    left_ts: float
    slot: int                        # of entered_ts
    how: str                         # runtime.store.facts.SEGMENT_ENDINGS
    wait: float                      # seconds in the group
    talk: Optional[float] = None     # answered here: seconds connected
    agent: str = ""                  # answered here: by whom
    threshold: float                 # service-level threshold in force (or the call's target)
    short_abandon: float             # short-abandon threshold in force


class EventRow(SQLModel, table=True):
    """The event log of calls (written with their contact; see AgentEventRow for agents')."""

    __tablename__ = "events"
    id: Optional[int] = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="calls.id")
    call_id: str
    ts: float = Field(index=True)
    kind: str                        # runtime.store.facts.EVENT_KINDS
    grp: str = ""
    agent: str = ""
    data: str = ""                   # JSON object, "" when there is nothing


class AgentEventRow(SQLModel, table=True):
    """The event log of agents: login, logout, pause, unpause (no call)."""

    __tablename__ = "agent_events"
    # A replayed write finds its rows by this key.
    __table_args__ = (Index("ix_agent_events_agent_ts_kind", "agent", "ts", "kind", unique=True),)
    id: Optional[int] = Field(default=None, primary_key=True)
    ts: float = Field(index=True)
    kind: str
    grp: str = ""
    agent: str
    data: str = ""


class AgentIntervalRow(SQLModel, table=True):
    """An agent in one state for a while; logged out is the absence of a row."""

    __tablename__ = "agent_intervals"
    # An agent is in one state at a time: a replayed write finds its rows by this key.
    __table_args__ = (Index("ix_agent_intervals_agent_started", "agent", "started_ts", "state",
                            unique=True),)
    id: Optional[int] = Field(default=None, primary_key=True)
    agent: str
    state: str                       # runtime.store.facts.AGENT_STATES
    reason: str = ""                 # paused: the reason
    started_ts: float = Field(index=True)
    ended_ts: float
    call_id: str = ""
    grp: str = ""


class SurveyAnswerRow(SQLModel, table=True):
    """A survey answer: a `save` in the `after call:` phase."""

    __tablename__ = "survey_answers"
    id: Optional[int] = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="calls.id", index=True)
    call_id: str
    question: str = Field(index=True)
    answer: str
    number: Optional[float] = None   # the answer as a number, when it is one (averages)
    agent: str = ""
    grp: str = ""
    ts: float = Field(index=True)


class IntervalStatsRow(SQLModel, table=True):
    """Figures per 15-minute slot and group, kept up to date by the writer.

    ``grp`` "" is the whole site counted by contacts (every call once, queued or
    not); a named group is counted by queue segments. See docs/reports.md for
    each figure's definition.
    """

    __tablename__ = "interval_stats"
    slot: int = Field(primary_key=True)
    grp: str = Field(primary_key=True)
    offered: int = 0
    queued: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_elsewhere: int = 0
    removed: int = 0
    callback: int = 0
    callback_answered: int = 0
    transferred: int = 0
    voicemail: int = 0
    hung_up: int = 0
    failed: int = 0
    ended: int = 0
    wait_answered: float = 0.0       # total seconds waited by the answered calls
    wait_abandoned: float = 0.0      # ... by the abandoned ones
    max_wait: float = 0.0
    talk: float = 0.0                # total seconds connected


#: The counters of IntervalStatsRow, in table order (the writer and the reports use them).
COUNTERS = ("offered", "queued", "answered", "answered_in_sl", "abandoned", "short_abandoned",
            "answered_elsewhere", "removed", "callback", "callback_answered", "transferred",
            "voicemail", "hung_up", "failed", "ended")
SUMS = ("wait_answered", "wait_abandoned", "talk")
MAXIMA = ("max_wait",)
FIGURES = COUNTERS + SUMS + MAXIMA


class AgentStatsRow(SQLModel, table=True):
    """Agent figures per 15-minute slot, kept up to date by the writer (migration 0003).

    Each agent interval adds its seconds to every slot it covers and one start to
    the slot it began in; each ``ring_no_answer`` event of a call adds one to the
    ringing row of its agent, group and slot. The agent and staffing reports read
    these for periods of whole quarter hours instead of clipping every interval.
    """

    __tablename__ = "agent_stats"
    slot: int = Field(primary_key=True)
    agent: str = Field(primary_key=True)
    state: str = Field(primary_key=True)       # runtime.store.facts.AGENT_STATES
    reason: str = Field(primary_key=True)      # paused: the reason
    grp: str = Field(primary_key=True)         # ringing, busy, wrap_up: the call's group
    seconds: float = 0.0                       # time in the state within the slot
    started: int = 0                           # intervals that began in the slot
    rings_unanswered: int = 0                  # ring_no_answer events (state ringing)


AGENT_FIGURES = ("seconds", "started", "rings_unanswered")
