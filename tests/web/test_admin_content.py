"""Prompts, hot prompts, scripts and reports in the console, in a real browser.

The console runs on a LiveRuntime against the ARI fake (conftest.py); the
prompt directory is the test's own. A real Asterisk playing an upload to a
caller is tests/live/test_live_prompt_upload.py.

Set ``QSCRIPT_SCREENSHOTS=1`` to write the pages' screenshots into
docs/images/ (console-prompts.png, console-scripts.png, console-reports.png).
"""

from __future__ import annotations

import array
import io
import math
import time
import wave
from pathlib import Path

import openpyxl
import pytest
from conftest import SITE, ConsoleServer, login, screenshot

from runtime.store.console import audit_entries
from runtime.store.writer import StatisticsWriter

pytestmark = pytest.mark.browser

SCRIPT = 'inbound:\n    answer\n    play "welcome"\n    queue to "support"\n'


def tone_wav(rate: int = 8000, seconds: float = 1.5, channels: int = 1) -> bytes:
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * n / rate))
                                for n in range(int(rate * seconds)) for _ in range(channels)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


@pytest.fixture
def server(tmp_path):
    """The console with its prompt directory in the test's folder and a day of statistics."""
    site = SITE + f"ari: {{user: qscript, prompt_dir: {tmp_path / 'prompts'}}}\n"
    running = ConsoleServer(tmp_path, site_text=site, script=SCRIPT)
    from statistics_support import CLOCK, GROUPS, small_day
    contacts, intervals, events = small_day()
    writer = StatisticsWriter(running.store.url)
    writer.write(contacts, intervals, events, clock=CLOCK, groups=GROUPS)
    writer.close()
    with running:
        yield running


def saved_audit(server, action: str, timeout: float = 5.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        rows = audit_entries(server.store, action=action)
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


# ------------------------------------------------------------------ prompts


def upload(page, tmp_path: Path, name: str, language: str, audio: bytes,
           filename: str = "recording.wav") -> None:
    path = tmp_path / filename
    path.write_bytes(audio)
    page.select_option("#upload-name", name)
    page.select_option("#upload-language", language)
    page.set_input_files("#upload-file", str(path))
    page.click("#prompt-upload button[type=submit]")


def test_an_admin_uploads_a_prompt_and_previews_it(server, browser_page, tmp_path):
    page = browser_page
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/prompts")
    upload(page, tmp_path, "welcome", "sv", tone_wav(16000, 1.5), "välkommen.wav")
    page.wait_for_selector("#prompt-notice")
    assert "welcome (sv): recording uploaded, 1.5 s" in page.text_content("#prompt-notice")
    row = '#prompt-table tr[data-prompt="welcome"][data-language="sv"]'
    assert "välkommen.wav" in page.text_content(row)
    # The browser loads the recording from the console and knows its length.
    duration = page.evaluate("""(selector) => new Promise((resolve, reject) => {
        const audio = document.querySelector(selector + ' audio');
        if (audio.readyState >= 1) { resolve(audio.duration); return; }
        audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
        audio.addEventListener('error', () => reject(new Error('audio did not load')));
        audio.load();
    })""", row)
    assert duration == pytest.approx(1.5, abs=0.05)
    media = server.call(lambda: server.site.prompt_media("welcome", "sv"))
    assert media.startswith(f"sound:{tmp_path / 'prompts'}/welcome/sv-")
    assert server.call(lambda: server.site.prompt_media("welcome", "en")) == "beep"
    [entry] = saved_audit(server, "prompt.upload")
    assert (entry.user, entry.target) == ("admin", "welcome/sv")
    screenshot(page, "console-prompts.png")


def test_a_bad_upload_shows_why_and_changes_nothing(server, browser_page, tmp_path):
    page = browser_page
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/prompts")
    upload(page, tmp_path, "welcome", "en", tone_wav(44100, 0.5, channels=2), "stereo.wav")
    error = page.text_content("#prompt-error")
    assert "stereo.wav: Asterisk cannot play this WAV file" in error
    assert "2 channels, not 1 (mono)" in error and "44,100 Hz" in error and "sox" in error
    assert server.call(lambda: server.site.prompt_media("welcome", "en")) == "beep"
    assert page.query_selector("#prompt-table audio") is None


def test_a_deactivated_upload_falls_back_to_the_site_file(server, browser_page, tmp_path):
    page = browser_page
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/prompts")
    upload(page, tmp_path, "outage-msg", "en", tone_wav())
    row = '#prompt-table tr[data-prompt="outage-msg"][data-language="en"]'
    page.wait_for_selector(row + " audio")
    page.click(row + " button:has-text('Deactivate')")
    page.wait_for_selector(row + " button:has-text('Activate')")
    assert "site file" in page.text_content(row)
    assert server.call(lambda: server.site.prompt_media("outage-msg", "en")) == "beep"
    page.click(row + " button:has-text('Activate')")
    page.wait_for_selector(row + " button:has-text('Deactivate')")
    assert server.call(lambda: server.site.prompt_media("outage-msg", "en")).startswith("sound:")
    assert [e.action for e in saved_audit(server, "prompt.")][:2] == \
        ["prompt.activate", "prompt.deactivate"]


def test_prompts_are_for_admins_hot_prompts_for_supervisors(server, browser_page):
    page = browser_page
    login(page, server, "sup")
    response = page.goto(server.url + "/console/admin/prompts")
    assert response.status == 403
    page.goto(server.url + "/console/hot-prompts")
    row = '#hot-prompt-table tr[data-hot-prompt="outage"]'
    assert "off" in page.text_content(row)
    page.click(row + " button")
    page.wait_for_selector("#hot-notice")
    assert "outage is on" in page.text_content("#hot-notice")
    screenshot(page, "console-hot-prompts.png")
    assert "on" in page.text_content(row + " .badge")
    assert server.call(lambda: server.runtime.center.hot_prompts["outage"]) is True
    [entry] = saved_audit(server, "hot_prompt.switch")
    assert entry.user == "sup" and '"active": true' in entry.detail


# ------------------------------------------------------------------ scripts


def test_the_editor_shows_a_diagnostic_within_a_second_and_deploys_the_fix(server,
                                                                            browser_page):
    page = browser_page
    errors: list[str] = []   # a script or style the CSP blocks shows here
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/scripts")
    page.click("text=main")
    page.wait_for_selector("#script-summary:has-text('no problems')")
    editor = page.locator("#script-source")
    editor.fill(SCRIPT.replace('"support"', '"suport"'))
    started = time.monotonic()
    page.wait_for_selector(".diagnostic-error", timeout=1000)
    assert time.monotonic() - started < 1.0
    diagnostic = page.text_content(".diagnostic-error")
    assert "4:14" in diagnostic and "suport" in diagnostic
    assert 'did you mean "support"' in diagnostic
    assert page.is_disabled("#script-deploy")
    assert "ln-error" in page.get_attribute("#script-lines .ln:nth-child(4)", "class")
    screenshot(page, "console-scripts.png")

    editor.fill(SCRIPT.replace('"support"', '"sales"'))
    page.wait_for_selector("#script-summary:has-text('no problems')", timeout=1000)
    page.fill("#script-comment", "sales takes the calls")
    page.click("#script-deploy")
    page.wait_for_selector("#version-table tr[data-version='2'] .badge")
    assert server.call(lambda: server.runtime.versions["main"]) == 2
    assert "sales takes the calls" in page.text_content("#version-table")

    page.click("#version-table tr[data-version='1'] button")
    page.wait_for_selector("#version-table tr[data-version='1'] .badge")
    assert server.call(lambda: server.runtime.versions["main"]) == 1
    assert [e.action for e in saved_audit(server, "script.")][:2] == \
        ["script.rollback", "script.deploy"]
    assert errors == []


# ------------------------------------------------------------------ reports


def test_a_report_shows_its_table_chart_and_excel_download(server, browser_page, tmp_path):
    page = browser_page
    login(page, server, "sup")
    page.goto(server.url + "/console/reports")
    page.select_option("#report-kind", "calls")
    page.fill("#report-from", "2026-06-01")
    page.select_option("#report-group", ["support", "sales"])
    page.select_option("select[name=interval]", "15m")
    page.click("#report-show")
    page.wait_for_selector("#report-title")
    table = page.locator(".report-table").first
    assert "offered" in table.text_content()
    width = page.evaluate("""() => new Promise((resolve) => {
        const chart = document.querySelector('#report-chart');
        if (chart.complete) { resolve(chart.naturalWidth); return; }
        chart.addEventListener('load', () => resolve(chart.naturalWidth));
        chart.addEventListener('error', () => resolve(0));
    })""")
    assert width > 0                                 # the PNG chart was served and decoded
    with page.expect_download() as download:
        page.click("#report-xlsx")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == "calls-2026-06-01.xlsx"
    workbook = openpyxl.load_workbook(path)
    cells = [c for sheet in workbook for row in sheet.iter_rows(values_only=True) for c in row]
    assert "offered" in cells and 5 in cells        # support's five calls of the small day
    screenshot(page, "console-reports.png")


def test_a_report_field_that_does_not_fit_is_shown(server, browser_page):
    page = browser_page
    login(page, server, "sup")
    page.goto(server.url + "/console/reports?kind=daily&from=1+June")
    assert 'from: "1 June" is not a date or time' in page.text_content("#report-error")
