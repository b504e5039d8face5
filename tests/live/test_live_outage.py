"""Short ARI outages on a real Asterisk: every call carries on where it was.

Events sent while the event connection is down are lost. A call waiting for
one of them (a prompt to finish, a recording to end, an agent to answer)
would wait for ever; after reconnecting, the runtime asks Asterisk about
each call's pending playback, recording and ring and carries on.
"""

from __future__ import annotations

import asyncio

import pytest

from runtime.live.ari.asyncari_adapter import Backoff
from runtime.core.session import State
from tests.live.callers import wait_for
from tests.live.test_ari_adapter import FreezableProxy
from tests.live.test_live_runtime import Live, _remember_asterisk, run  # noqa: F401 (fixture)

pytestmark = pytest.mark.asterisk

PROMPT_THEN_MENU = """inbound:
    answer
    play "long"
    menu "main-menu" timeout 8s retries 1:
        key 1:
            queue to "support"
    hangup
"""


async def through_the_menu(live: Live, caller: str, outage) -> None:
    """Call in; during the 3 s prompt, ``outage()`` runs; afterwards the menu must
    still come and a key press must reach an agent."""
    live.agent("alice", ["support"], answer_after=0.2, talk=1.0)
    channel = await live.callers.call("5000", caller=caller)
    await live.callers.answered(channel)
    session = await wait_for(lambda: live.session_of(caller), 5, what="the session")
    leg = await wait_for(lambda: live.runtime.driver.legs.get(session.call.call_id), 5)
    await wait_for(lambda: leg.playback is not None, 5, what="the prompt to start")
    await asyncio.sleep(0.5)  # Asterisk has answered the play request
    await outage()
    # The prompt ended during the outage: the menu follows once we are back.
    await wait_for(lambda: leg.collector is not None and leg.playback is None, 10,
                   what="the menu after the prompt")
    await asyncio.sleep(0.6)  # the menu's beep
    await live.callers.press(channel, "1")
    record = await wait_for(lambda: live.record_for(lambda r: r.caller == caller), 20,
                            what="the call to reach alice")
    assert record.agent == "alice" and record.outcome == "answered"


def test_a_prompt_that_ends_during_a_5s_outage_is_followed_by_the_menu(tmp_path):
    async def scenario():
        async with Live(tmp_path, PROMPT_THEN_MENU, backoff=Backoff(base=5.0, jitter=0.0)) as live:
            async def outage():
                live.port.drop_connection("test: a 5 s outage")
                await wait_for(lambda: not live.port.connected, 5, what="the drop")
                await asyncio.sleep(3.5)  # the prompt finishes: its event is lost
                assert not live.port.connected
                await wait_for(lambda: live.port.connected, 10, what="the reconnect")
            await through_the_menu(live, "0702000001", outage)
    run(scenario())


def test_a_prompt_that_ends_on_a_half_open_connection_is_followed_by_the_menu(tmp_path):
    """No FIN, no RST: the connection goes silent (a NAT timeout); only the pings tell."""
    async def scenario():
        async with FreezableProxy(8088) as proxy:
            async with Live(tmp_path, PROMPT_THEN_MENU, ari_url=f"http://127.0.0.1:{proxy.port}",
                            ping_interval=1.0, ping_timeout=2.5, request_timeout=3.0) as live:
                async def outage():
                    proxy.freeze()
                    await wait_for(lambda: not live.port.connected, 10, what="the silence noticed")
                    await wait_for(lambda: live.port.connected, 10, what="the reconnect")
                await through_the_menu(live, "0702000002", outage)
    run(scenario())


async def five_second_outage(live: Live) -> None:
    live.port.drop_connection("test: a 5 s outage")
    await wait_for(lambda: not live.port.connected, 5, what="the drop")
    await wait_for(lambda: live.port.connected, 15, what="the reconnect")


QUEUE_SCRIPT = """inbound:
    answer
    menu "main-menu" timeout 8s retries 1:
        key 1:
            queue to "support"
        key 4:
            voicemail to "support@example.com" prompt "leave-message" max 2s
            hangup
    hangup
"""


def test_an_agent_who_answers_on_a_half_open_connection_is_connected_after_it(tmp_path):
    """Asterisk still believes in the connection: the agent's channel enters the app and
    its StasisStart is lost; after the reconnect the runtime finds it answered."""
    async def scenario():
        async with FreezableProxy(8088) as proxy:
            async with Live(tmp_path, QUEUE_SCRIPT, ari_url=f"http://127.0.0.1:{proxy.port}",
                            ping_interval=1.0, ping_timeout=2.5, request_timeout=3.0) as live:
                live.agent("alice", ["support"], answer_after=1.0, talk=30)
                await live.dial("0702000003", "1")
                session = await wait_for(lambda: live.session_of("0702000003"), 5)
                await wait_for(lambda: session.state is State.RINGING, 10, what="alice to ring")
                await asyncio.sleep(0.3)  # the originate request has been answered
                proxy.freeze()  # alice answers 1 s later: the event is lost
                await wait_for(lambda: not live.port.connected, 10, what="the silence noticed")
                await wait_for(lambda: live.port.connected, 10, what="the reconnect")
                await wait_for(lambda: session.state is State.CONNECTED, 5,
                               what="the call to be connected after the reconnect")
                leg = live.runtime.driver.legs[session.call.call_id]
                await wait_for(lambda: leg.bridge is not None, 5)
                channels = set()
                for _ in range(50):
                    bridge = (await live.callers.http.get(f"/bridges/{leg.bridge}")).json()
                    channels = set(bridge.get("channels", ()))
                    if len(channels) == 2:
                        break
                    await asyncio.sleep(0.1)
                assert channels == {session.call.call_id, leg.agent_channel}
    run(scenario())


def test_a_ring_cut_off_by_an_outage_leaves_the_caller_waiting_for_the_next_agent(tmp_path):
    """While the app has no connection Asterisk refuses to let the answered agent's
    channel in ("Stasis app not active") and hangs it up; the caller keeps their place."""
    async def scenario():
        async with Live(tmp_path, QUEUE_SCRIPT, backoff=Backoff(base=5.0, jitter=0.0)) as live:
            live.agent("alice", ["support"], answer_after=1.0, talk=30)
            await live.dial("0702000005", "1")
            session = await wait_for(lambda: live.session_of("0702000005"), 5)
            await wait_for(lambda: session.state is State.RINGING, 10, what="alice to ring")
            await five_second_outage(live)
            await wait_for(lambda: session.state is State.QUEUED, 5, what="back in the queue")
            assert not live.runtime.driver.rings and not live.runtime.driver.agent_calls
            heard = await live.callers.listen(session.call.call_id, 1.0)
            assert heard.silent_seconds < 0.3, str(heard)  # waiting with music
            live.agent("bob", ["support"], answer_after=0.2, talk=1.0)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0702000005"),
                                    15, what="bob to take the call")
            assert record.agent == "bob"
    run(scenario())


def test_a_voice_message_that_ends_during_an_outage_ends_the_call_after_it(tmp_path):
    async def scenario():
        async with Live(tmp_path, QUEUE_SCRIPT, backoff=Backoff(base=5.0, jitter=0.0)) as live:
            await live.dial("0702000004", "4")
            session = await wait_for(lambda: live.session_of("0702000004"), 5)
            leg = live.runtime.driver.legs[session.call.call_id]
            await wait_for(lambda: leg.recording is not None, 10, what="the recording")
            await five_second_outage(live)  # the 2 s message ends in it
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0702000004"),
                                    10, what="the call to end after the message")
            assert record.outcome == "voicemail" and record.error is None
    run(scenario())
