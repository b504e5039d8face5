"""End to end on a real Asterisk: the live runtime handling real calls.

Each test starts a LiveRuntime (the asyncari adapter, the ARI driver, the
shared contact centre, an SQLite store) against the harness's Asterisk,
makes calls with Local channels (tests/live/callers.py) and checks what
happened: bridges, recorded call outcomes, mails received by a real SMTP
server (aiosmtpd), channels handed back to the dialplan.
"""

from __future__ import annotations

import asyncio
import email
import os
from pathlib import Path

import pytest

from qscript.api import compile_text
from runtime.live.ari.port import AriConfig
from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store.database import Store
from tests.live.callers import Callers, wait_for

pytestmark = pytest.mark.asterisk

SITE = """site: Live test
languages: [en]
groups:
  support: {{}}
  sales: {{}}
  overflow: {{}}
agents:
  - {{id: alice, name: Alice, endpoint: Local/alice@qtest-agent, groups: [support]}}
  - {{id: bob, name: Bob, endpoint: Local/bob@qtest-agent, groups: [sales]}}
  - {{id: carol, name: Carol, endpoint: Local/carol@qtest-agent, groups: [overflow]}}
prompts:
  welcome: beep
  main-menu: beep
  cb-offer: beep
  leave-message: beep
  survey-q1: beep
  queue-position: beep
  queue-wait: beep
  queue-wait-unknown: beep
  missing: no-such-sound
  long: tt-weasels
numbers:
  default: {script}
ari: {{url: "http://127.0.0.1:8088", user: qtest, app: qtest, password_env: QSCRIPT_TEST_ARI_PASSWORD,
      transfer_context: qtest-fallback}}
mail: {{from: qscript@example.com, smtp_host: 127.0.0.1, smtp_port: {smtp_port}}}
fallback: {{dialplan: {{context: qtest-fallback, extension: s}}}}
commands: {{modules: [qs_live_commands]}}
"""

COMMANDS = """from qscript.extensions import command


@command
def explode(call) -> None:
    raise RuntimeError("the CRM is down")
"""


class Live:
    """A running LiveRuntime plus simulated callers, for one test."""

    def __init__(self, tmp_path: Path, script: str, smtp_port: int = 2525,
                 ari_url: str = "http://127.0.0.1:8088", **adapter_options):
        self.tmp_path = tmp_path
        self.ari_url = ari_url
        self.adapter_options = adapter_options
        (tmp_path / "main.qs").write_text(script)
        (tmp_path / "qs_live_commands.py").write_text(COMMANDS)
        os.environ["QSCRIPT_TEST_ARI_PASSWORD"] = "qtest"
        self.site = load_site_text(SITE.format(script="main.qs", smtp_port=smtp_port),
                                   "site.yaml", tmp_path)
        self.store = Store(f"sqlite:///{tmp_path / 'live.db'}")
        self.records = []

    async def __aenter__(self):
        from runtime.live.ari.asyncari_adapter import AsyncariAdapter
        self.port = AsyncariAdapter(AriConfig(self.ari_url, "qtest", "qtest", "qtest"),
                                    **self.adapter_options)
        self.runtime = LiveRuntime(self.site, self.port, self.store,
                                   loop=asyncio.get_running_loop())
        previous = self.runtime.center.on_record
        self.runtime.center.on_record = lambda r: (self.records.append(r),
                                                   previous(r) if previous is not None else None)
        from runtime.core.trace import Tracer
        self.tracer = Tracer()
        self.runtime.center.tracer = self.tracer
        await self.runtime.start()
        await wait_for(lambda: self.port.connected, 10, what="ARI connected")
        self.callers = await Callers(_live()).__aenter__()
        return self

    async def __aexit__(self, *exc):
        await self.callers.__aexit__(*exc)
        await self.runtime.close()
        self.store.close()

    def agent(self, agent_id: str, groups: list[str], answer_after: float = 0.3,
              talk: float = 2.0, **extra) -> None:
        self.runtime.driver.agent_variables[agent_id] = {
            "AGENT_ANSWER_DELAY": str(answer_after), "AGENT_TALK_TIME": str(talk), **extra}
        self.runtime.agent_action(agent_id, "login", {g: 0 for g in groups})

    async def dial(self, number: str, keys: str, pause: float = 0.3) -> str:
        """Call in from ``number``, wait for the answer, pause, press ``keys``."""
        caller = await self.callers.call("5000", caller=number)
        await self.callers.answered(caller)
        await asyncio.sleep(pause)
        await self.callers.press(caller, keys)
        return caller

    def record_for(self, predicate):
        return next((r for r in self.records if predicate(r)), None)

    def session_of(self, caller: str):
        """The running session of the call from ``caller`` (None when there is none)."""
        return next((s for s in self.runtime.center.sessions_in_progress() if s.call.caller == caller),
                    None)


_LIVE = {}


def _live():
    return _LIVE["asterisk"]


@pytest.fixture(autouse=True)
def _remember_asterisk(asterisk):
    _LIVE["asterisk"] = asterisk
    yield


MENU_SCRIPT = """inbound:
    answer
    menu "main-menu" timeout 8s retries 1:
        key 1:
            queue to "support"
        key 2:
            queue to "sales"
        key 3:
            do explode()
        key 4:
            voicemail to "support@example.com" prompt "leave-message" max 2s
            hangup
    hangup
queue:
    every 2s:
        announce position
        if call.waited > 3s:
            add group "overflow"
"""


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 90))


def test_dtmf_menu_queue_and_agent_answers_bridged(tmp_path):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            live.agent("alice", ["support"], answer_after=0.3, talk=1.5)
            await live.dial("0701111111", "1")
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0701111111"),
                                    20, what="the call to end")
            assert record.outcome == "answered" and record.agent == "alice"
            assert record.groups == ["support"]
            steps = [str(s).split(" (line")[0] for s in live.tracer.path(record.call_id)]
            assert steps[:3] == ["answer", "menu main-menu", "queue support"]
            assert "connected alice" in steps
            await asyncio.sleep(0.3)
            rows = live.store.calls()
            assert rows[0].agent == "alice" and rows[0].outcome == "answered"
    run(scenario())


def test_overflow_to_a_second_group(tmp_path):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            live.agent("carol", ["overflow"], answer_after=0.2, talk=1.0)
            await live.dial("0702222222", "1")
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0702222222"),
                                    25, what="the call to end")
            assert record.agent == "carol" and record.groups == ["support", "overflow"]
            assert record.answered_at - record.queued_at >= 3.0
    run(scenario())


def test_never_stranded_a_failing_script_hands_the_call_to_the_dialplan(tmp_path):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            await live.dial("0703333333", "3")
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0703333333"),
                                    15, what="the failed call to be handed over")
            assert record.outcome == "failed" and "the CRM is down" in record.error
            await live.callers.in_dialplan(record.call_id, "qtest-fallback")
    run(scenario())


def test_voice_message_is_mailed_with_the_recording(tmp_path):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    import socket
    with socket.socket() as probe:  # a free port: aiosmtpd's readiness check cannot use 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:

        async def scenario():
            async with Live(tmp_path, MENU_SCRIPT, smtp_port=port) as live:
                await live.dial("0704444444", "4")
                await wait_for(lambda: received, 20, what="the voice message mail")
        run(scenario())
    finally:
        controller.stop()
    message = email.message_from_bytes(received[0].content)
    assert received[0].rcpt_tos == ["support@example.com"]
    assert "0704444444" in message["Subject"]
    attachments = [part for part in message.walk() if part.get_content_type() == "audio/wav"]
    assert attachments and attachments[0].get_payload(decode=True)[:4] == b"RIFF"


def test_hot_reload_while_calls_are_in_progress(tmp_path):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            first = await live.callers.call("5000", caller="0705555501")
            await live.callers.answered(first)
            await asyncio.sleep(0.3)
            await live.callers.press(first, "2")  # waits in sales: nobody there yet
            old_hash = await wait_for(lambda: next(
                (s.program.hash_hex for s in live.runtime.center.sessions_in_progress()
                 if s.call.caller == "0705555501"), None), 10, what="the first session")
            new_script = MENU_SCRIPT.replace('queue to "sales"', 'queue to "sales" priority 9')
            result = await live.runtime.deploy_source("main", new_script)
            assert result.ok
            second = await live.callers.call("5000", caller="0705555502")
            await live.callers.answered(second)
            await asyncio.sleep(0.3)
            await live.callers.press(second, "2")
            new_hash = await wait_for(lambda: next(
                (s.program.hash_hex for s in live.runtime.center.sessions_in_progress()
                 if s.call.caller == "0705555502"), None), 10, what="the second session")
            assert new_hash != old_hash
            # The call in progress still runs its old version.
            assert any(s.program.hash_hex == old_hash for s in live.runtime.center.sessions_in_progress())
            await wait_for(lambda: live.runtime.center.acd.calls_waiting("sales") == 2, 10,
                           what="both calls waiting")
            live.agent("bob", ["sales"], answer_after=0.2, talk=1.0)
            await wait_for(lambda: len([r for r in live.records if r.agent == "bob"]) == 2,
                           30, what="both calls answered by bob")
            by_caller = {r.caller: r for r in live.records}
            # Priority 9 (new version) is answered before the older call.
            assert by_caller["0705555502"].answered_at < by_caller["0705555501"].answered_at
    run(scenario())


def test_asterisk_restart_with_calls_in_flight(tmp_path, asterisk):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            await live.dial("0706666666", "2")
            await wait_for(lambda: live.runtime.center.acd.calls_waiting("sales") == 1, 10,
                           what="the call to queue")
            await asyncio.to_thread(asterisk.harness.restart)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0706666666"),
                                    30, what="the lost call to be closed")
            assert record.outcome == "abandoned"
            assert live.runtime.center.acd.calls_waiting("sales") == 0
            await wait_for(lambda: live.port.connected, 30, what="the adapter to reconnect")
            async with Callers(asterisk) as callers:
                live.agent("bob", ["sales"], answer_after=0.2, talk=1.0)
                again = await callers.call("5000", caller="0706666667")
                await callers.answered(again)
                await asyncio.sleep(0.3)
                await callers.press(again, "2")
                record = await wait_for(lambda: live.record_for(
                    lambda r: r.caller == "0706666667"), 20, what="a call after the restart")
                assert record.agent == "bob"
    run(scenario())


DIFFERENTIAL_SCRIPT = """inbound:
    answer
    play "welcome"
    menu "main-menu" timeout 8s retries 1:
        key 1:
            set call.priority = 3
            queue to "support"
        key 2:
            queue to "sales"
    hangup
after call:
    menu "survey-q1" timeout 8s retries 0:
        key 1, 2, 3, 4, 5:
            save "survey.q1" = call.menu
"""


def test_differential_the_simulator_and_live_take_the_same_path(tmp_path):
    """The same compiled script, caller actions and agent, in the simulator and live."""
    from runtime.simulator.scenarios import AgentPlan, CallPlan, Scenario, run_scenario
    from runtime.site.yamlmarks import Location

    program = compile_text(DIFFERENTIAL_SCRIPT, "main.qs").program
    actions = [("press", "1", Location("t")), ("press", "4", Location("t"))]
    simulated = run_scenario(Scenario("diff", Location("t"), calls=[CallPlan(actions=actions)],
                                      agents=[AgentPlan("alice", ["support"], talk=2.0)]),
                             program)
    sim_path = [(s.kind, s.detail, s.line) for s in simulated.path]

    async def scenario():
        async with Live(tmp_path, DIFFERENTIAL_SCRIPT) as live:
            live.agent("alice", ["support"], answer_after=0.2, talk=2.0)
            caller = await live.dial("0707777777", "1", pause=0.5)
            session = await wait_for(lambda: next(
                (s for s in live.runtime.center.sessions_in_progress()
                 if s.call.caller == "0707777777"), None), 10, what="the session")
            from runtime.core.session import State
            await wait_for(lambda: session.state is State.AFTER, 20, what="the after-call phase")
            await asyncio.sleep(0.5)
            await live.callers.press(caller, "4")
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0707777777"),
                                    20, what="the call to end")
            return [(s.kind, s.detail, s.line) for s in live.tracer.path(record.call_id)], record

    live_path, record = run(scenario())
    assert record.saved == {"survey.q1": "4"}
    assert live_path == sim_path, f"simulator: {sim_path}\nlive:      {live_path}"


CALLBACK_SCRIPT = """inbound:
    answer
    queue to "sales"
queue:
    wait 1s
    offer callback prompt "cb-offer" key 1 timeout 8s
"""


def test_callback_keeps_the_place_and_calls_the_customer_back(tmp_path):
    async def scenario():
        async with Live(tmp_path, CALLBACK_SCRIPT) as live:
            live.runtime.driver.callback_endpoint = "Local/{number}@qtest-agent"
            caller = await live.dial("0708888888", "1", pause=1.5)
            await live.callers.ended(caller, 10)  # the runtime released the line
            assert live.runtime.center.acd.calls_waiting("sales") == 1  # the place is kept
            live.agent("bob", ["sales"], answer_after=0.2, talk=1.5)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0708888888"),
                                    20, what="the callback to be made and finished")
            assert record.agent == "bob" and record.outcome == "callback"
            steps = [s.kind for s in live.tracer.path(record.call_id)]
            assert "callback" in steps and "connected" in steps
    run(scenario())


def test_an_agent_who_does_not_answer_is_skipped_and_paused(tmp_path):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            live.agent("alice", ["support"], AGENT_NOANSWER="1")
            live.agent("carol", ["support"], answer_after=0.2, talk=1.0)
            live.runtime.driver.site = live.site
            await live.dial("0709999999", "1")
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0709999999"),
                                    40, what="the call to be answered by the next agent")
            assert record.agent == "carol"
    run(scenario())


def test_a_websocket_drop_with_a_call_in_flight(tmp_path):
    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            await live.dial("0701010101", "2")
            await wait_for(lambda: live.runtime.center.acd.calls_waiting("sales") == 1, 10,
                           what="the call to queue")
            live.port.drop_connection("test")
            await wait_for(lambda: not live.port.connected, 5, what="the drop to be noticed")
            await wait_for(lambda: live.port.connected, 20, what="the reconnect")
            # The channel stayed in Stasis through the drop: the call is still ours.
            assert live.runtime.center.acd.calls_waiting("sales") == 1
            live.agent("bob", ["sales"], answer_after=0.2, talk=1.0)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0701010101"),
                                    20, what="the call to be answered after the reconnect")
            assert record.agent == "bob"
    run(scenario())


def _free_udp_port(even: bool = False) -> int:
    import socket
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not even or port % 2 == 0:
            return port


def test_a_sip_call_from_sipp_through_the_menu_to_an_agent(tmp_path, asterisk):
    """A real SIP call (SIPp over PJSIP) presses 1 with RFC 4733 DTMF and reaches an agent."""
    import subprocess

    from tests.live.asterisk_harness import ensure_sipp

    sipp = ensure_sipp()
    scenario_file = Path(__file__).parent / "sipp" / "uac-dtmf.xml"

    async def scenario():
        async with Live(tmp_path, MENU_SCRIPT) as live:
            live.agent("alice", ["support"], answer_after=0.2, talk=1.0)
            process = await asyncio.create_subprocess_exec(
                sipp, "-sf", str(scenario_file), "-s", "s", "-i", "127.0.0.1",
                "-p", str(_free_udp_port()), "-mi", "127.0.0.1",
                "-mp", str(_free_udp_port(even=True)), "-m", "1", "-nostdin",
                "-timeout", "40s", "-timeout_error", f"{asterisk.sip_host}:{asterisk.sip_port}",
                cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE)
            try:
                record = await wait_for(lambda: live.record_for(
                    lambda r: r.agent == "alice"), 30, what="the SIP caller to reach alice")
                assert record.groups == ["support"]
                assert (await asyncio.wait_for(process.wait(), 20)) == 0  # we sent the BYE
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    run(scenario())


INPUT_SCRIPT = """inbound:
    answer
    collect account prompt "welcome" digits 4 terminator "#" timeout 6s retries 1 valid if starts_with(account, "47"):
        invalid:
            play "main-menu"
    if account == "":
        transfer to "7777"
    queue to "support"
"""


def test_digits_are_collected_validated_and_shown_to_the_queue(tmp_path):
    async def scenario():
        async with Live(tmp_path, INPUT_SCRIPT) as live:
            caller = await live.callers.call("5000", caller="0701212121")
            await live.callers.answered(caller)
            await asyncio.sleep(0.5)
            await live.callers.press(caller, "12#")       # invalid: does not start with 47
            await asyncio.sleep(1.5)
            await live.callers.press(caller, "4711")      # four digits end the entry
            status = await wait_for(lambda: (lambda s: s["groups"] and any(
                w["digits"] == "4711" for g in s["groups"] for w in g["waiting"]) and s)(
                live.runtime.status()), 15, what="the caller waiting with their digits")
            assert status
            steps = [s.kind for s in live.tracer.path(next(iter(live.tracer.steps)))]
            assert steps.count("collect") == 2
    run(scenario())


def test_transfer_to_an_external_number_continues_in_the_dialplan(tmp_path):
    async def scenario():
        async with Live(tmp_path, INPUT_SCRIPT) as live:
            caller = await live.callers.call("5000", caller="0703434343")
            await live.callers.answered(caller)
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0703434343"),
                                    30, what="no input, two tries, then the transfer")
            assert record.outcome == "transferred" and record.transferred_to == "7777"
            channel = await live.callers.in_dialplan(record.call_id, "qtest-fallback")
            assert channel["dialplan"]["exten"] in ("7777", "s")
    run(scenario())


def test_calls_left_by_a_runtime_that_died_are_handed_to_the_fallback(tmp_path, asterisk):
    """A restarted runtime finds channels in its app that no session knows: never stranded."""
    async def scenario():
        first = Live(tmp_path, MENU_SCRIPT)
        await first.__aenter__()
        caller = await first.callers.call("5000", caller="0702020202")
        await first.callers.answered(caller)
        await asyncio.sleep(0.3)
        await first.callers.press(caller, "2")
        call_id = await wait_for(lambda: next(
            (s.call.call_id for s in first.runtime.center.sessions_in_progress()
             if s.call.caller == "0702020202"), None), 10, what="the call")
        await wait_for(lambda: first.runtime.center.acd.calls_waiting("sales") == 1, 10,
                       what="the call to queue")
        # The runtime dies: its connection closes, the channel stays in Stasis.
        await first.runtime.close()
        second_dir = tmp_path / "again"
        second_dir.mkdir()
        async with Live(second_dir, MENU_SCRIPT) as second:
            async def in_fallback():
                data = await second.callers.channel(call_id)
                return data and data["dialplan"]["context"] == "qtest-fallback"
            deadline = asyncio.get_running_loop().time() + 15
            while not await in_fallback():
                assert asyncio.get_running_loop().time() < deadline, "not handed to the fallback"
                await asyncio.sleep(0.1)
        await first.callers.__aexit__(None, None, None)
        first.store.close()
    run(scenario())


def test_a_dialplan_fallback_without_an_extension_continues_at_the_dialled_number(tmp_path):
    """docs/site.md: `fallback: {dialplan: {context: ...}}` needs no extension; on a real
    Asterisk the failed caller continues in that context at the number they dialled."""
    async def scenario():
        live = Live(tmp_path, MENU_SCRIPT)
        text = SITE.format(script="main.qs", smtp_port=2525).replace(
            "fallback: {dialplan: {context: qtest-fallback, extension: s}}",
            "fallback: {dialplan: {context: qtest-fallback}}")
        assert "extension" not in text.split("fallback:")[1].splitlines()[0]
        live.site = load_site_text(text, "site.yaml", tmp_path)
        async with live:
            await live.dial("0704444444", "3")
            record = await wait_for(lambda: live.record_for(lambda r: r.caller == "0704444444"),
                                    15, what="the failed call to be handed over")
            assert record.outcome == "failed"

            async def fallback_extension():
                response = await live.callers.http.get(
                    f"/channels/{record.call_id}/variable",
                    params={"variable": "QTEST_FALLBACK_EXTEN"})
                return response.json().get("value") if response.status_code == 200 else None
            deadline = asyncio.get_running_loop().time() + 10
            value = None
            while asyncio.get_running_loop().time() < deadline and not value:
                value = await fallback_extension()
                await asyncio.sleep(0.1)
            assert value == "5000"   # the dialled number, as the docs say
    run(scenario())
