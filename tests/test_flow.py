"""Control flow: phases of blocks, unreachable code, loops that can spin.

The wording is pinned by tests/data/errors/flow.expected; these tests check
which statements are flagged and the phases the flow pass computes.
"""

from __future__ import annotations

import pytest

from qscript import ast
from qscript.api import check_text
from qscript.diagnostics import DiagnosticBag
from qscript.flow import (AFTER, INBOUND, QUEUED, body_completes, completes,
                          completes_without_waiting)
from qscript.parser import parse
from qscript.source import Source


def check(text: str):
    return check_text(text, "t.qs")


def codes_at(text: str) -> list[tuple[str, int]]:
    """(code, line) of every diagnostic."""
    return [(d.code.code, d.span.line) for d in check(text).diagnostics]


def phases(text: str) -> dict[str, frozenset[str]]:
    result = check(text)
    assert result.phases is not None
    return result.phases


def first_statement(text: str):
    bag = DiagnosticBag(Source(text))
    script = parse(bag.source, bag)
    assert script is not None
    return script.section("inbound").body[0]


# ------------------------------------------------------------------ phases


def test_phase_sections_have_their_own_phase():
    result = phases("inbound:\n    hangup\n")
    assert result[INBOUND] == {INBOUND} and result[QUEUED] == {QUEUED}
    assert result[AFTER] == {AFTER}


def test_a_block_takes_the_phases_of_every_place_that_reaches_it():
    text = ("inbound:\n    goto shared\nqueue:\n    goto shared\nafter call:\n    goto only_after\n"
            "block shared:\n    wait 1s\n    goto deeper\nblock deeper:\n    wait 1s\n"
            "block only_after:\n    stop\n")
    result = phases(text)
    assert result["shared"] == {INBOUND, QUEUED}
    assert result["deeper"] == {INBOUND, QUEUED}       # transitively
    assert result["only_after"] == {AFTER}


def test_phases_reach_blocks_through_gotos_in_handlers_and_loops():
    text = ('inbound:\n    queue to "a"\nqueue:\n    every 30s:\n        menu "m":\n'
            "            key 1:\n                goto b\nblock b:\n    announce position\n")
    assert phases(text)["b"] == {QUEUED}
    assert check(text).ok


def test_when_empty_enters_its_block_in_the_inbound_phase():
    text = ('inbound:\n    queue to "a"\nqueue:\n    requeue to "b" when empty goto none\n'
            "block none:\n    voicemail to \"a@b.c\"\n    hangup\n")
    assert phases(text)["none"] == {INBOUND}
    assert check(text).ok


def test_a_block_reached_from_two_phases_must_suit_both():
    text = "inbound:\n    goto b\nqueue:\n    goto b\nblock b:\n    answer\n    wait 1s\n"
    assert codes_at(text) == [("Q4004", 6)]
    ok = "inbound:\n    goto b\nqueue:\n    goto b\nblock b:\n    play \"x\"\n    hangup\n"
    assert check(ok).ok


def test_unreached_blocks_have_no_phase_and_are_q4005():
    text = "inbound:\n    hangup\nblock lonely:\n    answer\n    announce position\n"
    assert phases(text)["lonely"] == frozenset()
    assert codes_at(text) == [("Q4005", 3)]     # no phase errors in code that never runs


def test_a_block_reached_only_from_an_unreached_block_is_unused_too():
    text = "inbound:\n    hangup\nblock a:\n    goto b\nblock b:\n    hangup\n"
    assert codes_at(text) == [("Q4005", 3), ("Q4005", 5)]


@pytest.mark.parametrize("statement, allowed", [
    ("answer", {INBOUND}), ('add group "g"', {QUEUED}), ('remove group "g"', {QUEUED}),
    ("announce position", {QUEUED}), ("offer callback", {QUEUED}),
    ('voicemail to "a@b.c"', {INBOUND, QUEUED}), ('transfer to "1"', {INBOUND, QUEUED}),
    ('queue to "g"', {INBOUND}), ('requeue to "g"', {QUEUED, AFTER}),
    ('play "x"', {INBOUND, QUEUED, AFTER}), ("stop", {INBOUND, QUEUED, AFTER}),
])
def test_phase_rules(statement, allowed):
    sections = {INBOUND: "inbound:", QUEUED: "queue:", AFTER: "after call:"}
    for phase, header in sections.items():
        text = f"{header}\n    {statement}\n"
        if phase != INBOUND:
            text += "inbound:\n    hangup\n"
        wrong = [c for c, _ in codes_at(text) if c == "Q4004"]
        assert (not wrong) == (phase in allowed), (statement, phase)


# ------------------------------------------------------------------ unreachable code


@pytest.mark.parametrize("ender", ["hangup", "stop", "goto b", 'transfer to "1"',
                                   'queue to "a"'])
def test_statements_after_an_ending_statement_are_unreachable(ender):
    text = f'inbound:\n    {ender}\n    play "x"\n    play "y"\nblock b:\n    hangup\n'
    assert ("Q4001", 3) in codes_at(text)
    assert ("Q4001", 4) not in codes_at(text)   # reported once per block


def test_requeue_and_break_end_their_path():
    requeue = 'inbound:\n    queue to "a"\nqueue:\n    wait 1m\n    requeue to "b"\n    play "x"\n'
    assert codes_at(requeue) == [("Q4001", 6)]
    break_ = 'queue:\n    every 1m:\n        break\n        play "y"\ninbound:\n    hangup\n'
    assert codes_at(break_) == [("Q4001", 4)]


def test_an_if_ends_its_path_only_when_every_branch_does():
    no_else = 'inbound:\n    if call.queued:\n        hangup\n    play "x"\n    hangup\n'
    assert codes_at(no_else) == []
    partial = ('inbound:\n    if call.queued:\n        hangup\n    elif call.callback:\n'
               '        play "x"\n    else:\n        hangup\n    play "y"\n    hangup\n')
    assert codes_at(partial) == []
    every_branch = ('inbound:\n    if call.queued:\n        hangup\n    elif call.callback:\n'
                    '        stop\n    else:\n        goto b\n    play "y"\nblock b:\n    hangup\n')
    assert ("Q4001", 8) in codes_at(every_branch)


def test_loops_that_never_end_make_what_follows_unreachable():
    every = 'queue:\n    every 30s:\n        announce position\n    play "x"\ninbound:\n    hangup\n'
    assert ("Q4001", 4) in codes_at(every)
    every_break = ('queue:\n    every 30s:\n        if call.waited > 1m:\n            break\n'
                   '    play "x"\ninbound:\n    hangup\n')
    assert codes_at(every_break) == []
    forever = 'inbound:\n    while true:\n        wait 1s\n    play "x"\n'
    assert ("Q4001", 4) in codes_at(forever)
    with_break = ('inbound:\n    while true:\n        wait 1s\n        if call.waited > 1m:\n'
                  '            break\n    hangup\n')
    assert codes_at(with_break) == []


def test_a_break_in_an_inner_loop_does_not_end_the_outer_one():
    text = ('queue:\n    every 30s:\n        while call.queued:\n            wait 1s\n'
            '            break\n    play "x"\ninbound:\n    hangup\n')
    assert ("Q4001", 6) in codes_at(text)


def test_a_menu_continues_unless_every_way_out_ends():
    ends = ('inbound:\n    menu "m":\n        key 1:\n            hangup\n        failed:\n'
            '            hangup\n    play "x"\n')
    assert ("Q4001", 7) in codes_at(ends)
    no_failed = 'inbound:\n    menu "m":\n        key 1:\n            hangup\n    hangup\n'
    assert codes_at(no_failed) == []
    key_continues = ('inbound:\n    menu "m":\n        key 1:\n            pass\n        failed:\n'
                     '            hangup\n    hangup\n')
    assert codes_at(key_continues) == []


def test_unreachable_code_inside_nested_bodies():
    text = 'inbound:\n    if call.queued:\n        hangup\n        play "x"\n    hangup\n'
    assert codes_at(text) == [("Q4001", 4)]


def test_completion_helpers():
    assert not completes(first_statement("inbound:\n    hangup\n"))
    assert completes(first_statement('inbound:\n    play "x"\n'))
    assert not completes(first_statement("inbound:\n    while true:\n        wait 1s\n"))
    assert completes(first_statement("inbound:\n    while call.queued:\n        wait 1s\n"))
    assert body_completes(())
    assert not completes_without_waiting(first_statement('inbound:\n    play "x"\n'))
    assert completes_without_waiting(first_statement('inbound:\n    log "x"\n'))
    assert completes_without_waiting(first_statement(
        'inbound:\n    if call.queued:\n        wait 1s\n'))
    assert not completes_without_waiting(first_statement(
        'inbound:\n    if call.queued:\n        wait 1s\n    else:\n        play "x"\n'))


# ------------------------------------------------------------------ loops that can spin


@pytest.mark.parametrize("loop_body", [
    ["set n = n + 1"],
    ['log "x"', "if n > 3:", "    wait 1s"],
    ["if n > 3:", "    wait 1s", "else:", "    pass"],
    ["remove group \"g\""],
])
def test_while_loops_that_can_go_round_without_waiting_are_q4002(loop_body):
    lines = "".join(f"        {line}\n" for line in loop_body)
    text = f"queue:\n    set n = 0\n    while n < 10:\n{lines}inbound:\n    hangup\n"
    assert ("Q4002", 3) in codes_at(text)


@pytest.mark.parametrize("loop_body", [
    ["wait 1s"], ['play "x"'], ["say number 1"], ["announce position"], ["offer callback"],
    ['menu "m":', "    key 1:", "        pass"], ["collect v digits 1"],
    ["every 30s:", "    announce wait"],
    ["if n > 3:", "    wait 1s", "else:", '    play "x"'],
    ['voicemail to "a@b.c"'],
    ["break"], ["goto b"], ["if n > 3:", "    break", "else:", "    goto b"],
])
def test_while_loops_that_wait_or_leave_on_every_path_are_fine(loop_body):
    lines = "".join(f"        {line}\n" for line in loop_body)
    text = (f'queue:\n    set n = 0\n    while n < 10:\n{lines}inbound:\n    queue to "g"\n'
            f"block b:\n    hangup\n")
    assert [c for c in codes_at(text) if c[0] == "Q4002"] == []


def test_repeat_loops_are_bounded_by_their_count_and_need_not_wait():
    assert codes_at('inbound:\n    repeat 3 times:\n        log "x"\n    hangup\n') == []
    assert codes_at('inbound:\n    repeat 3 times:\n        play "x"\n    hangup\n') == []


def test_every_loops_never_spin():
    assert codes_at('queue:\n    every 30s:\n        log "x"\ninbound:\n    hangup\n') == []


def test_goto_cycles_without_waiting_are_q4002_once_per_cycle():
    text = "inbound:\n    goto a\nblock a:\n    goto b\nblock b:\n    goto c\nblock c:\n    goto a\n"
    assert [c for c in codes_at(text) if c[0] == "Q4002"] == [("Q4002", 8)]


def test_a_self_loop_through_a_condition_is_a_spin():
    text = 'inbound:\n    goto a\nblock a:\n    if call.queued:\n        log "x"\n    goto a\n'
    assert ("Q4002", 6) in codes_at(text)


def test_two_separate_cycles_are_both_reported():
    text = ("inbound:\n    goto a\nblock a:\n    if call.queued:\n        goto b\n    goto a\n"
            "block b:\n    if call.queued:\n        goto c\n    goto b\nblock c:\n    goto b\n")
    spins = [c for c in codes_at(text) if c[0] == "Q4002"]
    assert ("Q4002", 6) in spins                              # a -> a
    assert any(line in (9, 10, 12) for _, line in spins)      # b <-> c
    assert len(spins) == 3                                    # a->a, b->b, b<->c


@pytest.mark.parametrize("waiting", ['play "x"', "wait 1s", 'menu "m":\n        key 1:\n'
                                     '            pass', "announce position"])
def test_goto_cycles_that_wait_somewhere_are_fine(waiting):
    text = (f'inbound:\n    queue to "g"\nqueue:\n    goto a\nblock a:\n    {waiting}\n'
            "    goto b\nblock b:\n    goto a\n")
    assert [c for c in codes_at(text) if c[0] == "Q4002"] == []


def test_a_goto_after_a_wait_does_not_close_a_spinning_cycle():
    text = "inbound:\n    goto a\nblock a:\n    wait 1s\n    goto a\n"
    assert codes_at(text) == []


def test_gotos_from_handlers_wait_for_the_caller_first():
    text = ('inbound:\n    goto a\nblock a:\n    menu "m":\n        key 1:\n            goto a\n'
            "    hangup\n")
    assert codes_at(text) == []


def test_phase_sections_are_not_cycle_starts():
    """A goto into a block is not a cycle unless the block leads back to itself."""
    text = "inbound:\n    goto a\nblock a:\n    hangup\n"
    assert codes_at(text) == []


# ------------------------------------------------------------------ break


def test_break_outside_any_loop_is_q4003():
    text = ('inbound:\n    if call.queued:\n        break\n    menu "m":\n        key 1:\n'
            "            break\n    hangup\n")
    assert [c for c in codes_at(text) if c[0] == "Q4003"] == [("Q4003", 3), ("Q4003", 6)]


def test_break_inside_loops_handlers_and_ifs_is_fine():
    text = ('queue:\n    every 30s:\n        menu "m":\n            key 1:\n                break\n'
            "        if call.waited > 1m:\n            break\n    while call.queued:\n"
            "        wait 1s\n        break\ninbound:\n    hangup\n")
    assert codes_at(text) == []


def test_flow_runs_after_names_are_checked_and_ast_is_shared():
    result = check("inbound:\n    goto missing\n    play \"x\"\n")
    assert [(d.code.code, d.span.line) for d in result.diagnostics] == [("Q1002", 2),
                                                                       ("Q4001", 3)]
    assert isinstance(result.script, ast.Script)
