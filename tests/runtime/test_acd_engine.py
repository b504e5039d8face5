"""Behaviour of the ACD engine: ordering, matching, overflow, preferences, metrics."""

from __future__ import annotations

import math
import random

import pytest

from runtime.acd import (
    CALLBACK,
    AcdEngine,
    AcdStateError,
    AgentState,
    AnswerGroup,
    Offer,
    UnknownNameError,
)


def make_engine(*names: str, wrap_up: float = 0.0, threshold: float = 20.0) -> AcdEngine:
    names = names or ("a",)
    return AcdEngine(
        [AnswerGroup(n, service_level_threshold=threshold, wrap_up=wrap_up) for n in names]
    )


def serve(engine: AcdEngine, offers: list[Offer], now: float) -> None:
    """Answer every offer."""
    for offer in offers:
        engine.answered(offer.call_id, offer.agent_id, now)


def busy_agent(engine: AcdEngine, agent_id: str, groups, now: float = 0.0) -> None:
    """Log an agent in and keep them busy with a dummy call."""
    engine.login(agent_id, groups, now, ready=False)
    dummy = f"dummy-{agent_id}"
    engine.enqueue(dummy, [next(iter(groups))], now, priority=99, preferred_agent=agent_id)
    serve(engine, engine.set_ready(agent_id, now), now)
    assert engine.agent_info(agent_id).call_id == dummy


# ------------------------------------------------------------ ordering


def test_calls_are_served_first_come_first_served():
    engine = make_engine()
    for i, t in enumerate((0, 5, 10)):
        assert engine.enqueue(f"c{i}", ["a"], t) == []
    assert engine.login("x", ["a"], 20) == [Offer("c0", "x", "a")]
    engine.answered("c0", "x", 21)
    assert engine.call_ended("x", 60) == [Offer("c1", "x", "a")]


def test_absolute_priority_beats_waiting_time():
    engine = make_engine()
    engine.enqueue("old", ["a"], 0)
    engine.enqueue("vip", ["a"], 600, priority=5)
    assert engine.login("x", ["a"], 601) == [Offer("vip", "x", "a")]


def test_credit_is_aged_priority():
    engine = make_engine()
    engine.enqueue("first", ["a"], 0)
    engine.enqueue("credited", ["a"], 30, credit=60)  # ranks as if it arrived at -30
    engine.enqueue("small_credit", ["a"], 30, credit=20)  # as if at 10: after "first"
    assert [engine.position(c) for c in ("credited", "first", "small_credit")] == [1, 2, 3]
    assert engine.login("x", ["a"], 31) == [Offer("credited", "x", "a")]


def test_set_priority_reranks_a_waiting_call():
    engine = make_engine()
    engine.enqueue("c1", ["a"], 0)
    engine.enqueue("c2", ["a"], 5)
    engine.set_priority("c2", 3, None, 6)
    assert engine.position("c2") == 1
    engine.set_priority("c2", 0, None, 7)
    assert engine.position("c2") == 2


# ------------------------------------------------------------ several groups


def test_agent_takes_the_best_call_across_their_groups():
    engine = make_engine("a", "b")
    engine.enqueue("in_b", ["b"], 0)
    engine.enqueue("in_a", ["a"], 10)
    assert engine.login("x", ["a", "b"], 20) == [Offer("in_b", "x", "b")]


def test_equal_rank_goes_to_the_group_with_the_lower_penalty():
    engine = make_engine("a", "b")
    engine.enqueue("in_a", ["a"], 0)
    engine.enqueue("in_b", ["b"], 0)  # same priority and arrival, later sequence
    assert engine.login("x", {"a": 2, "b": 0}, 1) == [Offer("in_b", "x", "b")]


def test_call_in_two_groups_goes_to_whichever_agent_frees_first_and_counts_once():
    engine = make_engine("a", "b")
    busy_agent(engine, "xa", ["a"])
    busy_agent(engine, "xb", ["b"])
    assert engine.enqueue("both", ["a", "b"], 1) == []
    assert engine.calls_waiting("a") == engine.calls_waiting("b") == 1
    assert engine.call_ended("xb", 10) == [Offer("both", "xb", "b")]
    assert engine.calls_waiting("a") == 0
    engine.answered("both", "xb", 11)
    assert engine.call_ended("xa", 12) == []
    assert engine.stats("b").answered == 2  # the dummy and "both"
    assert engine.stats("a").answered == 1  # the dummy only
    assert engine.total_stats.answered == 3


def test_overflow_add_group_keeps_the_place():
    engine = make_engine("a", "b")
    busy_agent(engine, "xb", ["b"])
    engine.enqueue("early", ["a"], 0)
    engine.enqueue("b_caller", ["b"], 5)
    assert engine.add_group("early", "b", 20) == []
    assert engine.position("early") == 1
    assert engine.call_ended("xb", 30) == [Offer("early", "xb", "b")]


def test_add_group_with_a_ready_agent_offers_at_once():
    engine = make_engine("a", "b")
    engine.login("xb", ["b"], 0)
    engine.enqueue("c1", ["a"], 1)
    assert engine.add_group("c1", "b", 2) == [Offer("c1", "xb", "b")]


def test_remove_group_stops_waiting_there_only():
    engine = make_engine("a", "b")
    engine.enqueue("c1", ["a", "b"], 0)
    engine.remove_group("c1", "a", 5)
    assert engine.calls_waiting("a") == 0 and engine.calls_waiting("b") == 1
    assert engine.login("xa", ["a"], 6) == []
    assert engine.login("xb", ["b"], 7) == [Offer("c1", "xb", "b")]


def test_position_counts_each_call_ahead_once():
    engine = make_engine("a", "b")
    engine.enqueue("both", ["a", "b"], 0)
    engine.enqueue("only_a", ["a"], 1)
    engine.enqueue("only_b", ["b"], 2)
    engine.enqueue("me", ["a", "b"], 3)
    assert engine.position("me") == 4
    engine.enqueue("single", ["a"], 4)
    assert engine.position("single") == 4  # both, only_a, me


@pytest.mark.parametrize("seed", range(20))
def test_positions_of_all_calls_at_once_match_each_calls_position(seed):
    """positions() (for status pages: one pass) gives what position() gives each call."""
    rng = random.Random(seed)
    names = ("a", "b", "c", "d")
    engine = make_engine(*names)
    busy_agent(engine, "x", ["a"])
    now = 0.0
    for index in range(rng.randint(1, 120)):
        now += rng.random()
        groups = rng.sample(names, rng.randint(1, 3))
        engine.enqueue(f"c{index}", groups, now, priority=rng.choice((0, 0, 0, 1, 5)),
                       credit=rng.choice((0.0, 0.0, 30.0)))
        gone = f"c{rng.randrange(index + 1)}"
        if rng.random() < 0.15 and engine.has_call(gone):
            engine.remove(gone, now)
        if rng.random() < 0.1 and engine.has_call(f"c{index}"):
            engine.set_priority(f"c{index}", rng.choice((0, 3)), None, now)
    if rng.random() < 0.5:
        engine.login("y", ["b"], now)    # rings a call: its position is 1
    calls = [f"c{i}" for i in range(200) if engine.has_call(f"c{i}")]
    assert engine.positions() == {call: engine.position(call) for call in calls}


# ------------------------------------------------------------ agent selection


def test_longest_idle_agent_with_the_lowest_penalty_is_chosen():
    engine = make_engine()
    engine.login("long_idle_penalised", {"a": 1}, 0)
    engine.login("recent", {"a": 0}, 10)
    engine.login("longest_best", {"a": 0}, 5)
    chosen = [engine.enqueue(f"c{i}", ["a"], 20 + i)[0].agent_id for i in range(3)]
    assert chosen == ["longest_best", "recent", "long_idle_penalised"]


def test_penalty_counts_for_any_of_the_calls_groups():
    engine = make_engine("a", "b")
    engine.login("x", {"a": 3, "b": 0}, 0)
    engine.login("y", {"a": 1}, 0)
    assert engine.enqueue("c1", ["a", "b"], 1) == [Offer("c1", "x", "b")]


def test_agent_returning_from_a_call_is_not_longest_idle():
    engine = make_engine()
    engine.login("x", ["a"], 0)
    engine.login("y", ["a"], 1)
    serve(engine, engine.enqueue("c1", ["a"], 2), 3)  # x takes it
    engine.call_ended("x", 10)
    assert engine.enqueue("c2", ["a"], 11) == [Offer("c2", "y", "a")]


# ------------------------------------------------------------ preferred agent


def test_preferred_agent_is_waited_for_until_the_deadline():
    engine = make_engine()
    busy_agent(engine, "favourite", ["a"])
    engine.login("other", ["a"], 0)
    assert engine.enqueue("c1", ["a"], 1, preferred_agent="favourite", preference_deadline=31) == []
    assert engine.agents_ready("a") == 1
    assert engine.next_preference_deadline() == 31
    assert engine.release_expired_preferences(30.9) == []
    assert engine.release_expired_preferences(31) == [Offer("c1", "other", "a")]
    assert engine.next_preference_deadline() is None


def test_preferred_agent_gets_the_call_when_free_before_the_deadline():
    engine = make_engine()
    busy_agent(engine, "favourite", ["a"])
    engine.login("other", ["a"], 0)
    engine.enqueue("c1", ["a"], 1, preferred_agent="favourite", preference_deadline=60)
    assert engine.call_ended("favourite", 10) == [Offer("c1", "favourite", "a")]


def test_other_agents_skip_a_reserved_call_but_take_the_next():
    engine = make_engine()
    busy_agent(engine, "favourite", ["a"])
    engine.enqueue("reserved", ["a"], 1, preferred_agent="favourite", preference_deadline=60)
    engine.enqueue("open", ["a"], 2)
    assert engine.login("other", ["a"], 3) == [Offer("open", "other", "a")]


def test_preference_for_an_agent_not_logged_into_the_calls_groups_is_ignored():
    engine = make_engine("a", "b")
    engine.login("elsewhere", ["b"], 0)
    engine.login("other", ["a"], 0)
    assert engine.enqueue("c1", ["a"], 1, preferred_agent="elsewhere", preference_deadline=60) == [
        Offer("c1", "other", "a")
    ]
    assert engine.enqueue("c2", ["a"], 2, preferred_agent="nobody", preference_deadline=60) == []


def test_preferred_agent_logging_out_releases_the_call():
    engine = make_engine()
    engine.login("favourite", ["a"], 0, ready=False)
    busy_agent(engine, "other", ["a"])
    engine.enqueue("c1", ["a"], 1, preferred_agent="favourite", preference_deadline=60)
    assert engine.call_ended("other", 5) == []  # reserved: other stays READY
    assert engine.logout("favourite", 6) == [Offer("c1", "other", "a")]


# ------------------------------------------------------------ offers failing


def test_offer_failed_returns_the_call_to_its_exact_place_and_pauses_the_agent():
    engine = make_engine()
    for i in range(3):
        engine.enqueue(f"c{i}", ["a"], i)
    assert engine.login("x", ["a"], 10) == [Offer("c0", "x", "a")]
    assert engine.position("c1") == 1
    assert engine.offer_failed("c0", "x", 25) == []
    assert [engine.position(c) for c in ("c0", "c1", "c2")] == [1, 2, 3]
    info = engine.agent_info("x")
    assert info.state is AgentState.PAUSED and info.pause_reason == "no answer"
    assert engine.login("y", ["a"], 26) == [Offer("c0", "y", "a")]


def test_offer_failed_goes_to_another_ready_agent():
    engine = make_engine()
    engine.login("x", ["a"], 0)
    engine.login("y", ["a"], 1)
    assert engine.enqueue("c1", ["a"], 2) == [Offer("c1", "x", "a")]
    assert engine.offer_failed("c1", "x", 17) == [Offer("c1", "y", "a")]


def test_offer_failed_can_leave_the_agent_ready():
    engine = make_engine()
    engine.login("x", ["a"], 0)
    engine.enqueue("c1", ["a"], 2)
    assert engine.offer_failed("c1", "x", 17, make_agent_unready=False) == [Offer("c1", "x", "a")]


def test_caller_hanging_up_while_ringing_frees_the_agent_for_the_next_call():
    engine = make_engine()
    engine.login("x", ["a"], 0)
    engine.enqueue("c1", ["a"], 1)
    engine.enqueue("c2", ["a"], 2)
    assert engine.remove("c1", 3) == [Offer("c2", "x", "a")]
    assert engine.stats("a").abandoned == 1


def test_answering_the_wrong_call_is_refused():
    engine = make_engine()
    engine.login("x", ["a"], 0)
    engine.enqueue("c1", ["a"], 1)
    with pytest.raises(AcdStateError):
        engine.answered("other", "x", 2)
    with pytest.raises(UnknownNameError):
        engine.answered("c1", "nobody", 2)
    with pytest.raises(AcdStateError):
        engine.logout("x", 3)  # ringing


# ------------------------------------------------------------ agent states


def test_wrap_up_then_ready():
    engine = make_engine(wrap_up=15)
    engine.login("x", ["a"], 0)
    serve(engine, engine.enqueue("c1", ["a"], 1), 2)
    engine.enqueue("c2", ["a"], 3)
    assert engine.call_ended("x", 50) == []
    assert engine.agent_info("x").state is AgentState.WRAP_UP
    assert engine.wrap_up_seconds("x") == 15
    assert engine.agents_wrap_up("a") == 1 and engine.agents_busy("a") == 0
    assert engine.wrap_up_done("x", 65) == [Offer("c2", "x", "a")]
    assert engine.wrap_up_done("x", 66) == []  # a late timer is harmless


def test_an_agents_own_wrap_up_replaces_the_groups():
    """docs/site.md: an agent's wrap_up "overrides the groups' wrap_up" — also to 0."""
    engine = make_engine(wrap_up=30)
    engine.login("quick", ["a"], 0, wrap_up=5)
    engine.login("none", ["a"], 0, wrap_up=0)
    engine.login("group", ["a"], 0)
    for call, agent in (("c1", "quick"), ("c2", "none"), ("c3", "group")):
        offers = engine.enqueue(call, ["a"], 1)
        assert [o.agent_id for o in offers] == [agent]
        serve(engine, offers, 2)
    assert engine.call_ended("quick", 50) == []
    assert engine.agent_info("quick").state is AgentState.WRAP_UP
    assert engine.wrap_up_seconds("quick") == 5
    engine.call_ended("none", 50)
    assert engine.agent_info("none").state is AgentState.READY
    assert engine.wrap_up_seconds("none") == 0
    engine.call_ended("group", 50)
    assert engine.wrap_up_seconds("group") == 30
    # the handle time counts the wrap-up the agent had: (50-2)+5, (50-2)+0, (50-2)+30
    assert engine.stats("a").total_handle_time == 48 * 3 + 5 + 0 + 30


def test_an_agents_wrap_up_is_set_again_at_each_login():
    engine = make_engine(wrap_up=30)
    engine.login("x", ["a"], 0, wrap_up=5)
    engine.logout("x", 1)
    engine.login("x", ["a"], 2)
    serve(engine, engine.enqueue("c1", ["a"], 3), 4)
    engine.call_ended("x", 10)
    assert engine.wrap_up_seconds("x") == 30


def test_pause_during_a_call_starts_after_it():
    engine = make_engine()
    engine.login("x", ["a"], 0)
    serve(engine, engine.enqueue("c1", ["a"], 1), 2)
    engine.enqueue("c2", ["a"], 3)
    engine.pause("x", "lunch", 10)
    assert engine.agent_info("x").state is AgentState.BUSY
    assert engine.call_ended("x", 20) == []
    info = engine.agent_info("x")
    assert info.state is AgentState.PAUSED and info.pause_reason == "lunch"
    assert engine.set_ready("x", 30) == [Offer("c2", "x", "a")]


def test_set_groups_can_create_a_match():
    engine = make_engine("a", "b")
    engine.login("x", ["a"], 0)
    engine.enqueue("c1", ["b"], 1)
    assert engine.set_groups("x", {"a": 0, "b": 2}, 2) == [Offer("c1", "x", "b")]
    assert engine.agents_logged_in("b") == 1


def test_convert_to_callback_keeps_the_place():
    engine = make_engine()
    engine.enqueue("c1", ["a"], 0)
    engine.enqueue("c2", ["a"], 1)
    engine.convert_to_callback("c1")
    assert engine.call_info("c1").kind == CALLBACK
    assert engine.position("c1") == 1


def test_unknown_names_are_reported():
    engine = make_engine()
    with pytest.raises(UnknownNameError):
        engine.enqueue("c1", ["nope"], 0)
    with pytest.raises(UnknownNameError):
        engine.login("x", ["nope"], 0)
    with pytest.raises(UnknownNameError):
        engine.position("ghost")
    with pytest.raises(ValueError):
        engine.enqueue("c1", ["a"], 0, priority=100)


# ------------------------------------------------------------ metrics


def test_agent_count_metrics():
    engine = make_engine(wrap_up=10)
    for agent_id in ("r1", "r2", "busy", "ringing", "wrap", "paused"):
        engine.login(agent_id, ["a"], 0, ready=False)
    engine.set_ready("busy", 1)
    serve(engine, engine.enqueue("c1", ["a"], 2), 3)
    engine.set_ready("wrap", 4)
    serve(engine, engine.enqueue("c2", ["a"], 5), 6)
    engine.call_ended("wrap", 7)
    engine.set_ready("ringing", 8)
    engine.enqueue("c3", ["a"], 9)  # ringing
    engine.set_ready("r1", 10)
    engine.set_ready("r2", 10)
    assert engine.agents_logged_in("a") == 6
    assert engine.agents_ready("a") == 2
    assert engine.agents_busy("a") == 2
    assert engine.agents_wrap_up("a") == 1
    assert engine.agents_paused("a") == 1
    engine.logout("r1", 11)
    assert engine.agents_logged_in("a") == 5 and engine.agents_ready("a") == 1


def test_calls_waiting_and_oldest_wait_by_real_arrival():
    engine = make_engine()
    assert engine.oldest_wait("a", 5) == 0.0
    engine.enqueue("old", ["a"], 0)
    engine.enqueue("vip", ["a"], 10, priority=9)
    assert engine.calls_waiting("a") == 2
    assert engine.oldest_wait("a", 30) == 30.0
    engine.remove("old", 31)
    assert engine.oldest_wait("a", 40) == 30.0


def test_service_level_counts_abandons_and_flow_outs_as_misses():
    engine = make_engine(threshold=20)
    assert engine.service_level("a") is None
    engine.login("x", ["a"], 0)
    serve(engine, engine.enqueue("quick", ["a"], 0), 5)  # within 20 s
    engine.call_ended("x", 10)
    engine.pause("x", "meeting", 10)
    engine.enqueue("abandoner", ["a"], 10)
    engine.enqueue("slow", ["a"], 11)
    engine.enqueue("to_voicemail", ["a"], 12)
    engine.enqueue("still_waiting", ["a"], 13)
    engine.remove("abandoner", 15)  # within 20 s, still a miss
    engine.remove("to_voicemail", 40, reason="voicemail")
    serve(engine, engine.set_ready("x", 60), 61)  # "slow" answered after 50 s
    stats = engine.stats("a")
    assert (stats.offered, stats.answered, stats.abandoned, stats.flowed_out) == (4, 2, 1, 1)
    # 1 of 4 met the goal; the call still waiting is not counted
    assert engine.service_level("a") == pytest.approx(25.0)
    assert stats.abandon_rate == pytest.approx(0.25)
    assert stats.average_speed_of_answer == pytest.approx((5 + 50) / 2)


def test_abandon_in_several_groups_counts_in_the_first_joined():
    engine = make_engine("a", "b")
    engine.enqueue("c1", ["b", "a"], 0)
    engine.remove("c1", 9)
    assert engine.stats("b").abandoned == 1 and engine.stats("a").offered == 0
    assert engine.total_stats.abandoned == 1


# ------------------------------------------------------------ estimated wait


def test_estimated_wait_is_unbounded_with_nobody_logged_in_or_all_paused():
    engine = make_engine()
    engine.enqueue("c1", ["a"], 0)
    assert engine.estimated_wait("c1", 1) == math.inf
    assert engine.estimated_wait_group("a", 1) == math.inf
    engine.login("x", ["a"], 2, ready=False)
    assert engine.estimated_wait("c1", 3) == math.inf


def test_estimated_wait_is_zero_with_a_ready_agent_and_nobody_ahead():
    engine = make_engine()
    engine.login("x", ["a"], 0)
    assert engine.estimated_wait_group("a", 1) == 0.0
    engine.enqueue("c1", ["a"], 2)  # rings x
    assert engine.estimated_wait("c1", 3) == 0.0
    assert engine.estimated_wait_group("a", 3) > 0


def test_estimated_wait_grows_with_position_and_shrinks_with_agents():
    engine = make_engine()
    busy_agent(engine, "x", ["a"])
    for i in range(5):
        engine.enqueue(f"c{i}", ["a"], i)
    waits = [engine.estimated_wait(f"c{i}", 10) for i in range(5)]
    assert waits == sorted(waits) and waits[0] < waits[-1]
    busy_agent(engine, "y", ["a"], now=11)
    assert engine.estimated_wait("c4", 12) < waits[-1]


def test_announced_wait_and_position_never_go_up():
    engine = make_engine()
    busy_agent(engine, "x", ["a"])
    busy_agent(engine, "y", ["a"])
    engine.enqueue("c1", ["a"], 0)
    first = engine.announced_wait("c1", 1)
    assert engine.announced_position("c1") == 1
    engine.pause("y", "break", 2)  # fewer agents after y's call...
    engine.call_ended("y", 3)
    assert engine.estimated_wait("c1", 4) > first  # ...so the estimate rises
    assert engine.announced_wait("c1", 4) == first
    engine.enqueue("vip", ["a"], 5, priority=9)
    assert engine.position("c1") == 2
    assert engine.announced_position("c1") == 1


# ------------------------------------------------------------ invariants


def reserved_for_someone_else(engine: AcdEngine, call, agent_id: str, now: float) -> bool:
    favourite = call.preferred_agent
    if favourite in (None, agent_id) or now >= call.preference_deadline:
        return False
    info = engine.agent_info(favourite) if favourite in engine._agents else None  # noqa: SLF001
    return info is not None and info.state is not AgentState.LOGGED_OUT and bool(
        set(info.groups) & set(call.groups)
    )


def check_invariants(engine: AcdEngine, agents: list[str], groups: list[str], now: float) -> None:
    states = [engine.agent_info(a) for a in agents]
    waiting = [engine.call_info(c) for c in engine._calls]  # noqa: SLF001 (test introspection)
    for agent in states:
        if agent.state is AgentState.READY:  # nobody READY who could take a waiting call
            for call in waiting:
                if call.ringing_agent is None and set(call.groups) & set(agent.groups):
                    assert reserved_for_someone_else(engine, call, agent.agent_id, now)
    for group in groups:
        members = [s for s in states if group in s.groups]
        assert engine.agents_logged_in(group) == len(members)
        assert engine.agents_ready(group) == sum(s.state is AgentState.READY for s in members)
        assert engine.agents_busy(group) == sum(
            s.state in (AgentState.RINGING, AgentState.BUSY) for s in members
        )
    total = engine.total_stats
    assert total.offered == total.answered + total.abandoned + total.flowed_out


def test_random_operations_keep_the_engine_consistent():
    rng = random.Random(7)
    groups = ["a", "b", "c"]
    engine = make_engine(*groups)
    agents = [f"agent{i}" for i in range(8)]
    for agent_id in agents:
        penalties = {g: rng.randint(0, 2) for g in rng.sample(groups, 2)}
        engine.login(agent_id, penalties, 0, ready=False)
    ringing: dict[str, str] = {}  # call -> agent
    busy: set[str] = set()
    calls_left = 0

    def note(offers):
        for offer in offers:
            ringing[offer.call_id] = offer.agent_id

    for step in range(3000):
        now = float(step)
        deadline = engine.next_preference_deadline()
        if deadline is not None and deadline <= now:  # as a driver's timer would
            note(engine.release_expired_preferences(now))
        action = rng.random()
        waiting = [c for c in engine._calls if c not in ringing]  # noqa: SLF001
        if action < 0.25:
            favourite = rng.choice(agents) if rng.random() < 0.2 else None
            note(engine.enqueue(f"call{step}", rng.sample(groups, rng.randint(1, 2)), now,
                                priority=rng.choice([0, 0, 0, 5]), credit=rng.choice([0, 30]),
                                preferred_agent=favourite, preference_deadline=now + 40))
        elif action < 0.45 and ringing:
            call_id = rng.choice(sorted(ringing))
            agent_id = ringing.pop(call_id)
            if rng.random() < 0.85:
                engine.answered(call_id, agent_id, now)
                busy.add(agent_id)
                calls_left += 1
            else:
                unready = rng.random() < 0.5
                note(engine.offer_failed(call_id, agent_id, now, make_agent_unready=unready))
        elif action < 0.6 and busy:
            agent_id = rng.choice(sorted(busy))
            busy.discard(agent_id)
            note(engine.call_ended(agent_id, now))
        elif action < 0.7 and waiting:
            engine.remove(rng.choice(waiting), now, reason=rng.choice(["abandoned", "voicemail"]))
            calls_left += 1
        elif action < 0.8 and waiting:
            call_id = rng.choice(waiting)
            note(engine.add_group(call_id, rng.choice(groups), now))
            if rng.random() < 0.5:
                note(engine.remove_group(call_id, rng.choice(groups), now))
        else:
            agent_id = rng.choice(agents)
            state = engine.agent_info(agent_id).state
            if state is AgentState.PAUSED:
                note(engine.set_ready(agent_id, now))
            elif state is AgentState.LOGGED_OUT:
                note(engine.login(agent_id, rng.sample(groups, 2), now))
            elif state is AgentState.READY:
                if rng.random() < 0.4:
                    engine.pause(agent_id, "break", now)
                elif rng.random() < 0.3:
                    note(engine.logout(agent_id, now))
                else:
                    note(engine.set_groups(agent_id, rng.sample(groups, rng.randint(1, 3)), now))
        check_invariants(engine, agents, groups, now)
        for call_id in waiting:
            if engine.has_call(call_id) and call_id not in ringing:
                assert engine.position(call_id) >= 1
    assert engine.total_stats.offered == calls_left


def test_service_level_is_of_the_current_day_and_starts_again_at_its_end():
    """service_level() is "today": the counts behind it start again when the
    day ends (the centre sets the end from the site's midnight, and reads
    through roll_day)."""
    engine = make_engine(threshold=20)
    engine.day_ends_at = 100.0
    engine.next_day_end = lambda now: now + 86_400.0
    engine.enqueue("missed", ["a"], 10)
    engine.remove("missed", 50)                      # abandoned on the first day
    assert engine.service_level("a") == pytest.approx(0.0)
    engine.roll_day(99.0)                            # still the first day
    assert engine.stats("a").offered == 1
    engine.login("x", ["a"], 101)
    serve(engine, engine.enqueue("quick", ["a"], 101), 102)   # the next day, answered at once
    assert engine.stats("a").offered == 1 and engine.service_level("a") == pytest.approx(100.0)
    assert engine.day_ends_at == pytest.approx(102.0 + 86_400.0)
    engine.roll_day(90_000.0)                        # a read on the third day: nothing yet
    assert engine.service_level("a") is None


def test_the_centre_ends_the_acd_day_at_the_sites_midnight():
    import datetime as dt
    import random
    from runtime.core.center import ContactCenter, ProgramTable
    from runtime.simulator.driver import SimDriver
    from runtime.simulator.events import EventLoop
    from runtime.simulator.model import Distribution, Model

    loop = EventLoop()
    model = Model(start=dt.datetime(2026, 12, 7, 23, 59, 0), duration=0, warmup=0,
                  arrival_rate=0, profile=(), weekday_factors={},
                  handle_time=Distribution("constant", 30.0), patience=None, agents=())
    center = ContactCenter(SimDriver(loop, model, random.Random(1)), ProgramTable())
    assert center.acd.day_ends_at == pytest.approx(60.0)          # 00:00 the next day
    loop.now = 70.0                                               # 00:00:10 the next day
    assert center.acd.next_day_end(70.0) == pytest.approx(70.0 + 86_390.0)
