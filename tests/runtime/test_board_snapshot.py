"""What a wallboard shows: the live snapshot and the "current situation" figures.

The figures (today, the last 15 minutes) are checked on their own with made-up
outcomes, then against the ACD's own day counters; the snapshot on a live
runtime against the in-process ARI fake.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from runtime.acd import AcdEngine, AnswerGroup
from runtime.core.situation import SITE, SituationFigures
from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store.database import Store

from fake_ari import FakeAri


# ------------------------------------------------------------ the figures


def test_last_15_minutes_counts_what_left_the_queue_in_the_window():
    figures = SituationFigures(window=900)
    figures.record("support", "answered", 10.0, True, now=0)
    figures.record("support", "answered", 40.0, False, now=100)
    figures.record("support", "abandoned", 70.0, False, now=200)
    figures.record("sales", "flowed_out", 5.0, False, now=300)
    recent = figures.recent("support", now=300)
    assert recent == {"offered": 3, "answered": 2, "abandoned": 1,
                      "answered_within_threshold": 1, "service_level_percent": 33.3,
                      "average_wait_s": 25.0, "longest_wait_s": 70.0}
    site = figures.recent(SITE, now=300)
    assert site["offered"] == 4 and site["abandoned"] == 1 and site["answered"] == 2
    # 15 minutes after the first answer it has left the window; the rest stays
    later = figures.recent("support", now=901)
    assert later["offered"] == 2 and later["answered"] == 1 and later["average_wait_s"] == 40.0
    assert later["longest_wait_s"] == 70.0
    # the longest wait leaves the window with its call
    assert figures.recent("support", now=1101) == {
        "offered": 0, "answered": 0, "abandoned": 0, "answered_within_threshold": 0,
        "service_level_percent": None, "average_wait_s": None, "longest_wait_s": 0.0}
    # today keeps them all
    today = figures.today("support", now=1101)
    assert today["offered"] == 3 and today["longest_wait_s"] == 70.0
    assert today["service_level_percent"] == 33.3


def test_the_longest_wait_of_the_window_is_the_longest_still_in_it():
    figures = SituationFigures(window=60)
    for now, waited in [(0, 50.0), (10, 20.0), (20, 30.0), (30, 10.0)]:
        figures.record("g", "answered", waited, False, now=now)
    assert figures.recent("g", 30)["longest_wait_s"] == 50.0
    assert figures.recent("g", 61)["longest_wait_s"] == 30.0   # the 50 s call left
    assert figures.recent("g", 81)["longest_wait_s"] == 10.0   # and the 30 s one
    assert figures.recent("g", 91)["longest_wait_s"] == 0.0


def test_the_window_says_when_it_next_changes_by_itself():
    figures = SituationFigures(window=900)
    assert figures.next_change() is None
    figures.record("g", "answered", 1.0, True, now=50)
    figures.record("g", "answered", 1.0, True, now=80)
    assert figures.next_change() == 950
    figures.recent(SITE, 951)
    assert figures.next_change() == 980
    figures.recent(SITE, 981)
    assert figures.next_change() is None


def test_today_starts_again_at_midnight():
    figures = SituationFigures(day_ends_at=1000, next_day_end=lambda now: now + 86400)
    figures.record("g", "answered", 5.0, True, now=900)
    assert figures.today("g", 999)["answered"] == 1
    assert figures.today("g", 1000)["answered"] == 0
    figures.record("g", "abandoned", 5.0, False, now=1001)
    assert figures.today("g", 1002) == {
        "offered": 1, "answered": 0, "abandoned": 1, "answered_within_threshold": 0,
        "service_level_percent": 0.0, "average_wait_s": None, "longest_wait_s": 5.0}


def test_the_figures_count_each_call_as_the_acds_day_counters_do():
    """Fed by the ACD's outcome hook: the same calls, the same threshold test (the
    call's own target), the same group as the service level the scripts read."""
    acd = AcdEngine([AnswerGroup("support", 20.0), AnswerGroup("sales", 20.0)])
    figures = SituationFigures()
    acd.on_outcome = figures.record
    acd.login("a1", ["support", "sales"], 0)
    acd.pause("a1", "lunch", 0)
    acd.enqueue("c1", ["support"], 0)
    acd.enqueue("c2", ["sales", "support"], 1)
    acd.enqueue("c3", ["support"], 2, service_level_threshold=100.0)
    acd.enqueue("c4", ["support"], 3)
    acd.remove("c4", 50, reason="abandoned")
    offers = acd.set_ready("a1", 30)
    assert offers[0].call_id == "c1"
    acd.answered("c1", "a1", 30)                      # waited 30 s > 20 s
    acd.call_ended("a1", 40)
    acd.answered("c2", "a1", 40)                      # in "sales", first joined
    acd.call_ended("a1", 45)
    acd.answered("c3", "a1", 45)                      # 43 s, within its own 100 s target
    acd.remove_group  # (nothing left waiting)
    for group in ("support", "sales"):
        stats, today = acd.stats(group), figures.today(group, 60)
        assert (today["offered"], today["answered"], today["abandoned"],
                today["answered_within_threshold"]) == (
            stats.offered, stats.answered, stats.abandoned, stats.answered_within_threshold)
        level = acd.service_level(group)
        assert today["service_level_percent"] == (None if level is None else round(level, 1))
    support = figures.today("support", 60)
    assert support["longest_wait_s"] == 47.0                  # c4, abandoned
    assert support["average_wait_s"] == round((30 + 39 + 43) / 3, 1)
    assert figures.today("sales", 60)["offered"] == 0


# ------------------------------------------------------------ the snapshot, live

SCRIPT = """inbound:
    answer
    collect customer_no prompt "enter-number" digits 4:
        timeout:
            play "no-input"
    if customer_no == "1234":
        queue to "support"
    else:
        queue to "support", "sales"
"""

SITE_YAML = """site: Board test
languages: [en]
groups:
  support: {description: First line, service_level_threshold: 30s, service_level_target: 90%}
  sales: {}
agents:
  - {id: alice, name: Alice, endpoint: PJSIP/alice, groups: [support]}
  - {id: bob, name: Bob, endpoint: PJSIP/bob, groups: [support, sales]}
  - {id: carol, name: Carol, endpoint: PJSIP/carol, groups: [sales]}
prompts:
  enter-number: en/enter-number
  no-input: en/no-input
numbers:
  default: test.qs
"""


def make_runtime(tmp_path: Path, fake: FakeAri) -> LiveRuntime:
    (tmp_path / "test.qs").write_text(SCRIPT)
    site = load_site_text(SITE_YAML, "site.yaml", tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    return LiveRuntime(site, fake, store, loop=asyncio.get_running_loop())


async def settle_until(condition, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


def test_the_snapshot_shows_waiting_calls_agents_and_figures(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        runtime.agent_action("alice", "login")
        runtime.agent_action("alice", "pause", reason="lunch")
        fake.agent_behaviour["PJSIP/bob"] = "noanswer"
        runtime.agent_action("bob", "login")
        runtime.agent_action("bob", "pause", reason="meeting")
        fake.new_call("c1", caller="0701111111")
        fake.new_call("c2", caller="0702222222")
        await asyncio.sleep(0.05)
        arriving = runtime.board.build()["in_script"]
        assert [(c["call_id"], c["caller"]) for c in arriving] == [
            ("c1", "0701111111"), ("c2", "0702222222")], "new calls, in their script"
        fake.press("c1", "1234")
        fake.press("c2", "5678")
        await settle_until(lambda: runtime.center.is_queued("c1")
                           and runtime.center.is_queued("c2"))
        await asyncio.sleep(0.3)
        before = time.time()
        view = runtime.board.build()
        groups = {g["name"]: g for g in view["groups"]}
        support, sales = groups["support"], groups["sales"]
        assert [w["call_id"] for w in support["waiting"]] == ["c1", "c2"]
        assert [w["call_id"] for w in sales["waiting"]] == ["c2"]
        c1 = support["waiting"][0]
        assert c1["digits"] == "1234" and c1["caller"] == "0701111111" and c1["position"] == 1
        assert c1["waited_s"] >= 0.2
        assert abs((view["at"] - c1["since"]) - c1["waited_s"]) < 0.06, \
            "since is when the wait began, on the snapshot's clock"
        assert view["at"] <= before + 0.01
        assert view["in_script"] == [], "queued: no longer in the script"
        assert support["oldest_since"] == c1["since"]
        short = runtime.snapshot(calls_listed=1)           # a board lists a screenful
        short_support = {g["name"]: g for g in short["groups"]}["support"]
        assert [w["call_id"] for w in short_support["waiting"]] == ["c1"]
        assert short_support["calls_waiting"] == 2, "the count covers the calls not listed"
        assert short_support["waiting_not_listed"] == 1 and support["waiting_not_listed"] == 0
        assert len(runtime.status()["groups"][0]["waiting"]) == 2, "qscript status lists all"
        assert support["description"] == "First line"
        assert support["service_level_threshold_s"] == 30.0
        assert support["service_level_target_percent"] == 90.0
        assert sales["service_level_target_percent"] == 80.0
        assert support["calls_waiting"] == 2 and support["agents_paused"] == 2
        assert support["today"]["offered"] == 0 and support["last_15_min"]["offered"] == 0
        agents = {a["id"]: a for a in view["agents"]}
        assert agents["alice"]["state"] == "paused" and agents["alice"]["pause_reason"] == "lunch"
        assert agents["alice"]["since"] is not None and agents["alice"]["since"] <= view["at"]
        assert agents["carol"] == {"id": "carol", "name": "Carol", "state": "logged_out",
                                   "pause_reason": None, "groups": {}, "call": None,
                                   "since": None}
        # the caller of c1 gives up: an abandon in today's and the last 15 minutes' figures
        fake.caller_hangs_up("c1")
        await settle_until(lambda: runtime.center.session_for("c1") is None)
        view = runtime.board.build()
        support = {g["name"]: g for g in view["groups"]}["support"]
        for period in ("today", "last_15_min"):
            assert support[period]["offered"] == 1 and support[period]["abandoned"] == 1
            assert support[period]["longest_wait_s"] >= 0.2
            assert view[period]["abandoned"] == 1
        assert support["service_level_percent"] == 0.0
        # qscript status is the same view, with the runtime's health
        status = runtime.status()
        assert status["groups"][0]["waiting"] == view["groups"][0]["waiting"]
        assert {"connected", "scripts", "hot_prompts", "database"} <= set(status)
        await runtime.close()
    asyncio.run(scenario())


def test_the_centre_tells_the_feed_of_each_change_and_counts_them(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        center = runtime.center
        seen = []
        stop = center.watch(lambda: seen.append(center.changes))
        runtime.agent_action("alice", "login")
        assert seen, "an agent's login is a change"
        count = len(seen)
        runtime.agent_action("alice", "pause", reason="lunch")
        assert len(seen) > count, "a pause is a change"
        count = len(seen)
        runtime.agent_action("alice", "groups", {"support": 0, "sales": 1})
        assert len(seen) > count, "new groups are a change"
        count = len(seen)
        fake.new_call("c1")
        await asyncio.sleep(0.05)
        assert len(seen) > count, "a call arriving is a change"
        count = len(seen)
        fake.press("c1", "1234")
        await settle_until(lambda: center.is_queued("c1"))
        assert len(seen) > count, "a call joining the queue is a change"
        assert seen == sorted(seen) and seen[-1] == center.changes
        stop()
        runtime.agent_action("alice", "ready")
        assert seen[-1] < center.changes, "a stopped watcher is told nothing"
        await asyncio.sleep(0.1)   # (the ring alice got goes out before the close)
        await runtime.close()
    asyncio.run(scenario())


@pytest.mark.parametrize("boards", [0, 3])
def test_the_feed_builds_nothing_without_boards_and_once_per_update_with_them(tmp_path, boards):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        received: list[list[bytes]] = [[] for _ in range(boards)]
        for inbox in received:
            runtime.board.subscribe(inbox.append)
        runtime.agent_action("alice", "login")
        for n in range(5):
            fake.new_call(f"c{n}")
        await asyncio.sleep(0.3)
        fake.press("c0", "1234")
        await asyncio.sleep(1.3)
        if boards == 0:
            assert runtime.board.builds == 0
        else:
            assert 1 <= runtime.board.builds <= 3, runtime.board.builds
            assert all(len(inbox) == runtime.board.builds for inbox in received)
        await runtime.close()
    asyncio.run(scenario())
