"""Uploaded prompt recordings: the WAV checks, the file Asterisk reads, the media switch,
the database (through the outbox, also during an outage) and a restart or second server.

Real SQLite files and a real LiveRuntime on the in-process ARI fake; the real
Asterisk playing an upload is tests/live/test_live_prompt_upload.py.
"""

from __future__ import annotations

import array
import asyncio
import io
import math
import sqlite3
import struct
import time
import wave
from pathlib import Path

import pytest

from runtime.live.prompt_audio import BadRecording, check_wav
from runtime.live.prompt_uploads import PromptUploads
from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.site.yamlmarks import SiteError
from runtime.store.database import Store
from runtime.store.outbox import SAVED, SPOOLED, Outbox, OutboxSettings
from runtime.store.prompt_recordings import prompt_recordings

from fake_ari import FakeAri

FAST = OutboxSettings(retry_first=0.05, retry_max=0.3)


def site_text(prompt_dir: Path) -> str:
    return f"""site: Prompt upload test
languages: [sv, en]
groups:
  support: {{}}
prompts:
  welcome: {{sv: sv/welcome, en: en/welcome}}
  hold: custom/hold
hot_prompts:
  outage: {{prompt: hold}}
numbers:
  default: main.qs
ari: {{user: qscript, prompt_dir: {prompt_dir}, asterisk_prompt_dir: /ast/prompts}}
"""


SCRIPT = 'inbound:\n    answer\n    play "welcome"\n    hangup\n'


def tone_wav(rate: int = 8000, seconds: float = 0.5, channels: int = 1, width: int = 2,
             frequency: float = 440.0) -> bytes:
    """A sine tone as a WAV file (what an administrator would record)."""
    frames = int(rate * seconds)
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * frequency * n / rate))
                                for n in range(frames) for _ in range(channels)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(samples.tobytes() if width == 2 else bytes(frames * channels * width))
    return buffer.getvalue()


def float_wav() -> bytes:
    """A 32-bit float WAV (what many editors export by default)."""
    data = struct.pack("<4f", 0.0, 0.5, -0.5, 0.0)
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + \
        struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.fixture
def site(tmp_path):
    (tmp_path / "main.qs").write_text(SCRIPT)
    return load_site_text(site_text(tmp_path / "prompts"), str(tmp_path / "site.yaml"), tmp_path)


def make_uploads(site, store: Store, spool: Path) -> tuple[PromptUploads, Outbox]:
    outbox = Outbox(store, spool, FAST)
    outbox.start()
    return PromptUploads.for_site(site, outbox), outbox


# ------------------------------------------------------------------ the WAV checks


@pytest.mark.parametrize("rate, extension", [(8000, "wav"), (16000, "wav16")])
def test_a_mono_16_bit_wav_at_8_or_16_khz_is_accepted(rate, extension):
    info = check_wav(tone_wav(rate, seconds=1.25))
    assert (info.sample_rate, info.channels, info.bits) == (rate, 1, 16)
    assert info.duration == pytest.approx(1.25)
    assert info.extension == extension


@pytest.mark.parametrize("audio, expected", [
    (tone_wav(44100), "sampled at 44,100 Hz, not 8,000 or 16,000 Hz"),
    (tone_wav(8000, channels=2), "it has 2 channels, not 1 (mono)"),
    (tone_wav(8000, width=1), "it has 8-bit samples, not 16-bit"),
    (float_wav(), "it is 32-bit float, not PCM"),
    (b"ID3\x03\x00\x00\x00" + b"\x00" * 100, "this is not a WAV file (it looks like an MP3)"),
    (b"hello, this is text", "this is not a WAV file"),
    (b"", "the file is empty"),
    (tone_wav(8000)[:44], "holds no audio"),
    (b"RIFF" + struct.pack("<I", 4) + b"WAVE", "no complete format (fmt) chunk"),
])
def test_a_recording_asterisk_cannot_play_is_refused_saying_why(audio, expected):
    with pytest.raises(BadRecording) as refused:
        check_wav(audio)
    assert expected in str(refused.value)


def test_a_refusal_says_how_to_convert_the_file():
    with pytest.raises(BadRecording, match=r"sox input\.wav -r 8000 -c 1 -b 16"):
        check_wav(tone_wav(22050, channels=2))


def test_a_stereo_44_khz_file_lists_every_problem_at_once():
    with pytest.raises(BadRecording) as refused:
        check_wav(tone_wav(44100, channels=2))
    assert "2 channels" in str(refused.value) and "44,100 Hz" in str(refused.value)


def test_a_too_large_file_is_refused_before_it_is_read():
    with pytest.raises(BadRecording, match="at most 10,485,760 bytes"):
        check_wav(b"RIFF" + b"\x00" * (11 * 1024 * 1024))


# ------------------------------------------------------------------ the site settings


def test_the_prompt_directories_come_from_the_site(site, tmp_path):
    assert site.ari.prompt_dir == str(tmp_path / "prompts")
    assert site.ari.asterisk_prompt_dir == "/ast/prompts"


def test_a_relative_prompt_dir_is_relative_to_the_site_and_asterisk_sees_the_same(tmp_path):
    (tmp_path / "main.qs").write_text(SCRIPT)
    text = site_text(Path("x")).replace("prompt_dir: x, asterisk_prompt_dir: /ast/prompts",
                                        "prompt_dir: uploads")
    site = load_site_text(text, str(tmp_path / "site.yaml"), tmp_path)
    uploads = PromptUploads.for_site(site, outbox=None)  # type: ignore[arg-type]
    assert uploads.directory == (tmp_path / "uploads").resolve()
    assert uploads.asterisk_directory == str((tmp_path / "uploads").resolve())


def test_the_default_prompt_dir_is_asterisks_sounds_directory(tmp_path):
    (tmp_path / "main.qs").write_text(SCRIPT)
    text = site_text(Path("x")).replace(", prompt_dir: x, asterisk_prompt_dir: /ast/prompts", "")
    uploads = PromptUploads.for_site(load_site_text(text, str(tmp_path / "s.yaml"), tmp_path),
                                     outbox=None)  # type: ignore[arg-type]
    assert uploads.directory == Path("/var/lib/asterisk/sounds/qscript")


def test_an_asterisk_prompt_dir_that_is_not_absolute_is_a_site_error(tmp_path):
    (tmp_path / "main.qs").write_text(SCRIPT)
    text = site_text(tmp_path).replace("asterisk_prompt_dir: /ast/prompts",
                                       "asterisk_prompt_dir: ast/prompts")
    with pytest.raises(SiteError, match='"ast/prompts" is not an absolute path'):
        load_site_text(text, str(tmp_path / "site.yaml"), tmp_path)


# ------------------------------------------------------------------ upload, switch, store


def test_an_upload_is_written_for_asterisk_and_plays_from_the_next_play(site, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    uploads, outbox = make_uploads(site, store, tmp_path / "spool.jsonl")
    try:
        audio = tone_wav(16000)
        assert site.prompt_media("welcome", "sv") == "sv/welcome"
        recording, saving = uploads.upload("welcome", "sv", audio, "C:\\rec\\Välkommen.wav",
                                           "admin")
        path = tmp_path / "prompts" / "welcome" / f"sv-{recording.sha256[:16]}.wav16"
        assert path.read_bytes() == audio
        assert site.prompt_media("welcome", "sv") == \
            f"sound:/ast/prompts/welcome/sv-{recording.sha256[:16]}"
        assert site.prompt_media("welcome", "en") == "en/welcome"  # other languages stay
        assert recording.filename == "Välkommen.wav" and recording.duration == 0.5
        assert saving.result(timeout=5) == SAVED
        [row] = prompt_recordings(store)
        assert (row.name, row.language, row.audio, row.active, row.uploaded_by) == \
            ("welcome", "sv", audio, True, "admin")
    finally:
        outbox.close()
        store.close()


def test_a_new_upload_replaces_the_old_file_and_row(site, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    uploads, outbox = make_uploads(site, store, tmp_path / "spool.jsonl")
    try:
        first, _ = uploads.upload("hold", "en", tone_wav(8000, frequency=300))
        second, saving = uploads.upload("hold", "en", tone_wav(8000, frequency=600))
        assert saving.result(timeout=5) == SAVED
        assert not uploads.path_of(first).exists() and uploads.path_of(second).exists()
        assert [r.sha256 for r in prompt_recordings(store)] == [second.sha256]
        assert site.prompt_media("hold", "en").endswith(second.sha256[:16])
        assert site.prompt_media("hold", "sv") == "custom/hold"   # uploaded for en only
    finally:
        outbox.close()
        store.close()


def test_a_deactivated_recording_falls_back_to_the_site_files_media(site, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    uploads, outbox = make_uploads(site, store, tmp_path / "spool.jsonl")
    try:
        recording, _ = uploads.upload("welcome", "en", tone_wav())
        assert uploads.set_active("welcome", "en", False).result(timeout=5) == SAVED
        assert site.prompt_media("welcome", "en") == "en/welcome"
        assert uploads.path_of(recording).exists()             # kept, for preview
        assert [r.active for r in prompt_recordings(store)] == [False]
        uploads.set_active("welcome", "en", True).result(timeout=5)
        assert site.prompt_media("welcome", "en") == uploads.media_of(recording)
    finally:
        outbox.close()
        store.close()


def test_an_upload_for_a_language_serves_its_regional_variants(site, tmp_path):
    uploads = PromptUploads.for_site(site, Outbox(Store("sqlite://"), tmp_path / "s.jsonl"))
    uploads.outbox.start()
    try:
        recording, _ = uploads.upload("welcome", "en", tone_wav())
        assert site.prompt_media("welcome", "en-GB") == uploads.media_of(recording)
    finally:
        uploads.outbox.close()


@pytest.mark.parametrize("name, language, expected", [
    ("welcom", "sv", 'unknown prompt "welcom"; recordings are uploaded for the prompts of the '
                     "site file (hold, welcome)"),
    ("welcome", "de", 'unknown language "de"; the site\'s languages are sv, en'),
])
def test_an_upload_for_an_unknown_prompt_or_language_changes_nothing(site, tmp_path, name,
                                                                    language, expected):
    uploads = PromptUploads.for_site(site, outbox=None)  # type: ignore[arg-type]
    with pytest.raises(LookupError) as refused:
        uploads.upload(name, language, tone_wav())
    assert str(refused.value) == expected
    assert not (tmp_path / "prompts").exists() and site.prompts.uploaded == {}


def test_a_bad_recording_changes_nothing(site, tmp_path):
    uploads = PromptUploads.for_site(site, outbox=None)  # type: ignore[arg-type]
    with pytest.raises(BadRecording):
        uploads.upload("welcome", "sv", tone_wav(44100))
    assert not (tmp_path / "prompts").exists() and site.prompts.uploaded == {}


def test_a_prompt_directory_the_runtime_cannot_write_is_a_clear_error(site, tmp_path):
    (tmp_path / "prompts").write_text("a file, not a directory")
    uploads = PromptUploads.for_site(site, outbox=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot write the recording to the prompt directory"):
        uploads.upload("welcome", "sv", tone_wav())
    assert site.prompts.uploaded == {}


def test_a_restarted_or_second_server_writes_and_plays_the_stored_recordings(tmp_path):
    """Two sites on one database, each with its own prompt directory."""
    url = f"sqlite:///{tmp_path / 'q.db'}"
    (tmp_path / "main.qs").write_text(SCRIPT)
    first = load_site_text(site_text(tmp_path / "one"), str(tmp_path / "site.yaml"), tmp_path)
    second = load_site_text(site_text(tmp_path / "two"), str(tmp_path / "site.yaml"), tmp_path)
    store = Store(url)
    uploads, outbox = make_uploads(first, store, tmp_path / "one.jsonl")
    audio = tone_wav(8000)
    recording, saving = uploads.upload("welcome", "sv", audio)
    uploads.upload("hold", "en", tone_wav(16000))
    uploads.set_active("hold", "en", False)
    outbox.close()

    other = PromptUploads.for_site(second, outbox=None)  # type: ignore[arg-type]
    other.restore(prompt_recordings(Store(url)))
    assert (tmp_path / "two" / "welcome" / f"sv-{recording.sha256[:16]}.wav").read_bytes() == audio
    assert second.prompt_media("welcome", "sv") == other.media_of(recording)
    assert second.prompt_media("hold", "en") == "custom/hold"     # stored as deactivated
    assert [(r.name, r.language, r.active) for r in other.recordings()] == \
        [("hold", "en", False), ("welcome", "sv", True)]
    store.close()


def test_an_upload_during_a_database_outage_plays_at_once_and_is_saved_later(site, tmp_path):
    """SQLite held locked by another process past the 5 s busy timeout."""
    database = tmp_path / "q.db"
    store = Store(f"sqlite:///{database}")
    uploads, outbox = make_uploads(site, store, tmp_path / "spool.jsonl")
    try:
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        locked_at = time.monotonic()
        audio = tone_wav(8000)
        recording, saving = uploads.upload("welcome", "sv", audio)
        # In effect now: the file is where Asterisk reads it, the media points at it.
        assert uploads.path_of(recording).read_bytes() == audio
        assert site.prompt_media("welcome", "sv") == uploads.media_of(recording)
        assert saving.result(timeout=10) == SPOOLED        # kept on disk, audio and all
        assert b"prompt_recording" in (tmp_path / "spool.jsonl").read_bytes()
        time.sleep(max(0.0, 5.5 - (time.monotonic() - locked_at)))
        blocker.rollback()
        blocker.close()
        deadline = time.monotonic() + 15
        while outbox.health()["unsaved"] and time.monotonic() < deadline:
            time.sleep(0.05)
        [row] = prompt_recordings(store)
        assert row.audio == audio and row.sha256 == recording.sha256
    finally:
        outbox.close()
        store.close()


# ------------------------------------------------------------------ in the live runtime


def test_a_call_after_an_upload_plays_the_recording_and_a_restart_keeps_it(site, tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"

    async def played_on_a_call(runtime: LiveRuntime, fake: FakeAri, channel: str) -> list:
        fake.new_call(channel)
        for _ in range(200):
            plays = [r[2] for r in fake.requests if r[0] == "play" and r[1] == channel]
            if plays:
                return list(plays[0])
            await asyncio.sleep(0.01)
        raise AssertionError(f"no play on {channel}: {fake.requests}")

    async def scenario():
        fake = FakeAri()
        runtime = LiveRuntime(site, fake, Store(url), loop=asyncio.get_running_loop())
        await runtime.start()
        assert await played_on_a_call(runtime, fake, "before") == ["sound:sv/welcome"]
        recording, saving = runtime.prompt_uploads.upload("welcome", "sv", tone_wav())
        assert await played_on_a_call(runtime, fake, "after") == [
            f"sound:/ast/prompts/welcome/sv-{recording.sha256[:16]}"]
        assert (await runtime.saved(saving))[0] == 200
        await runtime.close()
        site.prompts.uploaded.clear()                       # a new process knows nothing
        (tmp_path / "prompts" / "welcome" / f"sv-{recording.sha256[:16]}.wav").unlink()

        fake = FakeAri()
        again = LiveRuntime(site, fake, Store(url), loop=asyncio.get_running_loop())
        await again.start()
        assert await played_on_a_call(again, fake, "restarted") == [
            f"sound:/ast/prompts/welcome/sv-{recording.sha256[:16]}"]
        assert again.prompt_uploads.path_of(recording).exists()
        await again.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_start_with_an_unwritable_prompt_directory_serves_the_site_files_media(site, tmp_path,
                                                                                caplog):
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    uploads, outbox = make_uploads(site, store, tmp_path / "spool.jsonl")
    uploads.upload("welcome", "sv", tone_wav())
    outbox.close()
    site.prompts.uploaded.clear()
    import shutil
    shutil.rmtree(tmp_path / "prompts")
    (tmp_path / "prompts").write_text("not a directory")    # e.g. a wrong ari.prompt_dir
    PromptUploads.for_site(site, outbox=None).restore(prompt_recordings(store))  # type: ignore[arg-type]
    assert site.prompt_media("welcome", "sv") == "sv/welcome"
    assert "not played: cannot write the recording to the prompt directory" in caplog.text
    store.close()


def test_a_file_of_the_same_recording_in_the_other_format_is_removed(site, tmp_path):
    """Asterisk would pick the .wav of a stem over its .wav16 (and refuse a 16 kHz .wav)."""
    uploads = PromptUploads.for_site(site, Outbox(Store("sqlite://"), tmp_path / "s.jsonl"))
    uploads.outbox.start()
    try:
        audio = tone_wav(16000)
        import hashlib
        stale = tmp_path / "prompts" / "welcome" / f"sv-{hashlib.sha256(audio).hexdigest()[:16]}.wav"
        stale.parent.mkdir(parents=True)
        stale.write_bytes(audio)
        recording, _ = uploads.upload("welcome", "sv", audio)
        assert uploads.path_of(recording).suffix == ".wav16" and not stale.exists()
    finally:
        uploads.outbox.close()
