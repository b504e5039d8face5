"""A caller is never left in silence: what callers hear, measured on a real Asterisk.

Each test listens to the runtime's channel of a call (a snoop channel,
recorded: see ``Callers.listen``) while the call is in some state, and
checks that the caller hears something — music on hold, a prompt — and not
silence. These catch the class of defect where the runtime's view ("music is
playing") and Asterisk's (it stopped the music for a playback) drift apart.

Every live path has a real-Asterisk test that fails when a caller is left in
silence (heard nothing, or the call stopped going forward):

=========================  ===================================================================
answer, play              test_the_greeting_then_music_when_the_queue_treatment_runs_out
menu (inbound)            test_live_runtime::test_dtmf_menu_queue_and_agent_answers_bridged
digits                    test_live_runtime::test_digits_are_collected_validated_and_shown...
queue + music on hold     test_music_plays_between_every_queue_treatment, ..._runs_out
announcements             test_music_on_hold_comes_back_after_every_announcement
ring                      test_music_goes_on_while_an_agent_rings,
                          test_live_runtime::test_an_agent_who_does_not_answer_is_skipped...
bridge                    test_live_outage::test_an_agent_who_answers_on_a_half_open_...
agent hang-up, after call test_the_after_call_phase_is_heard_once_the_agent_hangs_up
callback                  test_a_called_back_customer_hears_the_after_call_survey,
                          test_an_unreachable_callback_customer_releases_the_agent
voicemail                 test_live_runtime::test_voice_message_is_mailed_with_the_recording
transfer                  test_live_runtime::test_transfer_to_an_external_number_continues...
fallback                  test_a_failing_event_handler_hands_its_call_to_the_fallback,
                          test_live_runtime::test_never_stranded_a_failing_script_hands...
reconnect                 test_live_outage (prompt, menu, ring, voice message, half-open)
restart                   test_live_restart, test_live_runtime::test_calls_left_by_a_runtime...
=========================  ===================================================================
"""

from __future__ import annotations

import asyncio

import pytest

from runtime.core.session import State
from tests.live.callers import wait_for
from tests.live.test_live_runtime import Live, _remember_asterisk, run  # noqa: F401 (fixture)

pytestmark = pytest.mark.asterisk

ANNOUNCING_SCRIPT = """inbound:
    answer
    queue to "sales"
queue:
    every 4s:
        announce position
"""


async def queued(live: Live, caller: str):
    """Call in from ``caller``; return the session once it waits in the queue."""
    channel = await live.callers.call("5000", caller=caller)
    await live.callers.answered(channel)
    def waiting():
        session = live.session_of(caller)
        return session if session is not None and session.state is State.QUEUED else None
    return await wait_for(waiting, 10, what="the call to queue")


def test_music_on_hold_comes_back_after_every_announcement(tmp_path):
    """Asterisk stops music on hold for a playback; the runtime must start it again."""
    async def scenario():
        async with Live(tmp_path, ANNOUNCING_SCRIPT) as live:
            session = await queued(live, "0701000001")
            await asyncio.sleep(0.5)  # the first announcement is under way
            heard = await live.callers.listen(session.call.call_id, 9.0)
            assert heard.seconds >= 8.5, heard
            # Three announcements (beep + "one", about 1.5 s with the sound's own
            # trailing silence) and music between them.
            assert heard.longest_silence < 1.0 and heard.silent_seconds < 2.5, str(heard)
    run(scenario())


TREATMENT_SCRIPT = """inbound:
    answer
    queue to "sales"
queue:
    play "missing"
    menu "main-menu" timeout 1s retries 0:
        key 9:
            log "nine"
    announce wait
    wait 2s
    requeue to "sales"
"""


def test_music_plays_between_every_queue_treatment(tmp_path):
    """A prompt that fails, a menu nobody answers, a wait, a requeue: music throughout."""
    async def scenario():
        async with Live(tmp_path, TREATMENT_SCRIPT) as live:
            session = await queued(live, "0701000002")
            heard = await live.callers.listen(session.call.call_id, 9.0)
            # Two rounds of: beep (menu) + 1 s wait for a key, beep (wait unknown), 2 s wait.
            assert heard.longest_silence < 0.5 and heard.silent_seconds < 1.0, str(heard)
    run(scenario())


def test_music_goes_on_while_an_agent_rings(tmp_path):
    async def scenario():
        async with Live(tmp_path, ANNOUNCING_SCRIPT) as live:
            session = await queued(live, "0701000003")
            await asyncio.sleep(1.5)  # the first announcement is over
            live.agent("bob", ["sales"], answer_after=4.0, talk=1.0)
            await wait_for(lambda: session.state is State.RINGING, 5, what="bob to ring")
            heard = await live.callers.listen(session.call.call_id, 2.5)
            assert session.state is State.RINGING  # still ringing: this was the ring
            assert heard.silent_seconds < 0.3, str(heard)
    run(scenario())


CALLBACK_SURVEY_SCRIPT = """inbound:
    answer
    queue to "sales"
queue:
    wait 1s
    offer callback prompt "cb-offer" key 1 timeout 8s
after call:
    play "long"
    menu "survey-q1" timeout 2s retries 0:
        key 1:
            save "survey" = "1"
"""


def test_a_called_back_customer_hears_the_after_call_survey(tmp_path):
    """After a callback, every prompt goes to the customer's new channel, not the old one."""
    async def scenario():
        async with Live(tmp_path, CALLBACK_SURVEY_SCRIPT) as live:
            live.runtime.driver.callback_endpoint = "Local/{number}@qtest-agent"
            caller = await live.dial("0701000004", "1", pause=1.5)
            await live.callers.ended(caller, 10)  # the runtime released the line
            session = live.session_of("0701000004")
            live.agent("bob", ["sales"], answer_after=0.2, talk=1.5)
            await wait_for(lambda: session.state is State.AFTER, 20, what="the after-call phase")
            customer = session.call.extra["customer_channel"]
            heard = await live.callers.listen(customer, 2.5)  # "long" (3 s of weasels)
            assert heard.silent_seconds < 0.8, str(heard)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0701000004"),
                                    15, what="the survey to end the call")
            # A callback that reached an agent is recorded as one, with its agent.
            assert record.outcome == "callback" and record.agent == "bob", vars(record)
            assert record.answered_at is not None and record.error is None
            assert await live.callers.channel(customer) is None  # hung up after the survey
    run(scenario())


def test_the_agent_hears_ringing_while_the_customer_is_called_back(tmp_path):
    """A callback rings the agent first, then the customer: meanwhile the agent hears
    the customer's phone ringing, not a silent line, and the tone stops for the talk."""
    async def scenario():
        async with Live(tmp_path, CALLBACK_SURVEY_SCRIPT) as live:
            live.runtime.driver.callback_endpoint = "Local/{number}@qtest-slow-customer"
            caller = await live.dial("0701000006", "1", pause=1.5)
            await live.callers.ended(caller, 10)
            session = live.session_of("0701000006")
            live.agent("bob", ["sales"], answer_after=0.2, talk=30)
            leg = await wait_for(lambda: live.runtime.driver.legs.get(session.call.call_id), 10,
                                 what="the callback's leg")
            agent = await wait_for(lambda: leg.agent_channel, 10, what="bob to answer")
            heard = await live.callers.listen(agent, 1.5)   # the customer rings for 3 s
            assert heard.silent_seconds < 0.5, str(heard)
            await wait_for(lambda: session.state is State.CONNECTED, 10, what="the customer")
            await asyncio.sleep(0.3)
            # This customer says nothing once they answer: all the agent may hear now is
            # the ring tone, had it not been stopped for the conversation.
            heard = await live.callers.listen(agent, 1.0)
            assert heard.silent_seconds > 0.8, f"the ring tone goes on under the talk: {heard}"
    run(scenario())


def test_an_unreachable_callback_customer_releases_the_agent(tmp_path):
    """The agent answers first; if the customer cannot be reached, the agent is not left
    waiting on a silent line."""
    async def scenario():
        async with Live(tmp_path, CALLBACK_SURVEY_SCRIPT) as live:
            live.runtime.driver.callback_endpoint = "Local/{number}@qtest-nowhere"
            caller = await live.dial("0701000005", "1", pause=1.5)
            await live.callers.ended(caller, 10)
            live.agent("bob", ["sales"], answer_after=0.2, talk=30)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0701000005"),
                                    20, what="the failed callback to end")
            assert record.outcome == "callback" and record.agent is None
            channels = (await live.callers.http.get("/channels")).json()
            agent_legs = [c["id"] for c in channels if c["id"].startswith(record.call_id + "-a")]
            await wait_for(lambda: not live.runtime.driver.agent_calls, 5, what="bob released")
            assert not agent_legs or all(
                await live.callers.channel(leg) is None for leg in agent_legs), agent_legs
            from runtime.acd import AgentState
            assert live.runtime.center.acd.agent_info("bob").state is AgentState.READY
    run(scenario())


PROMPT_MENU_SCRIPT = """inbound:
    answer
    play "welcome"
    menu "main-menu" timeout 8s retries 1:
        key 1:
            queue to "support"
    hangup
"""


def test_a_failing_event_handler_hands_its_call_to_the_fallback(tmp_path, monkeypatch):
    """A bug in handling one call's event must not leave that caller silent in the app."""
    from runtime.live.ari import driver as driver_module

    original = driver_module._EVENT_HANDLERS["PlaybackFinished"]

    def broken_for_one_caller(driver, event):
        leg = driver.legs.get(driver.playbacks.get(event.playback_id, ""))
        if leg is not None and leg.call.caller == "0703000001":
            raise RuntimeError("a bug in the PlaybackFinished handler")
        return original(driver, event)
    monkeypatch.setitem(driver_module._EVENT_HANDLERS, "PlaybackFinished", broken_for_one_caller)

    async def scenario():
        async with Live(tmp_path, PROMPT_MENU_SCRIPT) as live:
            live.agent("alice", ["support"], answer_after=0.2, talk=1.0)
            unlucky = await live.callers.call("5000", caller="0703000001")
            other = await live.callers.call("5000", caller="0703000002")
            await live.callers.answered(unlucky)
            await live.callers.answered(other)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0703000001"),
                                    10, what="the unlucky call to be handed over")
            assert record.outcome == "failed" and "PlaybackFinished" in record.error
            await live.callers.in_dialplan(record.call_id, "qtest-fallback")
            # The other call is not affected.
            await asyncio.sleep(1.0)
            await live.callers.press(other, "1")
            served = await wait_for(lambda: live.record_for(lambda r: r.caller == "0703000002"),
                                    15, what="the other call to reach alice")
            assert served.agent == "alice"
    run(scenario())


GREETING_SCRIPT = """inbound:
    answer
    play "long"
    queue to "sales"
queue:
    play "welcome"
after call:
    play "long"
    hangup
"""


def test_the_greeting_then_music_when_the_queue_treatment_runs_out(tmp_path):
    """The caller hears the greeting; the queue phase ends after one prompt and the
    caller keeps hearing music, not silence."""
    async def scenario():
        async with Live(tmp_path, GREETING_SCRIPT) as live:
            channel = await live.callers.call("5000", caller="0701000006")
            await live.callers.answered(channel)
            session = await wait_for(lambda: live.session_of("0701000006"), 5)
            greeting = await live.callers.listen(session.call.call_id, 2.0)
            assert greeting.silent_seconds < 0.5, str(greeting)  # 3 s of weasels
            await wait_for(lambda: session.state is State.QUEUED, 5, what="the queue")
            await asyncio.sleep(1.0)  # "welcome" (a beep), and the queue phase is over
            waiting = await live.callers.listen(session.call.call_id, 3.0)
            assert waiting.silent_seconds < 0.3, str(waiting)
    run(scenario())


def test_the_after_call_phase_is_heard_once_the_agent_hangs_up(tmp_path):
    async def scenario():
        async with Live(tmp_path, GREETING_SCRIPT) as live:
            live.agent("bob", ["sales"], answer_after=0.2, talk=1.0)
            channel = await live.callers.call("5000", caller="0701000007")
            await live.callers.answered(channel)
            session = await wait_for(lambda: live.session_of("0701000007"), 5)
            await wait_for(lambda: session.state is State.AFTER, 15, what="the after-call phase")
            heard = await live.callers.listen(session.call.call_id, 2.0)
            assert heard.silent_seconds < 0.5, str(heard)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0701000007"),
                                    10, what="the call to end")
            assert record.outcome == "answered" and record.agent == "bob"
            await live.callers.ended(channel, 5)  # the script hung up after the prompt
    run(scenario())


def test_a_call_that_fails_while_connected_frees_its_agent(tmp_path, monkeypatch):
    """The caller goes to the fallback; the agent's line is hung up and the agent is
    free for the next caller (not left busy with a call that is gone)."""
    from runtime.acd import AgentState
    from runtime.live.ari import driver as driver_module

    original = driver_module._EVENT_HANDLERS["ChannelDtmfReceived"]

    def broken(driver, event):
        raise RuntimeError("a bug while connected")
    async def scenario():
        async with Live(tmp_path, PROMPT_MENU_SCRIPT) as live:
            live.agent("alice", ["support"], answer_after=0.2, talk=60)
            caller = await live.dial("0703000003", "1", pause=1.0)
            session = await wait_for(lambda: live.session_of("0703000003"), 5)
            await wait_for(lambda: session.state is State.CONNECTED, 10, what="alice to answer")
            agent_leg = live.runtime.driver.legs[session.call.call_id].agent_channel
            monkeypatch.setitem(driver_module._EVENT_HANDLERS, "ChannelDtmfReceived", broken)
            await live.callers.press(caller, "5")  # the handler fails for this call
            await live.callers.in_dialplan(session.call.call_id, "qtest-fallback")
            for _ in range(100):
                if await live.callers.channel(agent_leg) is None:
                    break
                await asyncio.sleep(0.05)
            assert await live.callers.channel(agent_leg) is None, "alice's line is left up"
            await wait_for(lambda: live.runtime.center.acd.agent_info("alice").state
                           is AgentState.READY, 5, what="alice free again")
            monkeypatch.setitem(driver_module._EVENT_HANDLERS, "ChannelDtmfReceived", original)
    run(scenario())
