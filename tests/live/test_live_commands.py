"""On a real Asterisk: a custom command that calls ``sys.exit`` fails only its call.

Before, the SystemExit went up through the session and the ARI event
handling and ended the live runtime; now the call is handed to the fallback
with a located error and the runtime goes on serving calls.
"""

from __future__ import annotations

import asyncio
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
