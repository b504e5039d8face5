"""On a real Asterisk: an agent passes an answered call on (transfer, requeue).

The agents are Local channels (tests/live/callers.py, dialplan context
qtest-agent) that answer and stay on the line; the runtime bridges them with
the caller. An agent's transfer must bring the caller to the target (the
dialplan, at the number), a requeue to another agent, and in between the
caller hears music on hold, not silence.
"""

from __future__ import annotations

import asyncio

import pytest

from runtime.core.session import State
from tests.live.callers import wait_for
from tests.live.test_live_runtime import Live, _remember_asterisk, run  # noqa: F401 (fixture)

pytestmark = pytest.mark.asterisk

SCRIPT = """inbound:
    answer
    queue to "support"
"""


async def answered_by(live: Live, agent: str, caller: str):
    """A call from ``caller`` answered by ``agent`` and bridged; its session."""
    channel = await live.callers.call("5000", caller=caller)
    await live.callers.answered(channel)
    session = await wait_for(lambda: next(
        (s for s in live.runtime.center.sessions_in_progress()
         if s.call.caller == caller and s.state is State.CONNECTED and s.agent == agent), None),
        15, what=f"{agent} to answer")
    await wait_for(lambda: bridged(live, session.call.call_id), 10, what="the bridge")
    return session


async def members_once_two(live: Live, call_id: str) -> list[str]:
    """The bridge's channels once there are two (the bridge request may be under way)."""
    members: list[str] = []
    for _ in range(50):
        members = await bridge_members(live, call_id)
        if len(members) == 2:
            break
        await asyncio.sleep(0.1)
    return members


async def bridge_members(live: Live, call_id: str) -> list[str]:
    response = await live.callers.http.get(f"/bridges/qs-{call_id}")
    return response.json().get("channels", []) if response.status_code == 200 else []


def bridged(live: Live, call_id: str):
    leg = live.runtime.driver.legs.get(call_id)
    return leg is not None and leg.bridge is not None and leg.agent_channel is not None


def test_an_answered_call_transferred_by_the_agent_reaches_the_number(tmp_path):
    async def scenario():
        async with Live(tmp_path, SCRIPT) as live:
            live.agent("alice", ["support"], answer_after=0.2, talk=60)
            session = await answered_by(live, "alice", "0706060601")
            call_id = session.call.call_id
            agent_channel = live.runtime.driver.legs[call_id].agent_channel
            assert len(await members_once_two(live, call_id)) == 2
            answer = live.runtime.transfer_agent_call("alice", number="7070")
            assert answer["call_id"] == call_id
            channel = await live.callers.in_dialplan(call_id, "qtest-fallback")
            assert channel["dialplan"]["exten"] in ("7070", "s")
            await wait_for(lambda: live.record_for(lambda r: r.call_id == call_id), 10,
                           what="the record")
            record = live.record_for(lambda r: r.call_id == call_id)
            assert (record.outcome, record.transferred_to, record.agent) == \
                ("transferred", "7070", "alice")
            # the agent's leg is hung up and the agent goes on (no wrap-up configured)
            await wait_for(lambda: live.runtime.center.agent_info("alice").state.name == "READY",
                           10, what="alice ready again")
            assert (await live.callers.channel(agent_channel)) is None
    run(scenario())


def test_a_requeued_call_hears_music_and_is_answered_by_another_agent(tmp_path):
    async def scenario():
        async with Live(tmp_path, SCRIPT) as live:
            live.agent("alice", ["support"], answer_after=0.2, talk=60)
            session = await answered_by(live, "alice", "0706060602")
            call_id = session.call.call_id
            alice_channel = live.runtime.driver.legs[call_id].agent_channel
            live.runtime.agent_action("alice", "pause", reason="coffee")  # after this call
            live.runtime.requeue_agent_call("alice")
            assert session.state is State.QUEUED
            heard = await live.callers.listen(call_id, 3.0)
            # out of the bridge, music on hold: never more than a moment of silence
            assert heard.seconds >= 2.5 and heard.longest_silence < 0.5, str(heard)
            assert (await live.callers.channel(alice_channel)) is None
            assert await bridge_members(live, call_id) == []
            assert live.runtime.center.agent_info("alice").pause_reason == "coffee"
            live.agent("bob", ["support"], answer_after=0.2, talk=60)
            await wait_for(lambda: session.state is State.CONNECTED and session.agent == "bob",
                           15, what="bob to answer the requeued call")
            await wait_for(lambda: bridged(live, call_id), 10, what="bob bridged")
            bob_channel = live.runtime.driver.legs[call_id].agent_channel
            assert sorted(await members_once_two(live, call_id)) == sorted([call_id, bob_channel])
    run(scenario())
