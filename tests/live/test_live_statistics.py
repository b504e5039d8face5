"""End to end on a real Asterisk: the statistics the live runtime writes.

A call queued, announced, ringing an agent who answers, talks and hangs up;
another caller abandons. The database then holds the contacts, their queue
segments, their events in order and the agent's intervals (ready, ringing,
busy, wrap-up, ready) with plausible durations, and ``qscript report`` counts
them. Then the same script and callers in the simulator's scenario driver and
live: the same events per call, the same outcome.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from qscript.api import compile_text
from qscript.cli import main
from runtime.core.statistics import CollectingSink
from runtime.site import load_site_text
from runtime.store import facts as F
from runtime.store.writer import AGENT_EVENTS, CALLS, EVENTS, INTERVALS, SEGMENTS
from tests.live import test_live_runtime as live_runtime
from tests.live.callers import wait_for
from tests.live.test_live_runtime import SITE, Live, run

pytestmark = pytest.mark.asterisk

SCRIPT = """inbound:
    answer
    queue to "support"
queue:
    every 1s:
        announce position
"""

WRAP_UP = 1.0


@pytest.fixture(autouse=True)
def _remember_asterisk(asterisk):
    live_runtime._LIVE["asterisk"] = asterisk
    yield


def _with_wrap_up(live: Live) -> None:
    text = SITE.format(script="main.qs", smtp_port=2525).replace(
        "support: {}", f"support: {{wrap_up: {WRAP_UP:g}s}}")
    live.site = load_site_text(text, "site.yaml", live.tmp_path)


def _rows(url: str, table, *order):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.select(table).order_by(*order)).all()
    finally:
        engine.dispose()


def test_an_answered_and_an_abandoned_call_in_the_database(tmp_path):
    async def scenario():
        live = Live(tmp_path, SCRIPT)
        _with_wrap_up(live)
        async with live:
            live.agent("alice", ["support"], answer_after=0.8, talk=1.5)
            await asyncio.sleep(0.5)
            first = await live.callers.call("5000", caller="0701000001")
            await live.callers.answered(first)
            await wait_for(lambda: live.record_for(lambda r: r.caller == "0701000001"), 20,
                           what="the answered call to end")
            # alice is in wrap-up: the next caller waits, hears the position and gives up.
            second = await live.callers.call("5000", caller="0701000002")
            await live.callers.answered(second)
            await asyncio.sleep(0.3)
            await live.callers.hang_up(second)
            await wait_for(lambda: live.record_for(lambda r: r.caller == "0701000002"), 20,
                           what="the abandoned call to end")
            await asyncio.sleep(WRAP_UP + 0.5)             # alice ready again
            records = {r.caller: r for r in live.records}
            url = live.store.url
        return records, url

    records, url = run(scenario())
    answered, abandoned = records["0701000001"], records["0701000002"]
    assert (answered.outcome, abandoned.outcome) == ("answered", "abandoned")
    calls = {row.call_id: row for row in _rows(url, CALLS, CALLS.c.id)}
    assert sorted(calls) == sorted([answered.call_id, abandoned.call_id])
    assert calls[answered.call_id].agent == "alice"
    assert 1.0 <= calls[answered.call_id].talk <= 4.0       # the agent talked 1.5 s
    assert 0.5 <= calls[answered.call_id].wait <= 3.0       # rang 0.8 s
    segments = {(s.contact_id, s.how)
                for s in _rows(url, SEGMENTS, SEGMENTS.c.id)}
    assert {how for _, how in segments} == {F.ANSWERED, F.ABANDONED}
    events = _rows(url, EVENTS, EVENTS.c.ts, EVENTS.c.id)
    kinds = {call: [e.kind for e in events if e.call_id == call] for call in calls}
    assert [k for k in kinds[answered.call_id] if k != F.ANNOUNCED] == [
        F.ENTERED, F.RING, F.ANSWER, F.COMPLETED]
    assert [k for k in kinds[abandoned.call_id] if k != F.ANNOUNCED] == [F.ENTERED, F.ABANDON]
    assert F.ANNOUNCED in kinds[abandoned.call_id]
    ring = next(e for e in events if e.kind == F.ANSWER)
    assert 0.5 <= json.loads(ring.data)["ring"] <= 3.0
    intervals = _rows(url, INTERVALS, INTERVALS.c.started_ts)
    states = [(i.state, i.call_id) for i in intervals]
    assert states[:5] == [(F.READY, ""), (F.RINGING, answered.call_id), (F.BUSY, answered.call_id),
                          (F.WRAP_UP, answered.call_id), (F.READY, "")], states
    durations = [i.ended_ts - i.started_ts for i in intervals]
    assert 0.5 <= durations[1] <= 3.0 and 1.0 <= durations[2] <= 4.0
    assert durations[3] == pytest.approx(WRAP_UP, abs=0.3)
    assert durations[2] == pytest.approx(calls[answered.call_id].talk, abs=0.05)
    for before, after in zip(intervals, intervals[1:]):
        assert before.ended_ts == after.started_ts
    assert [e.kind for e in _rows(url, AGENT_EVENTS, AGENT_EVENTS.c.ts)][:1] == [F.LOGIN]
    # The calls' own days (in UTC), not "today": a run at 23:59:59 writes yesterday's calls.
    days = [dt.datetime.fromtimestamp(row.arrived_ts, dt.timezone.utc).date().isoformat()
            for row in calls.values()]
    daily = CliRunner().invoke(main, ["report", "daily", "--db", url.removeprefix("sqlite:///"),
                                      "--tz", "UTC", "--from", min(days), "--to", max(days),
                                      "--format", "json"], catch_exceptions=False)
    assert daily.exit_code == 0, daily.output
    site = json.loads(daily.stdout)["tables"][0]["total"]
    assert (site["offered"], site["answered"], site["abandoned"]) == (2, 1, 1)
    assert site["average_talk"] == pytest.approx(calls[answered.call_id].talk, abs=1e-6)


DIFFERENTIAL = """inbound:
    answer
    menu "main-menu" timeout 8s retries 1:
        key 1:
            queue to "support"
    hangup
queue:
    announce position
    wait 1s
    add group "overflow"
after call:
    menu "survey-q1" timeout 8s:
        key 1, 2, 3, 4, 5:
            save "q1" = call.menu
    hangup
"""


def _kinds(facts: F.ContactFacts) -> list[str]:
    return [event.kind for event in facts.events]


def test_the_simulator_and_live_make_the_same_facts(tmp_path):
    """One compiled script, one caller and agent: the same event kinds, segments and outcome."""
    from runtime.simulator.scenarios import AgentPlan, CallPlan, Scenario, run_scenario
    from runtime.site.yamlmarks import Location

    program = compile_text(DIFFERENTIAL, "main.qs").program
    sink = CollectingSink()
    actions = [("press", "1", Location("t")), ("press", "4", Location("t"))]
    run_scenario(Scenario("diff", Location("t"), calls=[CallPlan(actions=actions)],
                          agents=[AgentPlan("alice", ["support"], talk=2.0, at=60.0)]),
                 program, statistics=sink)
    (simulated,) = sink.contacts

    async def scenario():
        async with Live(tmp_path, DIFFERENTIAL) as live:
            facts: list[F.ContactFacts] = []
            recorder = live.runtime.center.facts
            sink_of_runtime = recorder.sink
            contact = sink_of_runtime.contact
            sink_of_runtime.contact = lambda f: (facts.append(f), contact(f))
            caller = await live.dial("0707777777", "1", pause=0.5)
            from runtime.core.session import State
            session = await wait_for(lambda: live.session_of("0707777777"), 10, what="the session")
            # The agent comes once the call waits in both groups (the simulated one at 60 s).
            await wait_for(lambda: "overflow" in live.runtime.center.queue_groups(
                session.call.call_id), 20, what="the overflow")
            await asyncio.sleep(0.5)
            live.agent("alice", ["support"], answer_after=0.2, talk=2.0)
            await wait_for(lambda: session.state is State.AFTER, 20, what="the after-call phase")
            await asyncio.sleep(0.5)
            await live.callers.press(caller, "4")
            await wait_for(lambda: facts, 20, what="the call to end")
            return facts[0]

    live_facts = run(scenario())
    assert _kinds(simulated) == [F.ENTERED, F.ANNOUNCED, F.OVERFLOWED, F.ENTERED, F.RING, F.ANSWER,
                                 F.COMPLETED]
    assert _kinds(live_facts) == _kinds(simulated), \
        f"simulator: {_kinds(simulated)}\nlive:      {_kinds(live_facts)}"
    assert live_facts.record.outcome == simulated.record.outcome == "answered"
    assert [(s.group, s.how) for s in live_facts.segments] == \
        [(s.group, s.how) for s in simulated.segments] == \
        [("support", F.ANSWERED), ("overflow", F.ANSWERED_ELSEWHERE)]
    assert [(a.question, a.answer) for a in live_facts.survey] == \
        [(a.question, a.answer) for a in simulated.survey] == [("q1", "4")]
