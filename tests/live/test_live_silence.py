"""A caller is never left in silence: what callers hear, measured on a real Asterisk.

Each test listens to the runtime's channel of a call (a snoop channel,
recorded: see ``Callers.listen``) while the call is in some state, and
checks that the caller hears something — music on hold, a prompt — and not
silence. These catch the class of defect where the runtime's view ("music is
playing") and Asterisk's (it stopped the music for a playback) drift apart.
"""

from __future__ import annotations

import asyncio

import pytest

from runtime.session import State
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
