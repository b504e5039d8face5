"""Synthetic contact-centre days, shaped like what a simulator day produces: the facts the
statistics writer takes (runtime/store/facts.py), for benchmarks and load tests.

Calls arrive over the opening hours with a morning and an afternoon peak; a
menu takes 5–30 s; most calls queue to one of three groups and about a third of
those waiting over a minute overflow to a second group; ~100 agents answer in
order of arrival (each call goes to the agent free first), ring 2–6 s, talk
about 3 minutes and wrap up 10 s, and take two breaks and a lunch. Callers
whose wait passes their patience abandon. Each call has 1 contact, 1–2
segments and 4–8 events; each agent has a few intervals per call.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from dataclasses import dataclass, field

from runtime.core.records import CallRecord
from runtime.store import facts as F

GROUPS = ("support", "sales", "billing")


@dataclass
class Day:
    clock: F.WallClock
    contacts: list[F.ContactFacts] = field(default_factory=list)
    intervals: list[F.AgentInterval] = field(default_factory=list)
    agent_events: list[F.Event] = field(default_factory=list)


def _arrival_times(rng: random.Random, calls: int, open_s: float, close_s: float) -> list[float]:
    # Two peaks (10:00 and 14:00) over a flat base: sample by rejection.
    times = []
    while len(times) < calls:
        t = rng.uniform(open_s, close_s)
        hour = t / 3600
        weight = 0.4 + math.exp(-((hour - 10) ** 2) / 2) + 0.8 * math.exp(-((hour - 14) ** 2) / 3)
        if rng.random() < weight / 1.45:
            times.append(t)
    times.sort()
    return times


def synthetic_day(calls: int = 100_000, agents: int = 100, seed: int = 1,
                  day: dt.date = dt.date(2026, 6, 1), tz: dt.tzinfo = dt.timezone.utc) -> Day:
    """One day of facts; times are seconds after local midnight of ``day``."""
    rng = random.Random(seed)
    midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)
    result = Day(F.WallClock(midnight, 0.0))
    open_s, close_s = 0.0, 24 * 3600.0
    agent_ids = [f"agent{n:03d}" for n in range(agents)]
    # Each agent: logged in at opening, two breaks and a lunch.
    free: list[tuple[float, str]] = []
    pauses: dict[str, list[tuple[float, float, str]]] = {}
    for agent in agent_ids:
        start = open_s + rng.uniform(0, 600)
        lunch = rng.uniform(11 * 3600, 13 * 3600)
        pauses[agent] = [(rng.uniform(9 * 3600, 10 * 3600), 900, "break"), (lunch, 1800, "lunch"),
                         (rng.uniform(15 * 3600, 16 * 3600), 900, "break")]
        heapq.heappush(free, (start, agent))
        result.agent_events.append(F.Event(start, F.LOGIN, agent=agent, data={"groups": list(GROUPS)}))
    ready_since = {agent: start for start, agent in free}
    for index, arrived in enumerate(_arrival_times(rng, calls, open_s, close_s)):
        call_id = f"{int(midnight.timestamp())}.{index}"
        caller = f"07{rng.randrange(10_000_000):07d}"
        menu = rng.uniform(5, 30)
        group = GROUPS[0] if rng.random() < 0.6 else rng.choice(GROUPS[1:])
        record = CallRecord(call_id, caller, "5000", script="support", script_hash="abc123",
                            arrived_at=arrived, language="sv", groups=[])
        events: list[F.Event] = []
        if rng.random() < 0.03:                       # hung up in the menu
            record.ended_at = arrived + menu
            record.outcome = "hung_up"
            result.contacts.append(F.ContactFacts(record, events=events))
            continue
        queued = arrived + menu
        record.queued_at = queued
        record.groups = [group]
        events.append(F.Event(queued, F.ENTERED, group, data={"position": 1 + index % 7}))
        patience = rng.expovariate(1 / 240)
        agent_free, agent = heapq.heappop(free)
        # Breaks: an agent due a pause takes it when free.
        agent_free = _take_pauses(result, pauses, agent, agent_free, ready_since)
        start_ring = max(queued, agent_free)
        wait_until_ring = start_ring - queued
        overflow = wait_until_ring > 60 and rng.random() < 0.35
        segments = []
        if overflow:
            second = rng.choice([g for g in GROUPS if g != group])
            record.groups.append(second)
            events.append(F.Event(queued + 60, F.OVERFLOWED, group, data={"to": second}))
            events.append(F.Event(queued + 60, F.ENTERED, second, data={"position": 1}))
        if wait_until_ring > 30:
            events.append(F.Event(queued + 30, F.ANNOUNCED, group, data={"what": "wait"}))
        if patience < wait_until_ring:                 # abandons before an agent is free
            ended = queued + patience
            heapq.heappush(free, (agent_free, agent))
            record.ended_at = ended
            record.outcome = "abandoned"
            events.append(F.Event(ended, F.ABANDON, group, data={"position": 1}))
            segments.append(F.Segment(group, queued, ended, F.ABANDONED))
            if overflow and ended > queued + 60:
                segments.append(F.Segment(record.groups[1], queued + 60, ended, F.ABANDONED))
            result.contacts.append(F.ContactFacts(record, segments=segments, events=events))
            continue
        ring = rng.uniform(2, 6)
        answered = start_ring + ring
        talk = rng.lognormvariate(math.log(60), 0.5)
        agent_ended = answered + talk
        wrap_end = agent_ended + 5
        answering = record.groups[-1] if overflow and start_ring > queued + 60 else group
        record.answered_at, record.agent_ended_at = answered, agent_ended
        record.ended_at = agent_ended + (rng.uniform(5, 20) if rng.random() < 0.2 else 0)
        record.agent, record.answered_group, record.outcome = agent, answering, "answered"
        events.append(F.Event(start_ring, F.RING, answering, agent))
        events.append(F.Event(answered, F.ANSWER, answering, agent, {"ring": round(ring, 1)}))
        events.append(F.Event(agent_ended, F.COMPLETED, answering, agent,
                              {"by": rng.choice(("caller", "agent"))}))
        for g in record.groups:
            entered = queued if g == group else queued + 60
            how = F.ANSWERED if g == answering else F.ANSWERED_ELSEWHERE
            segments.append(F.Segment(g, entered, answered, how, agent if how == F.ANSWERED else None))
        survey = [F.SurveyAnswer("satisfaction", rng.randint(1, 5), record.ended_at)] \
            if record.ended_at > agent_ended else []
        if start_ring > ready_since[agent]:
            result.intervals.append(F.AgentInterval(agent, F.READY, ready_since[agent], start_ring))
        result.intervals.append(F.AgentInterval(agent, F.RINGING, start_ring, answered,
                                                call_id=call_id, group=answering))
        result.intervals.append(F.AgentInterval(agent, F.BUSY, answered, agent_ended,
                                                call_id=call_id, group=answering))
        result.intervals.append(F.AgentInterval(agent, F.WRAP_UP, agent_ended, wrap_end,
                                                call_id=call_id, group=answering))
        ready_since[agent] = wrap_end
        heapq.heappush(free, (wrap_end, agent))
        result.contacts.append(F.ContactFacts(record, segments=segments, events=events,
                                              survey=survey))
    for _, agent in free:
        end = max(close_s, ready_since[agent])
        if end > ready_since[agent]:
            result.intervals.append(F.AgentInterval(agent, F.READY, ready_since[agent], end))
        result.agent_events.append(F.Event(end, F.LOGOUT, agent=agent))
    return result


def _take_pauses(result: Day, pauses, agent: str, free_at: float, ready_since) -> float:
    due = pauses[agent]
    while due and due[0][0] <= free_at:
        _, length, reason = due.pop(0)
        if free_at > ready_since[agent]:
            result.intervals.append(F.AgentInterval(agent, F.READY, ready_since[agent], free_at))
        result.agent_events.append(F.Event(free_at, F.PAUSE, agent=agent, data={"reason": reason}))
        result.intervals.append(F.AgentInterval(agent, F.PAUSED, free_at, free_at + length,
                                                reason=reason))
        free_at += length
        result.agent_events.append(F.Event(free_at, F.UNPAUSE, agent=agent))
        ready_since[agent] = free_at
    return free_at
