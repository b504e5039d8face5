"""The console in a real browser (Debian's Chromium driven by Playwright): login and logout."""

from __future__ import annotations

from conftest import PASSWORD, login, screenshot

import pytest

pytestmark = pytest.mark.browser


def test_a_user_logs_in_sees_the_start_page_and_logs_out(console_server, browser_page):
    page = browser_page
    page.goto(console_server.url + "/console/me")
    assert "/console/login?next=" in page.url
    page.fill("input[name=name]", "sup")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/me")  # taken on to where it was going
    assert '"role": "supervisor"' in page.text_content("body")
    page.goto(console_server.url + "/console/")
    assert page.text_content("[data-testid=who]") == "sup (supervisor)"
    page.click("text=Log out")
    page.wait_for_url("**/console/login")
    page.goto(console_server.url + "/console/")
    assert "/console/login" in page.url


def test_a_wrong_password_is_shown_on_the_form(console_server, browser_page):
    page = browser_page
    page.goto(console_server.url + "/console/login")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", "not-her-password")
    page.click("button[type=submit]")
    assert page.text_content("[data-testid=login-error]") == "wrong user name or password"
    assert page.input_value("input[name=name]") == "alice"
    screenshot(page, "console-login.png")


def test_the_pages_run_no_inline_script_and_load_their_own_files(console_server, browser_page):
    page = browser_page
    errors = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    login(page, console_server, "admin")
    assert page.evaluate("typeof qs.post") == "function"  # console.js loaded under the CSP
    assert errors == []
