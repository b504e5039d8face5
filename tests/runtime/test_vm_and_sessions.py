"""The VM and call sessions: runaway scripts, runtime errors, fallback, isolation.

These run real compiled scripts through the contact centre on the simulator's
clock (runtime.simulator.scenarios' driver), so every path here is the one live calls take.
"""

from __future__ import annotations

import math

import pytest

from qscript.api import compile_text
from runtime.core.center import ProgramTable
from runtime.core.factory import build_center
from runtime.core.driver import CallInfo
from runtime.simulator.scenarios import AgentPlan, CallPlan, Scenario, _ScenarioDriver
from runtime.simulator.events import EventLoop
from runtime.simulator.model import Distribution, Model
from runtime.site.yamlmarks import Location
from runtime.vm import Machine, Outcome, ScriptError


def program_of(text: str):
    result = compile_text(text, "test.qs")
    assert result.ok, [d.render(result.source) for d in result.errors]
    return result.program


class FakeHost:
    def __init__(self, **facts):
        self.facts = facts

    def fact(self, fact_id):
        return self.facts.get(fact_id, "")

    def set_fact(self, fact_id, value):
        self.facts[fact_id] = value

    def metric(self, function_id, args):
        return 0

    def clock(self):
        return 0.0


def run_to_end(machine: Machine, phase="inbound", answers=None):
    gen = machine.run(phase)
    value, effects = None, []
    try:
        while True:
            effect = gen.send(value)
            effects.append(effect)
            value = (answers or {}).get(type(effect).__name__)
    except StopIteration as stop:
        return stop.value, effects


def test_expressions_and_control_flow_compute_the_right_values():
    program = program_of("""inbound:
    set total = 0
    repeat 5 times:
        set total = total + 2
    set label = "n=" + to_text(total) + " " + to_text(90s) + " " + to_text(08:05 + 30m)
    if total == 10 and not (total < 3) and "n=" in label:
        log label
    set ok = luhn_valid("79927398713") and not luhn_valid("79927398710")
    log to_text(ok) + " " + to_text(7 / 2) + " " + to_text(7 % 4) + " " + to_text(5 / 0)
""")
    outcome, effects = run_to_end(Machine(program, FakeHost()))
    logs = [e.message for e in effects if type(e).__name__ == "Log"]
    assert logs == ["n=10 1m30s 08:35", "true 3.5 3 0"]
    assert outcome is Outcome.STOPPED


def test_a_program_at_the_address_of_a_freed_one_gets_its_own_queue_shapes():
    """Decoded queue shapes are cached by id(program); a program freed and another
    made at its address has the same id. The cache must not hand the new one the
    old one's shape (two groups where it pushed one: a group read from nothing)."""
    from qscript.bytecode import Op, QueueShape
    from runtime.vm import machine as vm

    old = program_of('inbound:\n    queue to "a", "b" priority 5\n')
    new = program_of('inbound:\n    queue to "c"\n')
    index = next(arg for op, arg in new.code if op == Op.QUEUE)
    # What the cache held for the freed program, now found under the new one's id.
    vm._SHAPES[(id(new), index)] = (old, QueueShape(2, ("priority",)))
    outcome, effects = run_to_end(Machine(new, FakeHost()))
    assert outcome is Outcome.QUEUED
    assert effects[-1].groups == ("c",) and effects[-1].priority is None


def test_a_runaway_loop_is_stopped_by_the_step_budget_with_its_position():
    # The checker refuses loops that cannot wait, so build one that waits 0s.
    program = program_of("""inbound:
    set n = 0
    while n >= 0:
        set n = n + 1
        wait 0s
""")
    machine = Machine(program, FakeHost(), step_budget=5_000)
    with pytest.raises(ScriptError) as caught:
        run_to_end(machine)
    error = caught.value
    assert "5,000 steps" in error.message
    assert error.line in (3, 4, 5)
    assert "test.qs:" in error.render() and "runtime error" in error.render()


def test_a_runtime_error_carries_the_call_path():
    program = program_of("""inbound:
    goto first
block first:
    goto second
block second:
    lookup "customers" by call.caller into customer
    set n = to_number(customer.name) + 1
""")

    machine = Machine(program, FakeHost())
    with pytest.raises(ScriptError) as caught:
        # A lookup that answers garbage instead of a record of fields.
        run_to_end(machine, answers={"Lookup": 5})
    rendered = caught.value.render()
    assert "TypeError" in rendered
    assert caught.value.line == 6
    assert "goto first (line 2)" in rendered and "goto second (line 4)" in rendered


def _center(program, scenario: Scenario, fallback_group=None):
    loop = EventLoop()
    model = Model(start=__import__("datetime").datetime(2026, 12, 7, 10), duration=0, warmup=0,
                  arrival_rate=0, profile=(), weekday_factors={},
                  handle_time=Distribution("constant", 30.0), patience=None, agents=())
    driver = _ScenarioDriver(loop, model, scenario, program)
    records = {}
    center = build_center(driver, ProgramTable({"default": program}),
                          on_record=lambda r: records.setdefault(r.call_id, r),
                          fallback_group=fallback_group)
    return loop, driver, center, records


def _call(driver, center, loop, call_id, plan):
    call = CallInfo(call_id, plan.caller, plan.dialled, arrived_at=plan.at)

    def arrive():
        driver.add_call(call, plan)
        center.incoming_call(call)
    loop.call_at(plan.at, arrive)


def test_a_failing_call_goes_to_the_fallback_group_and_others_are_unaffected():
    program = program_of("""inbound:
    answer
    if call.caller == "0700000666":
        do crm_sync(call.caller)
    queue to "support"
""")
    scenario = Scenario("fallback", Location("t"), agents=[AgentPlan("alice", ["support", "rescue"])])
    loop, driver, center, records = _center(program, scenario, fallback_group="rescue")

    def failing_command(context, number):
        raise ConnectionError("CRM is down")
    center.commands = {"crm_sync": type("Registered", (), {"function": staticmethod(failing_command)})}
    center.agent_login("alice", ["support", "rescue"])
    _call(driver, center, loop, "bad", CallPlan(at=0.0, caller="0700000666"))
    _call(driver, center, loop, "good", CallPlan(at=1.0, caller="0700000001"))
    loop.run(until=3600)
    bad, good = records["bad"], records["good"]
    assert bad.error and "CRM is down" in bad.error and "test.qs:4" in bad.error
    assert bad.agent == "alice" and bad.answered_group == "rescue"
    assert good.error is None and good.answered_group == "support" and good.agent == "alice"


def test_without_a_fallback_the_failing_call_is_hung_up_not_stranded():
    program = program_of("""inbound:
    do missing_command()
    queue to "support"
""")
    scenario = Scenario("no fallback", Location("t"))
    loop, driver, center, records = _center(program, scenario)
    _call(driver, center, loop, "c1", CallPlan())
    loop.run(until=60)
    assert records["c1"].outcome == "failed"
    assert center.call_count() == 0  # nothing left waiting


def test_when_empty_leaves_the_queue_once_the_last_agent_logs_out():
    program = program_of("""inbound:
    queue to "support" when empty goto closed
queue:
    every 20s:
        announce position
block closed:
    voicemail to "x@example.com"
    hangup
""")
    scenario = Scenario("empty", Location("t"))
    loop, driver, center, records = _center(program, scenario)
    center.agent_login("alice", ["support"])
    center.agent_login("bob", ["support"])
    loop.call_at(0.5, lambda: center.agent_pause("alice", "meeting"))
    loop.call_at(0.6, lambda: center.agent_pause("bob", "meeting"))
    _call(driver, center, loop, "c1", CallPlan(at=1.0))
    loop.call_at(50.0, lambda: center.agent_logout("alice"))
    loop.call_at(70.0, lambda: center.agent_logout("bob"))
    loop.run(until=600)
    record = records["c1"]
    assert record.outcome == "voicemail"
    assert 70 <= record.ended_at < 200


def test_estimated_wait_is_unbounded_with_nobody_logged_in():
    program = program_of("""inbound:
    if estimated_wait("support") > 1h:
        log "no estimate"
    queue to "support"
""")
    scenario = Scenario("nobody", Location("t"))
    loop, driver, center, records = _center(program, scenario)
    center.ensure_group("support")
    _call(driver, center, loop, "c1", CallPlan(hang_up_after=5.0))
    loop.run(until=60)
    assert records["c1"].log == ["no estimate"]
    assert records["c1"].estimated_wait_at_entry == math.inf


def _commands(**functions):
    return {name: type("Registered", (), {"function": staticmethod(function)})
            for name, function in functions.items()}


def test_a_failed_call_answered_by_the_fallback_group_is_still_recorded_as_failed():
    """It was recorded `answered`, with nothing but `error` to tell; the
    outcome stays `failed`, with the agent who took it, also when the caller
    hangs up first."""
    program = program_of('inbound:\n    answer\n    do crm_sync(call.caller)\n'
                         '    queue to "support"\n')
    scenario = Scenario("fallback", Location("t"), agents=[AgentPlan("alice", ["rescue"])])
    loop, driver, center, records = _center(program, scenario, fallback_group="rescue")

    def failing(context, number):
        raise ConnectionError("CRM is down")
    center.commands = _commands(crm_sync=failing)
    center.agent_login("alice", ["rescue"])
    _call(driver, center, loop, "agent-hangs-up", CallPlan(at=0.0))
    _call(driver, center, loop, "caller-hangs-up", CallPlan(at=1000.0))
    loop.call_at(1010.0, lambda: center.session_for("caller-hangs-up").caller_hung_up())
    loop.run(until=3600)
    for record in records.values():
        assert record.outcome == "failed", record
        assert record.agent == "alice" and record.answered_group == "rescue"
        assert record.answered_at is not None and "CRM is down" in record.error
        assert record.groups == ["rescue"]


def test_a_queued_call_that_fails_keeps_its_place_in_the_fallback_group():
    """It re-entered the fallback group as if it had just arrived, behind
    callers who came later."""
    program = program_of("""inbound:
    if call.caller == "0700000001":
        queue to "support"
    queue to "rescue"
queue:
    wait 30s
    do crm_sync(call.caller)
""")
    scenario = Scenario("place", Location("t"), agents=[AgentPlan("bob", ["rescue"], talk=30.0)])
    loop, driver, center, records = _center(program, scenario, fallback_group="rescue")

    def failing(context, number):
        if number == "0700000001":
            raise ConnectionError("CRM is down")
        return None
    center.commands = _commands(crm_sync=failing)
    _call(driver, center, loop, "first", CallPlan(at=0.0, caller="0700000001"))
    _call(driver, center, loop, "later", CallPlan(at=10.0, caller="0700000002"))
    loop.call_at(60.0, lambda: center.agent_login("bob", ["rescue"]))
    loop.run(until=3600)
    first, later = records["first"], records["later"]
    assert first.error and first.outcome == "failed"
    assert first.groups == ["support", "rescue"]
    assert first.answered_at < later.answered_at
    assert first.waited == first.answered_at - 0.0   # waited since it first queued


def test_a_command_calling_sys_exit_fails_the_call_over_and_the_run_goes_on():
    """SystemExit from a command ended the simulation (and `qscript test`,
    with exit 0) and would end the live runtime."""
    import sys
    program = program_of('inbound:\n    answer\n    do crm_sync(call.caller)\n'
                         '    queue to "support"\n')
    scenario = Scenario("exit", Location("t"), agents=[AgentPlan("alice", ["support", "rescue"])])
    loop, driver, center, records = _center(program, scenario, fallback_group="rescue")

    def exits(context, number):
        if number == "0700000666":
            sys.exit(0)
        return None
    center.commands = _commands(crm_sync=exits)
    center.agent_login("alice", ["support", "rescue"])
    _call(driver, center, loop, "bad", CallPlan(at=0.0, caller="0700000666"))
    _call(driver, center, loop, "good", CallPlan(at=1.0, caller="0700000001"))
    loop.run(until=3600)
    bad, good = records["bad"], records["good"]
    assert bad.outcome == "failed" and bad.answered_group == "rescue"
    assert bad.error.startswith("test.qs:3:5: command failed: ")
    assert "crm_sync" in bad.error and "sys.exit(0)" in bad.error
    assert good.error is None and good.agent == "alice"


def test_ctrl_c_in_a_command_still_stops_the_process():
    program = program_of('inbound:\n    do crm_sync(call.caller)\n    queue to "support"\n')
    loop, driver, center, records = _center(program, Scenario("ctrl-c", Location("t")),
                                            fallback_group="rescue")

    def interrupted(context, number):
        raise KeyboardInterrupt
    center.commands = _commands(crm_sync=interrupted)
    _call(driver, center, loop, "c1", CallPlan())
    with pytest.raises(KeyboardInterrupt):
        loop.run(until=60)


def test_a_call_failing_in_the_queue_says_what_it_was_waiting_for():
    """A step limit reached after hours in a queue nobody serves said only
    "ran 200,000 steps"; the error now says how long the call waited, for
    which groups, and how many agents were there."""
    program = program_of("""inbound:
    queue to "sales", "support"
queue:
    wait 2h
    do crm_sync()
""")
    loop, driver, center, records = _center(program, Scenario("wait", Location("t")))
    center.commands = _commands(crm_sync=lambda context: 1 / 0)
    center.agent_login("bob", ["other"])
    _call(driver, center, loop, "c1", CallPlan())
    loop.run(until=3 * 3600)
    assert records["c1"].error == ("test.qs:5:5: command failed: division by zero (the call had "
                                   'waited 2h 0m in the queue for "sales", "support"; no agent '
                                   "was logged in)")


def test_a_step_limit_in_the_queue_says_what_the_call_was_waiting_for():
    program = program_of("""inbound:
    queue to "sales"
queue:
    wait 1h
    set pause = 0s
    while true:
        wait pause
""")
    loop, driver, center, records = _center(program, Scenario("loop", Location("t")))
    _call(driver, center, loop, "c1", CallPlan())
    loop.run(until=2 * 3600)
    first_line = records["c1"].error.split("\n")[0]
    assert "steps without ending" in first_line
    assert first_line.endswith('(the call had waited 1h 0m in the queue for "sales"; no agent '
                               "was logged in)")


def test_a_call_failing_after_its_agent_joins_the_fallback_group_at_the_back():
    """Only a call that was waiting keeps its place: one whose after-call
    survey fails must not jump ahead of the callers waiting there. And it
    goes there once: its survey failed again after the fallback agent, and
    the call was queued again, for ever."""
    program = program_of("""inbound:
    if call.caller == "0700000001":
        queue to "support"
    queue to "rescue"
after call:
    do crm_sync(call.caller)
""")
    scenario = Scenario("after", Location("t"), agents=[AgentPlan("alice", ["support"], talk=30.0),
                                                        AgentPlan("bob", ["rescue"], talk=30.0)])
    loop, driver, center, records = _center(program, scenario, fallback_group="rescue")

    def failing(context, number):
        if number == "0700000001":
            raise ConnectionError("CRM is down")
        return None
    center.commands = _commands(crm_sync=failing)
    center.agent_login("alice", ["support"])
    _call(driver, center, loop, "surveyed", CallPlan(at=0.0, caller="0700000001"))
    _call(driver, center, loop, "waiting", CallPlan(at=10.0, caller="0700000002"))
    loop.call_at(100.0, lambda: center.agent_login("bob", ["rescue"]))
    loop.run(until=3600)
    surveyed, waiting = records["surveyed"], records["waiting"]
    assert surveyed.outcome == "failed" and surveyed.agent == "bob"
    assert waiting.agent == "bob" and waiting.answered_at < surveyed.answered_at
    assert center.call_count() == 0   # both ended


# ------------------------------------------------------------------ lookups and commands that block


LOOKUP_SCRIPT = """inbound:
    answer
    lookup "crm" by call.caller into customer
    if customer.found:
        log "hello " + customer.name
    else:
        log "unknown caller"
    do crm_sync(call.caller) into case
    log case
    queue to "support"
"""


def _site_center(tmp_path, program, scenario, *, inline: bool = True):
    import sqlite3
    from runtime.site import load_site_text
    with sqlite3.connect(tmp_path / "crm.db") as db:
        db.execute("CREATE TABLE customers (phone TEXT, name TEXT)")
        db.execute("INSERT INTO customers VALUES ('0701111111', 'Ada')")
    db.close()
    site = load_site_text("groups: {support: {}, rescue: {}}\n"
                          "lookups:\n  crm: {type: sqlite, path: crm.db, table: customers, "
                          "key: phone, fields: {name: string}}\n", "site.yaml", tmp_path)
    loop = EventLoop()
    model = Model(start=__import__("datetime").datetime(2026, 12, 7, 10), duration=0, warmup=0,
                  arrival_rate=0, profile=(), weekday_factors={},
                  handle_time=Distribution("constant", 30.0), patience=None, agents=())
    driver = _ScenarioDriver(loop, model, scenario, program)
    # A driver that does not run blocking work inline takes the Driver's
    # default run_blocking: run now, report on the next turn of the clock.
    driver.runs_blocking_inline = inline
    records = {}
    center = build_center(driver, ProgramTable({"default": program}), site=site,
                          on_record=lambda r: records.setdefault(r.call_id, r),
                          fallback_group="rescue")
    return loop, driver, center, records, site


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "deferred"])
def test_a_failing_lookup_is_not_found_and_the_call_goes_on(tmp_path, inline, caplog):
    import sqlite3
    program = program_of(LOOKUP_SCRIPT)
    loop, driver, center, records, site = _site_center(tmp_path, program,
                                                        Scenario("lookup", Location("t")),
                                                        inline=inline)
    center.commands = _commands(crm_sync=lambda context, number: "case-" + number)
    _call(driver, center, loop, "found", CallPlan(at=0.0, caller="0701111111",
                                                  hang_up_after=5.0))
    loop.call_at(1.0, lambda: sqlite3.connect(tmp_path / "crm.db").execute(
        "DROP TABLE customers").connection.commit())
    _call(driver, center, loop, "broken", CallPlan(at=2.0, caller="0701111111",
                                                   hang_up_after=5.0))
    loop.run(until=60)
    site.close()
    assert records["found"].log == ["hello Ada", "case-0701111111"]
    broken = records["broken"]
    assert broken.error is None and broken.outcome == "abandoned"
    assert broken.log[0] == ('test.qs:3:5: warning: lookup "crm" failed: no such table: '
                             "customers; the call goes on as not found")
    assert broken.log[1:] == ["unknown caller", "case-0701111111"]
    assert broken.log[0] in caplog.text


def test_a_deferred_command_resumes_the_call_or_fails_it_over_with_its_position(tmp_path):
    program = program_of(LOOKUP_SCRIPT)
    scenario = Scenario("deferred", Location("t"), agents=[AgentPlan("alice", ["rescue"])])
    loop, driver, center, records, site = _site_center(tmp_path, program, scenario, inline=False)

    def crm_sync(context, number):
        if number == "0700000666":
            raise ConnectionError("the CRM is down")
        return "case-" + number
    center.commands = _commands(crm_sync=crm_sync)
    center.agent_login("alice", ["rescue"])
    _call(driver, center, loop, "good", CallPlan(at=0.0, caller="0701111111", hang_up_after=5.0))
    _call(driver, center, loop, "bad", CallPlan(at=1.0, caller="0700000666"))
    loop.run(until=600)
    site.close()
    assert records["good"].log == ["hello Ada", "case-0701111111"]
    bad = records["bad"]
    assert bad.outcome == "failed" and bad.agent == "alice"
    assert bad.error == "test.qs:8:5: command failed: the CRM is down"


def test_a_result_arriving_after_the_caller_hung_up_is_dropped(tmp_path):
    program = program_of(LOOKUP_SCRIPT)
    loop, driver, center, records, site = _site_center(tmp_path, program,
                                                        Scenario("gone", Location("t")),
                                                        inline=False)
    calls = []

    def crm_sync(context, number):
        calls.append(number)
        # The caller hangs up while the command runs; its result comes later.
        center.session_for("c1").caller_hung_up()
        return "case-" + number
    center.commands = _commands(crm_sync=crm_sync)
    _call(driver, center, loop, "c1", CallPlan(at=0.0, caller="0701111111"))
    loop.run(until=60)
    site.close()
    record = records["c1"]
    assert calls == ["0701111111"]
    assert record.outcome == "hung_up" and record.error is None
    assert record.log == ["hello Ada"]          # nothing ran after the command
    assert center.call_count() == 0


def test_a_command_gets_a_snapshot_of_the_call_it_may_keep():
    program = program_of('inbound:\n    answer\n    save "tier" = "gold"\n'
                         '    do crm_sync(call.caller)\n    queue to "support"\n')
    loop, driver, center, records = _center(program, Scenario("context", Location("t")))
    contexts = []

    def crm_sync(context, number):
        contexts.append(context)
        context["record"].save("tier", "changed")
        context["record"].groups.append("nowhere")
        context["caller"] = "someone else"
    center.commands = _commands(crm_sync=crm_sync)
    _call(driver, center, loop, "c1", CallPlan(caller="0701111111", hang_up_after=5.0))
    loop.run(until=60)
    record, seen = records["c1"], contexts[0]["record"]
    assert seen is not record and seen.call_id == "c1" and seen.caller == "0701111111"
    assert record.saved == {"tier": "gold"} and record.groups == ["support"]
    assert record.caller == "0701111111"
