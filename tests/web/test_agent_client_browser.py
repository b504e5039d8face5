"""The agent client in a real browser (Debian's Chromium through Playwright).

alice logs in on the page, makes herself ready; a call arrives on the ARI fake,
keys in digits and rings her: the screen pop shows the caller and the digits
within a second, with the CRM link filled in. She answers, pauses with a reason
(it starts after the call), transfers or requeues the call, and the page follows.
"""

from __future__ import annotations

import time

import pytest

from conftest import SITE, ConsoleServer, login, screenshot

pytestmark = pytest.mark.browser

SCRIPT = """inbound:
    answer
    collect customer_no prompt "welcome" digits 4 timeout 3s
    save "customer" = customer_no
    queue to "support"
queue:
    offer callback prompt "welcome" key 1 timeout 2s
"""
#: The conftest site with a wrap-up, so the page can show the automatic ready after it.
AGENT_SITE = SITE.replace("wrap_up: 0s", "wrap_up: 3s")


@pytest.fixture
def server(tmp_path):
    with ConsoleServer(tmp_path, site_text=AGENT_SITE, script=SCRIPT) as running:
        running.fake.answer_seconds = 2.0   # the agent's phone rings 2 s before they answer
        yield running


def arrive(server, channel: str, caller: str, digits: str) -> float:
    """A call comes in and keys in ``digits`` (after the prompt); when they were all in."""
    server.call(lambda: server.fake.new_call(channel, caller=caller))
    time.sleep(0.2)
    server.call(lambda: server.fake.press(channel, digits))
    return time.monotonic()


def ready_on_the_page(page, server) -> None:
    login(page, server, "alice")
    page.goto(server.url + "/console/agent")
    page.click("[data-testid=login-agent]")
    page.wait_for_selector("[data-testid=agent-state]:has-text('Ready')")


def test_a_ringing_call_pops_within_a_second_with_the_crm_link(server, browser_page):
    page = browser_page
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    ready_on_the_page(page, server)
    keyed = arrive(server, "c1", "+46701234567", "4711")
    page.wait_for_selector("[data-testid=pop-caller]:has-text('+46701234567')", timeout=3000)
    popped = time.monotonic() - keyed
    assert popped < 1.0, f"the screen pop took {popped:.2f}s"
    assert page.text_content("[data-testid=pop-state]") == "Ringing"
    assert page.text_content("[data-testid=pop-digits]") == "4711"
    assert page.text_content("[data-testid=pop-language]") == "en"
    assert page.get_attribute("[data-testid=pop-crm]", "href") == \
        "https://crm.example.com/find?number=%2B46701234567&customer=4711"
    assert "customer" in page.text_content("[data-testid=pop-fields]")
    page.wait_for_selector("[data-testid=pop-state]:has-text('Connected')")
    assert page.is_visible("[data-testid=call-actions]")
    assert page.text_content("[data-testid=agent-state]") == "On a call"
    assert errors == []
    screenshot(page, "console-agent.png")


def test_pause_with_a_reason_then_transfer_and_the_wrap_up_ends_by_itself(server, browser_page):
    page = browser_page
    ready_on_the_page(page, server)
    arrive(server, "c1", "0701111111", "1234")
    page.wait_for_selector("[data-testid=pop-state]:has-text('Connected')", timeout=5000)
    page.select_option("[data-testid=pause-reason]", "meeting")
    page.click("[data-testid=pause]")
    page.wait_for_selector("[data-testid=agent-note]:has-text('pause (meeting) after this call')")
    page.select_option("[data-testid=pause-reason]", "lunch")  # changed her mind: lunch
    page.click("[data-testid=pause]")
    page.wait_for_selector("[data-testid=agent-note]:has-text('pause (lunch) after this call')")
    page.fill("[data-testid=transfer-number]", "0859000000")
    page.click("[data-testid=transfer]")
    page.wait_for_selector("[data-testid=agent-flash]:has-text('transferred to 0859000000')")
    page.wait_for_selector("[data-testid=screen-pop]", state="hidden")
    assert ("continue", "c1", "default", "0859000000") in server.fake.requests
    page.wait_for_selector("[data-testid=agent-state]:has-text('Wrap-up')")
    assert "paused (lunch) in" in page.text_content("[data-testid=agent-note]")
    page.wait_for_selector("[data-testid=agent-state]:has-text('Paused: lunch')", timeout=6000)
    page.click("[data-testid=ready]")
    page.wait_for_selector("[data-testid=agent-state]:has-text('Ready')")


def test_a_transfer_to_nowhere_says_why_and_the_wrap_up_shows_the_automatic_ready(
        server, browser_page):
    page = browser_page
    ready_on_the_page(page, server)
    arrive(server, "c1", "0702222222", "5555")
    page.wait_for_selector("[data-testid=pop-state]:has-text('Connected')", timeout=5000)
    page.fill("[data-testid=transfer-number]", "12 34")
    page.click("[data-testid=transfer]")
    page.wait_for_selector("[data-testid=agent-flash].error")
    assert '"number" must be a number to dial' in page.text_content("[data-testid=agent-flash]")
    page.fill("[data-testid=transfer-number]", "2000")
    page.click("[data-testid=transfer]")
    page.wait_for_selector("[data-testid=agent-state]:has-text('Wrap-up')")
    assert "ready again automatically in" in page.text_content("[data-testid=agent-note]")
    page.wait_for_selector("[data-testid=agent-state]:has-text('Ready')", timeout=6000)


def test_requeue_hands_the_call_to_another_agent_and_the_transfer_to_an_agent(server,
                                                                             browser_page):
    page = browser_page
    runtime = server.runtime
    ready_on_the_page(page, server)
    server.call(lambda: runtime.agent_action("bob", "login", {"support": 0}))
    server.call(lambda: runtime.agent_action("bob", "pause", reason="meeting"))
    arrive(server, "c1", "0703333333", "7777")
    page.wait_for_selector("[data-testid=pop-state]:has-text('Connected')", timeout=5000)
    page.select_option("[data-testid=requeue-group]", "support")
    page.click("[data-testid=requeue]")
    page.wait_for_selector("[data-testid=screen-pop]", state="hidden")
    assert server.call(lambda: runtime.center.session_for("c1").state.value) == "queued"
    server.call(lambda: runtime.agent_action("bob", "ready"))
    deadline = time.monotonic() + 5
    while server.call(lambda: runtime.center.agent_info("bob").call_id) != "c1":
        assert time.monotonic() < deadline, "bob did not get the requeued call"
        time.sleep(0.05)
    # alice, ready again after her wrap-up, gets the next call and passes it to bob's
    # colleague... bob is busy: a transfer to him waits for him, the caller on hold
    page.wait_for_selector("[data-testid=agent-state]:has-text('Ready')", timeout=6000)
    arrive(server, "c2", "0704444444", "8888")
    page.wait_for_selector("[data-testid=pop-caller]:has-text('0704444444')", timeout=3000)
    page.wait_for_selector("[data-testid=pop-state]:has-text('Connected')", timeout=5000)
    page.select_option("[data-testid=transfer-kind]", "agent")
    page.select_option("[data-testid=transfer-agent]", "bob")
    page.click("[data-testid=transfer]")
    page.wait_for_selector("[data-testid=agent-flash]:has-text('transferred to bob')")
    session = server.call(lambda: runtime.center.session_for("c2"))
    assert session.state.value == "queued"
    assert server.call(lambda: runtime.center.acd.call_info("c2").preferred_agent) == "bob"


def test_the_callback_list_and_taking_one(server, browser_page):
    page = browser_page
    runtime = server.runtime
    login(page, server, "alice")
    page.goto(server.url + "/console/agent")
    page.click("[data-testid=login-agent]")
    page.wait_for_selector("[data-testid=agent-state]:has-text('Ready')")
    page.select_option("[data-testid=pause-reason]", "training")
    page.click("[data-testid=pause]")
    page.wait_for_selector("[data-testid=agent-state]:has-text('Paused: training')")
    arrive(server, "cb1", "0705555555", "9999")
    time.sleep(0.3)
    server.call(lambda: server.fake.press("cb1", "1"))   # accepts the callback offer
    page.wait_for_selector("[data-testid=callbacks] td:has-text('0705555555')", timeout=5000)
    assert "support" in page.text_content("[data-testid=callbacks]")
    page.click("[data-testid=take-callback]")
    page.wait_for_selector("[data-testid=pop-caller]:has-text('0705555555')", timeout=3000)
    assert page.is_visible("[data-testid=callbacks-none]")
    originated = [r for r in server.fake.requests if r[0] == "originate"]
    assert originated and originated[0][1] == "PJSIP/alice"
    page.wait_for_selector("[data-testid=pop-state]:has-text('Connected')", timeout=8000)
    assert server.call(lambda: runtime.center.agent_info("alice").pending_pause) == "training"
