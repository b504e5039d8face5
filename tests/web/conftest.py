"""Fixtures of the web console tests: a running console and a real browser.

``console_server`` runs a LiveRuntime against the in-process ARI fake
(tests/runtime/fake_ari.py) with the control API and the console on a free
port, in a background thread with its own event loop, and three users:
``admin`` (admin), ``sup`` (supervisor) and ``alice`` (agent, linked to the
site agent alice), all with the password :data:`PASSWORD`.

``browser_page`` is a page of Debian's Chromium driven by Playwright
(headless); :func:`login` logs it in. Calls on the real Asterisk are in
tests/live.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

from runtime.live.control import start_control
from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store import console as tables
from runtime.store.database import Store
from runtime.web.security import hash_password

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runtime"))
from fake_ari import FakeAri  # noqa: E402

PASSWORD = "secret-pass-1"
TOKEN = "console-test-token"
SITE = """site: Console test
languages: [en, sv]
groups:
  support: {service_level_threshold: 20s, service_level_target: 80%, wrap_up: 0s}
  sales: {}
agents:
  - {id: alice, name: Alice Andersson, endpoint: PJSIP/alice, groups: [support]}
  - {id: bob, name: Bob Berg, endpoint: PJSIP/bob, groups: [support, sales]}
prompts:
  welcome: beep
  outage-msg: beep
hot_prompts:
  outage: {prompt: outage-msg}
numbers:
  default: main.qs
web:
  pause_reasons: [lunch, meeting, training]
  crm_url: "https://crm.example.com/find?number={caller}&customer={digits}"
"""
SCRIPT = 'inbound:\n    answer\n    play "welcome"\n    queue to "support"\n'
USERS = (("admin", "admin", ""), ("sup", "supervisor", ""), ("alice", "agent", "alice"),
         ("bob", "agent", "bob"))


class ConsoleServer:
    def __init__(self, tmp_path: Path, site_text: str = SITE, script: str = SCRIPT,
                 database_url: str | None = None):
        (tmp_path / "main.qs").write_text(script)
        (tmp_path / "site.yaml").write_text(site_text)
        self.tmp_path = tmp_path
        self.site = load_site_text(site_text, str(tmp_path / "site.yaml"), tmp_path)
        self.store = Store(database_url or f"sqlite:///{tmp_path / 'console.db'}")
        self.store.apply([tables.web_user_op(name, hash_password(PASSWORD), role, agent, True)
                          for name, role, agent in USERS])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def start():
            self.fake = FakeAri()
            self.runtime = LiveRuntime(self.site, self.fake, self.store, loop=self.loop)
            await self.runtime.start()
            self.runner = await start_control(self.runtime, "127.0.0.1", self.port, TOKEN)
            self.ready.set()
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(15), "the console server did not start"
        return self

    def __exit__(self, *exc):
        async def stop():
            await self.runner.cleanup()
            await self.runtime.close()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)

    def call(self, function):
        """Run ``function()`` on the runtime's event loop and return its result."""
        async def run():
            return function()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def run(self, coroutine):
        """Await a coroutine on the runtime's event loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    @property
    def console(self):
        from runtime.web.console import CONSOLE_KEY
        app = self.runner.app
        return next(sub[CONSOLE_KEY] for sub in _subapps(app))


def _subapps(app):
    for resource in app.router.resources():
        sub = getattr(resource, "_app", None)
        if sub is not None:
            yield sub


@pytest.fixture
def console_server(tmp_path):
    with ConsoleServer(tmp_path) as running:
        yield running


# Per module, not per session: while Playwright's sync API runs, its event loop is the
# main thread's, and a later test calling asyncio.run() would fail ("cannot be called
# from a running event loop"). A module's end stops it.
@pytest.fixture(scope="module")
def chromium():
    from browser_harness import chromium_path
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(5000)
    yield page
    context.close()


def login(page, server: ConsoleServer, name: str, password: str = PASSWORD) -> None:
    page.goto(server.url + "/console/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")


#: Where the documentation's screenshots go (docs/console/*.md show them).
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """Write the page as docs/images/NAME when QSCRIPT_SCREENSHOTS=1 (made again on
    request only: a test run leaves the documentation alone)."""
    if os.environ.get("QSCRIPT_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMAGES / name), full_page=full_page)
