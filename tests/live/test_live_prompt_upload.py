"""End to end on the real Asterisk: an admin uploads a prompt recording in the web console
(in Debian's Chromium, driven by Playwright's async API on the test's event loop) and the
next caller hears it.

The harness's Asterisk runs in a chroot: the runtime writes the recording into
the chroot's ``/var/lib/qscript/prompts`` (site ``ari.prompt_dir``) and names
it to Asterisk by the path inside (``ari.asterisk_prompt_dir``). The site's
own media for the prompt is silence, the upload a loud tone: a caller who
hears the tone heard the upload. Both rates Asterisk plays are tried (8 kHz
``.wav``, 16 kHz ``.wav16``).
"""

from __future__ import annotations

import array
import asyncio
import io
import math
import os
import shutil
import socket
import sys
import wave
from pathlib import Path

import pytest


from runtime.live.ari.port import AriConfig
from runtime.live.control import start_control
from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store import console as console_tables
from runtime.store.database import Store
from runtime.web.security import hash_password
from tests.live.callers import Callers, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from browser_harness import chromium_path  # noqa: E402

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

#: Where the chroot's Asterisk reads uploads (a plain directory of the chroot, not
#: under sounds/, which may be a symlink that would point outside it on the host).
ASTERISK_PROMPT_DIR = "/var/lib/qscript/prompts"

SITE = """site: Live prompt upload
languages: [en, sv]
groups:
  support: {{}}
prompts:
  welcome: silence/3
numbers:
  default: main.qs
ari: {{url: "http://127.0.0.1:8088", user: qtest, app: qtest, password_env: QSCRIPT_TEST_ARI_PASSWORD,
      prompt_dir: "{prompt_dir}", asterisk_prompt_dir: {asterisk_dir}}}
"""
SCRIPT = 'inbound:\n    answer\n    play "welcome"\n    hangup\n'


def tone_wav(rate: int, seconds: float = 2.5, frequency: float = 440.0) -> bytes:
    samples = array.array("h", (int(12000 * math.sin(2 * math.pi * frequency * n / rate))
                                for n in range(int(rate * seconds))))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


@pytest.fixture
def prompt_dirs(asterisk, tmp_path):
    """This test's own prompt directory in the chroot: (as the runtime writes it, as
    Asterisk reads it); removed afterwards (the chroot outlives the test)."""
    seen_by_asterisk = f"{ASTERISK_PROMPT_DIR}/{tmp_path.name}"
    on_host = asterisk.harness.root / seen_by_asterisk.lstrip("/")
    yield on_host, seen_by_asterisk
    shutil.rmtree(on_host, ignore_errors=True)


def live_site(tmp_path: Path, prompt_dirs):
    (tmp_path / "main.qs").write_text(SCRIPT)
    os.environ["QSCRIPT_TEST_ARI_PASSWORD"] = "qtest"
    on_host, seen_by_asterisk = prompt_dirs
    return load_site_text(SITE.format(prompt_dir=on_host, asterisk_dir=seen_by_asterisk),
                          "site.yaml", tmp_path)


async def loud_seconds_heard(runtime: LiveRuntime, callers: Callers, number: str,
                             seconds: float = 2.0) -> float:
    """Call in and listen to what the runtime plays to the call: how many seconds of the
    first ``seconds`` were a loud tone."""
    caller = await callers.call("5000", caller=number)
    session = await wait_for(lambda: next((s for s in runtime.center.sessions_in_progress()
                                           if s.call.caller == number), None), 10,
                             what="the call to reach the runtime")
    heard = await callers.listen(session.call.call_id, seconds)
    await callers.hang_up(caller)
    return sum(1 for level in heard.levels if level > 1000) * heard.window


PASSWORD = "admin-pass-123"


async def start_runtime(site, tmp_path: Path):
    """The runtime on the real Asterisk, with the control API and the console on a free
    port, and a console admin."""
    from runtime.live.ari.asyncari_adapter import AsyncariAdapter
    store = Store(f"sqlite:///{tmp_path / 'live.db'}")
    store.apply([console_tables.web_user_op("admin", hash_password(PASSWORD), "admin", "", True)])
    port = AsyncariAdapter(AriConfig("http://127.0.0.1:8088", "qtest", "qtest", "qtest"))
    runtime = LiveRuntime(site, port, store, loop=asyncio.get_running_loop())
    await runtime.start()
    await wait_for(lambda: port.connected, 10, what="ARI connected")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        http_port = probe.getsockname()[1]
    runner = await start_control(runtime, "127.0.0.1", http_port, "live-upload-token")
    return runtime, runner, f"http://127.0.0.1:{http_port}"


async def upload_in_console(url: str, audio: bytes, folder: Path) -> str:
    """Log in as the admin in a real browser and upload ``audio`` for welcome/en with the
    prompts page's form; returns the page's notice."""
    from playwright.async_api import async_playwright
    recording = folder / "welcome-en.wav"
    recording.write_bytes(audio)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(),
                                                   headless=True, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            page.set_default_timeout(10000)
            await page.goto(url + "/console/login")
            await page.fill("input[name=name]", "admin")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_selector("[data-testid=who]")
            await page.goto(url + "/console/admin/prompts")
            await page.select_option("#upload-name", "welcome")
            await page.select_option("#upload-language", "en")
            await page.set_input_files("#upload-file", str(recording))
            await page.click("#prompt-upload button[type=submit]")
            await page.wait_for_selector("#prompt-notice")
            return await page.text_content("#prompt-notice") or ""
        finally:
            await browser.close()


@pytest.mark.parametrize("rate", [8000, 16000])
def test_the_next_call_after_an_upload_hears_the_recording(tmp_path, asterisk, prompt_dirs,
                                                           rate):
    async def scenario():
        site = live_site(tmp_path, prompt_dirs)
        runtime, runner, url = await start_runtime(site, tmp_path)
        try:
            async with Callers(asterisk) as callers:
                assert await loud_seconds_heard(runtime, callers, "0701000001") == 0  # silence
                notice = await upload_in_console(url, tone_wav(rate), tmp_path)
                assert "welcome (en): recording uploaded, 2.5 s" in notice
                recording = runtime.prompt_uploads.recording("welcome", "en")
                assert runtime.prompt_uploads.path_of(recording).suffix == \
                    (".wav" if rate == 8000 else ".wav16")
                # the upload, from the next call on
                assert await loud_seconds_heard(runtime, callers, "0701000002") >= 1.5
        finally:
            await runner.cleanup()
            await runtime.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))
