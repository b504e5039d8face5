"""On a real Asterisk: custom commands and lookups that misbehave harm only their call.

A command that calls ``sys.exit``: before, the SystemExit went up through
the session and the ARI event handling and ended the live runtime; now the
call is handed to the fallback with a located error and the runtime goes on
serving calls.

A command or lookup that blocks (a CRM taking seconds, an SQLite database
another program keeps locked): before, it ran on the event loop and froze
every call; now it runs in a worker thread, other calls' menus and agent
hand-offs go on meanwhile, a command over its timeout sends its caller to the
fallback, and a lookup over its timeout is "not found".
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from runtime.site import load_site_text
from tests.live.callers import wait_for
from tests.live.test_live_runtime import SITE, Live, _remember_asterisk, run  # noqa: F401

pytestmark = pytest.mark.asterisk

#: A module name of its own: Python caches imported modules by name.
MODULE = "qs_live_exit_commands"

COMMANDS = """import sys

from qscript.extensions import command


@command
def leave(call) -> None:
    sys.exit(0)
"""

SCRIPT = """inbound:
    answer
    menu "main-menu" timeout 8s retries 1:
        key 1:
            queue to "support"
        key 5:
            do leave()
    hangup
"""


class ExitingLive(Live):
    def __init__(self, tmp_path: Path, script: str):
        super().__init__(tmp_path, script)
        (tmp_path / f"{MODULE}.py").write_text(COMMANDS)
        self.site = load_site_text(SITE.format(script="main.qs", smtp_port=2525)
                                   .replace("qs_live_commands", MODULE), "site.yaml", tmp_path)


def test_a_command_calling_sys_exit_fails_its_call_and_the_runtime_goes_on(tmp_path):
    async def scenario():
        async with ExitingLive(tmp_path, SCRIPT) as live:
            await live.dial("0705555555", "5")
            failed = await wait_for(lambda: live.record_for(lambda r: r.caller == "0705555555"),
                                    15, what="the failed call to be handed over")
            assert failed.outcome == "failed"
            assert "main.qs:7:13: command failed: custom command 'leave' called sys.exit(0)" \
                in failed.error
            await live.callers.in_dialplan(failed.call_id, "qtest-fallback")
            # The runtime is still serving calls.
            live.agent("alice", ["support"], answer_after=0.3, talk=1.0)
            await live.dial("0701111111", "1")
            answered = await wait_for(
                lambda: live.record_for(lambda r: r.caller == "0701111111"), 20,
                what="the next call to be answered")
            assert answered.outcome == "answered" and answered.agent == "alice"
            await asyncio.sleep(0.1)
    run(scenario())


# ------------------------------------------------------------------ slow commands and lookups

SLOW_COMMANDS = """import threading
import time

from qscript.extensions import command

started = threading.Event()
finished = threading.Event()


@command
def slow_crm(call, seconds: float) -> str:
    started.set()
    time.sleep(seconds)
    finished.set()
    return "case-1"
"""

SLOW_SCRIPT = """inbound:
    answer
    menu "main-menu" timeout 8s retries 1:
        key 1:
            queue to "support"
        key 6:
            do slow_crm(4) into case
            log case
            queue to "support"
        key 7:
            lookup "crm" by call.caller into customer
            if customer.found:
                log "found"
            else:
                log "not found"
            queue to "support"
    hangup
"""


class SlowLive(Live):
    """The live runtime with a command module that sleeps, a timeout and an SQLite lookup."""

    def __init__(self, tmp_path: Path, module: str, command_timeout: str):
        super().__init__(tmp_path, SLOW_SCRIPT)
        self.module = module
        (tmp_path / f"{module}.py").write_text(SLOW_COMMANDS)
        self.crm = tmp_path / "crm.db"
        with sqlite3.connect(self.crm) as db:
            db.execute("CREATE TABLE customers (phone TEXT, name TEXT)")
            db.execute("INSERT INTO customers VALUES ('0701111111', 'Ada')")
        db.close()
        site = SITE.format(script="main.qs", smtp_port=2525).replace(
            "commands: {modules: [qs_live_commands]}",
            f"commands: {{modules: [{module}], timeout: {command_timeout}}}\n"
            "lookups:\n  crm: {type: sqlite, path: crm.db, table: customers, key: phone, "
            "fields: {name: string}, timeout: 1s}")
        self.site = load_site_text(site, "site.yaml", tmp_path)

    @property
    def commands(self):
        return sys.modules[self.module]

    def session_of(self, caller: str):
        return next((s for s in self.runtime.center.sessions_in_progress() if s.call.caller == caller),
                    None)

    def connected(self, caller: str) -> bool:
        session = self.session_of(caller)
        return session is not None and session.agent is not None

    def last_step(self, caller: str) -> str:
        session = self.session_of(caller)
        path = self.tracer.path(session.call.call_id) if session is not None else []
        return path[-1].kind if path else ""

    async def timed_dial(self, number: str) -> tuple[str, float]:
        """Call in; the caller's channel and how long the runtime took to answer it."""
        started = time.monotonic()
        caller = await self.callers.call("5000", caller=number)
        await self.callers.answered(caller)
        return caller, time.monotonic() - started


def test_a_slow_command_on_one_call_does_not_delay_another_calls_menu(tmp_path):
    async def scenario():
        async with SlowLive(tmp_path, "qs_live_slow_commands", "10s") as live:
            live.agent("alice", ["support"], answer_after=0.2, talk=1.0)
            await live.dial("0701111111", "6")        # its command takes 4 s
            await wait_for(live.commands.started.is_set, 10, what="the slow command to start")
            other, waited = await live.timed_dial("0702222222")
            assert waited < 1.5, f"the second call waited {waited:.2f}s to be answered"
            await asyncio.sleep(0.3)
            await live.callers.press(other, "1")
            await wait_for(lambda: live.connected("0702222222"), 10,
                           what="the second call to be connected to alice")
            # Menu, queue and agent hand-off of the second call, all during the first's command.
            assert not live.commands.finished.is_set(), "the second call waited for the command"
            slow = await wait_for(lambda: live.record_for(lambda r: r.caller == "0701111111"),
                                  20, what="the slow call to end")
            assert slow.error is None and slow.log == ["case-1"] and slow.agent == "alice"
    run(scenario())


def test_a_command_over_its_timeout_sends_its_caller_to_the_fallback(tmp_path):
    async def scenario():
        async with SlowLive(tmp_path, "qs_live_timeout_commands", "1s") as live:
            caller = await live.dial("0703333333", "6")
            await wait_for(live.commands.started.is_set, 10, what="the slow command to start")
            started = time.monotonic()
            failed = await wait_for(lambda: live.record_for(lambda r: r.caller == "0703333333"),
                                    10, what="the call to be handed to the fallback")
            assert time.monotonic() - started < 2.5, "the fallback waited for the command"
            assert not live.commands.finished.is_set()
            assert failed.outcome == "failed"
            assert "main.qs:7:13: command failed: custom command 'slow_crm' did not finish " \
                   "within 1s" in failed.error
            # Never silence: the caller's channel went on in the dialplan's fallback.
            channel = await live.callers.channel(failed.call_id)
            assert channel is not None and channel["dialplan"]["context"] == "qtest-fallback"
            assert await live.callers.channel(caller) is not None   # the caller is still on
            await wait_for(live.commands.finished.is_set, 10, what="the command to end")
            await asyncio.sleep(0.2)   # its late result is dropped without harm
            assert len([r for r in live.records if r.caller == "0703333333"]) == 1
    run(scenario())


def test_a_locked_lookup_delays_no_other_call_and_its_caller_goes_on(tmp_path):
    async def scenario():
        async with SlowLive(tmp_path, "qs_live_lookup_commands", "5s") as live:
            live.agent("alice", ["support"], answer_after=0.2, talk=1.0)
            locker = sqlite3.connect(live.crm, isolation_level=None)
            locker.execute("BEGIN EXCLUSIVE")     # another program holds the database
            try:
                await live.dial("0701111111", "7")
                await wait_for(lambda: live.last_step("0701111111") == "lookup", 10,
                               what="the lookup to start")
                _, waited = await live.timed_dial("0702222222")
                assert waited < 1.0, f"the second call waited {waited:.2f}s for the lookup"
                found = await wait_for(lambda: live.record_for(lambda r: r.caller == "0701111111"),
                                       20, what="the looked-up call to end")
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            assert found.error is None and found.agent == "alice"
            assert found.log[-1] == "not found"
            # The worker's SQLite busy timeout and the call's timeout are both 1 s: either says so.
            assert found.log[0].endswith(('main.qs:11:13: warning: lookup "crm" did not answer '
                                          "within 1s; the call goes on as not found",
                                          'main.qs:11:13: warning: lookup "crm" failed: database '
                                          "is locked; the call goes on as not found"))
    run(scenario())
