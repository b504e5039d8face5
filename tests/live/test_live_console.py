"""End to end on the real Asterisk and a real browser: an agent works a call from the console.

The runtime (the asyncari adapter, the ARI driver, the console on the control
server) runs in a background thread with its own event loop; Debian's Chromium,
driven by Playwright's sync API, is the agent's browser in the test's thread.
alice logs in on the page and makes herself ready; a call comes in (a Local
channel, tests/live/callers.py) and keys in digits; her phone (a Local channel
in qtest-agent) rings: the screen pop shows the caller and the digits within a
second; she answers and is bridged with the caller; she pauses with a reason,
which starts when her call ends. A supervisor's wallboard, open all along in
a second browser, shows the call within a second of its arrival, and alice
ringing, busy and paused (orange, with the reason).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from runtime.core.session import State
from runtime.live.control import start_control
from runtime.site import load_site_text
from runtime.store import console as tables
from runtime.web.security import hash_password
from tests.live.test_live_runtime import SITE, Live, _remember_asterisk  # noqa: F401 (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from browser_harness import chromium_path  # noqa: E402

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

SCRIPT = """inbound:
    answer
    collect customer_no prompt "welcome" digits 4 timeout 5s
    queue to "support"
"""
PASSWORD = "secret-pass-1"
TOKEN = "live-console-token"
#: The live tests' site with the console's settings.
CONSOLE_SITE = SITE + """web:
  pause_reasons: [lunch, meeting]
  crm_url: "https://crm.example.com/find?number={{caller}}&customer={{digits}}"
"""


class LiveConsole(Live):
    """The live runtime with its console, in a thread of its own (Playwright's sync API
    cannot run inside an event loop)."""

    def __init__(self, tmp_path: Path):
        super().__init__(tmp_path, SCRIPT)
        self.site.close()
        self.site = load_site_text(CONSOLE_SITE.format(script="main.qs", smtp_port=2525),
                                   "site.yaml", tmp_path)
        self.store.apply([tables.web_user_op("alice", hash_password(PASSWORD), "agent",
                                             "alice", True),
                          tables.web_user_op("sup", hash_password(PASSWORD), "supervisor",
                                             "", True)])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.http_port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start():
            await self.__aenter__()
            self.control = await start_control(self.runtime, "127.0.0.1", self.http_port, TOKEN)
        try:
            self.loop.run_until_complete(start())
        except BaseException as error:  # noqa: BLE001 - told to the test's thread
            self.failure = error
            self.started.set()
            return
        self.started.set()
        self.loop.run_forever()

    def __enter__(self) -> "LiveConsole":
        self.thread.start()
        assert self.started.wait(30), "the live runtime did not start"
        if self.failure is not None:
            raise self.failure
        return self

    def __exit__(self, *exc) -> None:
        async def stop():
            await self.control.cleanup()
            await self.__aexit__(None, None, None)
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)

    def run(self, coroutine, timeout: float = 20.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def on_loop(self, function):
        async def call():
            return function()
        return self.run(call())


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_an_agent_logs_in_on_the_page_answers_a_call_bridged_and_pauses(tmp_path):
    from playwright.sync_api import sync_playwright
    with LiveConsole(tmp_path) as live, sync_playwright() as playwright:
        # alice's phone rings 1.5 s before she answers, then she talks for 5 s
        live.runtime.driver.agent_variables["alice"] = {"AGENT_ANSWER_DELAY": "1.5",
                                                        "AGENT_TALK_TIME": "5"}
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                             args=["--no-sandbox"])
        try:
            board = log_in(browser, live, "sup")
            board.goto(live.url + "/console/wallboard")
            board.wait_for_selector("#board[data-updated]")
            page = log_in(browser, live, "alice")
            page.goto(live.url + "/console/agent")
            page.click("[data-testid=login-agent]")
            page.wait_for_selector("[data-testid=agent-state]:has-text('Ready')")

            board.wait_for_selector('.agent[data-agent="alice"].state-ready')
            time.sleep(1.1)  # a quiet second on the board: the next change goes out at once
            arrived = time.monotonic()
            caller = live.run(live.callers.call("5000", caller="0707070707"))
            board.wait_for_selector("tr[data-call] .call-caller:has-text('0707070707')")
            shown = time.monotonic() - arrived
            assert shown < 1.0, f"the wallboard showed the call {shown:.2f}s after it came"
            live.run(live.callers.answered(caller))
            time.sleep(0.5)
            live.run(live.callers.press(caller, "4711"))
            session = wait_until(lambda: live.on_loop(lambda: next(
                (s for s in live.runtime.center.sessions_in_progress()
                 if s.call.caller == "0707070707" and s.state is State.RINGING), None)),
                10, "alice's phone to ring")
            rang = time.monotonic()
            page.wait_for_selector("[data-testid=pop-caller]:has-text('0707070707')")
            popped = time.monotonic() - rang
            assert popped < 1.0, f"the screen pop came {popped:.2f}s after the ring"
            assert page.text_content("[data-testid=pop-digits]") == "4711"
            assert page.text_content("[data-testid=pop-state]") == "Ringing"
            assert page.get_attribute("[data-testid=pop-crm]", "href") == \
                "https://crm.example.com/find?number=0707070707&customer=4711"

            board.wait_for_selector('.agent[data-agent="alice"].state-ringing', timeout=3000)
            page.wait_for_selector("[data-testid=pop-state]:has-text('Connected')")
            board.wait_for_selector('.agent[data-agent="alice"].state-busy', timeout=3000)
            call_id = session.call.call_id
            members = wait_until(lambda: _bridge_of(live, call_id), 10, "the bridge")
            agent_channel = live.on_loop(lambda: live.runtime.driver.legs[call_id].agent_channel)
            assert sorted(members) == sorted([call_id, agent_channel])  # bridged with alice

            page.select_option("[data-testid=pause-reason]", "meeting")
            page.click("[data-testid=pause]")
            page.wait_for_selector(
                "[data-testid=agent-note]:has-text('pause (meeting) after this call')")
            # alice hangs up after her talk time: the pause begins
            page.wait_for_selector("[data-testid=agent-state]:has-text('Paused: meeting')",
                                   timeout=15000)
            page.wait_for_selector("[data-testid=screen-pop]", state="hidden")
            board.wait_for_selector('.agent[data-agent="alice"].state-paused', timeout=3000)
            assert "meeting" in board.text_content('.agent[data-agent="alice"]')
            board.wait_for_selector("tr[data-call] .call-caller:has-text('0707070707')",
                                    state="detached", timeout=3000)
            assert live.on_loop(lambda: live.runtime.center.agent_info("alice").pause_reason) \
                == "meeting"
        finally:
            browser.close()


def log_in(browser, live: LiveConsole, name: str):
    page = browser.new_context().new_page()
    page.set_default_timeout(8000)
    page.goto(live.url + "/console/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")
    return page


def _bridge_of(live: LiveConsole, call_id: str):
    async def members():
        response = await live.callers.http.get(f"/bridges/qs-{call_id}")
        channels = response.json().get("channels", []) if response.status_code == 200 else []
        return channels if len(channels) == 2 else None
    return live.run(members())
