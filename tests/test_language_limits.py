"""The language's limits and their enforcement, before and during a call.

Counts and priorities are whole numbers; values have bounded sizes; the step
budget bounds the work a script does between waits; re-entering the queue
phase never recurses; a variable never holds "nothing". Each limit is checked
by the checker when the value is known before the call, and by the VM (a
located run-time error, the call handed to the fallback) when it is not.
"""

from __future__ import annotations

import datetime

import pytest

from qscript import codes
from qscript.api import check_text, compile_text
from runtime.core.center import ProgramTable
from runtime.core.factory import build_center
from runtime.core.driver import CallInfo
from runtime.simulator.scenarios import AgentPlan, CallPlan, Scenario, _ScenarioDriver
from runtime.simulator.events import EventLoop
from runtime.simulator.model import Distribution, Model
from runtime.site.yamlmarks import Location
from runtime.vm import Machine, ScriptError


def codes_of(text: str, site=None) -> list[str]:
    return [d.code.code for d in check_text(text, "t.qs", site=site).diagnostics]


def messages_of(text: str, site=None) -> list[str]:
    return [d.message for d in check_text(text, "t.qs", site=site).diagnostics]


def program_of(text: str):
    result = compile_text(text, "t.qs")
    assert result.ok, [d.render(result.source) for d in result.errors]
    return result.program


class FakeHost:
    def __init__(self, clock=0.0, metric=0, **facts):
        self.facts = facts
        self.now = clock
        self.metric_value = metric

    def fact(self, fact_id):
        return self.facts.get(fact_id, "")

    def set_fact(self, fact_id, value):
        self.facts[fact_id] = value

    def metric(self, function_id, args):
        return self.metric_value

    def clock(self):
        return self.now


def run_machine(machine: Machine, phase="inbound", answers=None, seconds_per_wait=0.0):
    """Run one phase; every effect that waits lets ``seconds_per_wait`` pass."""
    gen = machine.run(phase)
    value, effects = None, []
    try:
        while True:
            effect = gen.send(value)
            effects.append(effect)
            if type(effect).__name__ in ("Wait", "Play", "MenuInput", "CollectInput"):
                machine.host.now += seconds_per_wait
            value = (answers or {}).get(type(effect).__name__)
    except StopIteration as stop:
        return stop.value, effects


def run_calls(text: str, *, agents=(), fallback_group=None, until=3600.0, calls=1,
              step_budget=None):
    """Run calls through a simulated centre; return their records by call id."""
    program = program_of(text)
    loop = EventLoop()
    model = Model(start=datetime.datetime(2026, 12, 7, 10), duration=0, warmup=0,
                  arrival_rate=0, profile=(), weekday_factors={},
                  handle_time=Distribution("constant", 30.0), patience=None, agents=())
    scenario = Scenario("limits", Location("t"),
                        agents=[AgentPlan(name, list(groups)) for name, groups in agents])
    driver = _ScenarioDriver(loop, model, scenario, program)
    records: dict = {}
    center = build_center(driver, ProgramTable({"default": program}),
                          on_record=lambda r: records.setdefault(r.call_id, r),
                          fallback_group=fallback_group, step_budget=step_budget)
    for name, groups in agents:
        center.agent_login(name, list(groups))
    for index in range(calls):
        plan = CallPlan(at=float(index), caller=f"07000000{index:02d}")
        call = CallInfo(f"c{index}", plan.caller, plan.dialled, arrived_at=plan.at)

        def arrive(call=call, plan=plan):
            driver.add_call(call, plan)
            center.incoming_call(call)
        loop.call_at(plan.at, arrive)
    loop.run(until=until)
    return records, center


# ------------------------------------------------------------------ whole numbers (item 1)


@pytest.mark.parametrize("statement", [
    'queue to "support" priority 5.5',
    'queue to "support" priority 11 * 0.5',
    'set call.priority = 2.5',
    'collect pin digits 2.5',
    'collect pin digits 2 to 4.5',
    'collect pin retries 1.5',
    'menu "main-menu" retries 1.5:\n        key 1:\n            pass',
    'repeat 2.5 times:\n        wait 1s',
])
def test_counts_and_priorities_known_before_the_call_must_be_whole(statement):
    found = check_text(f"inbound:\n    {statement}\n    hangup\n", "t.qs")
    errors = [d for d in found.errors if "whole number" in d.message]
    assert [d.code for d in errors] == [codes.BAD_VALUE], [d.message for d in found.diagnostics]
    assert errors[0].span.line == 2


def test_whole_floats_are_accepted():
    assert codes_of('inbound:\n    queue to "support" priority 5.0 + 2\n') == []


def test_a_fractional_priority_computed_during_the_call_sends_the_call_to_the_fallback():
    records, center = run_calls("""inbound:
    answer
    set p = 11 / 2
    queue to "support" priority p
""", agents=[("alice", ["rescue"])], fallback_group="rescue")
    record = records["c0"]
    assert record.error and "t.qs:4:" in record.error
    assert "a priority must be a whole number, not 5.5" in record.error
    assert record.answered_group == "rescue" and record.agent == "alice"
    assert center.call_count() == 0


@pytest.mark.parametrize("statement, message", [
    ("repeat n / 4 times:\n        wait 1s", "a repeat count must be a whole number, not 2.5"),
    ("repeat n * 1000 times:\n        wait 1s", "a repeat count must be between 0 and 1000"),
    ("set call.priority = n * 20", "a priority must be between 0 and 99, not 200"),
    ("collect pin digits n / 4", "a digit count must be a whole number, not 2.5"),
    ("collect pin retries n / 4", "retries must be a whole number, not 2.5"),
])
def test_counts_computed_during_the_call_are_checked_where_they_are_used(statement, message):
    program = program_of(f"inbound:\n    set n = 10\n    {statement}\n    hangup\n")
    with pytest.raises(ScriptError) as caught:
        run_machine(Machine(program, FakeHost()), answers={"CollectInput": ""})
    assert message in caught.value.message
    assert caught.value.line == 3


def test_a_whole_count_computed_during_the_call_runs_as_written():
    program = program_of("inbound:\n    set n = 6\n    repeat n / 2 times:\n        wait 1s\n")
    _, effects = run_machine(Machine(program, FakeHost()))
    assert len(effects) == 3


# ------------------------------------------------------------------ no internal errors (item 7)


@pytest.mark.parametrize("text, code", [
    ("inbound:\n    do f() into call\n", "Q1013"),
    ("const K = 1\ninbound:\n    do f() into K\n", "Q1012"),
    ("inbound:\n    set x = " + "9" * 5000 + "\n", "Q0105"),
    ("inbound:\n    set x = " + "9" * 400 + ".5\n", "Q0105"),
    ("inbound:\n    wait " + "9" * 5000 + "s\n", "Q0105"),
])
def test_inputs_that_were_internal_errors_get_proper_diagnostics(text, code):
    for result in (check_text(text, "t.qs"), compile_text(text, "t.qs")):
        assert [d.code.code for d in result.diagnostics] == [code], \
            [d.message for d in result.diagnostics]


def test_leading_zeros_do_not_make_a_number_too_large():
    assert codes_of("inbound:\n    set x = 000000000000000000000000000042\n    log x\n") == []


# ------------------------------------------------------------------ re-entering the queue phase (item 2)

REQUEUE_AT_ONCE = """inbound:
    answer
    queue to "support"
queue:
    requeue to "support"
"""

#: The example docs/reference/queueing.md had: with nobody logged in to
#: support, every round requeues at once.
OLD_REFERENCE_EXAMPLE = """inbound:
    queue to "support"

queue:
    every 30s:
        if agents_logged_in("support") == 0:
            requeue to "sales"
        announce position
"""


@pytest.mark.parametrize("text, line", [(REQUEUE_AT_ONCE, 5), (OLD_REFERENCE_EXAMPLE, 7)])
def test_a_queue_section_that_requeues_before_waiting_goes_to_the_fallback(text, line):
    records, center = run_calls(text, agents=[("alice", ["rescue"])], fallback_group="rescue")
    record = records["c0"]
    assert record.error and f"t.qs:{line}:" in record.error, record.error
    assert "100 times without waiting" in record.error
    assert record.answered_group == "rescue" and record.agent == "alice"


def test_requeueing_before_waiting_is_warned_about():
    for text in (REQUEUE_AT_ONCE, OLD_REFERENCE_EXAMPLE):
        assert codes_of(text) == ["Q4008"]


def test_the_requeue_example_of_the_reference_waits_with_nobody_logged_in():
    from pathlib import Path
    reference = (Path(__file__).parent.parent / "docs" / "reference" / "queueing.md").read_text()
    section = reference.split("## requeue to", 1)[1].split("## add group", 1)[0]
    example = section.split("```qscript\n", 1)[1].split("```", 1)[0]
    assert codes_of(example) == []
    records, center = run_calls(example, until=600.0)
    assert not records  # still waiting, no error
    [session] = center.sessions_in_progress()
    assert session.record.error is None and session.state.value == "queued"


def test_many_requeues_with_waits_in_between_do_not_recurse():
    records, center = run_calls("""inbound:
    queue to "support"
queue:
    wait 1s
    requeue to "support"
""", until=5000.0)
    assert not records
    [session] = center.sessions_in_progress()
    assert session.record.error is None


# ------------------------------------------------------------------ the step budget is per wait (item 4)


def test_the_step_budget_bounds_work_between_waits_not_the_length_of_the_call():
    records, center = run_calls("""inbound:
    answer
    queue to "support"
queue:
    every 1s:
        if call.waited > 1h:
            log "still waiting"
        announce position
""", until=3 * 3600.0, step_budget=300)
    assert not records  # nobody answers, and the script never fails
    [session] = center.sessions_in_progress()
    assert session.record.error is None


def test_work_without_time_passing_still_runs_into_the_budget():
    program = program_of("""inbound:
    set n = 0
    while n >= 0:
        set n = n + 1
        wait 0s
""")
    with pytest.raises(ScriptError) as caught:
        run_machine(Machine(program, FakeHost(), step_budget=5_000))
    assert "5,000 steps" in caught.value.message


def test_waits_that_take_time_reset_the_budget():
    program = program_of("""inbound:
    set n = 0
    while n < 10000:
        set n = n + 1
        wait 1s
""")
    outcome, effects = run_machine(Machine(program, FakeHost(), step_budget=5_000),
                                   seconds_per_wait=1.0)
    assert len(effects) == 10000


# ------------------------------------------------------------------ value sizes (item 3)


@pytest.mark.parametrize("start, grow, message", [
    ("set n = 2", "set n = n * n", "the number is too large"),
    ("set n = 2", "set n = n * n * 1.5", "the number is too large"),
    ('set s = "ab"', "set s = s + s", "strings hold at most 65,536"),
    ('set s = "ab"', 'set s = to_text(s) + s + to_text(n)', "strings hold at most 65,536"),
    ("set d = 1s", "set d = d * 1000", "the number is too large"),
    ("set d = 1s", "set d = d / 0.001", "the number is too large"),
])
def test_values_that_grow_during_the_call_stop_at_their_bounds(start, grow, message):
    program = program_of(f"inbound:\n    set n = 1\n    {start}\n    while true:\n"
                         f"        {grow}\n        wait 1s\n")
    with pytest.raises(ScriptError) as caught:
        run_machine(Machine(program, FakeHost()), seconds_per_wait=1.0)
    assert message in caught.value.message
    assert caught.value.line == 5


def test_a_call_whose_string_outgrows_the_limit_goes_to_the_fallback():
    records, center = run_calls("""inbound:
    answer
    set s = call.caller
    every 1s:
        set s = s + s
        play "tick"
""", agents=[("alice", ["rescue"])], fallback_group="rescue")
    record = records["c0"]
    assert "t.qs:5:" in record.error and "65,536" in record.error
    assert record.answered_group == "rescue"


def test_whole_numbers_beyond_64_bits_continue_as_decimals_as_in_constants():
    program = program_of("inbound:\n    set n = 9223372036854775807\n    set n = n + 1\n"
                         "    log to_text(n)\n    log to_text(9223372036854775807 + 1)\n")
    _, effects = run_machine(Machine(program, FakeHost()))
    assert [e.message for e in effects] == ["9223372036854775808"] * 2


def test_an_infinite_operand_stays_infinite_but_nan_is_an_error():
    program = program_of('inbound:\n    set d = estimated_wait("support") + 1m\n'
                         '    if d > 1h:\n        log "unknown"\n'
                         '    set e = d - estimated_wait("support")\n')
    with pytest.raises(ScriptError) as caught:
        run_machine(Machine(program, FakeHost(metric=float("inf"))))
    assert "not a number" in caught.value.message and caught.value.line == 5


@pytest.mark.parametrize("text, number", [("inf", 0), ("nan", 0), ("1e999", 0), ("-1e999", 0),
                                          ("99999999999999999999", 1e20), ("42", 42)])
def test_to_number_gives_only_finite_numbers(text, number):
    program = program_of(f'inbound:\n    set n = to_number("{text}")\n    log to_text(n)\n')
    _, effects = run_machine(Machine(program, FakeHost()))
    assert effects[0].message == str(number if number != 1e20 else "100000000000000000000")


def test_only_numbers_multiply_whatever_a_custom_command_returned():
    # Without a site the command's result is of unknown type: a string must
    # not be repeated a trillion times (memory), it is a run-time error.
    program = program_of("inbound:\n    do fetch() into v\n    set w = v * 1000000000000\n")
    with pytest.raises(ScriptError) as caught:
        run_machine(Machine(program, FakeHost()), answers={"Command": "abc"})
    assert "cannot multiply a string and a number" in caught.value.message


def test_a_custom_command_result_too_long_is_an_error_where_it_is_stored():
    program = program_of("inbound:\n    do fetch() into v\n    log v\n")
    with pytest.raises(ScriptError) as caught:
        run_machine(Machine(program, FakeHost()), answers={"Command": "x" * 70_000})
    assert "65,536" in caught.value.message and caught.value.line == 2


@pytest.mark.parametrize("wait, message", [
    ('estimated_wait("support")', "a wait must be at most 1 day, not unknown (infinite)"),
    ('estimated_wait("support") * 0', "not a number"),
])
def test_waits_that_cannot_be_waited_are_errors(wait, message):
    program = program_of(f"inbound:\n    wait {wait}\n")
    with pytest.raises(ScriptError) as caught:
        run_machine(Machine(program, FakeHost(metric=float("inf"))))
    assert message in caught.value.message and caught.value.line == 2


def test_a_negative_wait_waits_no_time():
    program = program_of("inbound:\n    set d = 0s - 5s\n    wait d\n")
    _, effects = run_machine(Machine(program, FakeHost()))
    assert [e.seconds for e in effects] == [0.0]


def test_constant_strings_too_long_are_refused_without_building_them():
    text = 'const A = "' + "a" * 1000 + '"\n' + "".join(
        f"const C{i} = {'A' if i == 0 else f'C{i - 1}'} + {'A' if i == 0 else f'C{i - 1}'}\n"
        for i in range(60)) + "inbound:\n    log C59\n"
    started = __import__("time").perf_counter()
    found = check_text(text, "t.qs")
    assert __import__("time").perf_counter() - started < 2
    assert [d.code.code for d in found.diagnostics] == ["Q2005"]
    assert found.diagnostics[0].span.line == 8  # C6 would be 128,000 characters


def test_constant_expressions_in_statements_are_bounded_too():
    text = 'const A = "' + "a" * 40_000 + '"\ninbound:\n    log A + A + "x"\n' \
           "    set n = 1.0 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807" \
           " * 9223372036854775807 * 9223372036854775807 * 9223372036854775807" \
           " * 9223372036854775807 * 9223372036854775807 * 9223372036854775807" \
           " * 9223372036854775807 * 9223372036854775807 * 9223372036854775807" \
           " * 9223372036854775807 * 9223372036854775807 * 9223372036854775807" \
           " * 9223372036854775807 * 9223372036854775807\n"
    found = check_text(text, "t.qs")
    assert [(d.code.code, d.span.line) for d in found.diagnostics] == [("Q2005", 3), ("Q2005", 4)]


def test_the_checker_and_the_vm_agree_on_the_longest_string():
    from qscript.checker import MAX_TEXT_LENGTH as checked
    from runtime.vm.machine import MAX_TEXT_LENGTH as enforced
    assert checked == enforced == 65_536


# ------------------------------------------------------------------ no variable holds nothing (item 5)


def test_a_variable_only_assigned_from_itself_is_an_error_not_none_at_run_time():
    found = check_text("inbound:\n    set x = x + 1m\n    wait x\n", "t.qs")
    assert [(d.code, d.span.line, d.span.column) for d in found.diagnostics] == \
        [(codes.UNKNOWN_TYPE, 2, 9)]


def test_every_variable_of_a_compiled_script_starts_with_a_value_of_its_type():
    program = program_of("inbound:\n    set x = 0s\n    set x = x + 1m\n    collect pin\n"
                         "    set n = len(pin) + n\n    set f = not f\n    wait x\n")
    assert {v.name: v.initial for v in program.variables if not v.name.startswith("%")} == \
        {"x": 0.0, "pin": "", "n": 0, "f": False}


def test_variables_fed_from_outside_may_stay_of_unknown_type_without_a_site():
    assert codes_of("inbound:\n    do fetch() into v\n    set w = v + 1\n"
                    '    lookup "customers" by "1" into c\n    set s = c.segment\n'
                    "    set s = s + s\n    log w\n    log s\n") == []
