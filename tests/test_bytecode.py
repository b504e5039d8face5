"""The bytecode file format: refusal of foreign, old, truncated and damaged files.

Loading a file either gives a Program or raises :class:`BytecodeError` with a
Q5xxx code — never another exception, whatever the bytes (checked with
hypothesis, also with the checksum recomputed so that damage reaches the
section decoder). A program that loads can be disassembled.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qscript import codes
from qscript.api import compile_file, compile_text
from qscript.bytecode import FORMAT_VERSION, MAGIC, BytecodeError, Op, read_program, write_program
from qscript.disasm import disassemble

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = (Path(__file__).parent / "data" / "compile" / "sample.qs").read_text(encoding="utf-8")


def _valid_bytes() -> bytes:
    result = compile_text(SCRIPT, "sample.qs")
    assert result.program is not None
    return write_program(result.program)


VALID = _valid_bytes()


def with_crc(body: bytes) -> bytes:
    """``body`` (a file without its checksum) with a correct CRC-32 appended."""
    return body + struct.pack("<I", zlib.crc32(body))


def load_error(data: bytes) -> BytecodeError:
    with pytest.raises(BytecodeError) as caught:
        read_program(data)
    return caught.value


def test_valid_file_loads():
    program = read_program(VALID)
    assert VALID[:4] == MAGIC
    assert struct.unpack("<H", VALID[4:6])[0] == FORMAT_VERSION
    assert program.source_name == "sample.qs"


def test_every_bytecode_code_is_registered():
    for code in ("Q5001", "Q5002", "Q5003", "Q5004"):
        assert codes.lookup(code) is not None
    assert codes.STALE_BYTECODE.severity is codes.Severity.WARNING


@pytest.mark.parametrize("data", [b"", b"QS", b"QSBX" + VALID[4:], b"\x7fELF" + VALID[4:],
                                  b"inbound:\n    hangup\n", VALID[::-1]])
def test_wrong_magic_is_q5001(data):
    error = load_error(data)
    assert error.code == "Q5001"
    assert "not a QScript bytecode file" in error.message


@pytest.mark.parametrize("version", [0, FORMAT_VERSION + 1, 0xFFFF])
def test_other_format_version_is_q5002_naming_both(version):
    data = VALID[:4] + struct.pack("<H", version) + VALID[6:]
    error = load_error(data)
    assert error.code == "Q5002"
    assert f"version {version}" in error.message
    assert f"version {FORMAT_VERSION}" in error.message
    assert "qscript compile" in error.message


def test_other_version_is_refused_before_the_checksum():
    """An old file is "recompile it", not "damaged", even though its CRC no longer matches."""
    data = bytearray(VALID)
    data[4:6] = struct.pack("<H", FORMAT_VERSION + 1)
    assert load_error(bytes(data)).code == "Q5002"


@pytest.mark.parametrize("length", [4, 5, 6, 7, 8, 20, 43, 44, 100, len(VALID) // 2, len(VALID) - 1])
def test_truncated_file_is_q5003(length):
    error = load_error(VALID[:length])
    assert error.code == "Q5003"


def test_every_truncation_is_refused_cleanly():
    for length in range(len(VALID)):
        assert load_error(VALID[:length]).code in ("Q5001", "Q5003")


@pytest.mark.parametrize("offset", [8, 40, 44, 60, len(VALID) // 2, len(VALID) - 5, len(VALID) - 1])
def test_flipped_byte_is_a_checksum_mismatch(offset):
    data = bytearray(VALID)
    data[offset] ^= 0x5A
    error = load_error(bytes(data))
    assert error.code == "Q5003"
    assert "checksum" in error.message


def test_trailing_garbage_is_refused():
    assert load_error(VALID + b"\0").code == "Q5003"


def test_missing_section_is_q5003():
    body = VALID[:-4]
    start = body.index(b"SMAP")
    (length,) = struct.unpack("<I", body[start + 4:start + 8])
    without = body[:start] + body[start + 8 + length:]
    assert load_error(with_crc(without)).code == "Q5003"


def test_unknown_opcode_is_q5003():
    body = bytearray(VALID[:-4])
    code_section = body.index(b"CODE") + 8 + 4   # tag, length, count
    assert body[code_section] == Op.ANSWER
    body[code_section] = 0xEE
    error = load_error(with_crc(bytes(body)))
    assert error.code == "Q5003" and "opcode" in error.message


def test_jump_outside_the_program_is_q5003():
    program = read_program(VALID)
    pc = next(i for i, (op, _) in enumerate(program.code) if op == Op.JUMP)
    program.code[pc] = (Op.JUMP, 10_000)
    assert load_error(write_program(program)).code == "Q5003"


def test_missing_constant_and_variable_are_q5003():
    program = read_program(VALID)
    program.code[0] = (Op.CONST, len(program.constants))
    assert load_error(write_program(program)).code == "Q5003"
    program = read_program(VALID)
    program.code[0] = (Op.LOAD, len(program.variables) + 3)
    assert load_error(write_program(program)).code == "Q5003"


def test_entry_point_outside_the_program_is_q5003():
    program = read_program(VALID)
    program.entries["queue"] = len(program.code) + 1
    assert load_error(write_program(program)).code == "Q5003"


def _first(program, op: Op) -> int:
    return next(i for i, (o, _) in enumerate(program.code) if o == op)


def _queue_on_a_string(program):
    program.code[_first(program, Op.QUEUE)] = (Op.QUEUE, program.constants.index("support"))


def _queue_shape_bad_option(program):
    pc = _first(program, Op.QUEUE)
    index = program.code[pc][1]
    constants = list(program.constants)
    constants[index] = ("queue", 1, ("loudness",), -1)
    program.constants = tuple(constants)


def _field_of_a_number(program):
    program.code[_first(program, Op.FIELD)] = (Op.FIELD, program.constants.index(0))


def _unknown_fact(program):
    program.code[_first(program, Op.FACT)] = (Op.FACT, 200)


def _set_unsettable_fact(program):
    program.code[_first(program, Op.SET_FACT)] = (Op.SET_FACT, 0)   # call.caller


def _unknown_function(program):
    program.code[_first(program, Op.CALL)] = (Op.CALL, 99 * 256 + 1)


def _wrong_argument_count(program):
    pc = _first(program, Op.CALL)
    program.code[pc] = (Op.CALL, program.code[pc][1] + 1)


def _bad_say_kind(program):
    program.code[_first(program, Op.SAY)] = (Op.SAY, 7)


def _missing_phase(program):
    del program.entries["after"]


def _block_outside(program):
    program.blocks["closed"] = len(program.code) + 5


@pytest.mark.parametrize("damage", [
    _queue_on_a_string, _queue_shape_bad_option, _field_of_a_number, _unknown_fact,
    _set_unsettable_fact, _unknown_function, _wrong_argument_count, _bad_say_kind,
    _missing_phase, _block_outside,
], ids=lambda f: f.__name__.strip("_"))
def test_damage_behind_a_valid_checksum_is_q5003(damage):
    """What the VM and the disassembler would trip over is refused when loading."""
    program = read_program(VALID)
    damage(program)
    assert load_error(write_program(program)).code == "Q5003"


def _sections(data: bytes) -> list[tuple[bytes, bytes]]:
    body, position, out = data[:-4], 40, []
    while position < len(body):
        tag = body[position:position + 4]
        (length,) = struct.unpack("<I", body[position + 4:position + 8])
        out.append((tag, body[position + 8:position + 8 + length]))
        position += 8 + length
    return out


def _assemble(sections: list[tuple[bytes, bytes]]) -> bytes:
    return with_crc(VALID[:40] + b"".join(tag + struct.pack("<I", len(payload)) + payload
                                          for tag, payload in sections))


def test_sections_reassemble_to_the_original():
    assert _assemble(_sections(VALID)) == VALID


def test_malformed_variable_entry_is_q5003():
    sections = [(tag, struct.pack("<I", 1) + b"\x03" + struct.pack("<q", 7))
                if tag == b"VARS" else (tag, payload) for tag, payload in _sections(VALID)]
    assert load_error(_assemble(sections)).code == "Q5003"


def test_compressed_source_bomb_is_q5003():
    bomb = zlib.compress(b"x" * 6_000_000, 9)
    sections = [(tag, bomb if tag == b"SRCZ" else payload) for tag, payload in _sections(VALID)]
    error = load_error(_assemble(sections))
    assert error.code == "Q5003" and "larger" in error.message


def test_truncated_compressed_source_is_q5003():
    sections = [(tag, payload[:len(payload) // 2] if tag == b"SRCZ" else payload)
                for tag, payload in _sections(VALID)]
    assert load_error(_assemble(sections)).code == "Q5003"


def test_stale_bytecode_is_warned_about(tmp_path):
    """Q5004: disassembling a .qsc whose source changed since it was compiled."""
    from click.testing import CliRunner

    from qscript.cli import main
    script = tmp_path / "s.qs"
    script.write_text('inbound:\n    queue to "support"\n')
    runner = CliRunner()
    assert runner.invoke(main, ["compile", str(script)]).exit_code == 0
    fresh = runner.invoke(main, ["disasm", str(tmp_path / "s.qsc")])
    assert fresh.exit_code == 0 and "Q5004" not in fresh.output
    script.write_text('inbound:\n    queue to "sales"\n')
    stale = runner.invoke(main, ["disasm", str(tmp_path / "s.qsc")])
    assert stale.exit_code == 0
    assert "warning[Q5004]" in stale.output and "changed since" in stale.output


# ------------------------------------------------------------------ hypothesis

MUTATION = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _mutate(data: bytes, edits, cut) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    if cut:
        out = out[:cut % (len(out) + 1)]
    return bytes(out)


def _load_or_refuse(data: bytes) -> None:
    try:
        program = read_program(data)
    except BytecodeError as error:
        assert codes.lookup(error.code) is not None and error.code.startswith("Q5")
        assert error.message
        return
    disassemble(program)  # whatever loads can be shown


@MUTATION
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.integers(0, 10**6) | st.none())
def test_mutated_file_loads_or_raises_bytecode_error(edits, cut):
    _load_or_refuse(_mutate(VALID, edits, cut))


@MUTATION
@given(edits=st.lists(st.tuples(st.integers(44, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=4),
       cut=st.integers(44, 10**6) | st.none())
def test_mutated_file_with_fixed_checksum_loads_or_raises(edits, cut):
    """Damage past the header, with the CRC recomputed, reaches the section decoder."""
    body = _mutate(VALID[:-4], [(44 + (p - 44) % (len(VALID) - 48), v) for p, v in edits], cut)
    _load_or_refuse(with_crc(body))


@MUTATION
@given(st.binary(max_size=300))
def test_random_bytes_are_refused(data):
    _load_or_refuse(data)


@MUTATION
@given(st.binary(max_size=200))
def test_random_body_after_a_valid_header_is_refused_cleanly(tail):
    _load_or_refuse(with_crc(VALID[:44] + tail))


# ------------------------------------------------------------------ verification (Q5005)


def crafted(code, constants=(), variables=(), entries=None, source="inbound:\n    hangup\n"):
    """A hand-made program written with a valid checksum, so only the verifier can refuse it."""
    from qscript.bytecode import Program, source_hash
    program = Program([(int(op), arg) for op, arg in code], tuple(constants), tuple(variables),
                      entries or {"inbound": 0, "queue": -1, "after": -1}, {},
                      [(0, 2, 5)], "crafted.qs", source_hash(source), source)
    return write_program(program)


@pytest.mark.parametrize("code, constants, pc, words", [
    ([(Op.WAIT, 0), (Op.STOP, 0)], (), 0, "pops 1 values from a stack of 0"),
    ([(Op.ANSWER, 0)], (), 0, "runs past the end"),
    ([(Op.CONST, 0), (Op.WAIT, 0), (Op.STOP, 0)], ("ten",), 1, "needs a number, but a string"),
    ([(Op.CONST, 0), (Op.CONST, 1), (Op.MUL, 0), (Op.POP, 0), (Op.STOP, 0)], ("a", 10**18), 2,
     "needs a number, but a string"),
    ([(Op.CONST, 0), (Op.CONST, 1), (Op.ADD, 0), (Op.POP, 0), (Op.STOP, 0)], ("a", 1), 2,
     "adds a string and a number"),
    ([(Op.CONST, 0), (Op.JUMP_IF_TRUE, 3), (Op.CONST, 0), (Op.STOP, 0)], (True,), 3,
     "is reached with"),
    ([(Op.CONST, 0), (Op.PLAY, 1), (Op.JUMP_IF_FALSE_KEEP, 0)], ("welcome",), 2,
     "pops from an empty stack"),
    ([(Op.CONST, 0), (Op.CONST, 0), (Op.CONST, 0), (Op.CONST, 0), (Op.CONST, 0),
      (Op.COLLECT_INPUT, 0), (Op.POP, 0), (Op.STOP, 0)], ("x",), 5, "needs a number"),
    ([(Op.CONST, 0), (Op.JUMP, 0)], (1,), 0, "is reached with 0 and with 1 values"),
    ([(Op.LIST, 2**31 - 1), (Op.STOP, 0)], (), 0, "pops 2147483647 values from a stack of 0"),
])
def test_programs_the_vm_could_not_run_are_refused_naming_the_instruction(code, constants, pc,
                                                                        words):
    error = load_error(crafted(code, constants))
    assert error.code == "Q5005", error.message
    assert error.message.startswith(f"instruction {pc} (") and words in error.message


def test_a_jump_to_the_end_of_the_program_is_refused():
    error = load_error(crafted([(Op.JUMP, 1)]))
    assert error.code == "Q5003" and "jumps outside" in error.message


def test_a_variable_that_starts_with_a_value_of_another_type_is_refused():
    from qscript.bytecode import Variable
    data = crafted([(Op.LOAD, 0), (Op.WAIT, 0), (Op.STOP, 0)],
                   variables=[Variable("d", "duration", "soon")])
    assert load_error(data).code == "Q5003"


def test_a_source_that_does_not_match_its_hash_is_refused():
    program = read_program(VALID)
    program.source_text += "# changed\n"
    error = load_error(write_program(program))
    assert error.code == "Q5003" and "source hash" in error.message


def test_every_compiled_program_verifies():
    for path in sorted((ROOT / "examples").glob("**/*.qs")):
        program = compile_file(path).program
        assert read_program(write_program(program)).code == program.code


@pytest.mark.parametrize("constant, message", [(float("nan"), "a wait is not a number"),
                                               (float("inf"), "at most 1 day")])
def test_a_wait_constant_no_compiler_writes_is_a_located_error_when_run(constant, message):
    from runtime.vm import Machine, ScriptError
    program = read_program(crafted([(Op.CONST, 0), (Op.WAIT, 0), (Op.STOP, 0)], (constant,)))
    machine = Machine(program, type("Host", (), {"clock": lambda self: 0.0})())
    with pytest.raises(ScriptError) as caught:
        next(machine.run("inbound"))
    assert message in caught.value.message and caught.value.line == 2


def test_a_negative_wait_in_a_file_waits_no_time():
    from runtime.vm import Machine
    program = read_program(crafted([(Op.CONST, 0), (Op.WAIT, 0), (Op.STOP, 0)], (-5.0,)))
    host = type("Host", (), {"clock": lambda self: 0.0})()
    effect = next(Machine(program, host).run("inbound"))
    assert effect.seconds == 0.0


# ------------------------------------------------------------------ queue shapes the VM cannot run
#
# Each mutation keeps the stack consistent (the kinds and depths the verifier
# tracks still match), so before the shape itself was checked these programs
# loaded: an `add group` of no group made the VM raise an IndexError, and the
# others silently ran with values given to the wrong option or dropped.

QUEUE_ONE = 'inbound:\n    queue to "a" priority 5 credit 30s\n'
REQUEUE_ONE = 'inbound:\n    queue to "a"\nqueue:\n    requeue to "b" priority 5\n'
ADD_GROUP_ONE = 'inbound:\n    queue to "a"\nqueue:\n    add group "b" priority 3 credit 30s\n'


@pytest.mark.parametrize("script, op, shape, words", [
    (ADD_GROUP_ONE, Op.ADD_GROUP, ("queue", 0, ("priority", "credit"), -1),
     "adds 0 groups; add group takes exactly one"),
    (ADD_GROUP_ONE, Op.ADD_GROUP, ("queue", 1, ("priority", "target"), -1),
     "has the option target, which add group does not take"),
    (ADD_GROUP_ONE, Op.ADD_GROUP, ("queue", 1, ("priority", "credit"), 0),
     "has a when-empty target, which add group does not take"),
    (ADD_GROUP_ONE, Op.ADD_GROUP, ("queue", 1, ("credit", "priority"), -1), "out of order"),
    (ADD_GROUP_ONE, Op.ADD_GROUP, ("queue", 1, ("priority", "priority"), -1),
     "names an option twice"),
    (QUEUE_ONE, Op.QUEUE, ("queue", 0, ("priority", "credit"), -1), "queues to no group"),
    (QUEUE_ONE, Op.QUEUE, ("queue", 1, ("credit", "priority"), -1), "out of order"),
    (QUEUE_ONE, Op.QUEUE, ("queue", 1, ("target", "target"), -1), "names an option twice"),
    (REQUEUE_ONE, Op.REQUEUE, ("queue", 0, ("priority",), -1), "queues to no group"),
], ids=["add-group-of-no-group", "add-group-target",
        "add-group-when-empty", "add-group-out-of-order", "add-group-twice", "queue-no-group",
        "queue-out-of-order", "queue-twice", "requeue-no-group"])
def test_a_queue_shape_the_instruction_cannot_take_is_refused_naming_it(script, op, shape, words):
    program = compile_text(script, "shape.qs").program
    assert program is not None
    pc = _first(program, op)
    constants = list(program.constants)
    constants[program.code[pc][1]] = shape
    program.constants = tuple(constants)
    error = load_error(write_program(program))
    assert error.code in ("Q5003", "Q5005")
    assert error.message.startswith(f"instruction {pc} ({op.name}) ") and words in error.message, \
        error.message


def test_every_queue_shape_the_compiler_writes_is_accepted():
    """The shape checks refuse nothing a compiler writes: every option, every statement."""
    for path in sorted((ROOT / "tests" / "data" / "compile").glob("*.qs")):
        program = compile_file(path).program
        if program is not None:
            assert read_program(write_program(program)).constants == program.constants
