"""A restart of `qscript serve` on a real Asterisk: nobody stranded, nothing forgotten.

Calls that were in the app when the runtime died are handed to the dialplan
fallback; the agent legs it had originated are hung up. They are told apart
by the Stasis arguments the runtime gave its own legs ("agent"/"callback"
and the call id), not by the shape of a channel's id: a caller's channel id
is whatever the telephony side chose. Agent states survive the restart,
including a pause for a missed ring.
"""

from __future__ import annotations

import asyncio

import pytest

from runtime.acd import AgentState
from tests.live.callers import wait_for
from tests.live.test_live_runtime import MENU_SCRIPT, Live, _remember_asterisk, run  # noqa: F401

pytestmark = pytest.mark.asterisk


async def in_fallback(live: Live, channel_id: str, timeout: float = 15) -> None:
    async def check():
        data = await live.callers.channel(channel_id)
        return data is not None and data["dialplan"]["context"] == "qtest-fallback"
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"{channel_id} not in the fallback"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("channel", ["vip-anna", "queue-cb7"])
def test_a_caller_whose_channel_id_looks_like_an_agent_leg_goes_to_the_fallback(tmp_path, channel):
    """`vip-anna;2` and `queue-cb7;2` end like the runtime's own agent (-a<n>) and
    callback (-cb<n>) legs did; they are callers all the same."""
    async def scenario():
        first = Live(tmp_path, MENU_SCRIPT)
        await first.__aenter__()
        caller = await first.callers.call("5000", caller="0704000001", channel=channel)
        await first.callers.answered(caller)
        await asyncio.sleep(0.3)
        await first.callers.press(caller, "2")
        await wait_for(lambda: first.runtime.center.acd.calls_waiting("sales") == 1, 10,
                       what="the call to queue")
        await first.runtime.close()  # the runtime dies; the channel stays in Stasis
        (tmp_path / "again").mkdir()
        async with Live(tmp_path / "again", MENU_SCRIPT) as second:
            await in_fallback(second, f"{channel};2")
        await first.callers.__aexit__(None, None, None)
        first.store.close()
    run(scenario())


def test_agent_legs_of_a_runtime_that_died_are_hung_up_and_their_callers_handed_over(tmp_path):
    async def scenario():
        first = Live(tmp_path, MENU_SCRIPT)
        await first.__aenter__()
        first.agent("alice", ["support"], answer_after=0.2, talk=60)
        caller = await first.dial("0704000002", "1")
        session = await wait_for(lambda: first.session_of("0704000002"), 5)
        from runtime.core.session import State
        await wait_for(lambda: session.state is State.CONNECTED, 10, what="alice to answer")
        leg = first.runtime.driver.legs[session.call.call_id]
        agent_channel = leg.agent_channel
        await first.runtime.close()
        (tmp_path / "again").mkdir()
        async with Live(tmp_path / "again", MENU_SCRIPT) as second:
            await in_fallback(second, session.call.call_id)
            await wait_for(lambda: True, 0)
            for _ in range(100):
                if await second.callers.channel(agent_channel) is None:
                    break
                await asyncio.sleep(0.1)
            assert await second.callers.channel(agent_channel) is None, "alice's leg is left"
        await first.callers.__aexit__(None, None, None)
        first.store.close()
        assert caller
    run(scenario())


def test_a_pause_for_a_missed_ring_survives_a_restart(tmp_path):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            live.agent("alice", ["support"], AGENT_BUSY="1")
            await live.dial("0704000003", "1")
            await wait_for(lambda: live.runtime.center.acd.agent_info("alice").state
                           is AgentState.PAUSED, 10, what="alice paused for not answering")
            await asyncio.sleep(0.5)  # the database write is done in a worker thread
        async with Live(tmp_path, MENU_SCRIPT) as again:  # the same database
            info = again.runtime.center.acd.agent_info("alice")
            assert info.state is AgentState.PAUSED and info.pause_reason == "no answer"
    run(scenario())
