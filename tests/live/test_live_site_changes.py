"""Site changes on the real Asterisk: an agent added at run time answers a real call, and
is logged out when that call is over after being deactivated during it.

The agent's phone is the harness's simulated one (Local/ID@qtest-agent); how it
answers comes from the channel variables of the agent's own site entry, so the
added entry's ``variables`` reach the originated channel too.
"""

from __future__ import annotations

import asyncio

import pytest

from runtime.acd import AgentState
from tests.live.callers import wait_for
from tests.live.test_live_runtime import MENU_SCRIPT, Live, _remember_asterisk, run  # noqa: F401

pytestmark = pytest.mark.asterisk


def test_an_agent_added_at_run_time_answers_a_real_call_and_leaves_when_deactivated(tmp_path):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            admin = live.runtime.site_admin
            saving = await admin.put("agent", "dave", {
                "name": "Dave", "endpoint": "Local/dave@qtest-agent", "groups": ["support"],
                "variables": {"AGENT_ANSWER_DELAY": "0.3", "AGENT_TALK_TIME": "3"}})
            assert (await live.runtime.saved(saving))[0] == 200
            live.runtime.agent_action("dave", "login")
            await live.dial("0705555555", "1")
            await wait_for(lambda: live.runtime.center.agent_info("dave").state
                           is AgentState.BUSY, 20, what="dave to answer")
            await admin.remove("agent", "dave")                    # deactivated mid-call
            assert live.runtime.center.agent_info("dave").state is AgentState.BUSY
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0705555555"),
                                    20, what="the call to end")
            assert record.outcome == "answered" and record.agent == "dave"
            await wait_for(lambda: live.runtime.center.agent_info("dave").state
                           is AgentState.LOGGED_OUT, 10, what="dave to be logged out")
            with pytest.raises(ValueError, match="deactivated"):
                live.runtime.agent_action("dave", "login")
            await asyncio.sleep(0.2)
    run(scenario())
