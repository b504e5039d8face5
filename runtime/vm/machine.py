"""The virtual machine: runs a compiled program for one call.

A :class:`Machine` holds one call's variables. :meth:`Machine.run` returns a
generator that executes from a phase's entry point (or any pc) and *yields*
each effect (see :mod:`runtime.vm.effects`) to whoever drives it — the call
session — which carries it out and sends the result back. The generator's
return value is an :class:`Outcome` saying how the phase ended.

Closing the generator (``gen.close()``) interrupts the script wherever it is
suspended: that is how an agent answering interrupts the in-queue treatment.

Facts and metrics are read synchronously from a :class:`Host` (the session),
since reading them never waits. A step budget stops runaway scripts; any
failure is raised as :class:`ScriptError` with the source position and the
trail of blocks the call went through.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, Callable, Final, Generator, Protocol, cast

from qscript.builtins import FACTS, FUNCTIONS
from qscript.bytecode import QUEUE_OPTION_ORDER, Op, Program, QueueShape

from . import effects as fx

DEFAULT_STEP_BUDGET = 200_000
#: How often a call may start a phase (the queue: section after `requeue to`,
#: a `when empty goto` block) without anything waiting in between.
MAX_PHASE_STARTS_WITHOUT_WAITING = 100


class Outcome(str, Enum):
    STOPPED = "stopped"          # reached stop or the end of a section
    HANGUP = "hangup"
    TRANSFERRED = "transferred"
    QUEUED = "queued"            # inbound ended with `queue to`
    REQUEUED = "requeued"
    CALLBACK = "callback"        # the caller accepted a callback


class Host(Protocol):
    """What the VM reads from outside: call facts, live metrics, the clock."""

    def fact(self, fact_id: int) -> Any: ...

    def set_fact(self, fact_id: int, value: Any) -> None: ...

    def metric(self, function_id: int, args: tuple) -> Any: ...

    def clock(self) -> float: ...


class ScriptError(Exception):
    """A runtime failure of a script, with where it happened."""

    def __init__(self, message: str, program: Program, pc: int, trail: list[str]):
        line, column = program.position(pc)
        self.message, self.pc, self.line, self.column = message, pc, line, column
        self.trail = trail
        self.source_name = program.source_name
        text = program.source_text.split("\n")  # lines as the lexer counts them
        self.source_line = text[line - 1] if 0 < line <= len(text) else ""
        super().__init__(self.render())

    def render(self) -> str:
        out = [f"{self.source_name}:{self.line}:{self.column}: runtime error: {self.message}"]
        if self.source_line:
            out.append(f"  {self.line} | {self.source_line}")
        if self.trail:
            out.append("  call path (oldest first):")
            out.extend(f"    {step}" for step in self.trail)
        return "\n".join(out)


# ------------------------------------------------------------------ pure built-ins


def _luhn_valid(digits: str) -> bool:
    if not digits or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _to_number(text: str):
    try:
        value = float(text.strip().replace(",", "."))
    except (ValueError, AttributeError):
        return 0
    if not value - value == 0.0:
        return 0  # "inf", "nan", "1e999": not numbers a caller can type
    return int(value) if value.is_integer() and abs(value) < 2**63 else value


_PURE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": lambda value: len(value) if value is not None else 0,
    "starts_with": lambda text, prefix: text.startswith(prefix),
    "ends_with": lambda text, suffix: text.endswith(suffix),
    "to_number": _to_number,
    "luhn_valid": _luhn_valid,
    "seconds": lambda duration: duration,
}
#: function id -> python callable for pure functions; metric functions go to the host.
PURE_BY_ID: Final[dict[int, Callable[..., Any]]] = {f.id: _PURE_FUNCTIONS[f.name] for f in FUNCTIONS if f.name in _PURE_FUNCTIONS}


def format_duration(seconds: float) -> str:
    if seconds == math.inf:
        return "unknown"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"


def format_value(value, tag: int) -> str:
    """Text of a value by its static type tag (see bytecode.TYPE_TAGS)."""
    if tag == 3:
        return format_duration(value)
    if tag == 4:
        minutes = int(value)
        return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}".rstrip("0")
    if isinstance(value, tuple):
        return ", ".join(format_value(v, 7) for v in value)
    if isinstance(value, dict):
        return "record"
    return str(value)


def _divide(a, b):
    if b == 0:
        return 0
    result = a / b
    return int(result) if isinstance(a, int) and isinstance(b, int) and result.is_integer() else result


class LimitError(Exception):
    """A value the language does not allow (the VM reports it as a ScriptError, as is)."""


#: The longest string a script can build, in characters (as the checker's).
MAX_TEXT_LENGTH: Final = 65_536
#: The most items a list can have (no operator makes lists longer; this guards
#: values that come from outside, such as a custom command's result).
MAX_LIST_LENGTH: Final = 10_000
_INT64_MIN: Final = -2**63
_INT64_MAX: Final = 2**63 - 1


def _finite(value) -> bool:
    return value.__class__ is not float or value - value == 0.0


def _number(value, a, b):
    """An arithmetic result, within the language's numbers.

    Whole numbers are 64-bit; a result beyond that continues as a decimal
    number (as constant folding does). A decimal result that overflows to
    infinity, or is not a number, is an error; an infinite operand (an unknown
    estimated wait) gives an infinite result, as it should.
    """
    cls = value.__class__
    if cls is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else float(value)
    if cls is float and not value - value == 0.0:
        if value != value:
            raise LimitError("the result is not a number (an infinite wait minus or times "
                             "another?)")
        if _finite(a) and _finite(b):
            raise LimitError("the number is too large (beyond about 1.8e308)")
    return value


def _text(value):
    if value.__class__ is str and len(value) > MAX_TEXT_LENGTH:
        raise LimitError(f"the text would be {len(value):,} characters long; strings hold "
                         f"at most {MAX_TEXT_LENGTH:,}")
    return value


def _add(a, b):
    if a.__class__ is str and b.__class__ is str:
        if len(a) + len(b) > MAX_TEXT_LENGTH:  # checked before the string is built
            raise LimitError(f"the text would be {len(a) + len(b):,} characters long; "
                             f"strings hold at most {MAX_TEXT_LENGTH:,}")
        return a + b
    if a.__class__ is tuple and b.__class__ is tuple and len(a) + len(b) > MAX_LIST_LENGTH:
        raise LimitError(f"a list would have {len(a) + len(b):,} items; lists hold at most "
                         f"{MAX_LIST_LENGTH:,}")
    return _number(a + b, a, b)


def _is_number(value) -> bool:
    return value.__class__ is int or value.__class__ is float


def _numbers(a, b, what: str) -> None:
    """Only numbers multiply: Python would repeat a string a billion times."""
    if not (_is_number(a) and _is_number(b)):
        raise LimitError(f"cannot {what} {_kind(a)} and {_kind(b)}")


def _kind(value) -> str:
    if _is_number(value):
        return "a number"
    return {str: "a string", bool: "a boolean", tuple: "a list", dict: "a record"}.get(
        value.__class__, "nothing" if value is None else "a value of an unknown kind")


def outside_value(value):
    """A value from outside the script (a custom command's result), within the limits."""
    cls = value.__class__
    if cls is str:
        return _text(value)
    if cls is int and not _INT64_MIN <= value <= _INT64_MAX:
        return float(value)
    if cls is float and value != value:
        raise LimitError("the value is not a number")
    if cls is tuple and len(value) > MAX_LIST_LENGTH:
        raise LimitError(f"a list of {len(value):,} items; lists hold at most "
                         f"{MAX_LIST_LENGTH:,}")
    return value


def _whole(value, check: tuple):
    """A count or priority computed during the call: a whole number in its range (Op.WHOLE)."""
    what, low, high = check
    if value.__class__ is float and value.is_integer():
        value = int(value)
    if value.__class__ is not int:
        shown = f"{value:g}" if value.__class__ is float else repr(value)
        raise LimitError(f"{what} must be a whole number, not {shown}")
    if not low <= value <= high:
        raise LimitError(f"{what} must be between {low} and {high}, not {value}")
    return value


def _compare(op: int, a, b) -> bool:
    if op == _LT:
        return a < b
    if op == _LE:
        return a <= b
    if op == _GT:
        return a > b
    return a >= b


_SAY_KINDS: Final = ("number", "amount", "digits", "duration")

#: Decoded queue shapes per (program, constant index): decoding one per queued
#: call showed in simulator profiles. Programs are immutable once loaded. Each
#: entry holds its program, so that a program freed and another one made at the
#: same address (the same id) cannot be given the first one's shapes.
_SHAPES: dict[tuple[int, int], tuple[Program, QueueShape]] = {}


def _queue_shape(program: Program, index: int) -> QueueShape:
    key = (id(program), index)
    entry = _SHAPES.get(key)
    if entry is None or entry[0] is not program:
        if len(_SHAPES) > 10_000:
            _SHAPES.clear()
        entry = _SHAPES[key] = (program, QueueShape.from_constant(program.constants[index]))
    return entry[1]


class Machine:
    """One call's script state: its program, variables and host."""

    __slots__ = ("program", "host", "variables", "step_budget", "steps", "trail", "_first_step",
                 "coverage", "_prepared", "_pc", "_phase_starts")

    def __init__(self, program: Program, host: Host, step_budget: int = DEFAULT_STEP_BUDGET):
        prepared = _prepare(program)
        self.program = program
        self.host = host
        # A program without variables shares one empty list (nothing stores into it).
        self.variables = list(prepared.initial) if prepared.initial else _NO_VARIABLES
        self.step_budget = step_budget
        #: Steps since the script last waited (see _WAITING_OPS): the budget
        #: bounds the work between waits, not the length of the call.
        self.steps = 0
        #: Phases started since the script last waited.
        self._phase_starts = 0
        #: The call path: phases entered and blocks jumped to, newest last
        #: (only the last TRAIL_LENGTH are kept; formatted if an error is
        #: reported). Most calls take one step (the inbound phase): it is
        #: kept apart, and the list made only for a second one.
        self._first_step: tuple | None = None
        self.trail: list | None = None
        self._prepared = prepared
        self._pc = 0
        #: Branch coverage, when wanted: the pc each conditional jump continued
        #: at (taken or not) -> how often. The simulator and `qscript test` read it.
        self.coverage: dict[int, int] | None = None

    @property
    def script_hash(self) -> str:
        """The program's source hash (hex), as call records name the script version."""
        return self._prepared.hash_hex

    @property
    def script_name(self) -> str:
        return self._prepared.source_name

    def has_phase(self, phase: str) -> bool:
        """Does the program have this phase (``inbound``, ``queue``, ``after``)?"""
        return phase in self._prepared.entry_steps

    def error(self, message: str, pc: int) -> ScriptError:
        trail = self.call_path()[-TRAIL_LENGTH:]
        return ScriptError(message, self.program, pc, [_trail_text(self.program, s) for s in trail])

    def call_path(self) -> list:
        """The steps of the call path kept so far, oldest first."""
        if self.trail is not None:
            return self.trail
        return [] if self._first_step is None else [self._first_step]

    def _note(self, step) -> None:
        trail = self.trail
        if trail is None:
            if self._first_step is None or self._first_step == step:
                self._first_step = step
                return
            trail = self.trail = [self._first_step]
        if trail[-1] == step:
            return  # a phase restarted at once: the same step again says nothing new
        trail.append(step)
        if len(trail) > 2 * TRAIL_LENGTH:
            del trail[:-TRAIL_LENGTH]

    def run(self, phase: str | None = None, pc: int | None = None) -> Generator[fx.Effect, Any, Outcome]:
        """Execute from a phase's entry point, or from ``pc``; yield effects.

        The generator is the dispatch loop itself (one frame): a chain of
        ``yield from`` generators cost a frame switch per level on every
        effect, which showed in simulator profiles.
        """
        if pc is None:
            step = self._prepared.entry_steps.get(phase or "inbound")
            if step is None:
                return _finished(Outcome.STOPPED)
            self._note(step)
            pc = step[1]
        self._phase_starts += 1
        if self._phase_starts > MAX_PHASE_STARTS_WITHOUT_WAITING:
            # A queue: section that requeues before it waits restarts itself
            # at once, forever; reported where it requeued (the last effect).
            return _failing(self.error(
                f"the call started a phase {MAX_PHASE_STARTS_WITHOUT_WAITING} times without "
                "waiting; does the queue: section reach `requeue to` before it waits?",
                self._pc))
        return self._execute(pc)

    def _execute(self, pc: int):  # noqa: C901 - one dispatch loop is the fastest in CPython
        prepared = self._prepared
        code = prepared.code
        fused = prepared.fused
        block_at = prepared.blocks_at
        constants = self.program.constants
        variables = self.variables
        host = self.host
        # stack.append / stack.pop are called directly, not through bound
        # methods kept in locals: compiled (mypyc), they are list primitives.
        stack: list = []
        budget = self.step_budget
        steps = self.steps
        coverage = self.coverage
        try:
            while True:
                op, arg = code[pc]
                self._pc = pc
                pc += 1
                steps += 1
                if op == _CONST:
                    stack.append(constants[arg])
                elif op == _LOAD:
                    stack.append(variables[arg])
                elif op == _STORE:
                    variables[arg] = stack.pop()
                elif op == _JUMP_IF_FALSE:
                    if not stack.pop():
                        pc = arg
                    if coverage is not None:
                        coverage[pc] = coverage.get(pc, 0) + 1
                elif op == _JUMP_IF_TRUE:
                    if stack.pop():
                        pc = arg
                    if coverage is not None:
                        coverage[pc] = coverage.get(pc, 0) + 1
                elif op == _JUMP:
                    if arg < pc:
                        if steps > budget:
                            self.steps = steps
                            raise self.error(f"the script ran {budget:,} steps without ending; "
                                             "it is probably looping", pc - 1)
                    if arg in block_at:
                        self._note(("goto", block_at[arg], pc - 1))
                    pc = arg
                elif op == _FACT:
                    stack.append(host.fact(arg))
                elif op == _EQ:
                    b = stack.pop()
                    stack.append(stack.pop() == b)
                elif op == _NE:
                    b = stack.pop()
                    stack.append(stack.pop() != b)
                elif _LT <= op <= _GE:
                    b = stack.pop()
                    stack.append(_compare(op, stack.pop(), b))
                elif op == _ADD:
                    b = stack.pop()
                    stack.append(_add(stack.pop(), b))
                elif op == _SUB:
                    b = stack.pop()
                    a = stack.pop()
                    stack.append(_number(a - b, a, b))
                elif op == _MUL:
                    b = stack.pop()
                    a = stack.pop()
                    _numbers(a, b, "multiply")
                    stack.append(_number(a * b, a, b))
                elif op == _DIV:
                    b = stack.pop()
                    a = stack.pop()
                    stack.append(_number(_divide(a, b), a, b))
                elif op == _MOD:
                    b = stack.pop()
                    a = stack.pop()
                    _numbers(a, b, "take the remainder of")
                    stack.append(a % b if b else 0)
                elif op == _NEG:
                    a = stack.pop()
                    stack.append(_number(-a, a, a))
                elif op == _NOT:
                    stack.append(not stack.pop())
                elif op == _IN:
                    container = stack.pop()
                    stack.append(stack.pop() in container)
                elif op == _NOT_IN:
                    container = stack.pop()
                    stack.append(stack.pop() not in container)
                elif op == _JUMP_IF_FALSE_KEEP:
                    if not stack[-1]:
                        pc = arg
                    else:
                        stack.pop()
                elif op == _JUMP_IF_TRUE_KEEP:
                    if stack[-1]:
                        pc = arg
                    else:
                        stack.pop()
                elif op == _DUP:
                    stack.append(stack[-1])
                elif op == _POP:
                    stack.pop()
                elif op == _CALL:
                    function_id, count = divmod(arg, 256)
                    args = tuple(stack[-count:]) if count else ()
                    del stack[len(stack) - count:]
                    pure = PURE_BY_ID.get(function_id)
                    stack.append(pure(*args) if pure is not None else host.metric(function_id, args))
                elif op == _SET_FACT:
                    host.set_fact(arg, stack.pop())
                elif op == _FIELD:
                    record = stack.pop()
                    name, missing = constants[arg]
                    if record:
                        stack.append(record.get(name, missing))
                    else:
                        stack.append(False if name == "found" else missing)
                elif op == _LIST:
                    items = tuple(stack[-arg:]) if arg else ()
                    del stack[len(stack) - arg:]
                    stack.append(items)
                elif op == _FORMAT:
                    stack.append(_text(format_value(stack.pop(), arg)))
                elif op == _CLOCK:
                    stack.append(host.clock())
                elif op == _WHOLE:
                    stack[-1] = _whole(stack[-1], constants[arg])
                elif op == _STOP:
                    self.steps = steps
                    return _OUTCOME_STOPPED
                else:
                    # Effects: suspend and let the session carry them out.
                    if op == _FUSED:
                        # operands that are all constants: the effect was built once
                        effect, op, pc, operands = fused[arg]
                        steps += operands
                    else:
                        effect = None
                    self.steps = steps
                    if steps > budget:
                        raise self.error(f"the script ran {budget:,} steps without ending", pc - 1)
                    if effect is None:
                        effect = _make_effect(self, op, arg, pc - 1, stack)
                    if op in _WAITING_OPS:
                        started = host.clock()
                        result = yield effect
                        if host.clock() > started:
                            # Time passed: the budget bounds work between waits.
                            self.steps = 0
                            self._phase_starts = 0
                    else:
                        result = yield effect
                    steps = self.steps
                    if op not in _RESULT_OPS:
                        continue  # nothing to push, the script goes on
                    outcome = _take_result(self, op, effect, result, stack)
                    if outcome is not None:
                        if outcome.__class__ is int:  # when-empty jump target
                            pc = outcome
                            self._note(("queue empty", block_at.get(pc, pc)))
                            continue
                        return outcome
        except (ScriptError, GeneratorExit):
            raise
        except RecursionError:
            raise self.error("the script is nested too deeply", self._pc) from None
        except LimitError as limit:  # (a name of its own: mypyc types each name once)
            raise self.error(str(limit), self._pc) from None
        except Exception as error:  # noqa: BLE001 - any failure becomes a script error
            raise self.error(f"{type(error).__name__}: {error}", self._pc) from error


_NO_VARIABLES: Final[list] = []

#: How many steps of the call path an error report shows.
TRAIL_LENGTH: Final = 10


def _trail_text(program: Program, step: tuple) -> str:
    """One step of the call path, as an error report shows it."""
    if step[0] == "goto":
        return f"goto {step[1]} (line {program.position(step[2])[0]})"
    if step[0] == "queue empty":
        return f"queue empty: goto {step[1]}"
    return f"{step[0]} (line {program.position(step[1])[0]})"


_CONST: Final = int(Op.CONST)
_LOAD: Final = int(Op.LOAD)
_STORE: Final = int(Op.STORE)
_FACT: Final = int(Op.FACT)
_SET_FACT: Final = int(Op.SET_FACT)
_POP: Final = int(Op.POP)
_DUP: Final = int(Op.DUP)
_FIELD: Final = int(Op.FIELD)
_LIST: Final = int(Op.LIST)
_FORMAT: Final = int(Op.FORMAT)
_CLOCK: Final = int(Op.CLOCK)
_WHOLE: Final = int(Op.WHOLE)
_ADD: Final = int(Op.ADD)
_SUB: Final = int(Op.SUB)
_MUL: Final = int(Op.MUL)
_DIV: Final = int(Op.DIV)
_MOD: Final = int(Op.MOD)
_NEG: Final = int(Op.NEG)
_NOT: Final = int(Op.NOT)
_EQ: Final = int(Op.EQ)
_NE: Final = int(Op.NE)
_LT: Final = int(Op.LT)
_GE: Final = int(Op.GE)
_IN: Final = int(Op.IN)
_NOT_IN: Final = int(Op.NOT_IN)
_CALL: Final = int(Op.CALL)
_JUMP: Final = int(Op.JUMP)
_JUMP_IF_FALSE: Final = int(Op.JUMP_IF_FALSE)
_JUMP_IF_TRUE: Final = int(Op.JUMP_IF_TRUE)
_JUMP_IF_FALSE_KEEP: Final = int(Op.JUMP_IF_FALSE_KEEP)
_JUMP_IF_TRUE_KEEP: Final = int(Op.JUMP_IF_TRUE_KEEP)
_STOP: Final = int(Op.STOP)

_ANSWER: Final = int(Op.ANSWER)
_HANGUP: Final = int(Op.HANGUP)
_PLAY: Final = int(Op.PLAY)
_PLAY_HOT: Final = int(Op.PLAY_HOT)
_SAY: Final = int(Op.SAY)
_MUSIC: Final = int(Op.MUSIC)
_WAIT: Final = int(Op.WAIT)
_WAIT_UNTIL: Final = int(Op.WAIT_UNTIL)
_MENU_INPUT: Final = int(Op.MENU_INPUT)
_COLLECT_INPUT: Final = int(Op.COLLECT_INPUT)
_QUEUE: Final = int(Op.QUEUE)
_REQUEUE: Final = int(Op.REQUEUE)
_ADD_GROUP: Final = int(Op.ADD_GROUP)
_REMOVE_GROUP: Final = int(Op.REMOVE_GROUP)
_ANNOUNCE: Final = int(Op.ANNOUNCE)
_OFFER_CALLBACK: Final = int(Op.OFFER_CALLBACK)
_VOICEMAIL: Final = int(Op.VOICEMAIL)
_TRANSFER: Final = int(Op.TRANSFER)
_LOOKUP: Final = int(Op.LOOKUP)
_COMMAND: Final = int(Op.COMMAND)
_LOG: Final = int(Op.LOG)
_SAVE: Final = int(Op.SAVE)
# Enum members as module constants (an enum attribute lookup costs ~70 ns).
_OUTCOME_STOPPED: Final = Outcome.STOPPED
_OUTCOME_HANGUP: Final = Outcome.HANGUP
_OUTCOME_TRANSFERRED: Final = Outcome.TRANSFERRED
_OUTCOME_QUEUED: Final = Outcome.QUEUED
_OUTCOME_REQUEUED: Final = Outcome.REQUEUED
_OUTCOME_CALLBACK: Final = Outcome.CALLBACK

_LE: Final = int(Op.LE)
_GT: Final = int(Op.GT)

#: A runtime-only instruction (never in a file): an effect whose operands are
#: all constants, built once per program. Its argument indexes the program's
#: fused-effect table.
_FUSED: Final = -1


class _Prepared:
    """What the VM derives from a program once, for all its calls.

    ``code`` is the program's code with each effect whose operands are all
    constants (``CONST "main"; QUEUE`` …) replaced, at its first instruction,
    by one ``_FUSED`` instruction: ``fused[arg]`` is ``(effect, op, next pc,
    instructions skipped)``. The effect objects are immutable in use (nobody
    writes to an effect) so every call shares them; the pcs of all other
    instructions, the step counts and error positions stay as compiled.
    """

    __slots__ = ("program", "code", "fused", "initial", "blocks_at", "hash_hex",
                 "source_name", "entry_steps")

    def __init__(self, program: Program):
        self.program = program
        self.hash_hex = program.hash_hex
        self.source_name = program.source_name
        #: The call-path step of entering each phase (shared by every call).
        self.entry_steps = {name: (name, pc) for name, pc in program.entries.items() if pc >= 0}
        self.initial = tuple(v.initial for v in program.variables)
        self.blocks_at = {pc: name for name, pc in program.blocks.items()}
        self.code = [(int(op), arg) for op, arg in program.code]
        self.fused: list[tuple] = []
        self._fuse_constant_effects()

    def _fuse_constant_effects(self) -> None:
        code = self.program.code
        targets = _jump_targets(code) | set(self.program.entries.values())
        for pc, (op, arg) in enumerate(code):
            count = _constant_operands(self.program, op, arg)
            if count is None or pc < count:
                continue
            first = pc - count
            if any(code[i][0] != Op.CONST for i in range(first, pc)):
                continue
            if any(i in targets for i in range(first + 1, pc + 1)):
                continue  # something jumps into the middle: keep it as compiled
            stack = [self.program.constants[code[i][1]] for i in range(first, pc)]
            try:
                effect = _make_effect(_Builder(self.program), op, arg, pc, stack)
            except Exception:  # noqa: BLE001 - e.g. a negative timeout in a hand-made file
                continue  # left as compiled: running it reports the error where it is
            self.code[first] = (_FUSED, len(self.fused))
            self.fused.append((effect, int(op), pc + 1, count))


class _Builder:
    """Stands in for a Machine while effects are built at load time."""

    def __init__(self, program: Program):
        self.program = program

    def error(self, message: str, pc: int) -> ScriptError:
        return ScriptError(message, self.program, pc, [])


def _jump_targets(code) -> set[int]:
    return {arg for op, arg in code if op in _JUMP_OPS}


_JUMP_OPS = frozenset({Op.JUMP, Op.JUMP_IF_FALSE, Op.JUMP_IF_TRUE, Op.JUMP_IF_FALSE_KEEP,
                       Op.JUMP_IF_TRUE_KEEP})

#: Operands (values popped) of the effects that can be built once per program.
#: Left out: WAIT_UNTIL (reads the clock), LOOKUP and COMMAND (results go
#: through the host), and the queue family, counted from their shape.
_FIXED_OPERANDS = {
    Op.ANSWER: 0, Op.HANGUP: 0, Op.ANNOUNCE: 0, Op.WAIT: 1, Op.PLAY_HOT: 1, Op.MUSIC: 1,
    Op.TRANSFER: 1, Op.REMOVE_GROUP: 1, Op.LOG: 1, Op.MENU_INPUT: 2, Op.SAY: 2, Op.SAVE: 2,
    Op.OFFER_CALLBACK: 3, Op.VOICEMAIL: 3, Op.COLLECT_INPUT: 5,
}


def _constant_operands(program: Program, op: int, arg: int) -> int | None:
    """How many operands the effect pops, if it may be built once; else None."""
    if op == Op.PLAY:
        return arg
    if op in (Op.QUEUE, Op.REQUEUE, Op.ADD_GROUP):
        shape = _queue_shape(program, arg)
        return shape.groups + len(shape.options)
    return _FIXED_OPERANDS.get(Op(op))


_PREPARED: dict[int, _Prepared] = {}
_LAST_PREPARED: Final[list[_Prepared | None]] = [None]


def reads_caller_history(program: Program) -> bool:
    """Does the script ask who served the caller before?

    (`queue to ... prefer previous agent`, or the ``call.previous_agent``
    fact.) A simulation keeps callers' history only when a script does.
    """
    previous_agent = next(f.id for f in FACTS if f.qualified == "call.previous_agent")
    for op, arg in program.code:
        if op == Op.FACT and arg == previous_agent:
            return True
        if op in (Op.QUEUE, Op.REQUEUE) and \
                "prefer_previous" in _queue_shape(program, arg).options:
            return True
    return False


def _prepare(program: Program) -> _Prepared:
    """The program's prepared form, made once (programs are immutable once loaded)."""
    last = _LAST_PREPARED[0]
    if last is not None and last.program is program:
        return last  # calls mostly come for the program of the call before
    prepared = _PREPARED.get(id(program))
    if prepared is None or prepared.program is not program:
        if len(_PREPARED) > 1000:
            _PREPARED.clear()
        prepared = _PREPARED[id(program)] = _Prepared(program)
    _LAST_PREPARED[0] = prepared
    return prepared


def _failing(error: ScriptError) -> Generator[fx.Effect, Any, Outcome]:
    """A run that fails before its first instruction (reported like any script error)."""
    raise error
    yield  # noqa: unreachable - makes this a generator


def _finished(outcome: Outcome):
    """A run that ends at once (a phase the script does not have)."""
    return outcome
    yield  # noqa: unreachable - makes this a generator


#: The longest a wait or a timeout computed during the call may be.
MAX_WAIT_SECONDS: Final = 86_400.0


def _seconds(value, what: str) -> float:
    """A duration computed during the call, as a driver can wait it.

    A negative one waits no time (the moment has passed); one that is not a
    number, or longer than a day (an infinite, unknown estimated wait), is a
    run-time error: waiting it would leave the caller in silence.
    """
    if not _is_number(value):
        raise LimitError(f"{what} must be a duration, not {_kind(value)}")
    if value != value:
        raise LimitError(f"{what} is not a number")
    if value > MAX_WAIT_SECONDS:
        shown = "unknown (infinite)" if math.isinf(value) else format_duration(value)
        raise LimitError(f"{what} must be at most 1 day, not {shown}")
    return max(0.0, float(value))


def _pop_many(stack: list, count: int) -> tuple:
    if not count:
        return ()
    values = tuple(stack[-count:])
    del stack[len(stack) - count:]
    return values


def _make_effect(machine: "Machine | _Builder", op: int, arg: int, pc: int, stack: list) -> fx.Effect:
    """Pop an effect instruction's operands and build the effect it asks for."""
    pop = stack.pop
    if op == _PLAY:
        return fx.Play(pc, _pop_many(stack, arg))
    if op == _ANSWER:
        return fx.Answer(pc)
    if op in (_QUEUE, _REQUEUE, _ADD_GROUP):
        return _queue_effect(machine, op, arg, pc, stack)
    if op == _WAIT:
        return fx.Wait(pc, _seconds(pop(), "a wait"))
    if op == _WAIT_UNTIL:
        assert isinstance(machine, Machine), "WAIT_UNTIL reads the clock: never built ahead"
        return fx.Wait(pc, _seconds(pop() - machine.host.clock(), "the interval of every"))
    if op == _ANNOUNCE:
        return fx.Announce(pc, "position" if arg == 0 else "wait")
    if op == _MENU_INPUT:
        timeout = _seconds(pop(), "a timeout")
        return fx.MenuInput(pc, pop(), timeout)
    if op == _COLLECT_INPUT:
        timeout, terminator, maximum, minimum, prompt = pop(), pop(), pop(), pop(), pop()
        return fx.CollectInput(pc, prompt, int(minimum), int(maximum), terminator,
                               _seconds(timeout, "a timeout"))
    if op == _SAY:
        currency = pop()
        return fx.Say(pc, _SAY_KINDS[arg], pop(), currency)
    if op == _PLAY_HOT:
        return fx.PlayHot(pc, pop())
    if op == _MUSIC:
        return fx.Music(pc, pop())
    if op == _HANGUP:
        return fx.Hangup(pc)
    if op == _TRANSFER:
        return fx.Transfer(pc, pop())
    if op == _REMOVE_GROUP:
        return fx.RemoveGroup(pc, pop())
    if op == _OFFER_CALLBACK:
        timeout, key, prompt = _seconds(pop(), "a timeout"), pop(), pop()
        return fx.OfferCallback(pc, prompt, key, timeout)
    if op == _VOICEMAIL:
        max_seconds, prompt, address = _seconds(pop(), "a voicemail's max duration"), pop(), pop()
        return fx.Voicemail(pc, address, prompt, max_seconds)
    if op == _LOOKUP:
        return fx.Lookup(pc, machine.program.constants[arg], pop())
    if op == _COMMAND:
        name, count = machine.program.constants[arg]
        return fx.Command(pc, name, _pop_many(stack, count))
    if op == _LOG:
        return fx.Log(pc, pop())
    if op == _SAVE:
        value = pop()
        return fx.Save(pc, pop(), value)
    raise machine.error(f"unknown instruction {op}", pc)


#: Effects that wait for time to pass or for the caller: when the call's clock
#: moved on while one was carried out, the step budget starts again.
_WAITING_OPS: Final = frozenset(int(op) for op in (
    _ANSWER, _PLAY, _PLAY_HOT, _SAY, _WAIT, _WAIT_UNTIL, _MENU_INPUT, _COLLECT_INPUT,
    _ANNOUNCE, _OFFER_CALLBACK, _VOICEMAIL))

#: Effects whose result the script uses or that end the run (see _take_result).
_RESULT_OPS: Final = frozenset(int(op) for op in (
    _MENU_INPUT, _COLLECT_INPUT, _QUEUE, _REQUEUE, _HANGUP, _TRANSFER,
    _OFFER_CALLBACK, _LOOKUP, _COMMAND))


def _take_result(machine: "Machine", op: int, effect: fx.Effect, result, stack: list):
    """Push an effect's result; return an Outcome that ends the run, a pc to jump to, or None."""
    if op == _MENU_INPUT or op == _COLLECT_INPUT:
        stack.append(result or "")
    elif op == _QUEUE or op == _REQUEUE:
        queue = cast(fx.Queue, effect)
        if result == "empty" and queue.has_when_empty:
            return queue.when_empty_pc
        return _OUTCOME_REQUEUED if op == _REQUEUE else _OUTCOME_QUEUED
    elif op == _HANGUP:
        return _OUTCOME_HANGUP
    elif op == _TRANSFER:
        return _OUTCOME_TRANSFERRED
    elif op == _OFFER_CALLBACK:
        if result:
            if machine.coverage is not None:
                # The compiled `JUMP_IF_FALSE; STOP` after the offer is not run
                # when accepted; count its "accepted" branch here.
                continuation = effect.pc + 2
                machine.coverage[continuation] = machine.coverage.get(continuation, 0) + 1
            return _OUTCOME_CALLBACK
        stack.append(False)
    elif op == _LOOKUP:
        stack.append({"found": True, **result} if result else {"found": False})
    elif op == _COMMAND:
        stack.append(outside_value(result))
    return None


def _queue_effect(machine: "Machine | _Builder", op: int, arg: int, pc: int, stack: list) -> fx.Effect:
    shape = _queue_shape(machine.program, arg)
    options = dict.fromkeys(QUEUE_OPTION_ORDER)
    options.update(zip(shape.options, _pop_many(stack, len(shape.options))))
    groups = _pop_many(stack, shape.groups)
    if op == _ADD_GROUP:
        return fx.AddGroup(pc, groups[0], options["priority"], options["credit"])
    effect_type = fx.Requeue if op == _REQUEUE else fx.Queue
    return effect_type(pc, groups, options["priority"], options["credit"], options["target"],
                       options["prefer_previous"], shape.when_empty >= 0, shape.when_empty)
