"""Administration of agents, groups and calendars in a real browser (Chromium via Playwright).

An admin adds an agent, who can log in and take a call at once; deactivates
one; edits a calendar's hours and a deviation, which the next call's
``is_open`` sees; a bad value shows the site file reader's message on the
form. A supervisor is refused. With ``QSCRIPT_SCREENSHOTS=1`` the pages are
photographed into docs/images/console-admin-*.png (the documentation's).
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from conftest import PASSWORD, SITE, ConsoleServer, login, screenshot as docs_screenshot
from runtime.acd import AgentState
from runtime.store import console as tables
from runtime.store.site_changes import stored_site_changes

pytestmark = pytest.mark.browser

#: Queues while the calendar "office" is open (closed all week in the site file), hangs up
#: while it is closed.
CALENDAR_SITE = SITE + "calendars:\n  office: {hours: {daily: closed}, holidays: none}\n"
CALENDAR_SCRIPT = """inbound:
    answer
    if not is_open("office"):
        hangup
    queue to "support"
"""


def screenshot(page, name: str) -> None:
    docs_screenshot(page, f"console-admin-{name}.png")


def wait_for(condition, seconds: float = 5.0, what: str = "the condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def audited(server, action: str) -> list:
    return tables.audit_entries(server.store, 50, None, action)


def row(page, table: str, name: str):
    return page.locator(f"#{table} tr[data-name='{name}']")


def state(server, agent_id: str) -> AgentState:
    return server.call(lambda: server.runtime.center.agent_info(agent_id).state)


def test_an_admin_adds_an_agent_who_can_log_in_and_take_a_call(console_server, browser_page):
    server, page = console_server, browser_page
    login(page, server, "admin")
    page.click("header nav >> text=Agents")
    page.wait_for_url("**/console/admin/agents")
    assert row(page, "agents", "alice").locator(".origin").text_content() == "site file"
    form = page.locator("#add-agent")
    form.locator("input[name=new_name]").fill("carol")
    form.locator("input[name=name]").fill("Carol Carlsson")
    form.locator("input[name=endpoint]").fill("PJSIP/carol")
    form.locator("input[name='group.support']").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/console/admin/agents?saved=carol")
    carol = row(page, "agents", "carol")
    assert "added in the console by admin" in carol.locator(".origin").text_content()
    assert carol.locator(".state").text_content() == "logged out"
    assert "saved, in effect now" in page.text_content(".notice")

    # The users page offers the new agent at once: carol gets a console login of her own.
    page.goto(server.url + "/console/admin/users")
    adding = page.locator("[data-testid=add-user]")
    adding.locator("input[name=name]").fill("carol")
    adding.locator("select[name=role]").select_option("agent")
    adding.locator("select[name=agent_id]").select_option("carol")
    adding.locator("input[name=password]").fill(PASSWORD)
    adding.locator("button[type=submit]").click()
    page.wait_for_selector("text=added the agent \"carol\"")
    page.click("text=Log out")
    login(page, server, "carol")
    assert page.text_content("[data-testid=who]") == "carol (agent)"

    server.call(lambda: server.runtime.agent_action("carol", "login"))
    server.call(lambda: server.fake.new_call("c1"))
    wait_for(lambda: state(server, "carol") is AgentState.BUSY, what="carol to take the call")
    rung = [r[1] for r in server.fake.requests if r[0] == "originate"]
    assert rung == ["PJSIP/carol"]
    page.click("text=Log out")
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/agents")
    assert row(page, "agents", "carol").locator(".state").text_content() == "busy"
    screenshot(page, "agents")
    entry = wait_for(lambda: audited(server, "agent.add"), what="the audit entry")[0]
    assert (entry.user, entry.target) == ("admin", "carol")
    assert "groups" in json.loads(entry.detail)["fields"]


def test_an_admin_deactivates_a_logged_in_agent(console_server, browser_page):
    server, page = console_server, browser_page
    server.call(lambda: server.runtime.agent_action("alice", "login"))
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/agents/alice")
    screenshot(page, "agent-form")
    page.click("text=Deactivate")
    page.wait_for_url("**/console/admin/agents?saved=alice")
    alice = row(page, "agents", "alice")
    assert alice.locator(".active").text_content() == "no"
    assert alice.locator(".state").text_content() == "logged out"   # she was free
    with pytest.raises(ValueError, match="deactivated"):
        server.call(lambda: server.runtime.agent_action("alice", "login"))
    assert wait_for(lambda: audited(server, "agent.deactivate"), what="the audit entry")
    # and back: ticking Active again lets her log in
    page.goto(server.url + "/console/admin/agents/alice")
    assert not page.is_checked("#agent-form input[name=active]")
    page.check("#agent-form input[name=active]")
    page.click("#agent-form button[type=submit]")
    page.wait_for_url("**/console/admin/agents?saved=alice")
    server.call(lambda: server.runtime.agent_action("alice", "login"))
    assert state(server, "alice") is AgentState.READY


@pytest.fixture
def calendar_server(tmp_path):
    with ConsoleServer(tmp_path, site_text=CALENDAR_SITE, script=CALENDAR_SCRIPT) as running:
        yield running


def test_an_admin_adds_a_calendar_then_edits_its_hours_and_a_deviation(calendar_server,
                                                                       browser_page):
    server, page = calendar_server, browser_page
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/calendars")
    form = page.locator("#add-calendar")
    form.locator("input[name=new_name]").fill("helpdesk")
    form.locator("input[name='hours.daily']").fill("00:00-24:00")
    form.locator("input[name=no_holidays]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/console/admin/calendars?saved=helpdesk")
    assert row(page, "calendars", "helpdesk").locator(".now").text_content() == "open"
    assert row(page, "calendars", "office").locator(".now").text_content() == "closed"

    server.call(lambda: server.fake.new_call("closed-call"))
    wait_for(lambda: ("hangup", "closed-call") in server.fake.requests, what="the closed answer")
    server.call(lambda: server.runtime.agent_action("bob", "login"))

    page.click("#calendars tr[data-name=office] >> text=Edit")
    page.wait_for_url("**/console/admin/calendars/office")
    page.fill("input[name='hours.daily']", "")
    page.fill("input[name='hours.weekdays']", "00:00-24:00")
    page.fill("input[name='hours.weekend']", "00:00-12:00, 12:00-24:00")
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    page.fill("input[name='deviation.0.date']", tomorrow.isoformat())
    page.check("input[name='deviation.0.closed']")
    page.fill("input[name='deviation.0.note']", "Staff day")
    screenshot(page, "calendar-form")
    page.click("#calendar-form button[type=submit]")
    page.wait_for_url("**/console/admin/calendars?saved=office")
    assert row(page, "calendars", "office").locator(".now").text_content() == "open"
    screenshot(page, "calendars")

    office = server.call(lambda: server.runtime.site.calendar("office"))
    assert not office.is_open(dt.datetime.combine(tomorrow, dt.time(10)))   # the deviation
    assert office.deviation_on(tomorrow).note == "Staff day"
    server.call(lambda: server.fake.new_call("open-call"))
    wait_for(lambda: any(r[0] == "originate" for r in server.fake.requests),
             what="the open calendar to queue the call")
    stored = {c.name: c for c in stored_site_changes(server.store.engine)}["office"]
    assert stored.entry["deviations"] == [{"date": tomorrow.isoformat(), "note": "Staff day",
                                           "closed": "true"}]
    assert [e.action for e in audited(server, "calendar.")] == ["calendar.change",
                                                                 "calendar.add"]


def test_a_bad_value_shows_the_readers_message_on_the_form(calendar_server, browser_page):
    server, page = calendar_server, browser_page
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/calendars")
    form = page.locator("#add-calendar")
    form.locator("input[name=new_name]").fill("evening")
    form.locator("input[name='hours.weekdays']").fill("08:00-25:00")
    form.locator("input[name='deviation.0.date']").fill("2026-02-30")
    form.locator("input[name='deviation.0.hours']").fill("10:00-14:00")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.locator("button[type=submit]").click()
    assert posted.value.status == 422
    problems = page.text_content(".problems")
    assert 'calendars.evening.hours.weekdays: "25:00" is not a time of day' in problems
    assert "times run from 00:00 to 24:00" in problems          # the reader's help
    assert '"2026-02-30" is not a date' in problems
    screenshot(page, "calendar-error")
    # what was entered is still there, to correct
    assert page.input_value("input[name='hours.weekdays']") == "08:00-25:00"
    assert page.input_value("input[name=new_name]") == "evening"
    assert "evening" not in server.call(lambda: dict(server.runtime.site.calendars))
    page.fill("input[name='hours.weekdays']", "08:00-17:00")
    page.fill("input[name='deviation.0.date']", "2026-02-27")
    page.click("#calendar-form button[type=submit]")
    page.wait_for_url("**/console/admin/calendars?saved=evening")

    page.goto(server.url + "/console/admin/groups/support")
    page.fill("input[name=wrap_up]", "ten seconds")
    page.click("#group-form button[type=submit]")
    assert 'groups.support.wrap_up: "ten seconds" is not a duration' in \
        page.text_content(".problems")
    page.fill("input[name=wrap_up]", "15s")
    page.click("#group-form button[type=submit]")
    page.wait_for_url("**/console/admin/groups?saved=support")
    screenshot(page, "groups")
    assert server.call(lambda: server.runtime.center.acd._groups["support"].config.wrap_up) == 15


def test_removing_a_group_an_agent_uses_is_refused_with_the_reason(console_server, browser_page):
    server, page = console_server, browser_page
    login(page, server, "admin")
    page.goto(server.url + "/console/admin/groups/sales")
    page.click("text=Remove group")
    problems = page.text_content(".problems")
    assert 'agents.bob.groups: unknown group "sales"' in problems
    assert "sales" in server.call(lambda: dict(server.runtime.site.groups))


def test_a_supervisor_is_refused(console_server, browser_page):
    server, page = console_server, browser_page
    login(page, server, "sup")
    for path in ("agents", "groups", "calendars", "agents/alice"):
        response = page.goto(f"{server.url}/console/admin/{path}")
        assert response.status == 403, path
    assert "Agents" not in page.text_content("header nav")
    token = page.get_attribute("meta[name=csrf-token]", "content")
    answer = page.request.post(server.url + "/console/admin/agents",
                               form={"csrf": token, "new_name": "mallory", "active": "on"})
    assert answer.status == 403
    assert server.call(lambda: server.runtime.site.agent("mallory")) is None


def test_a_change_is_kept_over_a_restart(tmp_path, browser_page):
    page = browser_page
    with ConsoleServer(tmp_path) as server:
        login(page, server, "admin")
        page.goto(server.url + "/console/admin/agents")
        form = page.locator("#add-agent")
        form.locator("input[name=new_name]").fill("dave")
        form.locator("input[name=endpoint]").fill("PJSIP/dave")
        form.locator("input[name='group.sales']").check()
        form.locator("input[name='penalty.sales']").fill("1")
        form.locator("button[type=submit]").click()
        page.wait_for_url("**/console/admin/agents?saved=dave")
    with ConsoleServer(tmp_path) as again:
        dave = again.call(lambda: again.runtime.site.agent("dave"))
        assert dave.endpoint == "PJSIP/dave" and dict(dave.groups) == {"sales": 1}
        login(page, again, "admin")
        page.goto(again.url + "/console/admin/agents")
        assert "added in the console by admin" in \
            row(page, "agents", "dave").locator(".origin").text_content()


def test_an_unknown_entry_is_a_clear_404_page(console_server, browser_page):
    server, page = console_server, browser_page
    login(page, server, "admin")
    response = page.goto(server.url + "/console/admin/calendars/nosuch")
    assert response.status == 404
    assert 'there is no calendar "nosuch" in the site' in page.text_content("main")
