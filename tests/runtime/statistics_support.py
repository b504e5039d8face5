"""Shared by the statistics tests: real databases (an SQLite file, and a PostgreSQL
database of this test session's own) and a small day whose figures are worked
out by hand in the tests.

PostgreSQL runs on 127.0.0.1:5432 on development and CI machines. The session
creates a database with a unique name (dropped at the end) and each test gets
a schema of its own in it.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy

from runtime.core.records import CallRecord
from runtime.store import facts as F

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def postgres_database():
    """The URL of a PostgreSQL database made for this test session (dropped after it)."""
    name = f"qs_stats_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database: an SQLite file, or a schema of its own in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stats.db'}"
        return
    base = request.getfixturevalue("postgres_database")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


class Group:
    def __init__(self, threshold: float, short: float, target: float = 0.8):
        self.service_level_threshold = threshold
        self.short_abandon_threshold = short
        self.service_level_target = target


#: The small day's group settings: support answers within 20 s, sales within 30 s.
GROUPS = {"support": Group(20, 5, 0.8), "sales": Group(30, 10, 0.9)}

#: Monday 2026-06-01, Stockholm (UTC+2 in June): 08:00 local is 06:00 UTC.
DAY = dt.date(2026, 6, 1)
MIDNIGHT_UTC = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.timezone.utc)
CLOCK = F.WallClock(MIDNIGHT_UTC, 0.0)      # driver clock: seconds since 00:00 UTC


def at(hh: int, mm: int, ss: float = 0) -> float:
    """Driver-clock seconds of a local (Stockholm, UTC+2) time of the small day."""
    return (hh - 2) * 3600 + mm * 60 + ss


def small_day() -> tuple[list[F.ContactFacts], list[F.AgentInterval], list[F.Event]]:
    """Eight calls and two agents; the tests spell out every figure from these.

    call  caller  local arrival  queued  groups            how it ended
    c1    0701    08:00:00       +5 s    support           answered by alice after 10 s, talk 100 s
    c2    0702    08:05:00       +5 s    support           answered by bob after 30 s, talk 200 s
                                                           (alice's phone rang 10 s first);
                                                           survey: satisfaction 4
    c3    0703    08:10:00       +5 s    support           abandoned after 3 s   (a short abandon)
    c4    0704    08:20:00       +5 s    support           abandoned after 40 s
    c5    0705    08:20:30       +5 s    support -> sales  overflowed at 60 s, answered in sales by
                                                           alice at 70 s (10 s in sales), talk 50 s
    c6    0706    09:00:00       -       (none)            hung up in the menu after 20 s
    c7    0704    09:10:00       +5 s    sales             answered by bob after 25 s, talk 60 s;
                                                           survey: satisfaction 2, resolved "yes"
    c8    0708    09:30:00       +5 s    sales             callback accepted after 15 s, not answered
    """
    contacts = []

    def call(call_id, caller, arrived, *, queued=None, answered=None, agent_ended=None,
             ended, outcome, groups=(), answered_group=None, agent=None, segments=(),
             events=(), survey=(), callback=False):
        record = CallRecord(call_id, caller, "5000", script="support", script_hash="h1",
                            arrived_at=arrived, queued_at=queued, answered_at=answered,
                            agent_ended_at=agent_ended, ended_at=ended, outcome=outcome,
                            groups=list(groups), answered_group=answered_group, agent=agent,
                            language="sv")
        contacts.append(F.ContactFacts(record, segments=list(segments), events=list(events),
                                       survey=list(survey), script_version=3,
                                       callback_accepted=callback))

    t = at(8, 0)
    call("c1", "0701", t, queued=t + 5, answered=t + 15, agent_ended=t + 115, ended=t + 115,
         outcome="answered", groups=["support"], answered_group="support", agent="alice",
         segments=[F.Segment("support", t + 5, t + 15, F.ANSWERED, "alice")],
         events=[F.Event(t + 5, F.ENTERED, "support", data={"position": 1}),
                 F.Event(t + 12, F.RING, "support", "alice"),
                 F.Event(t + 15, F.ANSWER, "support", "alice", {"ring": 3}),
                 F.Event(t + 115, F.COMPLETED, "support", "alice", {"by": "caller"})])
    t = at(8, 5)
    call("c2", "0702", t, queued=t + 5, answered=t + 35, agent_ended=t + 235, ended=t + 250,
         outcome="answered", groups=["support"], answered_group="support", agent="bob",
         segments=[F.Segment("support", t + 5, t + 35, F.ANSWERED, "bob")],
         events=[F.Event(t + 5, F.ENTERED, "support", data={"position": 1}),
                 F.Event(t + 20, F.RING, "support", "alice"),
                 F.Event(t + 30, F.RING_NO_ANSWER, "support", "alice", {"ring": 10}),
                 F.Event(t + 31, F.RING, "support", "bob"),
                 F.Event(t + 35, F.ANSWER, "support", "bob", {"ring": 4}),
                 F.Event(t + 235, F.COMPLETED, "support", "bob", {"by": "agent"})],
         survey=[F.SurveyAnswer("satisfaction", 4, t + 245)])
    t = at(8, 10)
    call("c3", "0703", t, queued=t + 5, ended=t + 8, outcome="abandoned", groups=["support"],
         segments=[F.Segment("support", t + 5, t + 8, F.ABANDONED)],
         events=[F.Event(t + 5, F.ENTERED, "support", data={"position": 1}),
                 F.Event(t + 8, F.ABANDON, "support", data={"position": 1})])
    t = at(8, 20)
    call("c4", "0704", t, queued=t + 5, ended=t + 45, outcome="abandoned", groups=["support"],
         segments=[F.Segment("support", t + 5, t + 45, F.ABANDONED)],
         events=[F.Event(t + 5, F.ENTERED, "support", data={"position": 1}),
                 F.Event(t + 45, F.ABANDON, "support", data={"position": 2})])
    t = at(8, 20, 30)
    call("c5", "0705", t, queued=t + 5, answered=t + 75, agent_ended=t + 125, ended=t + 125,
         outcome="answered", groups=["support", "sales"], answered_group="sales", agent="alice",
         segments=[F.Segment("support", t + 5, t + 65, F.REMOVED),
                   F.Segment("sales", t + 65, t + 75, F.ANSWERED, "alice")],
         events=[F.Event(t + 5, F.ENTERED, "support", data={"position": 2}),
                 F.Event(t + 65, F.OVERFLOWED, "support", data={"to": "sales"}),
                 F.Event(t + 65, F.LEFT_GROUP, "support"),
                 F.Event(t + 65, F.ENTERED, "sales", data={"position": 1}),
                 F.Event(t + 75, F.ANSWER, "sales", "alice", {"ring": 2}),
                 F.Event(t + 125, F.COMPLETED, "sales", "alice", {"by": "caller"})])
    t = at(9, 0)
    call("c6", "0706", t, ended=t + 20, outcome="hung_up")
    t = at(9, 10)
    call("c7", "0704", t, queued=t + 5, answered=t + 30, agent_ended=t + 90, ended=t + 100,
         outcome="answered", groups=["sales"], answered_group="sales", agent="bob",
         segments=[F.Segment("sales", t + 5, t + 30, F.ANSWERED, "bob")],
         events=[F.Event(t + 5, F.ENTERED, "sales", data={"position": 1}),
                 F.Event(t + 30, F.ANSWER, "sales", "bob", {"ring": 5}),
                 F.Event(t + 90, F.COMPLETED, "sales", "bob", {"by": "caller"})],
         survey=[F.SurveyAnswer("satisfaction", 2, t + 95), F.SurveyAnswer("resolved", "yes", t + 98)])
    t = at(9, 30)
    call("c8", "0708", t, queued=t + 5, ended=t + 20, outcome="callback", groups=["sales"],
         callback=True, segments=[F.Segment("sales", t + 5, t + 20, F.CALLBACK)],
         events=[F.Event(t + 5, F.ENTERED, "sales", data={"position": 1}),
                 F.Event(t + 18, F.CALLBACK_OFFERED, "sales"),
                 F.Event(t + 20, F.CALLBACK_TAKEN, "sales", data={"key": "1"})])

    # Agents, 08:00-10:00 local. alice: ready except her two calls (ring, busy, wrap-up 10 s)
    # and a 15-minute coffee pause 09:00-09:15; bob: ready except his calls, no pause.
    intervals = [
        F.AgentInterval("alice", F.READY, at(8, 0), at(8, 0, 12)),
        F.AgentInterval("alice", F.RINGING, at(8, 0, 12), at(8, 0, 15), call_id="c1", group="support"),
        F.AgentInterval("alice", F.BUSY, at(8, 0, 15), at(8, 1, 55), call_id="c1", group="support"),
        F.AgentInterval("alice", F.WRAP_UP, at(8, 1, 55), at(8, 2, 5), call_id="c1", group="support"),
        F.AgentInterval("alice", F.READY, at(8, 2, 5), at(8, 21, 43)),
        F.AgentInterval("alice", F.RINGING, at(8, 21, 43), at(8, 21, 45), call_id="c5", group="sales"),
        F.AgentInterval("alice", F.BUSY, at(8, 21, 45), at(8, 22, 35), call_id="c5", group="sales"),
        F.AgentInterval("alice", F.WRAP_UP, at(8, 22, 35), at(8, 22, 45), call_id="c5", group="sales"),
        F.AgentInterval("alice", F.READY, at(8, 22, 45), at(9, 0)),
        F.AgentInterval("alice", F.PAUSED, at(9, 0), at(9, 15), reason="coffee"),
        F.AgentInterval("alice", F.READY, at(9, 15), at(10, 0)),
        F.AgentInterval("bob", F.READY, at(8, 0), at(8, 5, 31)),
        F.AgentInterval("bob", F.RINGING, at(8, 5, 31), at(8, 5, 35), call_id="c2", group="support"),
        F.AgentInterval("bob", F.BUSY, at(8, 5, 35), at(8, 8, 55), call_id="c2", group="support"),
        F.AgentInterval("bob", F.WRAP_UP, at(8, 8, 55), at(8, 9, 5), call_id="c2", group="support"),
        F.AgentInterval("bob", F.READY, at(8, 9, 5), at(9, 10, 25)),
        F.AgentInterval("bob", F.RINGING, at(9, 10, 25), at(9, 10, 30), call_id="c7", group="sales"),
        F.AgentInterval("bob", F.BUSY, at(9, 10, 30), at(9, 11, 30), call_id="c7", group="sales"),
        F.AgentInterval("bob", F.WRAP_UP, at(9, 11, 30), at(9, 11, 40), call_id="c7", group="sales"),
        F.AgentInterval("bob", F.READY, at(9, 11, 40), at(10, 0)),
    ]
    agent_events = [
        F.Event(at(8, 0), F.LOGIN, agent="alice", data={"groups": ["support", "sales"]}),
        F.Event(at(8, 0), F.LOGIN, agent="bob", data={"groups": ["support", "sales"]}),
        F.Event(at(9, 0), F.PAUSE, agent="alice", data={"reason": "coffee"}),
        F.Event(at(9, 15), F.UNPAUSE, agent="alice"),
        F.Event(at(10, 0), F.LOGOUT, agent="alice"),
        F.Event(at(10, 0), F.LOGOUT, agent="bob"),
    ]
    return contacts, intervals, agent_events
