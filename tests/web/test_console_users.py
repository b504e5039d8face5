"""Administration of the console's users and the audit log, in a real browser."""

from __future__ import annotations

import time

import pytest

from conftest import login, screenshot
from runtime.store import console as tables

pytestmark = pytest.mark.browser


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_an_admin_adds_a_supervisor_who_can_then_log_in(console_server, browser_page, chromium):
    page = browser_page
    login(page, console_server, "admin")
    page.goto(console_server.url + "/console/admin/users")
    form = page.locator("[data-testid=add-user]")
    form.locator("input[name=name]").fill("carl")
    form.locator("select[name=role]").select_option("supervisor")
    form.locator("input[name=password]").fill("carls-password")
    form.locator("button").click()
    assert page.text_content("[data-testid=message]") == 'added the supervisor "carl"'
    assert page.locator("tr[data-user=carl]").count() == 1
    screenshot(page, "console-users.png")
    row = tables.web_user(console_server.store, "carl")
    assert row.role == "supervisor" and "carls-password" not in row.password_hash

    other = chromium.new_context().new_page()
    login(other, console_server, "carl", "carls-password")
    assert other.text_content("[data-testid=who]") == "carl (supervisor)"


def test_a_bad_new_user_is_refused_on_the_form(console_server, browser_page):
    page = browser_page
    login(page, console_server, "admin")
    page.goto(console_server.url + "/console/admin/users")
    form = page.locator("[data-testid=add-user]")
    form.locator("input[name=name]").fill("dora")
    form.locator("select[name=role]").select_option("agent")
    form.locator("input[name=password]").fill("short")
    form.locator("button").click()
    assert "choose one" in page.text_content("[data-testid=error]")  # an agent needs an agent
    form = page.locator("[data-testid=add-user]")
    assert form.locator("input[name=name]").input_value() == "dora"  # kept for the next try
    assert form.locator("input[name=password]").input_value() == ""  # the password is not
    form.locator("select[name=agent_id]").select_option("alice")
    form.locator("input[name=password]").fill("short")
    form.locator("button").click()
    assert "at least 10 characters" in page.text_content("[data-testid=error]")
    assert tables.web_user(console_server.store, "dora") is None


def test_deactivating_a_user_ends_their_open_session(console_server, browser_page, chromium):
    supervisor = chromium.new_context().new_page()
    login(supervisor, console_server, "sup")
    page = browser_page
    login(page, console_server, "admin")
    page.goto(console_server.url + "/console/admin/users")
    page.locator("tr[data-user=sup] input[type=checkbox]").uncheck()
    page.locator("tr[data-user=sup] button").click()
    assert page.text_content("[data-testid=message]") == 'changed "sup"'
    supervisor.reload()
    assert "/console/login" in supervisor.url
    assert wait_until(lambda: tables.web_user(console_server.store, "sup").active is False)


def test_the_audit_log_shows_who_changed_what(console_server, browser_page):
    page = browser_page
    login(page, console_server, "admin")
    page.goto(console_server.url + "/console/admin/users")
    page.locator("tr[data-user=bob] select[name=role]").select_option("supervisor")
    page.locator("tr[data-user=bob] input[name=password]").fill("bobs-new-password")
    page.locator("tr[data-user=bob] button").click()
    assert wait_until(lambda: any(e.action == "user.change" for e in
                                  tables.audit_entries(console_server.store)))
    page.goto(console_server.url + "/console/admin/audit?action=user.")
    text = page.text_content("[data-testid=audit]")
    assert "user.change" in text and "bob" in text and "role=supervisor" in text
    assert "password=changed" in text and "bobs-new-password" not in text
    screenshot(page, "console-audit.png")


def test_a_supervisor_may_not_open_the_user_administration(console_server, browser_page):
    page = browser_page
    login(page, console_server, "sup")
    response = page.goto(console_server.url + "/console/admin/users")
    assert response.status == 403
    assert "admin role" in page.text_content("[data-testid=error-message]")
    assert page.locator("nav a", has_text="Users").count() == 0


def test_an_admin_cannot_lock_themselves_out(console_server, browser_page):
    page = browser_page
    login(page, console_server, "admin")
    page.goto(console_server.url + "/console/admin/users")
    page.locator("tr[data-user=admin] select[name=role]").select_option("agent")
    page.locator("tr[data-user=admin] select[name=agent_id]").select_option("alice")
    page.locator("tr[data-user=admin] button").click()
    assert "cannot take your own admin role" in page.text_content("[data-testid=error]")
    assert tables.web_user(console_server.store, "admin").role == "admin"
