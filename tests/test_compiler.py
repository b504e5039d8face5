"""The compiler: disassembly golden files, determinism, round trips, lowering.

Golden files: every ``tests/data/compile/<name>.qs`` is compiled (without a
site) and its disassembly (:func:`qscript.disasm.disassemble`) compared with
``<name>.disasm``. Together the inputs use every statement kind, every
operator and every opcode (checked below, so a new one needs a case). After
an intended change of code generation, regenerate and review the diff::

    QSCRIPT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_compiler.py
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from qscript import ast
from qscript.api import compile_text
from qscript.bytecode import Op, QueueShape, read_program, write_program
from qscript.disasm import disassemble

COMPILE = Path(__file__).parent / "data" / "compile"
CASES = sorted(p.stem for p in COMPILE.glob("*.qs"))


def compile_ok(text: str, name: str = "t.qs", site=None):
    result = compile_text(text, name, site=site)
    assert result.ok, "\n".join(d.render(result.source) for d in result.errors)
    assert result.program is not None
    return result


def compile_case(name: str):
    text = (COMPILE / f"{name}.qs").read_text(encoding="utf-8")
    return compile_ok(text, f"{name}.qs")


def ops(program) -> list[Op]:
    return [Op(op) for op, _ in program.code]


def test_cases_exist():
    assert CASES, f"no scripts in {COMPILE}"


@pytest.mark.parametrize("name", CASES)
def test_disassembly_golden(name, golden):
    golden(COMPILE / f"{name}.disasm", disassemble(compile_case(name).program))


# ------------------------------------------------------------------ coverage of the corpus


def _corpus():
    return [compile_case(name) for name in CASES]


def _expressions(script: ast.Script):
    """Every expression node in a script (statements, options, conditions, consts)."""
    def walk(node):
        if isinstance(node, ast.Node):
            yield node
            for f in dataclasses.fields(node):
                yield from walk(getattr(node, f.name))
        elif isinstance(node, tuple):
            for item in node:
                yield from walk(item)
    yield from walk(script)


def test_corpus_uses_every_statement_kind():
    seen = set()
    for result in _corpus():
        for section in result.script.sections:
            seen |= {type(s) for s in ast.walk_statements(section.body)}
    missing = {t.__name__ for t in ast.Stmt.__args__} - {t.__name__ for t in seen}
    assert not missing, f"no compile case uses: {sorted(missing)}"


def test_corpus_uses_every_operator():
    binary, unary = set(), set()
    for result in _corpus():
        for node in _expressions(result.script):
            if isinstance(node, ast.Binary):
                binary.add(node.op)
            elif isinstance(node, ast.Unary):
                unary.add(node.op)
    from qscript.parser import _PRECEDENCE
    assert binary >= set(_PRECEDENCE) - {"prefix not"}
    assert unary == {"not", "-"}


def test_corpus_emits_every_opcode():
    seen = set()
    for result in _corpus():
        seen |= set(ops(result.program))
    missing = set(Op) - seen
    assert not missing, f"no compile case emits: {sorted(op.name for op in missing)}"


# ------------------------------------------------------------------ determinism and round trips


@pytest.mark.parametrize("name", CASES)
def test_compiling_twice_gives_the_same_bytes(name):
    assert compile_case(name).program.to_bytes() == compile_case(name).program.to_bytes()


@pytest.mark.parametrize("name", CASES)
def test_whitespace_changes_keep_the_code(name):
    """Blank lines and trailing spaces change the hash and lines, not the code."""
    text = (COMPILE / f"{name}.qs").read_text(encoding="utf-8")
    spaced = "\n" + "\n".join(line + "  " if line.strip() else line
                              for line in text.split("\n")).replace("\n\n", "\n\n\n")
    original, changed = compile_case(name).program, compile_ok(spaced, f"{name}.qs").program
    assert original.source_hash != changed.source_hash
    assert original.code == changed.code
    assert original.constants == changed.constants
    assert original.variables == changed.variables
    assert original.entries == changed.entries
    assert original.blocks == changed.blocks
    assert [pc for pc, _, _ in original.source_map] == [pc for pc, _, _ in changed.source_map]


@pytest.mark.parametrize("name", CASES)
def test_program_round_trips_through_bytes(name):
    program = compile_case(name).program
    data = write_program(program)
    loaded = read_program(data)
    for attribute in ("code", "constants", "variables", "entries", "blocks", "source_map",
                      "source_name", "source_hash", "source_text"):
        assert getattr(loaded, attribute) == getattr(program, attribute), attribute
    assert write_program(loaded) == data
    assert disassemble(loaded) == disassemble(program)


def test_source_hash_is_the_sha256_of_the_text():
    import hashlib
    result = compile_ok("inbound:\n    hangup\n")
    assert result.program.source_hash == hashlib.sha256(b"inbound:\n    hangup\n").digest()


# ------------------------------------------------------------------ lowering


def test_entries_blocks_and_stop_at_section_ends():
    program = compile_ok("inbound:\n    goto b\nqueue:\n    wait 5s\nblock b:\n    hangup\n"
                         ).program
    assert program.entries["after"] == -1
    assert program.entries["inbound"] == 0
    assert set(program.blocks) == {"b"}
    code = ops(program)
    assert code[program.entries["inbound"]] == Op.JUMP
    assert program.code[0][1] == program.blocks["b"]
    # Every section ends in STOP, so falling off its end ends the phase.
    for pc in (program.entries["queue"], program.blocks["b"]):
        assert Op.STOP in code[pc:]
    assert code[-1] == Op.STOP


def test_constants_are_folded_and_deduplicated():
    program = compile_ok('const A = 2 * 3 + 1\ninbound:\n    set x = A + 1\n    set y = 7\n'
                         '    log "a"\n    log "a"\n').program
    assert program.constants.count("a") == 1
    assert 7 in program.constants and 8 in program.constants
    assert Op.MUL not in ops(program) and Op.ADD not in ops(program)


@pytest.mark.parametrize("expression, minutes", [
    ("08:00 + 30m", 510), ("08:00 - 30m", 450), ("23:30 + 1h", 30), ("00:30 - 1h", 1410),
    ("08:00 + 90s", 481.5),
])
def test_time_arithmetic_folds_in_minutes(expression, minutes):
    """A time is minutes since midnight; adding a duration (seconds) wraps at midnight."""
    program = compile_ok(f"const T = {expression}\ninbound:\n    set t = T\n    hangup\n").program
    assert program.code[0] == (Op.CONST, program.constants.index(minutes))
    assert minutes in program.constants


def test_time_difference_folds_to_seconds():
    program = compile_ok("const D = 17:00 - 08:30\ninbound:\n    set d = D\n    hangup\n").program
    assert 8.5 * 3600 in program.constants


def test_time_arithmetic_at_run_time_converts_units():
    program = compile_ok("inbound:\n    set t = now.time + 30m\n    set d = now.time - 08:00\n"
                         "    hangup\n").program
    code = ops(program)
    # now.time + 30m  ->  FACT, CONST 1800.0, CONST 60.0, DIV, ADD, CONST 1440, MOD
    assert code[:7] == [Op.FACT, Op.CONST, Op.CONST, Op.DIV, Op.ADD, Op.CONST, Op.MOD]
    assert [program.constants[a] for op, a in program.code[1:3]] == [1800.0, 60.0]
    # now.time - 08:00  ->  FACT, CONST 480, SUB, CONST 60.0, MUL
    assert code[8:13] == [Op.FACT, Op.CONST, Op.SUB, Op.CONST, Op.MUL]


def test_and_or_short_circuit():
    program = compile_ok("inbound:\n    set a = call.queued and call.callback\n"
                         "    set b = call.queued or call.callback\n    hangup\n").program
    code = ops(program)
    assert Op.JUMP_IF_FALSE_KEEP in code and Op.JUMP_IF_TRUE_KEEP in code
    # The jump of "and" skips exactly the right operand.
    pc = code.index(Op.JUMP_IF_FALSE_KEEP)
    assert program.code[pc][1] == pc + 2


def test_when_empty_points_at_the_block():
    program = compile_ok('inbound:\n    queue to "a" when empty goto b\nblock b:\n    hangup\n'
                         ).program
    pc = ops(program).index(Op.QUEUE)
    shape = QueueShape.from_constant(program.constants[program.code[pc][1]])
    assert shape.when_empty == program.blocks["b"]
    assert shape.groups == 1 and shape.options == ()


def test_queue_options_are_pushed_in_canonical_order():
    program = compile_ok('inbound:\n    queue to "a" target 20s priority 3 credit 5s\n').program
    pc = ops(program).index(Op.QUEUE)
    shape = QueueShape.from_constant(program.constants[program.code[pc][1]])
    assert shape.options == ("priority", "credit", "target")
    pushed = [program.constants[arg] for _, arg in program.code[:pc]]
    assert pushed == ["a", 3, 5.0, 20.0]


def test_variables_get_typed_zero_values_and_hidden_slots():
    program = compile_ok('inbound:\n    set n = 1\n    set s = "x"\n    set d = 1s\n'
                         '    set t = 08:00\n    set f = true\n    set l = ["a"]\n'
                         '    lookup "c" by "1" into r\n    repeat 2 times:\n        wait 1s\n'
                         '    hangup\n').program
    by_name = {v.name: v for v in program.variables}
    assert (by_name["n"].type, by_name["n"].initial) == ("number", 0)
    assert (by_name["s"].type, by_name["s"].initial) == ("string", "")
    assert (by_name["d"].type, by_name["d"].initial) == ("duration", 0.0)
    assert (by_name["t"].type, by_name["t"].initial) == ("time", 0)
    assert (by_name["f"].type, by_name["f"].initial) == ("boolean", False)
    assert (by_name["l"].type, by_name["l"].initial) == ("list", ())
    assert (by_name["r"].type, by_name["r"].initial) == ("record", None)
    assert any(name.startswith("%repeat") for name in by_name)


def test_source_map_points_at_statements():
    text = "inbound:\n    answer\n    play \"a\"\n    hangup\n"
    program = compile_ok(text).program
    assert program.position(ops(program).index(Op.ANSWER)) == (2, 5)
    assert program.position(ops(program).index(Op.PLAY)) == (3, 5)
    assert program.position(ops(program).index(Op.HANGUP)) == (4, 5)
    assert program.position(-1) == (0, 0)


def test_all_jumps_land_inside_the_program():
    from qscript.bytecode import JUMPS
    for result in _corpus():
        program = result.program
        for op, arg in program.code:
            if op in JUMPS:
                assert 0 <= arg <= len(program.code)


def test_compile_refuses_scripts_with_errors_but_not_warnings():
    bad = compile_text("inbound:\n    wait 5\n")
    assert not bad.ok and bad.program is None
    warned = compile_text("inbound:\n    hangup\n    hangup\n")
    assert warned.ok and warned.warnings and warned.program is not None


def test_site_names_compile_into_constants(site):
    result = compile_ok('inbound:\n    do crm_score(call.caller, 1) into s\n'
                        '    lookup "customers" by call.caller into c\n    queue to "support"\n',
                        site=site)
    program = result.program
    assert ("crm_score", 2) in program.constants
    assert "customers" in program.constants
    assert {v.name: v.type for v in program.variables}["s"] == "number"
