"""The live runtime's own logic, against an in-process fake of the ARI port.

These check the driver's translation of script effects into ARI requests and
of ARI events into script progress (menus by DTMF, agents by originate and
bridge, hang-ups, fallback). The same flows run against a real Asterisk in
tests/live; these are the fast unit tests of our code.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store.database import Store

from fake_ari import FakeAri

SCRIPT = """inbound:
    answer
    menu "main-menu" timeout 2s retries 0:
        key 1:
            queue to "support"
        key 2:
            do explode()
    hangup
queue:
    every 10s:
        announce position
"""

SITE = """site: Test
languages: [en]
groups:
  support: {}
  rescue: {}
agents:
  - {id: alice, name: Alice, endpoint: PJSIP/alice, groups: [support, rescue]}
prompts:
  main-menu: en/main-menu
numbers:
  default: test.qs
fallback: {group: rescue}
commands: {modules: [qs_unit_commands]}
"""

COMMANDS = """from qscript.extensions import command


@command
def explode(call) -> None:
    raise RuntimeError("the CRM is down")
"""


def make_runtime(tmp_path: Path, fake: FakeAri, script: str = SCRIPT) -> LiveRuntime:
    (tmp_path / "test.qs").write_text(script)
    (tmp_path / "qs_unit_commands.py").write_text(COMMANDS)
    site = load_site_text(SITE, "site.yaml", tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    return LiveRuntime(site, fake, store, loop=asyncio.get_running_loop())


async def settle(seconds: float = 0.1) -> None:
    await asyncio.sleep(seconds)


async def settle_until(condition, seconds: float = 10.0) -> None:
    """Wait until ``condition()`` holds (a timer is late on a busy machine), at most ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)



def test_menu_queue_agent_and_hangup(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        runtime.agent_action("alice", "login", {"support": 0})
        fake.new_call("c1")
        await settle(0.05)
        fake.press("c1", "1")
        await settle(0.2)
        kinds = [r[0] for r in fake.requests]
        assert "answer" in kinds and "originate" in kinds
        assert fake.bridges.get("qs-c1") and "c1" in fake.bridges["qs-c1"]
        agent_channel = [r[2] for r in fake.requests if r[0] == "originate"][0]
        fake.agent_hangs_up(agent_channel)
        await settle(0.1)
        assert runtime.center.session_for("c1") is None
        assert ("hangup", "c1") in fake.requests
        await asyncio.sleep(0.2)  # let the record reach the database
        rows = runtime.store.calls()
        assert rows and rows[0].outcome == "answered" and rows[0].agent == "alice"
        await runtime.close()
    asyncio.run(scenario())


def test_a_failing_script_goes_to_the_fallback_group(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        runtime.agent_action("alice", "login", {"rescue": 0})
        fake.new_call("c2")
        await settle(0.05)
        fake.press("c2", "2")
        await settle(0.2)
        session = runtime.center.session_for("c2")
        assert session is not None and "the CRM is down" in session.record.error
        assert any(r[0] == "originate" for r in fake.requests), "the fallback group rang alice"
        await runtime.close()
    asyncio.run(scenario())


def test_caller_hangup_while_queued_is_an_abandon(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        fake.new_call("c3")
        await settle(0.05)
        fake.press("c3", "1")
        await settle(0.05)
        assert runtime.center.acd.calls_waiting("support") == 1
        fake.caller_hangs_up("c3")
        await settle(0.05)
        assert runtime.center.acd.calls_waiting("support") == 0
        assert runtime.center.session_for("c3") is None
        await runtime.close()
    asyncio.run(scenario())


def test_deploy_is_atomic_and_refuses_broken_scripts(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        first = runtime.versions["test"]
        broken = await runtime.deploy_source("test", "inbound:\n    queue to \"nowhere\"\n")
        assert not broken.ok and any("Q1003" == d["code"] for d in broken.diagnostics)
        assert runtime.versions["test"] == first
        good = await runtime.deploy_source("test", SCRIPT.replace("every 10s", "every 20s"))
        assert good.ok and runtime.versions["test"] == first + 1
        back = await runtime.rollback("test")
        assert back.ok and runtime.versions["test"] == first
        await runtime.close()
    asyncio.run(scenario())


def test_agent_busy_on_ring_goes_to_the_next_agent(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        fake.agent_behaviour["PJSIP/alice"] = "busy"
        runtime.agent_action("alice", "login", {"support": 0})
        fake.new_call("c4")
        await settle(0.05)
        fake.press("c4", "1")
        await settle(0.2)
        info = runtime.center.acd.agent_info("alice")
        assert info.state.name == "PAUSED"
        assert runtime.center.acd.calls_waiting("support") == 1
        await runtime.close()
    asyncio.run(scenario())


def test_a_number_without_a_script_goes_to_the_fallback_group(tmp_path):
    async def scenario():
        fake = FakeAri()
        (tmp_path / "test.qs").write_text(SCRIPT)
        (tmp_path / "qs_unit_commands.py").write_text(COMMANDS)
        site = load_site_text(SITE.replace("  default: test.qs", '  "5000": test.qs'),
                              "site.yaml", tmp_path)
        runtime = LiveRuntime(site, fake, Store(f"sqlite:///{tmp_path / 'db.sqlite'}"),
                              loop=asyncio.get_running_loop())
        await runtime.start()
        runtime.agent_action("alice", "login", {"rescue": 0})
        fake.new_call("c9", dialled="9999")
        await settle(0.2)
        assert any(r[0] == "originate" for r in fake.requests), "alice (rescue) was rung"
        assert runtime.center.session_for("c9") is not None
        await runtime.close()
    asyncio.run(scenario())


def test_music_on_hold_is_started_again_after_each_announcement(tmp_path):
    """Asterisk stops music on hold for a playback: the driver starts it again after it."""
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        fake.new_call("c10")
        await settle(0.05)
        fake.press("c10", "1")
        await settle(0.2)
        media = [r[0] for r in fake.requests if r[0] in ("start_moh", "stop_moh", "play")
                 and r[1] == "c10"]
        # menu prompt, then queued: music, the announcement (two playbacks), music again
        assert media[-4:] == ["start_moh", "play", "play", "start_moh"], media
        await runtime.close()
    asyncio.run(scenario())


def test_a_prompt_that_ended_while_events_were_lost_is_followed_by_the_menu(tmp_path):
    async def scenario():
        fake = FakeAri(play_seconds=0.05)
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        fake.new_call("c11")
        await settle(0.02)
        fake.delivering = False      # the event connection drops: PlaybackFinished is lost
        await settle(0.1)
        leg = runtime.driver.legs["c11"]
        assert leg.playback is not None and leg.collector.done and leg.timer is None
        fake.reconnect()
        await settle(0.05)
        assert leg.playback is None and leg.timer is not None, "the menu waits for a key"
        fake.press("c11", "1")
        await settle(0.05)
        assert runtime.center.acd.calls_waiting("support") == 1
        await runtime.close()
    asyncio.run(scenario())


def test_a_call_that_arrives_during_the_resynchronisation_is_not_taken_for_vanished(tmp_path):
    class SlowList(FakeAri):
        async def list_channels(self):
            listed = [{"id": c} for c in self.channels]  # what Asterisk had when asked
            await asyncio.sleep(0.05)
            return listed

    async def scenario():
        fake = SlowList()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        await settle(0.1)
        fake.reconnect()
        await settle(0.01)
        fake.new_call("c12")       # its StasisStart arrives while the list is on its way
        await settle(0.2)
        assert runtime.center.session_for("c12") is not None and "c12" in runtime.driver.legs
        await runtime.close()
    asyncio.run(scenario())


def test_a_failing_timer_hands_its_call_to_the_fallback(tmp_path):
    """A menu's timeout fires from the event loop, outside any event: a bug there still
    reaches the call's fallback (here the site's fallback group, where alice answers)."""
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake, SCRIPT.replace("timeout 2s", "timeout 1s"))
        await runtime.start()
        runtime.agent_action("alice", "login", {"rescue": 0})

        def broken(leg, value):
            raise RuntimeError("a bug in the menu timeout")
        runtime.driver._finish_collect = broken
        fake.new_call("c13")

        def failed_over():
            session = runtime.center.session_for("c13")
            return session is not None and session.record.error is not None \
                and any(r[0] == "originate" for r in fake.requests)
        await settle_until(failed_over)
        session = runtime.center.session_for("c13")
        assert session is not None and "a bug in the menu timeout" in session.record.error
        assert any(r[0] == "originate" for r in fake.requests), "the fallback group rang alice"
        await runtime.close()
    asyncio.run(scenario())


def test_a_failing_event_handler_hands_its_call_to_the_fallback(tmp_path, monkeypatch):
    from runtime.live.ari import driver as driver_module

    def broken(driver, event):
        raise RuntimeError("a bug in the DTMF handler")
    monkeypatch.setitem(driver_module._EVENT_HANDLERS, "ChannelDtmfReceived", broken)

    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        runtime.agent_action("alice", "login", {"rescue": 0})
        fake.new_call("c14")
        await settle(0.05)
        fake.press("c14", "1")
        await settle(0.2)
        session = runtime.center.session_for("c14")
        assert session is not None and "ChannelDtmfReceived" in session.record.error
        assert runtime.center.acd.has_call("c14") or session.agent == "alice"
        await runtime.close()
    asyncio.run(scenario())


def test_a_pause_for_a_missed_ring_is_stored(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        fake.agent_behaviour["PJSIP/alice"] = "busy"
        runtime.agent_action("alice", "login", {"support": 0})
        fake.new_call("c15")
        await settle(0.05)
        fake.press("c15", "1")
        await settle(0.3)
        row = next(r for r in runtime.store.agents() if r.agent_id == "alice")
        assert row.logged_in and not row.ready and row.pause_reason == "no answer"
        await runtime.close()
    asyncio.run(scenario())


def test_a_leg_we_originated_that_no_ring_waits_for_is_hung_up(tmp_path):
    """An agent who answers after the ring was given up on, or after a restart."""
    from runtime.live.ari.port import AriEvent

    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        fake.channels.add("old-call-a7")
        fake.emit(AriEvent("StasisStart", "old-call-a7", args=("agent", "old-call")))
        fake.channels.add("vip-anna")   # a caller whose id merely looks like a leg
        fake.emit(AriEvent("StasisStart", "vip-anna", args=("100",)))
        await settle(0.1)
        assert ("hangup", "old-call-a7") in fake.requests
        assert runtime.center.session_for("vip-anna") is not None
        await runtime.close()
    asyncio.run(scenario())


def test_an_agent_hand_off_is_measured_stage_by_stage(tmp_path):
    """Agent free -> next caller bridged, with the bridge made while the agent's phone rang."""
    async def scenario():
        import gc
        fake = FakeAri(answer_seconds=0.05)
        runtime = make_runtime(tmp_path, fake)
        gc.unfreeze()
        await runtime.start()
        await settle(0.05)
        # The process's long-lived objects are kept off the garbage collector's walks.
        assert gc.get_freeze_count() > 10_000
        runtime.agent_action("alice", "login", {"support": 0})
        for call in ("c16", "c17"):
            fake.new_call(call)
            await settle(0.02)
            fake.press(call, "1")
        await settle(0.3)
        first_agent_leg = [r[2] for r in fake.requests if r[0] == "originate"][0]
        fake.agent_hangs_up(first_agent_leg)   # alice is free: c17 is handed to her
        await settle(0.3)
        stages = runtime.driver.handoff_stages
        assert len(stages["free_to_bridged"].samples) == 1
        assert stages["free_to_bridged"].samples[0] >= stages["sent_to_answered"].samples[0] >= 0.05
        kinds = [r[0] for r in fake.requests
                 if r[0] in ("create_bridge", "add_to_bridge", "originate") and "c17" in str(r)]
        assert kinds == ["create_bridge", "originate", "add_to_bridge"] or \
            kinds == ["originate", "create_bridge", "add_to_bridge"], kinds
        metrics = runtime.metrics()
        assert metrics["handoff_stages"]["free_to_bridged"]["count"] == 1
        assert {"loop_lag", "gc"} <= set(metrics)
        await runtime.close()
    asyncio.run(scenario())


def test_a_voice_message_left_from_the_queue_has_no_music_under_it_or_after_it(tmp_path):
    script = """inbound:
    answer
    queue to "support"
queue:
    voicemail to "support@example.com" max 1s
    wait 1s
    hangup
"""

    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake, script)
        await runtime.start()
        fake.new_call("c18")
        await settle(0.5)
        media = [r[0] for r in fake.requests if r[0] in ("start_moh", "stop_moh", "record")]
        assert "record" in media, media
        assert "start_moh" not in media[media.index("record"):], media
        await runtime.close()
    asyncio.run(scenario())


def test_a_dialplan_fallback_without_an_extension_continues_at_the_dialled_number(tmp_path):
    """docs/site.md: `fallback: {dialplan: {context: ...}}` needs no extension; the
    caller continues at the dialled number."""
    async def scenario():
        fake = FakeAri()
        (tmp_path / "test.qs").write_text(SCRIPT)
        (tmp_path / "qs_unit_commands.py").write_text(COMMANDS)
        site = load_site_text(SITE.replace("fallback: {group: rescue}",
                                           "fallback: {dialplan: {context: from-queue}}"),
                              "site.yaml", tmp_path)
        assert site.fallback.dialplan.extension is None
        runtime = LiveRuntime(site, fake, Store(f"sqlite:///{tmp_path / 'db.sqlite'}"),
                              loop=asyncio.get_running_loop())
        await runtime.start()
        fake.new_call("c10", dialled="+4687001000")
        await settle(0.05)
        fake.press("c10", "2")   # the command raises: the script fails
        await settle(0.2)
        assert ("continue", "c10", "from-queue", "+4687001000") in fake.requests
        await runtime.close()
    asyncio.run(scenario())



def test_a_callback_that_reached_an_agent_counts_as_answered_not_pending():
    """Such a call keeps the outcome callback (with its agent); the simulator's
    figures count it answered, and only callbacks never made as pending."""
    from runtime.core.records import CallRecord
    from runtime.simulator.stats import Counters

    counters = Counters()
    counters.add(CallRecord("made", "1", "100", queued_at=0.0, answered_at=30.0, agent="a",
                            outcome="callback"), threshold=20.0)
    counters.add(CallRecord("pending", "2", "100", queued_at=0.0, outcome="callback"),
                 threshold=20.0)
    summary = counters.summary()
    assert summary["calls_answered"] == 1 and summary["callbacks_pending"] == 1
