"""The facts the core makes for the statistics (runtime/core/statistics.py).

Agent states straight from the ACD with a hand-driven clock; calls through
the simulator (the same centre, session and ACD as live) with scripts that
announce, overflow, offer callbacks and run a survey.
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

import pytest

from qscript.api import compile_file
from runtime.acd import AcdEngine, AnswerGroup
from runtime.core.center import ProgramTable
from runtime.core.statistics import CollectingSink, FactsRecorder
from runtime.simulator.model import AgentTeam, load_model
from runtime.simulator.runner import run_replication
from runtime.store import facts as F

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_agent_intervals_and_events_follow_the_acd():
    acd = AcdEngine([AnswerGroup("main", 20.0, wrap_up=10.0)])
    clock, sink = Clock(), CollectingSink()
    FactsRecorder(sink, clock, acd)
    acd.login("a1", ["main"], 0.0)
    clock.now = 5.0
    offers = acd.enqueue("c1", ["main"], 5.0)
    assert [o.agent_id for o in offers] == ["a1"]
    clock.now = 8.0
    acd.answered("c1", "a1", 8.0)
    clock.now = 68.0
    acd.call_ended("a1", 68.0)
    clock.now = 78.0
    acd.wrap_up_done("a1", 78.0)
    clock.now = 100.0
    acd.pause("a1", "lunch", 100.0)
    clock.now = 160.0
    acd.set_ready("a1", 160.0)
    clock.now = 170.0
    acd.logout("a1", 170.0)
    assert [(i.state, i.started, i.ended, i.reason, i.call_id, i.group) for i in sink.intervals] == [
        (F.READY, 0.0, 5.0, "", "", ""),
        (F.RINGING, 5.0, 8.0, "", "c1", "main"),
        (F.BUSY, 8.0, 68.0, "", "c1", "main"),
        (F.WRAP_UP, 68.0, 78.0, "", "c1", "main"),
        (F.READY, 78.0, 100.0, "", "", ""),
        (F.PAUSED, 100.0, 160.0, "lunch", "", ""),
        (F.READY, 160.0, 170.0, "", "", "")]
    assert [(e.at, e.kind, e.agent, e.data) for e in sink.events] == [
        (0.0, F.LOGIN, "a1", {"groups": ["main"]}), (100.0, F.PAUSE, "a1", {"reason": "lunch"}),
        (160.0, F.UNPAUSE, "a1", None), (170.0, F.LOGOUT, "a1", None)]


def test_an_agent_logged_in_paused_and_a_pause_asked_for_during_a_call():
    acd = AcdEngine([AnswerGroup("main")])
    clock, sink = Clock(), CollectingSink()
    recorder = FactsRecorder(sink, clock, acd)
    acd.login("a1", ["main"], 0.0, ready=False)
    clock.now = 2.0
    acd.set_ready("a1", 2.0)
    acd.enqueue("c1", ["main"], 2.0)
    acd.answered("c1", "a1", 2.0)                 # answered at once: no ringing interval
    clock.now = 3.0
    acd.pause("a1", "coffee", 3.0)                # pending until the call is over
    clock.now = 30.0
    acd.call_ended("a1", 30.0)
    clock.now = 40.0
    recorder.close()                              # the end of the day: the pause is cut there
    assert [(i.state, i.started, i.ended, i.reason) for i in sink.intervals] == [
        (F.PAUSED, 0.0, 2.0, "logged in"), (F.BUSY, 2.0, 30.0, ""),
        (F.PAUSED, 30.0, 40.0, "coffee")]
    assert [(e.kind, e.data) for e in sink.events] == [
        (F.LOGIN, {"groups": ["main"]}), (F.PAUSE, {"reason": "logged in"}), (F.UNPAUSE, None),
        (F.PAUSE, {"reason": "coffee"})]


CALLBACK_SCRIPT = """
inbound:
    answer
    queue to "support"
queue:
    every 20s:
        announce position
        announce wait
        if call.waited >= 30s:
            add group "main"
        if not offered and call.waited >= 40s:
            set offered = true
            offer callback prompt "cb-offer" key 1 timeout 8s
"""


def _simulate(script: str, rate: float = 1800.0, agents: int = 100, hours: float = 1.0,
              **changes):
    program = compile_file(script if Path(script).is_absolute() else ROOT / script).program
    base = load_model(ROOT / "examples/basic/model.yaml")
    model = dataclasses.replace(base, arrival_rate=rate, duration=hours * 3600.0, warmup=0.0,
                                agents=(AgentTeam(agents, {"support": 0, "main": 0}),),
                                **changes)
    sink = CollectingSink()
    records = []
    run = run_replication(ProgramTable({"default": program}), model, None, 7,
                          on_record=records.append, statistics=sink)
    return run, sink, records


def test_every_finished_call_hands_over_its_facts_with_its_final_record():
    run, sink, records = _simulate("examples/basic/single-group.qs")
    assert [c.record for c in sink.contacts] == records      # the same objects, same order
    kinds = collections.Counter(tuple(e.kind for e in c.events) for c in sink.contacts)
    assert kinds[(F.ENTERED, F.RING, F.ANSWER, F.COMPLETED)] == run.stats.totals.answered
    assert kinds[(F.ENTERED, F.ABANDON)] == run.stats.totals.abandoned
    for contact in sink.contacts:
        record = contact.record
        (segment,) = contact.segments
        assert segment.entered == record.queued_at
        if record.outcome == "answered":
            assert (segment.how, segment.agent, segment.left) == (F.ANSWERED, record.agent,
                                                                  record.answered_at)
        else:
            assert (segment.how, segment.left) == (F.ABANDONED, record.ended_at)


def test_agent_intervals_tile_the_logged_in_time_and_busy_is_the_talk_time():
    run, sink, records = _simulate("examples/basic/single-group.qs", hours=0.5)
    by_agent = collections.defaultdict(list)
    for interval in sink.intervals:
        by_agent[interval.agent].append(interval)
    assert len(by_agent) == 100
    for intervals in by_agent.values():
        for before, after in zip(intervals, intervals[1:]):
            assert before.ended == after.started and before.state != after.state or \
                before.call_id != after.call_id
    busy = sum(i.ended - i.started for i in sink.intervals if i.state == F.BUSY)
    talk = sum(r.agent_ended_at - r.answered_at for r in records if r.answered_at is not None)
    assert busy == pytest.approx(talk)


def test_announcements_callbacks_and_overflow_become_events(tmp_path):
    script = tmp_path / "callback.qs"
    script.write_text(CALLBACK_SCRIPT)
    _, sink, _ = _simulate(str(script), rate=2400.0, agents=100)
    kinds = collections.Counter(e.kind for c in sink.contacts for e in c.events)
    assert kinds[F.ANNOUNCED] > 0 and kinds[F.CALLBACK_OFFERED] > kinds[F.CALLBACK_TAKEN] > 0
    assert kinds[F.OVERFLOWED] > 0
    hows = collections.Counter(s.how for c in sink.contacts for s in c.segments)
    assert hows[F.ANSWERED_ELSEWHERE] > 0
    for contact in sink.contacts:
        for overflow in (e for e in contact.events if e.kind == F.OVERFLOWED):
            assert overflow.data == {"to": "main"}
            assert any(s.group == "main" and s.entered == overflow.at for s in contact.segments)
        taken = [e for e in contact.events if e.kind == F.CALLBACK_TAKEN]
        assert contact.callback_accepted == bool(taken)
        if taken:
            assert taken[0].data == {"key": "1"}
            assert {s.how for s in contact.segments} == {F.CALLBACK}
            assert all(s.left == taken[0].at for s in contact.segments)
        announced = [e.data for e in contact.events if e.kind == F.ANNOUNCED]
        assert all(d["what"] in ("position", "wait") for d in announced)


def test_a_survey_after_the_call_gives_answers():
    _, sink, records = _simulate("examples/survey/survey.qs", rate=600.0, agents=30)
    answers = [(a.question, a.answer) for c in sink.contacts for a in c.survey]
    saved = [(key, value) for r in records for key, value in r.saved.items()]
    assert answers and answers == saved
