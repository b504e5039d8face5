"""The live runtime writes the statistics through its outbox (fake ARI, SQLite):
contacts with their segments and events, agent intervals and events, and
``qscript report`` reads them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from runtime.store import facts as F
from runtime.store.writer import AGENT_EVENTS, CALLS, EVENTS, INTERVALS, SEGMENTS

from fake_ari import FakeAri
from test_live_runtime_unit import make_runtime, settle


def rows(url: str, table, order):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.select(table).order_by(*order)).all()
    finally:
        engine.dispose()


def test_a_call_answered_and_one_abandoned_leave_their_statistics(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        runtime.statistics.delay = 0.01
        await runtime.start()
        runtime.agent_action("alice", "login", {"support": 0})
        await settle(0.3)
        fake.new_call("c1")
        await settle(0.05)
        fake.press("c1", "1")
        await settle(0.3)
        agent_channel = [r[2] for r in fake.requests if r[0] == "originate"][0]
        await settle(0.3)                               # they talk
        fake.agent_hangs_up(agent_channel)
        await settle(0.2)
        runtime.agent_action("alice", "pause", reason="lunch")
        fake.new_call("c2")
        await settle(0.05)
        fake.press("c2", "1")
        await settle(0.2)
        fake.caller_hangs_up("c2")
        await settle(0.2)
        version = runtime.versions["test"]
        await runtime.close()
        return runtime.store.url, version

    url, version = asyncio.run(scenario())
    calls = {row.call_id: row for row in rows(url, CALLS, [CALLS.c.id])}
    assert calls["c1"].outcome == "answered" and calls["c1"].agent == "alice"
    assert calls["c1"].script_version == version and calls["c1"].answered_group == "support"
    assert calls["c2"].outcome == "abandoned" and not calls["c2"].agent
    assert 0.25 <= calls["c1"].talk <= 1.0
    events = rows(url, EVENTS, [EVENTS.c.ts, EVENTS.c.id])
    kinds = {call: [e.kind for e in events if e.call_id == call] for call in calls}
    # (the queue: section announces while the agent's phone rings)
    assert [k for k in kinds["c1"] if k != F.ANNOUNCED] == [F.ENTERED, F.RING, F.ANSWER,
                                                            F.COMPLETED]
    assert F.ANNOUNCED in kinds["c1"] and kinds["c1"].index(F.ANNOUNCED) > 0
    assert [k for k in kinds["c2"] if k != F.ANNOUNCED] == [F.ENTERED, F.ABANDON]
    completed = [e for e in events if e.kind == F.COMPLETED]
    assert json.loads(completed[0].data) == {"by": "agent"}
    segments = {(s.grp, s.how) for s in rows(url, SEGMENTS, [SEGMENTS.c.id])}
    assert segments == {("support", F.ANSWERED), ("support", F.ABANDONED)}
    intervals = rows(url, INTERVALS, [INTERVALS.c.started_ts])
    states = [i.state for i in intervals]
    assert states[:4] == [F.READY, F.RINGING, F.BUSY, F.READY], states
    assert states[4] == F.PAUSED and intervals[4].reason == "lunch"
    for before, after in zip(intervals, intervals[1:]):
        assert before.ended_ts == after.started_ts
    busy = intervals[2]
    assert busy.call_id == "c1"
    assert busy.ended_ts - busy.started_ts == pytest.approx(calls["c1"].talk, abs=0.01)
    agent_events = [(e.kind, json.loads(e.data) if e.data else None)
                    for e in rows(url, AGENT_EVENTS, [AGENT_EVENTS.c.ts, AGENT_EVENTS.c.id])]
    assert agent_events == [(F.LOGIN, {"groups": ["support"]}), (F.PAUSE, {"reason": "lunch"})]
    arrived = calls["c1"].arrived_at
    assert abs((dt.datetime.now(dt.timezone.utc) - arrived.replace(tzinfo=dt.timezone.utc))
               .total_seconds()) < 60
    from click.testing import CliRunner
    from qscript.cli import main
    database = url.removeprefix("sqlite:///")
    # The calls' own days (in UTC), not "today": a run at 23:59:59 writes yesterday's calls.
    days = [dt.datetime.fromtimestamp(row.arrived_ts, dt.timezone.utc).date().isoformat()
            for row in calls.values()]
    daily = CliRunner().invoke(main, ["report", "daily", "--db", database, "--tz", "UTC",
                                      "--from", min(days), "--to", max(days), "--format", "json"],
                               catch_exceptions=False)
    assert daily.exit_code == 0, daily.output
    site = json.loads(daily.stdout)["tables"][0]["total"]
    assert (site["offered"], site["answered"], site["abandoned"]) == (2, 1, 1)
    assert site["average_talk"] == pytest.approx(calls["c1"].talk, abs=1e-6)


def test_a_call_whose_statistics_cannot_be_made_is_still_in_the_call_log(tmp_path, monkeypatch):
    """A bug turning a call's facts into a write must not lose the call's record."""
    from runtime.live import statistics as live_statistics

    def broken(*args, **kwargs):
        raise ValueError("a bug in the facts")
    monkeypatch.setattr(live_statistics, "contact_op", broken)

    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        fake.new_call("c1")
        await settle(0.05)
        fake.caller_hangs_up("c1")
        await settle(0.3)
        await runtime.close()
        return runtime.store.url

    url = asyncio.run(scenario())
    calls = rows(url, CALLS, [CALLS.c.id])
    assert [row.call_id for row in calls] == ["c1"]
    assert calls[0].outcome == "hung_up" and calls[0].arrived_at is not None
