"""The simulator's engine: event ordering, its shortcuts and what they must not change.

The simulator takes shortcuts for speed (an arrival source beside the event
heap, agents who answer at once connected without ringing, caller history
kept only when a script reads it, patience started only for callers who
wait). These tests pin down that each shortcut keeps the behaviour it
replaces, and that the pure-Python build (the fallback when the runtime
cannot be compiled) still runs a simulation.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qscript.api import compile_text
from runtime.core.center import ProgramTable
from runtime.core.factory import build_center
from runtime.core.driver import CallInfo
from runtime.simulator.driver import SimDriver
from runtime.simulator.events import EventLoop
from runtime.simulator.model import load_model_text
from runtime.simulator.runner import run_replication
from runtime.vm.machine import reads_caller_history

ROOT = Path(__file__).resolve().parents[2]

MODEL = """
start: "2026-12-07T08:00:00"
duration: 1h
warmup: 0s
arrivals: {rate_per_hour: 600}
handle_time: {distribution: exponential, mean: 180s}
patience: {distribution: exponential, mean: 120s}
agents: [{count: 36, groups: [main]}]
service_level_threshold: 20s
"""


def program_of(text: str):
    result = compile_text(text, "test.qs")
    assert result.ok, [d.render(result.source) for d in result.errors]
    return result.program


# ------------------------------------------------------------------ event loop


def test_events_due_at_the_same_time_run_in_the_order_scheduled():
    loop, ran = EventLoop(), []
    for name in "abc":
        loop.post_at(5.0, ran.append, name)
    loop.post_at(1.0, ran.append, "first")
    loop.run()
    assert ran == ["first", "a", "b", "c"]
    assert loop.now == 5.0


def test_the_source_runs_after_heap_events_due_at_the_same_time_and_obeys_until():
    loop, ran = EventLoop(), []
    loop.set_source_next(2.0, lambda _: ran.append(("source", loop.now)))
    loop.post_at(2.0, ran.append, "heap")
    loop.post_at(9.0, ran.append, "late")
    assert loop.pending == 3
    loop.run(until=5.0)
    assert ran == ["heap", ("source", 2.0)]
    assert loop.pending == 1  # "late" is still due
    loop.run()
    assert ran[-1] == "late"


def test_a_cancelled_timer_does_not_run_and_zero_delays_run_first():
    loop, ran = EventLoop(), []
    timer = loop.call_later(3.0, lambda: ran.append("cancelled"))
    loop.call_later(4.0, lambda: ran.append("kept"))
    loop.post_later(0.0, ran.append, "now")
    timer.cancel()
    loop.run()
    assert ran == ["now", "kept"]


# ------------------------------------------------------------------ shortcuts


def test_caller_history_is_kept_only_for_scripts_that_read_it():
    plain = program_of('inbound:\n    queue to "main"\n')
    prefers = program_of('inbound:\n    queue to "main" prefer previous agent within 7d\n')
    reads = program_of('inbound:\n    if call.previous_agent != "":\n        log "known"\n'
                       '    queue to "main"\n')
    assert not reads_caller_history(plain)
    assert reads_caller_history(prefers)
    assert reads_caller_history(reads)


def test_a_simulated_script_that_reads_the_previous_agent_gets_it():
    """History is on for a script that asks: returning callers are recognised."""
    model = dataclasses.replace(load_model_text(MODEL), repeat_share=0.9)
    program = program_of("""inbound:
    if call.previous_agent != "":
        save "returning" = "yes"
    else:
        save "returning" = "no"
    queue to "main"
""")
    run = run_replication(ProgramTable({"default": program}), model, None, 3)
    returning = run.stats.saved["returning"]
    assert returning["yes"] > returning["no"] > 0


def test_returning_callers_get_their_previous_agent_when_the_script_prefers_them():
    program = program_of('inbound:\n    queue to "main" prefer previous agent within 7d\n')
    served: dict[str, list[str]] = {}

    def remember(record):
        if record.agent:
            served.setdefault(record.caller, []).append(record.agent)

    loop = EventLoop()
    driver = SimDriver(loop, load_model_text(MODEL), random.Random(3))
    center = build_center(driver, ProgramTable({"default": program}), on_record=remember)
    for number in range(36):
        center.agent_login(f"a{number}", {"main": 0})
    for index in range(400):
        call = CallInfo(f"c{index}", f"07000000{index % 20:02d}", "100", arrived_at=index * 30.0)

        def arrive(_, call=call):
            driver.new_leg(call)
            center.incoming_call(call)
        loop.post_at(index * 30.0, arrive)
    loop.run()
    pairs = [(a, b) for agents in served.values() for a, b in zip(agents, agents[1:])]
    assert len(pairs) > 300
    assert sum(a == b for a, b in pairs) / len(pairs) > 0.9


def _rings(model) -> list:
    """What happens when the simulator rings an agent: answered before
    ring_agent returns ("at once"), or only once its clock has run."""
    loop = EventLoop()
    driver = SimDriver(loop, model, random.Random(0))
    call = CallInfo("c1", "0700000000", "100")
    happened = []
    driver.ring_agent(call, "a", "main", 15.0, lambda: happened.append(("answered", loop.now)),
                      lambda reason: happened.append((reason, loop.now)))
    at_once = list(happened)
    loop.run()
    return [at_once, happened]


def test_agents_answer_at_once_only_when_the_model_has_no_ring_time_and_no_misses():
    base = load_model_text(MODEL)
    assert _rings(base) == [[("answered", 0.0)], [("answered", 0.0)]]
    ringing = dataclasses.replace(base, ring_seconds=5.0)
    assert _rings(ringing) == [[], [("answered", 5.0)]]
    missing = dataclasses.replace(base, no_answer_rate=1.0)
    assert _rings(missing) == [[], [("no answer", 15.0)]]


def test_the_simulator_answers_a_call_before_answer_returns():
    loop = EventLoop()
    driver = SimDriver(loop, load_model_text(MODEL), random.Random(0))
    answered = []
    driver.answer(CallInfo("c1", "0700000000", "100"), answered.append)
    assert answered == [None]


def test_ring_time_still_delays_the_answer():
    """With ring time every answered call waits for it; without, not at all."""
    program = program_of('inbound:\n    answer\n    queue to "main"\n')
    programs = ProgramTable({"default": program})
    base = load_model_text(MODEL)
    light = dataclasses.replace(base, arrival_rate=200.0)
    at_once = run_replication(programs, light, None, 5)
    ringing = run_replication(programs, dataclasses.replace(light, ring_seconds=4.0), None, 5)
    assert at_once.stats.totals.total_wait_answered == 0.0  # agents free, answered at once
    # every answered call rang 4 s
    assert ringing.stats.totals.total_wait_answered >= 4.0 * ringing.stats.totals.answered


def test_hand_off_is_measured_only_when_a_caller_was_waiting():
    program = program_of('inbound:\n    queue to "main"\n')
    model = load_model_text(MODEL)
    loop = EventLoop()
    driver = SimDriver(loop, model, random.Random(1))
    center = build_center(driver, ProgramTable({"default": program}))
    center.agent_login("solo", {"main": 0})
    for index, at in enumerate((0.0, 1.0, 5000.0)):
        call = CallInfo(f"c{index}", f"070000000{index}", "100", arrived_at=at)

        def arrive(_, call=call):
            driver.new_leg(call)
            center.incoming_call(call)
        loop.post_at(at, arrive)
    driver.abandon_enabled = False
    loop.run()
    # c1 waited for c0's agent: one hand-off, of no simulated time. The agent
    # then idled until c2 arrived, which is not a hand-off.
    assert center.handoff.samples == [0.0]


def test_a_finished_simulation_leaves_no_calls_for_the_cyclic_collector():
    program = program_of('inbound:\n    answer\n    queue to "main"\n')
    gc.collect()
    gc.disable()
    try:
        run = run_replication(ProgramTable({"default": program}), load_model_text(MODEL), None, 2)
        assert run.calls_simulated > 400
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        kinds = {type(thing).__name__ for thing in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    # (The run's own structures form cycles, freed with the run; a call's
    # session and machine did too, per call, until the session broke it.)
    assert not kinds & {"CallSession", "Machine", "CallRecord", "CallInfo"}


# ------------------------------------------------------------------ pure Python


def test_the_pure_python_runtime_simulates_the_example(tmp_path):
    """The fallback build: the same sources, not compiled, run `qscript simulate`."""
    tree = tmp_path / "pure"
    shutil.copytree(ROOT / "qscript", tree / "qscript", ignore=shutil.ignore_patterns("*.so"))
    shutil.copytree(ROOT / "grammar", tree / "qscript" / "grammar")
    shutil.copytree(ROOT / "runtime", tree / "runtime", ignore=shutil.ignore_patterns("*.so"))
    model = tmp_path / "model.yaml"
    model.write_text(MODEL)
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}
    which = subprocess.run([sys.executable, "-c", "import runtime.core.session as s; print(s.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert which.stdout.strip().endswith("session.py")
    result = subprocess.run(
        [sys.executable, "-m", "qscript", "simulate", str(ROOT / "examples/basic/single-group.qs"),
         "--site", str(ROOT / "examples/basic/site.yaml"), "--model", str(model), "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)["totals"]
    assert totals["calls_offered"] > 400
    assert totals["calls_answered"] + totals["calls_abandoned"] == totals["calls_offered"]


# ------------------------------------------------------------------ shifts and occupancy


def _records_of_run(model, script='inbound:\n    answer\n    queue to "main"\n',
                    seed=1):
    """One replication, and every call record it produced."""
    records = []
    run = run_replication(ProgramTable({"default": program_of(script)}), model, None, seed,
                          on_record=records.append)
    return run, records


SHIFT_MODEL = """
start: "2026-12-07T08:00:00"
duration: 2h
arrivals: {rate_per_hour: 240}
handle_time: {distribution: constant, value: 5m}
patience: {distribution: exponential, mean: 10m}
agents: [{count: 3, groups: [main], shift: "08:00-09:00", name: early},
         {count: 2, groups: [main], name: allday}]
"""


def test_agents_stop_taking_calls_when_their_shift_ends():
    """Calls are always waiting here: before, an agent whose shift had ended
    was never free at the 30-second checks and worked on to the end."""
    run, records = _records_of_run(load_model_text(SHIFT_MODEL))
    shift_end = 3600.0
    early = [r for r in records if (r.agent or "").startswith("early-")]
    assert early and all(r.answered_at < shift_end for r in early)
    # They finish the call they are on (5 minutes), not one more.
    assert max(r.agent_ended_at for r in early) > shift_end
    assert all(r.agent_ended_at <= shift_end + 300.0 for r in early)
    later = [r for r in records if r.answered_at is not None and r.answered_at >= shift_end]
    assert later and all(r.agent.startswith("allday-") for r in later)


def test_occupancy_is_talk_time_over_staffed_time_and_never_above_one():
    from runtime.simulator.report import build_report
    model = load_model_text(SHIFT_MODEL)
    run, records = _records_of_run(model)
    occupancy = build_report(model, [run])["totals"]["occupancy"]
    # Overloaded: agents talk nearly all the time they are logged in.
    assert 0.9 < occupancy <= 1.0
    # Talk time within the measured period [0, 2h], by agent, over their logged-in time.
    talk = sum(max(0.0, min(r.agent_ended_at, 7200.0) - r.answered_at)
               for r in records if r.answered_at is not None and r.answered_at < 7200.0)
    early_staffed = 3 * 3600.0 + sum(max(0.0, r.agent_ended_at - 3600.0) for r in records
                                     if (r.agent or "").startswith("early-")
                                     and r.agent_ended_at > 3600.0)
    staffed = early_staffed + 2 * 7200.0
    assert occupancy == pytest.approx(talk / staffed)


def test_occupancy_does_not_count_the_drain_after_the_arrivals_stop():
    """Calls still queued when arrivals stop are answered in the drain; their
    talk then is outside the measured period (it made occupancy 186 %)."""
    from runtime.simulator.report import build_report
    model = load_model_text("""
start: "2026-12-07T08:00:00"
duration: 1h
arrivals: {rate_per_hour: 120}
handle_time: {distribution: constant, value: 2m}
agents: [{count: 2, groups: [main]}]
""")
    run, records = _records_of_run(model)
    assert max(r.agent_ended_at for r in records) > 1.5 * 3600  # a long drain
    occupancy = build_report(model, [run])["totals"]["occupancy"]
    assert 0.95 < occupancy <= 1.0


def test_an_agent_logging_out_when_free_finishes_the_call_and_the_wrap_up_first():
    from runtime.acd import AcdEngine, AgentState, AnswerGroup
    program = program_of('inbound:\n    queue to "main"\n')
    model = dataclasses.replace(load_model_text(MODEL), patience=None)
    loop = EventLoop()
    driver = SimDriver(loop, model, random.Random(1))
    records = []
    center = build_center(driver, ProgramTable({"default": program}), on_record=records.append,
                          acd=AcdEngine([AnswerGroup("main", wrap_up=30.0)]))
    center.agent_login("a", {"main": 0})
    for index in range(3):
        call = CallInfo(f"c{index}", "0700000000", "100", arrived_at=0.0)
        driver.new_leg(call)
        center.incoming_call(call)
    logged_out = []
    center.agent_logout_when_free("a", lambda: logged_out.append(loop.now))
    assert center.acd.agent_info("a").state is AgentState.BUSY
    loop.run(until=10_000.0)
    ended = records[0].agent_ended_at
    assert logged_out == [ended + 30.0]                    # after the wrap-up
    assert center.acd.agent_info("a").state is AgentState.LOGGED_OUT
    assert [r.call_id for r in records] == ["c0"]           # no further call for them
    assert center.call_count() == 2


def test_an_agent_logging_out_who_misses_the_ring_logs_out_then():
    from runtime.acd import AgentState
    program = program_of('inbound:\n    queue to "main"\n')
    model = dataclasses.replace(load_model_text(MODEL), patience=None, no_answer_rate=1.0)
    loop = EventLoop()
    driver = SimDriver(loop, model, random.Random(1))
    center = build_center(driver, ProgramTable({"default": program}))
    center.no_answer_pause = 5.0
    center.agent_login("a", {"main": 0})
    call = CallInfo("c0", "0700000000", "100", arrived_at=0.0)
    driver.new_leg(call)
    center.incoming_call(call)
    assert center.acd.agent_info("a").state is AgentState.RINGING
    center.agent_logout_when_free("a")
    loop.run(until=1000.0)
    assert center.acd.agent_info("a").state is AgentState.LOGGED_OUT


# ------------------------------------------------------------------ the report's totals


def _totals(script: str, model_text: str = MODEL, **changes):
    from runtime.simulator.report import build_report
    model = dataclasses.replace(load_model_text(model_text), **changes)
    program = program_of(script)
    run = run_replication(ProgramTable({"default": program}), model, None, 1)
    return build_report(model, [run], program)["totals"]


def test_voicemails_and_transfers_before_queueing_are_counted():
    totals = _totals("""inbound:
    menu "main-menu":
        key 1:
            voicemail to "support@example.com"
        key 2:
            transfer to "+46812345600"
        key 3:
            queue to "main"
""", menus={"main-menu": {"1": 0.3, "2": 0.3, "3": 0.4}})
    assert totals["calls_not_queued"] > 0
    assert totals["voicemails"] > 0.2 * totals["calls_arrived"]
    assert totals["transfers"] > 0.2 * totals["calls_arrived"]
    assert totals["voicemails"] + totals["transfers"] == totals["calls_not_queued"]


def test_failed_calls_are_counted_whether_or_not_they_queued():
    totals = _totals("""inbound:
    if call.caller > "075":
        do no_such_command()
    queue to "main"
""")
    # Half of the callers' script fails before they queue (no fallback: the call ends).
    assert 0.3 * totals["calls_arrived"] < totals["failed"] < 0.7 * totals["calls_arrived"]
    assert totals["failed"] == totals["calls_not_queued"]


# ------------------------------------------------------------------ runs that must end


def _within(seconds: int, function, *args):
    """``function(*args)``, failing the test (not hanging it) after ``seconds``."""
    import signal

    def too_long(*_):
        raise AssertionError(f"still running after {seconds}s")
    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(seconds)
    try:
        return function(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_run_where_no_ring_is_ever_answered_ends_and_counts_its_calls():
    """Agents who never answer, callers who never give up: the agents' missed
    rings and pauses went on for ever. The run stops a day after the arrivals."""
    from runtime.simulator.report import build_report
    model = dataclasses.replace(load_model_text(MODEL), no_answer_rate=1.0, patience=None,
                                duration=600.0)
    program = program_of('inbound:\n    answer\n    queue to "main"\n')
    run = _within(60, run_replication, ProgramTable({"default": program}), model, None, 1)
    totals = build_report(model, [run], program)["totals"]
    assert totals["calls_arrived"] == run.calls_simulated > 50
    assert totals["calls_unfinished"] == totals["calls_offered"] == run.calls_simulated
    assert totals["calls_answered"] == 0


def test_calls_left_waiting_when_the_last_agent_logs_out_are_reported():
    """Before, they were never recorded: the report counted fewer calls than arrived."""
    from runtime.simulator.report import build_report
    model = load_model_text("""
start: "2026-12-07T08:00:00"
duration: 1h
arrivals: {rate_per_hour: 120}
handle_time: {distribution: constant, value: 1m}
agents: [{count: 2, groups: [main], shift: "08:00-08:30"}]
""")
    program = program_of('inbound:\n    answer\n    queue to "main"\n')
    run = run_replication(ProgramTable({"default": program}), model, None, 1)
    report = build_report(model, [run], program)
    totals = report["totals"]
    assert totals["calls_arrived"] == run.calls_simulated
    assert totals["calls_unfinished"] > 40
    assert totals["calls_answered"] + totals["calls_unfinished"] == totals["calls_offered"]
    assert any("had not ended when the run stopped" in w for w in report["warnings"])


# ------------------------------------------------------------------ checks before the run


def _simulate(tmp_path, script: str, model: str, *options: str):
    from click.testing import CliRunner
    from qscript.cli import main
    (tmp_path / "s.qs").write_text(script)
    (tmp_path / "m.yaml").write_text(model)
    result = CliRunner().invoke(main, ["simulate", str(tmp_path / "s.qs"), "--model",
                                       str(tmp_path / "m.yaml"), *options])
    return result, " ".join(result.stderr.split())  # (the console wraps long lines)


GROUPS_MODEL = """start: "2026-12-07T08:00:00"
duration: 10m
arrivals: {rate_per_hour: 60}
handle_time: {distribution: exponential, mean: 60s}
patience: {distribution: exponential, mean: 60s}
agents: [{count: 3, groups: [suport]}]
"""


def test_a_model_whose_agents_serve_none_of_the_scripts_groups_is_refused(tmp_path):
    """Before, it ran: every call abandoned (or, without patience, ran into
    the step limit) with no hint why."""
    result, errors = _simulate(tmp_path, 'const SUPPORT = "support"\ninbound:\n'
                               '    queue to SUPPORT\n', GROUPS_MODEL)
    assert result.exit_code == 1, result.output
    assert "m.yaml:6:9: error: agents: no agent serves an answer group of the script: it " \
           "queues calls to \"support\", and the model's agents serve \"suport\"" in errors
    assert 'did you mean "support"?' in errors


def test_a_group_no_agent_serves_is_a_warning(tmp_path):
    import json
    script = """inbound:
    menu "main-menu":
        key 1:
            queue to "suport"
        key 2:
            queue to "sales"
"""
    result, errors = _simulate(tmp_path, script, GROUPS_MODEL, "--json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["warnings"]
    assert warnings == ['no agent of the model serves "sales", a group the script queues calls '
                        "to: those calls wait until the caller gives up (the model's agents "
                        'serve "suport")']
    assert "warning: no agent of the model serves \"sales\"" in errors


def test_a_model_group_the_site_does_not_define_is_refused(tmp_path):
    (tmp_path / "site.yaml").write_text("site: test\ngroups:\n  main: {}\n")
    result, errors = _simulate(tmp_path, 'inbound:\n    queue to "main"\n',
                               GROUPS_MODEL.replace("[suport]", "[main, mian]"),
                               "--site", str(tmp_path / "site.yaml"))
    assert result.exit_code == 1, result.output
    assert 'm.yaml:6:36: error: agents[0].groups: the site has no answer group "mian"' in errors
    assert 'did you mean "main"?' in errors


# ------------------------------------------------------------------ branches taken


BRANCHY = """inbound:
    answer
    if call.caller == "":
        save "withheld" = "yes"
    else:
        save "withheld" = "no"
    if call.dialled == "+4687001000":
        log "the main number"
    menu "main-menu":
        key 1:
            queue to "main"
        key 2:
            queue to "main" priority 5
"""


def test_the_branches_table_credits_the_lines_of_the_conditions():
    """Before, each count went to the line the script continued at: the
    bodies (lines 4 and 6), the statement after an `if` (line 9), and for a
    menu's keys a mix of both."""
    from runtime.simulator.report import build_report
    model = dataclasses.replace(load_model_text(MODEL), withheld_share=0.3,
                                menus={"main-menu": {"1": 0.5, "2": 0.5}})
    program = program_of(BRANCHY)
    run = run_replication(ProgramTable({"default": program}), model, None, 1)
    rows = {row["line"]: row for row in build_report(model, [run], program)["branches"]}
    assert sorted(rows) == [3, 7, 9]
    withheld = run.stats.saved["withheld"]
    calls = withheld["yes"] + withheld["no"]
    assert rows[3] == {"line": 3, "source": 'if call.caller == "":', "count": calls,
                       "true": withheld["yes"], "false": withheld["no"]}
    assert rows[7]["source"] == 'if call.dialled == "+4687001000":'
    assert (rows[7]["true"], rows[7]["false"]) == (0, calls)
    assert rows[9]["source"] == 'menu "main-menu":'
    # key 1? (all callers), then key 2? (those who did not press 1): all true or false.
    assert rows[9]["true"] == calls
    assert rows[9]["count"] == calls + rows[9]["false"]


def test_failed_calls_the_fallback_group_answers_count_as_failed_and_answered():
    """totals.failed was always 0 with a fallback group: those calls were recorded answered."""
    from runtime.simulator.report import build_report
    from runtime.site import load_site_text
    site = load_site_text("site: test\ngroups:\n  main: {}\n  rescue: {}\n"
                          "fallback: {group: rescue}\n", "site.yaml")
    model = dataclasses.replace(load_model_text(MODEL), agents=(
        load_model_text(MODEL).agents[0], dataclasses.replace(
            load_model_text(MODEL).agents[0], name="rescuers", count=10, groups={"rescue": 0})))
    program = program_of('inbound:\n    if call.caller > "075":\n        do crm_sync()\n'
                         '    queue to "main"\n')
    run = run_replication(ProgramTable({"default": program}), model, site, 1)
    totals = build_report(model, [run], program)["totals"]
    assert 0.3 * totals["calls_arrived"] < totals["failed"] < 0.7 * totals["calls_arrived"]
    assert totals["calls_not_queued"] == 0
    assert totals["calls_answered"] + totals["calls_abandoned"] == totals["calls_offered"]


def test_a_sys_exit_inside_a_simulation_is_an_internal_error_not_a_success(tmp_path, monkeypatch):
    from runtime.simulator import cli

    def exits(*args, **kwargs):
        raise SystemExit(0)
    monkeypatch.setattr(cli, "run_replication", exits)
    result, errors = _simulate(tmp_path, 'inbound:\n    queue to "main"\n', MODEL)
    assert result.exit_code == 123, result.output
    assert "the simulation called sys.exit(0)" in errors


def test_with_every_ring_missed_callers_with_patience_abandon_and_the_run_ends():
    from runtime.simulator.report import build_report
    model = dataclasses.replace(load_model_text(MODEL), no_answer_rate=1.0, duration=600.0)
    program = program_of('inbound:\n    answer\n    queue to "main"\n')
    run = _within(60, run_replication, ProgramTable({"default": program}), model, None, 1)
    totals = build_report(model, [run], program)["totals"]
    assert totals["calls_answered"] == 0 and totals["calls_unfinished"] == 0
    assert totals["calls_abandoned"] == totals["calls_offered"] == run.calls_simulated
