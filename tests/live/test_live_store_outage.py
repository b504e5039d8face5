"""End to end on a real Asterisk: PostgreSQL stops and starts again under live calls.

The live runtime (the asyncari adapter, the real ARI driver) stores into a
private PostgreSQL server (tests/runtime/private_postgres.py; the machine's
shared PostgreSQL is never stopped). Calls come in before, during and after
the database is stopped with ``-m immediate`` and started again; an agent
logs in while it is down. Every caller must be served (no caller is left in
silence because a write failed) and every call record must end up in the
database exactly once, written by the outbox when PostgreSQL is back.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from pathlib import Path

import pytest

from runtime.store.database import Store
from tests.live import test_live_runtime as live_runtime
from tests.live.callers import wait_for
from tests.live.test_live_runtime import MENU_SCRIPT, Live, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from private_postgres import private_postgres  # noqa: E402

pytestmark = pytest.mark.asterisk


@pytest.fixture(autouse=True)
def _remember_asterisk(asterisk):
    live_runtime._LIVE["asterisk"] = asterisk     # Live() finds the harness's Asterisk there
    yield


@pytest.fixture
def postgres():
    yield from private_postgres()


def test_postgres_down_under_live_calls_no_record_lost_no_caller_stranded(tmp_path, postgres):
    async def scenario():
        live = Live(tmp_path, MENU_SCRIPT)
        live.store.close()
        live.store = Store(postgres.url)
        async with live:
            live.agent("alice", ["support"], answer_after=0.2, talk=1.0)
            callers = {}

            async def call(number: str, key: str) -> None:
                callers[number] = await live.dial(number, key)

            def ended(numbers):
                return all(live.record_for(lambda r, n=n: r.caller == n) for n in numbers)

            await asyncio.gather(call("0705000001", "1"), call("0705000002", "2"))
            await asyncio.to_thread(postgres.stop)
            # While it is down: an agent logs in (applied at once, saved later) and
            # the calls go on, to agents and through the menu.
            live.runtime.driver.agent_variables["bob"] = {"AGENT_ANSWER_DELAY": "0.2",
                                                          "AGENT_TALK_TIME": "1.0"}
            saving = live.runtime.agent_action("bob", "login", {"sales": 0})
            await asyncio.gather(call("0705000003", "1"), call("0705000004", "2"),
                                 call("0705000005", "1"))
            await wait_for(lambda: ended(["0705000001", "0705000002", "0705000003",
                                          "0705000004", "0705000005"]),
                           40, what="the calls made before and during the outage to end")
            database = live.runtime.status()["database"]
            assert database["state"] == "down" and database["spooled"] >= 5, database
            assert saving.result(5) == "spooled"
            await asyncio.to_thread(postgres.start)
            await asyncio.gather(call("0705000006", "2"), call("0705000007", "1"))
            await wait_for(lambda: ended(["0705000006", "0705000007"]), 30,
                           what="the calls after the outage to end")
            await wait_for(lambda: (lambda d: d["state"] == "ok" and d["unsaved"] == 0)(
                live.runtime.status()["database"]), 40, what="the outbox to write everything")
            records = {r.caller: r for r in live.records}
            for caller in callers.values():
                await live.callers.ended(caller, 10)     # every caller's line was released
        assert sorted(records) == sorted(callers)
        assert all(r.outcome == "answered" for r in records.values()), \
            {n: (r.outcome, r.error) for n, r in records.items()}
        assert {records[n].agent for n in ("0705000004", "0705000006")} == {"bob"}
        reader = Store(postgres.url)
        try:
            rows = reader.calls(limit=1000)
            agents = {row.agent_id: row.logged_in for row in reader.agents()}
        finally:
            reader.close()
        counts = collections.Counter(row.call_id for row in rows)
        assert sorted(counts) == sorted(r.call_id for r in records.values())
        assert set(counts.values()) == {1}, counts
        assert sorted((row.caller, row.agent) for row in rows) == \
            sorted((r.caller, r.agent) for r in records.values())
        assert agents == {"alice": True, "bob": True}
        # No statistics row is lost either: every call's segments and events, and
        # the agents' states through the outage, exactly once.
        import sqlalchemy as sa
        from runtime.store.writer import AGENT_EVENTS, EVENTS, INTERVALS, SEGMENTS
        engine = sa.create_engine(postgres.url)
        try:
            with engine.connect() as connection:
                segments = connection.execute(sa.select(SEGMENTS.c.contact_id, SEGMENTS.c.how)).all()
                events = connection.execute(sa.select(EVENTS.c.call_id, EVENTS.c.kind)).all()
                intervals = connection.execute(sa.select(INTERVALS.c.agent, INTERVALS.c.state,
                                                         INTERVALS.c.call_id)).all()
                logins = connection.execute(sa.select(AGENT_EVENTS.c.agent).where(
                    AGENT_EVENTS.c.kind == "login")).all()
        finally:
            engine.dispose()
        assert len(segments) == len(records) and {how for _, how in segments} == {"answered"}
        per_call = collections.Counter((call_id, kind) for call_id, kind in events)
        for record in records.values():
            for kind in ("entered", "ring", "answered", "completed"):
                assert per_call[(record.call_id, kind)] == 1, (record.caller, kind, per_call)
        busy = sorted(call_id for _, state, call_id in intervals if state == "busy")
        assert busy == sorted(r.call_id for r in records.values())
        assert sorted(agent for agent, in logins) == ["alice", "bob"]

    run(scenario())
