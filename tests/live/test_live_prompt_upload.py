"""End to end on the real Asterisk: an uploaded prompt recording is what the next caller hears.

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
import wave
from pathlib import Path

import pytest

from runtime.live.ari.port import AriConfig
from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store.database import Store
from tests.live.callers import Callers, wait_for

pytestmark = pytest.mark.asterisk

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


def live_site(tmp_path: Path, asterisk):
    (tmp_path / "main.qs").write_text(SCRIPT)
    os.environ["QSCRIPT_TEST_ARI_PASSWORD"] = "qtest"
    prompt_dir = asterisk.harness.root / ASTERISK_PROMPT_DIR.lstrip("/")
    return load_site_text(SITE.format(prompt_dir=prompt_dir, asterisk_dir=ASTERISK_PROMPT_DIR),
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


async def start_runtime(site, tmp_path: Path):
    from runtime.live.ari.asyncari_adapter import AsyncariAdapter
    port = AsyncariAdapter(AriConfig("http://127.0.0.1:8088", "qtest", "qtest", "qtest"))
    runtime = LiveRuntime(site, port, Store(f"sqlite:///{tmp_path / 'live.db'}"),
                          loop=asyncio.get_running_loop())
    await runtime.start()
    await wait_for(lambda: port.connected, 10, what="ARI connected")
    return runtime


@pytest.mark.parametrize("rate", [8000, 16000])
def test_the_next_call_after_an_upload_hears_the_recording(tmp_path, asterisk, rate):
    async def scenario():
        site = live_site(tmp_path, asterisk)
        runtime = await start_runtime(site, tmp_path)
        try:
            async with Callers(asterisk) as callers:
                assert await loud_seconds_heard(runtime, callers, "0701000001") == 0  # silence
                recording, _ = runtime.prompt_uploads.upload("welcome", "en", tone_wav(rate))
                assert runtime.prompt_uploads.path_of(recording).suffix == \
                    (".wav" if rate == 8000 else ".wav16")
                # the upload, from the next call on
                assert await loud_seconds_heard(runtime, callers, "0701000002") >= 1.5
        finally:
            await runtime.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))
