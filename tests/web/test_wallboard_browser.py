"""The wallboard in a real browser (Debian's Chromium driven by Playwright).

Calls come from the in-process ARI fake behind the running console; what is
checked is what a supervisor sees: a call on the board within a second, its
digits and a wait that counts on, an agent's tile in its state's colour with
the pause reason, the compact view.

``QSCRIPT_SCREENSHOTS=1`` also writes the documentation's screenshot
(docs/images/console-wallboard.png) from the busy board of the last test.
"""

from __future__ import annotations

import os
import time

import pytest

from conftest import SITE, ConsoleServer, login, screenshot

pytestmark = pytest.mark.browser

SCRIPT = """inbound:
    answer
    collect customer_no prompt "welcome" digits 4:
        timeout:
            play "welcome"
    queue to "support"
"""


@pytest.fixture
def board_server(tmp_path):
    with ConsoleServer(tmp_path, SITE, SCRIPT) as running:
        yield running


def open_board(page, server, path: str = "/console/wallboard") -> None:
    login(page, server, "sup")
    page.goto(server.url + path)
    page.wait_for_selector("#board[data-updated]")      # the first snapshot is drawn
    assert page.text_content("#board-link") == "live"


def background(page, selector: str) -> str:
    return page.eval_on_selector(selector, "node => getComputedStyle(node).backgroundColor")


def test_a_call_arriving_shows_on_the_board_within_a_second(board_server, browser_page):
    page = browser_page
    open_board(page, board_server)
    assert page.is_visible("#waiting-empty")
    time.sleep(1.1)          # a quiet second: the next change goes out at once
    started = time.monotonic()
    board_server.call(lambda: board_server.fake.new_call("c1", caller="0701234567"))
    board_server.call(lambda: board_server.fake.press("c1", "4711"))
    page.wait_for_selector('tr[data-call="c1"]', timeout=3000)
    shown_after = time.monotonic() - started
    assert shown_after < 1.0, f"the call took {shown_after:.2f} s to show"
    row = 'tr[data-call="c1"]'
    # first in its script (keying in digits), then in the queue with them
    page.wait_for_function(
        """() => document.querySelector('tr[data-call="c1"] .call-group')
                   .textContent === 'support'""", timeout=3000)
    queued_after = time.monotonic() - started
    assert queued_after < 2.0, f"the queued call took {queued_after:.2f} s to show"
    assert page.text_content(f"{row} .call-caller") == "0701234567"
    assert page.text_content(f"{row} .call-digits") == "4711"
    assert page.text_content(f"{row} .call-group") == "support"
    assert page.text_content('.queue[data-group="support"] .queue-count') == "1"
    assert page.is_hidden("#waiting-empty")
    # the wait counts on in the page, with no update from the server
    updated = page.get_attribute("#board", "data-updated")
    page.wait_for_function(
        """() => document.querySelector('tr[data-call="c1"] .call-wait').textContent >= '0:02'""",
        timeout=4000)
    assert page.get_attribute("#board", "data-updated") == updated, "no push was needed"
    # the caller gives up: off the board, and an abandon in today's figures
    board_server.call(lambda: board_server.fake.caller_hangs_up("c1"))
    page.wait_for_selector('tr[data-call="c1"]', state="detached", timeout=3000)
    assert page.text_content('tr[data-figure="abandoned"] .today') == "1"
    assert page.text_content('tr[data-figure="abandoned"] .last_15_min') == "1"


def test_an_agent_pausing_turns_orange_with_the_reason(board_server, browser_page):
    page = browser_page
    open_board(page, board_server)
    tile = '.agent[data-agent="alice"]'
    assert "state-logged_out" in page.get_attribute(tile, "class")
    board_server.call(lambda: board_server.runtime.agent_action("alice", "login"))
    page.wait_for_selector(f"{tile}.state-ready")
    assert background(page, tile) == "rgb(46, 157, 79)"          # free: green
    assert page.text_content(f"{tile} .agent-state") == "free"
    board_server.call(lambda: board_server.runtime.agent_action("alice", "pause",
                                                                reason="lunch"))
    page.wait_for_selector(f"{tile}.state-paused", timeout=3000)
    assert background(page, tile) == "rgb(239, 125, 34)"         # paused: orange
    assert page.text_content(f"{tile} .agent-reason") == "lunch"
    assert page.text_content('.queue[data-group="support"] .count-paused') == "1 paused"


def test_ringing_busy_and_wrap_up_look_different(tmp_path, browser_page):
    page = browser_page
    site = SITE.replace("wrap_up: 0s", "wrap_up: 3s")
    with ConsoleServer(tmp_path, site, SCRIPT) as server:
        server.fake.answer_seconds = 2.5                           # the phone rings a while
        open_board(page, server)
        server.call(lambda: server.runtime.agent_action("bob", "login"))
        server.call(lambda: server.fake.new_call("c2"))
        server.call(lambda: server.fake.press("c2", "1234"))
        tile = '.agent[data-agent="bob"]'
        page.wait_for_selector(f"{tile}.state-ringing", timeout=3000)
        ringing = background(page, tile)
        assert page.text_content(f"{tile} .agent-state") == "ringing"
        page.wait_for_selector(f"{tile}.state-busy", timeout=5000)
        busy = background(page, tile)
        assert busy == "rgb(230, 180, 0)"                          # busy: yellow
        agent_leg = next(r[2] for r in list(server.fake.requests) if r[0] == "originate")
        server.call(lambda: server.fake.agent_hangs_up(agent_leg))
        page.wait_for_selector(f"{tile}.state-wrap_up", timeout=3000)
        assert page.text_content(f"{tile} .agent-state") == "wrap-up"
        wrap_up = background(page, tile)
        free = background(page, '.agent[data-agent="alice"]')  # logged out, for contrast
        assert len({ringing, busy, wrap_up, free}) == 4, (ringing, busy, wrap_up, free)
        page.wait_for_selector(f"{tile}.state-ready", timeout=6000)


def test_the_compact_view_has_one_line_per_queue(board_server, browser_page):
    page = browser_page
    open_board(page, board_server, "/console/wallboard/compact")
    rows = page.query_selector_all("#compact-rows tr")
    assert [row.get_attribute("data-group") for row in rows] == ["support", "sales"]
    support = 'tr[data-group="support"]'
    assert page.text_content(f"{support} .compact-waiting") == "0"
    assert page.text_content(f"{support} .compact-level") == "– / 80%"
    board_server.call(lambda: board_server.runtime.agent_action("alice", "login"))
    board_server.call(lambda: board_server.runtime.agent_action("alice", "pause",
                                                                reason="meeting"))
    board_server.call(lambda: board_server.fake.new_call("c3"))
    board_server.call(lambda: board_server.fake.press("c3", "1234"))
    page.wait_for_function(
        """() => document.querySelector('tr[data-group="support"] .compact-waiting')
                   .textContent === '1'""", timeout=3000)
    assert page.text_content(f"{support} .compact-agents") == "0/0/1"
    assert page.text_content(f"{support} .compact-oldest").startswith("0:0")
    page.set_viewport_size({"width": 480, "height": 320})          # a small screen
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 480, "the compact view fits a small screen without scrolling sideways"
    screenshot(page, "console-wallboard-compact.png")


def test_a_busy_board(board_server, browser_page):
    """Every part at once: queues with calls, agents in each state, today's figures.
    With QSCRIPT_SCREENSHOTS=1 this is the documentation's screenshot."""
    page = browser_page
    server = board_server
    server.fake.agent_behaviour["PJSIP/bob"] = "noanswer"          # bob misses a ring
    open_board(page, server)
    server.call(lambda: server.runtime.agent_action("alice", "login"))
    server.call(lambda: server.runtime.agent_action("bob", "login", {"support": 0, "sales": 0}))
    for n, digits in enumerate(("4711", "1234", "9001", "5555")):
        server.call(lambda n=n: server.fake.new_call(f"b{n}", caller=f"07012345{n:02d}"))
        server.call(lambda n=n, digits=digits: server.fake.press(f"b{n}", digits))
    page.wait_for_function(
        "() => document.querySelectorAll('#waiting-rows tr').length >= 2", timeout=5000)
    page.wait_for_selector('.agent[data-agent="alice"].state-busy', timeout=5000)
    page.wait_for_selector('.agent[data-agent="bob"].state-paused', timeout=5000)
    assert page.text_content('.agent[data-agent="bob"] .agent-reason') == "no answer"
    assert page.text_content('tr[data-figure="answered"] .today') == "1"
    level = page.text_content('.queue[data-group="support"] .level-text')
    assert level.endswith("/ 80%")
    if os.environ.get("QSCRIPT_SCREENSHOTS") == "1":
        time.sleep(2.2)                                            # the waits tick on
        page.set_viewport_size({"width": 1280, "height": 720})
        screenshot(page, "console-wallboard.png")


def test_a_long_queue_lists_its_first_calls_and_says_how_many_more_wait(board_server,
                                                                        browser_page):
    page = browser_page
    open_board(page, board_server)

    def calls():
        for n in range(55):
            board_server.fake.new_call(f"q{n}", caller=f"0709{n:06d}")

    def digits():
        for n in range(55):
            board_server.fake.press(f"q{n}", "1234")
    board_server.call(calls)
    time.sleep(0.3)                       # (the digits once their script asks for them)
    board_server.call(digits)
    page.wait_for_function(
        """() => document.querySelector('.queue[data-group="support"] .queue-count')
                   .textContent === '55'""", timeout=5000)
    assert len(page.query_selector_all("#waiting-rows tr.call")) == 50
    assert page.text_content("#waiting-rows tr.call-more") == "support: 5 more waiting"
    assert page.text_content('tr[data-call="q0"] .call-position') == "1"
