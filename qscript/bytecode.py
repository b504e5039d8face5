"""The instruction set and the bytecode file format.

A compiled script is a :class:`Program`: one flat list of instructions for
all sections and blocks, a constant pool, the variable slots, an entry point
per phase, and a source map from instruction index (pc) to line and column.

Instructions are (opcode, argument) pairs; the VM is a stack machine. Every
opcode is documented below with its stack picture, e.g. ``ADD  a b → a+b``:
items before the arrow are popped (rightmost on top), items after it pushed.
Opcodes marked *effect* suspend the VM and hand a request to the driver
(simulator or live Asterisk runtime), which resumes it with a result.

File format (all integers little-endian)::

    magic            4 bytes  b"QSBC"
    format version   u16      FORMAT_VERSION; other versions are refused
    flags            u16      0
    source hash      32 bytes SHA-256 of the UTF-8 source text
    sections         tag (4 ASCII bytes), length u32, payload — in this order:
                     NAME CNST VARS CODE ENTR BLKS SMAP SRCZ
    checksum         u32      CRC-32 of everything before it

The same source always compiles to the same bytes (no timestamps, constants
in first-use order), so a deployed version can be identified by its hash.
"""

from __future__ import annotations

import functools

import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from .source import MAX_SOURCE_BYTES

MAGIC = b"QSBC"
#: Bumped whenever a reader of the previous version could not run what this
#: compiler writes, or this verifier would refuse what the previous compiler
#: wrote. History: 1 — first format; 2 — the WHOLE instruction (run-time
#: check of counts and priorities) and the menu-key slot starting as a number.
FORMAT_VERSION = 2


class Op(IntEnum):
    # -- data
    CONST = 1          # → constants[arg]
    LOAD = 2           # → variables[arg]
    STORE = 3          # value →            (variables[arg] = value)
    FACT = 4           # → fact            (call/now fact number arg; see builtins.FACTS)
    SET_FACT = 5       # value →            (settable call fact number arg)
    POP = 6            # value →
    DUP = 7            # value → value value
    FIELD = 8          # record → record[name]   (constants[arg] is (name, value when missing))
    LIST = 9           # item1 … itemN → list      (N = arg)
    FORMAT = 10        # value → text      (arg: type tag, see TYPE_TAGS)
    CLOCK = 11         # → seconds since the call started
    WHOLE = 12         # value → value     (constants[arg] is (what, low, high): a run-time error unless value is a whole number from low to high)
    # -- operators
    ADD = 20           # a b → a+b
    SUB = 21           # a b → a-b
    MUL = 22           # a b → a*b
    DIV = 23           # a b → a/b      (division by zero gives 0)
    MOD = 24           # a b → a%b      (modulo zero gives 0)
    NEG = 25           # a → -a
    NOT = 26           # a → not a
    EQ = 27            # a b → a==b
    NE = 28            # a b → a!=b
    LT = 29            # a b → a<b
    LE = 30            # a b → a<=b
    GT = 31            # a b → a>b
    GE = 32            # a b → a>=b
    IN = 33            # item container → item in container
    NOT_IN = 34        # item container → item not in container
    CALL = 35          # arg1 … argN → result   (arg = function id*256 + N; see builtins.FUNCTIONS)
    # -- control
    JUMP = 40          # —                 (pc = arg)
    JUMP_IF_FALSE = 41  # cond →           (if not cond: pc = arg)
    JUMP_IF_TRUE = 42  # cond →            (if cond: pc = arg)
    JUMP_IF_FALSE_KEEP = 43  # cond → cond (if not cond: pc = arg) | cond → (otherwise)
    JUMP_IF_TRUE_KEEP = 44   # cond → cond (if cond: pc = arg)     | cond → (otherwise)
    STOP = 45          # —                 ends the current phase (see docs: stop)
    # -- effects (suspend the VM; the driver carries them out)
    ANSWER = 60        # —
    HANGUP = 61        # —                 ends the call
    PLAY = 62          # prompt1 … promptN →   (N = arg)
    PLAY_HOT = 63      # name →            plays only while the hot prompt is on
    SAY = 64           # value currency →  (arg: 0 number, 1 amount, 2 digits, 3 duration)
    MUSIC = 65         # class →           ("" = music off)
    WAIT = 66          # seconds →
    WAIT_UNTIL = 67    # deadline →        waits until CLOCK reaches deadline
    MENU_INPUT = 68    # prompt timeout → key      ("" when the caller pressed nothing)
    COLLECT_INPUT = 69  # prompt min max terminator timeout → digits  ("" on timeout)
    QUEUE = 70         # groups… options… →        (arg: constants[arg] is a QueueShape)
    REQUEUE = 71       # groups… options… →        (arg: as QUEUE)
    ADD_GROUP = 72     # group options… →           (arg: as QUEUE, one group)
    REMOVE_GROUP = 73  # group →
    ANNOUNCE = 74      # —                 (arg: 0 position, 1 wait)
    OFFER_CALLBACK = 75  # prompt key timeout → accepted
    VOICEMAIL = 76     # address prompt max_seconds →
    TRANSFER = 77      # number →          ends the script
    LOOKUP = 78        # key → record      (arg: constants[arg] is the lookup's name)
    COMMAND = 79       # arg1 … argN → result  (arg: constants[arg] is (name, N))
    LOG = 80           # message →
    SAVE = 81          # key value →


EFFECTS = frozenset(op for op in Op if op >= 60)
JUMPS = frozenset({Op.JUMP, Op.JUMP_IF_FALSE, Op.JUMP_IF_TRUE, Op.JUMP_IF_FALSE_KEEP,
                   Op.JUMP_IF_TRUE_KEEP})

#: Type tags for FORMAT (how a value is turned into text depends on its static type).
TYPE_TAGS = {"number": 0, "string": 1, "boolean": 2, "duration": 3, "time": 4, "list": 5,
             "record": 6, "any": 7}

#: Option order on the stack for QUEUE/REQUEUE/ADD_GROUP (present options only, in this order).
QUEUE_OPTION_ORDER = ("priority", "credit", "target", "prefer_previous")


@dataclass(frozen=True)
class QueueShape:
    """What a QUEUE instruction finds on the stack, and where to go if the queue empties."""

    groups: int
    options: tuple[str, ...]      # names from QUEUE_OPTION_ORDER, in that order
    when_empty: int = -1          # pc to continue at when no agent is logged in; -1: stay

    def as_constant(self) -> tuple:
        return ("queue", self.groups, self.options, self.when_empty)

    @staticmethod
    def from_constant(value: tuple) -> "QueueShape":
        _, groups, options, when_empty = value
        return QueueShape(groups, tuple(options), when_empty)


@dataclass(frozen=True)
class Variable:
    name: str
    type: str          # a TYPE_TAGS key
    initial: object    # the value before any assignment


@dataclass
class Program:
    code: list[tuple[int, int]]
    constants: tuple
    variables: tuple[Variable, ...]
    entries: dict[str, int]                # "inbound" / "queue" / "after" -> pc
    blocks: dict[str, int]                 # block name -> pc (for the disassembler)
    source_map: list[tuple[int, int, int]]  # (first pc, line, column), sorted by pc
    source_name: str = "<script>"
    source_hash: bytes = b"\0" * 32
    source_text: str = ""
    _line_index: list[int] = field(default_factory=list, repr=False, compare=False)

    def position(self, pc: int) -> tuple[int, int]:
        """The (line, column) of the source that instruction ``pc`` was compiled from."""
        import bisect
        if not self._line_index:
            self._line_index = [entry[0] for entry in self.source_map]
        i = bisect.bisect_right(self._line_index, pc) - 1
        if i < 0:
            return (0, 0)
        return self.source_map[i][1], self.source_map[i][2]

    @functools.cached_property
    def hash_hex(self) -> str:
        # Asked for every call a session starts; computed once (then a plain
        # instance attribute: no Python call at all).
        return self.source_hash.hex()

    def to_bytes(self) -> bytes:
        return write_program(self)


class BytecodeError(Exception):
    """A bytecode file cannot be loaded; ``code`` is the diagnostic code (Q5xxx)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------ encoding


def _encode_value(value, out: bytearray) -> None:
    if value is None:
        out.append(0)
    elif value is False:
        out.append(1)
    elif value is True:
        out.append(2)
    elif isinstance(value, int):
        out.append(3)
        out += struct.pack("<q", value)
    elif isinstance(value, float):
        out.append(4)
        out += struct.pack("<d", value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out.append(5)
        out += struct.pack("<I", len(data)) + data
    elif isinstance(value, (tuple, list)):
        out.append(6)
        out += struct.pack("<I", len(value))
        for item in value:
            _encode_value(item, out)
    else:
        raise TypeError(f"cannot encode constant {value!r}")


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise BytecodeError("Q5003", "the file is truncated")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def u32(self) -> int:
        return self.unpack("<I")[0]

    def text(self) -> str:
        return self.take(self.u32()).decode("utf-8")

    def value(self, depth: int = 0):
        if depth > 32:
            raise BytecodeError("Q5003", "constants are nested too deeply")
        tag = self.take(1)[0]
        if tag in (0, 1, 2):
            return (None, False, True)[tag]
        if tag == 3:
            return self.unpack("<q")[0]
        if tag == 4:
            return self.unpack("<d")[0]
        if tag == 5:
            return self.text()
        if tag == 6:
            return tuple(self.value(depth + 1) for _ in range(self.u32()))
        raise BytecodeError("Q5003", f"unknown constant tag {tag}")


def _section(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload


def _encode_dict(mapping: dict[str, int]) -> bytes:
    out = bytearray(struct.pack("<I", len(mapping)))
    for name, pc in mapping.items():
        data = name.encode("utf-8")
        out += struct.pack("<I", len(data)) + data + struct.pack("<i", pc)
    return bytes(out)


def write_program(program: Program) -> bytes:
    """Serialise a program to the bytecode file format."""
    constants = bytearray(struct.pack("<I", len(program.constants)))
    for constant in program.constants:
        _encode_value(constant, constants)
    variables = bytearray(struct.pack("<I", len(program.variables)))
    for variable in program.variables:
        _encode_value((variable.name, variable.type, variable.initial), variables)
    code = bytearray(struct.pack("<I", len(program.code)))
    for op, arg in program.code:
        code += struct.pack("<Bi", op, arg)
    smap = bytearray(struct.pack("<I", len(program.source_map)))
    for pc, line, column in program.source_map:
        smap += struct.pack("<III", pc, line, column)
    name = program.source_name.encode("utf-8")
    body = b"".join([
        MAGIC, struct.pack("<HH", FORMAT_VERSION, 0), program.source_hash,
        _section(b"NAME", name),
        _section(b"CNST", bytes(constants)),
        _section(b"VARS", bytes(variables)),
        _section(b"CODE", bytes(code)),
        _section(b"ENTR", _encode_dict(program.entries)),
        _section(b"BLKS", _encode_dict(program.blocks)),
        _section(b"SMAP", bytes(smap)),
        _section(b"SRCZ", zlib.compress(program.source_text.encode("utf-8"), 9)),
    ])
    return body + struct.pack("<I", zlib.crc32(body))


def _read_dict(reader: _Reader) -> dict[str, int]:
    result = {}
    for _ in range(reader.u32()):
        name = reader.text()
        result[name] = reader.unpack("<i")[0]
    return result


def read_program(data: bytes) -> Program:
    """Load a program from bytes; raises BytecodeError with a clear message."""
    if len(data) < 4 or data[:4] != MAGIC:
        raise BytecodeError("Q5001", "this is not a QScript bytecode file (wrong magic bytes)")
    if len(data) < 8:
        raise BytecodeError("Q5003", "the file is truncated")
    version = struct.unpack("<H", data[4:6])[0]
    if version != FORMAT_VERSION:
        raise BytecodeError(
            "Q5002", f"this file uses bytecode format version {version}, but this QScript "
            f"reads version {FORMAT_VERSION}; recompile the script with `qscript compile`")
    if len(data) < 44 or zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise BytecodeError("Q5003", "the file is damaged (checksum mismatch)")
    reader = _Reader(data[:-4])
    reader.take(8)
    source_hash = reader.take(32)
    sections: dict[bytes, bytes] = {}
    while reader.pos < len(reader.data):
        tag = reader.take(4)
        sections[tag] = reader.take(reader.u32())
    try:
        return _decode_sections(sections, source_hash)
    except BytecodeError:
        raise
    except (KeyError, ValueError, UnicodeDecodeError, zlib.error, struct.error) as error:
        raise BytecodeError("Q5003", f"the file is damaged ({type(error).__name__})") from None


def _variable(value) -> Variable:
    if not (isinstance(value, tuple) and len(value) == 3):
        raise BytecodeError("Q5003", "a variable entry is malformed")
    return Variable(*value)


def _decode_sections(sections: dict[bytes, bytes], source_hash: bytes) -> Program:
    name = sections[b"NAME"].decode("utf-8")
    reader = _Reader(sections[b"CNST"])
    constants = tuple(reader.value() for _ in range(reader.u32()))
    reader = _Reader(sections[b"VARS"])
    variables = tuple(_variable(reader.value()) for _ in range(reader.u32()))
    reader = _Reader(sections[b"CODE"])
    count = reader.u32()
    valid_ops = {int(op) for op in Op}
    code = []
    for _ in range(count):
        op, arg = reader.unpack("<Bi")
        if op not in valid_ops:
            raise BytecodeError("Q5003", f"unknown opcode {op}")
        code.append((op, arg))
    entries = _read_dict(_Reader(sections[b"ENTR"]))
    blocks = _read_dict(_Reader(sections[b"BLKS"]))
    reader = _Reader(sections[b"SMAP"])
    source_map = [reader.unpack("<III") for _ in range(reader.u32())]
    # Bounded: a damaged or hand-made SRCZ could otherwise inflate to gigabytes.
    inflater = zlib.decompressobj()
    source = inflater.decompress(sections[b"SRCZ"], MAX_SOURCE_BYTES + 1)
    if len(source) > MAX_SOURCE_BYTES or inflater.unconsumed_tail:
        raise BytecodeError("Q5003", "the embedded source is larger than a script can be")
    if not inflater.eof:
        raise BytecodeError("Q5003", "the embedded source is truncated")
    text = source.decode("utf-8")
    program = Program(code, constants, variables, entries, blocks,
                      [tuple(e) for e in source_map], name, source_hash, text)
    _validate(program)
    return program


def _validate(program: Program) -> None:
    """Refuse programs whose arguments point outside their tables or have the wrong shape.

    A file with a correct checksum can still be damaged (or hand-made); the
    VM and the disassembler index tables with these arguments and unpack
    these constants, so anything they could trip over is refused here.
    """
    from .builtins import FACTS, FUNCTIONS  # builtins does not import this module

    size = len(program.code)
    constants = program.constants

    def damaged(message: str) -> BytecodeError:
        return BytecodeError("Q5003", message)

    for index, variable in enumerate(program.variables):
        if not isinstance(variable.name, str) or variable.type not in TYPE_TAGS:
            raise damaged(f"variable {index} is malformed")
        expected = _TYPE_KINDS.get(variable.type, _UNKNOWN)
        if expected not in (_UNKNOWN, _RECORD) and _kind_of(variable.initial) != expected:
            raise damaged(f"variable {index} ({variable.name}) starts with a value that is "
                          f"not {_KIND_WORDS[expected]}")
    for pc, (op, arg) in enumerate(program.code):
        if op in JUMPS and not 0 <= arg < size:
            raise damaged(f"instruction {pc} jumps outside the program")
        if op in _CONSTANT_ARGUMENT:
            if not 0 <= arg < len(constants):
                raise damaged(f"instruction {pc} refers to a missing constant")
            if not _CONSTANT_ARGUMENT[op](constants[arg], size):
                raise damaged(f"instruction {pc} refers to a constant of the wrong kind")
            if op in (Op.QUEUE, Op.REQUEUE, Op.ADD_GROUP):
                problem = _queue_shape_problem(op, QueueShape.from_constant(constants[arg]))
                if problem:
                    raise damaged(f"instruction {pc} ({Op(op).name}) {problem}")
        elif op in (Op.LOAD, Op.STORE) and not 0 <= arg < len(program.variables):
            raise damaged(f"instruction {pc} refers to a missing variable")
        elif op == Op.FACT and not 0 <= arg < len(FACTS):
            raise damaged(f"instruction {pc} refers to an unknown fact")
        elif op == Op.SET_FACT and not (0 <= arg < len(FACTS) and FACTS[arg].settable):
            raise damaged(f"instruction {pc} sets a fact that cannot be set")
        elif op == Op.CALL:
            function_id, count = divmod(arg, 256)
            if not (0 <= function_id < len(FUNCTIONS)
                    and count == len(FUNCTIONS[function_id].params)):
                raise damaged(f"instruction {pc} calls an unknown function")
        elif op in _SMALL_ARGUMENT and not 0 <= arg <= _SMALL_ARGUMENT[op]:
            raise damaged(f"instruction {pc} has an invalid argument")
    if set(program.entries) != {"inbound", "queue", "after"}:
        raise damaged("the entry points are not inbound, queue and after")
    for phase, pc in program.entries.items():
        if not -1 <= pc < size:
            raise damaged(f"the {phase} entry point is outside the program")
    for name, pc in program.blocks.items():
        if not 0 <= pc < size:
            raise damaged(f"block {name} is outside the program")
    if source_hash(program.source_text) != program.source_hash:
        raise damaged("the embedded source does not match the recorded source hash")
    _verify(program)


# ------------------------------------------------------------------ verification
#
# A file that decodes and whose arguments point inside their tables can still
# make the VM misbehave: pop from an empty stack, reach one instruction with
# different stack depths, run past the last instruction, hand an effect a
# string where it waits seconds. The verifier walks every path of the program
# from its entry points (as the JVM's and starlark-go's verifiers do) with the
# stack effect of each opcode, below, and the kind of each value it can know
# (from constants, variable and fact types, function results), and refuses
# the file with Q5005 naming the first instruction at fault.

#: The most values the stack may hold (a list literal of that many items).
MAX_STACK_DEPTH = 65_536

#: Value kinds the verifier tracks: number (also durations and times), string,
#: boolean, list, record, and unknown.
_NUMBER, _STRING, _BOOLEAN, _LIST, _RECORD, _UNKNOWN = "n", "s", "b", "l", "r", "?"
_KIND_WORDS = {_NUMBER: "a number", _STRING: "a string", _BOOLEAN: "a boolean",
               _LIST: "a list", _RECORD: "a record"}
_TYPE_KINDS = {"number": _NUMBER, "duration": _NUMBER, "time": _NUMBER, "string": _STRING,
               "boolean": _BOOLEAN, "list": _LIST, "record": _RECORD}

#: Fixed stack effects: opcode -> (kinds popped, bottom first; kinds pushed).
#: ``?`` accepts any value. Opcodes with an argument-dependent effect are in
#: _operand_kinds.
_STACK_EFFECTS: dict[int, tuple[str, str]] = {
    Op.LOAD: ("", "?"), Op.STORE: ("?", ""), Op.FACT: ("", "?"), Op.SET_FACT: ("?", ""),
    Op.POP: ("?", ""), Op.FIELD: ("?", "?"), Op.FORMAT: ("?", "s"), Op.CLOCK: ("", "n"),
    Op.WHOLE: ("n", "n"),
    Op.ADD: ("??", "?"), Op.SUB: ("nn", "n"), Op.MUL: ("nn", "n"), Op.DIV: ("nn", "n"),
    Op.MOD: ("nn", "n"), Op.NEG: ("n", "n"), Op.NOT: ("?", "b"), Op.EQ: ("??", "b"),
    Op.NE: ("??", "b"), Op.LT: ("??", "b"), Op.LE: ("??", "b"), Op.GT: ("??", "b"),
    Op.GE: ("??", "b"), Op.IN: ("??", "b"), Op.NOT_IN: ("??", "b"),
    Op.JUMP: ("", ""), Op.JUMP_IF_FALSE: ("?", ""), Op.JUMP_IF_TRUE: ("?", ""),
    Op.STOP: ("", ""),
    Op.JUMP_IF_FALSE_KEEP: ("", ""), Op.JUMP_IF_TRUE_KEEP: ("", ""),  # see _verify
    Op.ANSWER: ("", ""), Op.HANGUP: ("", ""), Op.PLAY_HOT: ("s", ""), Op.MUSIC: ("s", ""),
    Op.WAIT: ("n", ""), Op.WAIT_UNTIL: ("n", ""), Op.MENU_INPUT: ("sn", "s"),
    Op.COLLECT_INPUT: ("snnsn", "s"), Op.REMOVE_GROUP: ("s", ""), Op.ANNOUNCE: ("", ""),
    Op.OFFER_CALLBACK: ("ssn", "b"), Op.VOICEMAIL: ("ssn", ""), Op.TRANSFER: ("s", ""),
    Op.LOOKUP: ("s", "r"), Op.LOG: ("s", ""), Op.SAVE: ("s?", ""),
}
#: Instructions after which the run ends (their outcome ends the phase).
_ENDS_RUN = frozenset({Op.STOP, Op.HANGUP, Op.TRANSFER, Op.QUEUE, Op.REQUEUE})


def _kind_of(value) -> str:
    if value is True or value is False:
        return _BOOLEAN
    if isinstance(value, (int, float)):
        return _NUMBER
    if isinstance(value, str):
        return _STRING
    if isinstance(value, tuple):
        return _LIST
    return _UNKNOWN


def _operand_kinds(program: Program, op: int, arg: int) -> tuple[str, str]:
    """(kinds popped, kinds pushed) of one instruction: see the opcode table in Op."""
    from .builtins import FACTS, FUNCTIONS

    if op == Op.CONST:
        return "", _kind_of(program.constants[arg])
    if op == Op.LOAD:
        return "", _TYPE_KINDS.get(program.variables[arg].type, _UNKNOWN)
    if op == Op.STORE:
        return _TYPE_KINDS.get(program.variables[arg].type, _UNKNOWN), ""
    if op == Op.FACT:
        return "", _TYPE_KINDS.get(FACTS[arg].type.name, _UNKNOWN)
    if op == Op.SET_FACT:
        return _TYPE_KINDS.get(FACTS[arg].type.name, _UNKNOWN), ""
    if op == Op.DUP:
        return "?", "??"   # refined by the caller: the copy has the original's kind
    if op == Op.LIST:
        return "?" * arg, _LIST
    if op == Op.CALL:
        function = FUNCTIONS[arg // 256]
        return ("".join(_TYPE_KINDS.get(t.name, _UNKNOWN) for _, t in function.params),
                _TYPE_KINDS.get(function.returns.name, _UNKNOWN))
    if op == Op.PLAY:
        return "s" * arg, ""
    if op == Op.SAY:
        return ("s" if arg == 2 else "n") + "s", ""
    if op in (Op.QUEUE, Op.REQUEUE, Op.ADD_GROUP):
        shape = QueueShape.from_constant(program.constants[arg])
        return "s" * shape.groups + "n" * len(shape.options), ""
    if op == Op.COMMAND:
        return "?" * program.constants[arg][1], "?"
    return _STACK_EFFECTS[op]


def _variable_pop_count(program: Program, op: int, arg: int) -> int | None:
    """How many values an instruction with an argument-dependent effect pops."""
    if op in (Op.LIST, Op.PLAY):
        return arg
    if op == Op.COMMAND:
        return program.constants[arg][1]
    if op in (Op.QUEUE, Op.REQUEUE, Op.ADD_GROUP):
        shape = QueueShape.from_constant(program.constants[arg])
        return shape.groups + len(shape.options)
    return None


def _verify(program: Program) -> None:
    """Refuse (Q5005) a program some path of which the VM could not run."""
    size = len(program.code)

    def refuse(pc: int, message: str) -> BytecodeError:
        op = program.code[pc][0] if 0 <= pc < size else None
        name = f" ({Op(op).name})" if op is not None else ""
        return BytecodeError("Q5005", f"instruction {pc}{name} {message}")

    states: dict[int, tuple[str, ...]] = {}
    work: list[int] = []

    def reach(pc: int, stack: tuple[str, ...], origin: int) -> None:
        if not 0 <= pc < size:
            raise refuse(origin, "runs past the end of the program")
        known = states.get(pc)
        if known is None:
            states[pc] = stack
            work.append(pc)
            return
        if len(known) != len(stack):
            raise refuse(pc, f"is reached with {len(known)} and with {len(stack)} values on "
                         "the stack")
        joined = tuple(a if a == b else _UNKNOWN for a, b in zip(known, stack))
        if joined != known:
            states[pc] = joined
            work.append(pc)

    for phase, pc in program.entries.items():
        if pc >= 0:
            reach(pc, (), pc)
    for pc in program.blocks.values():
        reach(pc, (), pc)
    while work:
        pc = work.pop()
        stack = states[pc]
        op, arg = program.code[pc]
        count = _variable_pop_count(program, op, arg)
        if count is not None and count > len(stack):  # checked before kinds are listed
            raise refuse(pc, f"pops {count} values from a stack of {len(stack)}")
        pops, pushes = _operand_kinds(program, op, arg)
        if op in (Op.JUMP_IF_FALSE_KEEP, Op.JUMP_IF_TRUE_KEEP):
            if not stack:
                raise refuse(pc, "pops from an empty stack")
            reach(arg, stack, pc)          # taken: the condition stays
            reach(pc + 1, stack[:-1], pc)  # not taken: it is popped
            continue
        if len(pops) > len(stack):
            raise refuse(pc, f"pops {len(pops)} values from a stack of {len(stack)}")
        taken = stack[len(stack) - len(pops):]
        for expected, actual in zip(pops, taken):
            if expected != _UNKNOWN and actual != _UNKNOWN and expected != actual:
                raise refuse(pc, f"needs {_KIND_WORDS[expected]}, but {_KIND_WORDS[actual]} "
                             "is on the stack")
        if op == Op.ADD and _UNKNOWN not in taken and taken[0] != taken[1]:
            raise refuse(pc, f"adds {_KIND_WORDS[taken[0]]} and {_KIND_WORDS[taken[1]]}")
        if op == Op.DUP:
            pushes = stack[-1] * 2
        elif op == Op.ADD and taken[0] == taken[1]:
            pushes = taken[0]
        after = stack[:len(stack) - len(pops)] + tuple(pushes)
        if len(after) > MAX_STACK_DEPTH:
            raise refuse(pc, f"makes the stack deeper than {MAX_STACK_DEPTH:,} values")
        if op in JUMPS:
            reach(arg, after, pc)
            if op == Op.JUMP:
                continue
        if op in (Op.QUEUE, Op.REQUEUE):
            when_empty = QueueShape.from_constant(program.constants[arg]).when_empty
            if when_empty >= 0:
                reach(when_empty, after, pc)
        if op not in _ENDS_RUN:
            reach(pc + 1, after, pc)


def _is_queue_shape(value, size: int) -> bool:
    return (isinstance(value, tuple) and len(value) == 4 and value[0] == "queue"
            and type(value[1]) is int and value[1] >= 0
            and isinstance(value[2], tuple) and all(o in QUEUE_OPTION_ORDER for o in value[2])
            and type(value[3]) is int and -1 <= value[3] < size)


#: The options `add group` takes (the checker's); the VM's AddGroup has no others.
_ADD_GROUP_OPTIONS = ("priority", "credit")


def _queue_shape_problem(op: int, shape: QueueShape) -> str | None:
    """What is wrong with a well-formed shape for this instruction, if anything.

    The VM pairs the popped values with the option names and takes the groups
    as they are: an `add group` of no group failed with an IndexError, a
    repeated option silently dropped a value, and options out of order gave
    one option another's value.
    """
    if op == Op.ADD_GROUP:
        if shape.groups != 1:
            return f"adds {shape.groups} groups; add group takes exactly one"
        extra = [name for name in shape.options if name not in _ADD_GROUP_OPTIONS]
        if extra:
            return f"has the option {extra[0]}, which add group does not take"
        if shape.when_empty != -1:
            return "has a when-empty target, which add group does not take"
    elif shape.groups < 1:
        return "queues to no group; queue to and requeue to take at least one"
    if len(set(shape.options)) != len(shape.options):
        return "names an option twice"
    if list(shape.options) != sorted(shape.options, key=QUEUE_OPTION_ORDER.index):
        return "lists its options out of order (the order is " + ", ".join(QUEUE_OPTION_ORDER) + ")"
    return None


_CONSTANT_ARGUMENT = {
    Op.CONST: lambda value, size: True,
    Op.FIELD: lambda value, size: (isinstance(value, tuple) and len(value) == 2
                                   and isinstance(value[0], str)),
    Op.LOOKUP: lambda value, size: isinstance(value, str),
    Op.WHOLE: lambda value, size: (isinstance(value, tuple) and len(value) == 3
                                   and isinstance(value[0], str) and type(value[1]) is int
                                   and type(value[2]) is int),
    Op.COMMAND: lambda value, size: (isinstance(value, tuple) and len(value) == 2
                                     and isinstance(value[0], str) and type(value[1]) is int
                                     and value[1] >= 0),
    Op.QUEUE: _is_queue_shape, Op.REQUEUE: _is_queue_shape, Op.ADD_GROUP: _is_queue_shape,
}
#: Opcodes whose argument is a count or a selector, with its largest valid value.
_SMALL_ARGUMENT = {Op.LIST: 2**31 - 1, Op.PLAY: 2**31 - 1, Op.SAY: 3, Op.ANNOUNCE: 1,
                   Op.FORMAT: max(TYPE_TAGS.values())}


def source_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()
