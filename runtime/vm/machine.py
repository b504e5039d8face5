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
from collections import deque
from enum import Enum
from typing import Any, Generator, Protocol

from qscript.builtins import FUNCTIONS
from qscript.bytecode import QUEUE_OPTION_ORDER, Op, Program, QueueShape

from . import effects as fx

DEFAULT_STEP_BUDGET = 200_000


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
    return int(value) if value.is_integer() else value


_PURE_FUNCTIONS = {
    "len": lambda value: len(value) if value is not None else 0,
    "starts_with": lambda text, prefix: text.startswith(prefix),
    "ends_with": lambda text, suffix: text.endswith(suffix),
    "to_number": _to_number,
    "luhn_valid": _luhn_valid,
    "seconds": lambda duration: duration,
}
#: function id -> python callable for pure functions; metric functions go to the host.
PURE_BY_ID = {f.id: _PURE_FUNCTIONS[f.name] for f in FUNCTIONS if f.name in _PURE_FUNCTIONS}


def format_duration(seconds: float) -> str:
    if seconds == math.inf:
        return "unknown"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
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


def _compare(op: int, a, b) -> bool:
    if op == Op.LT:
        return a < b
    if op == Op.LE:
        return a <= b
    if op == Op.GT:
        return a > b
    return a >= b


_SAY_KINDS = ("number", "amount", "digits", "duration")

#: Decoded queue shapes per (program, constant index): decoding one per queued
#: call showed in simulator profiles. Programs are immutable once loaded.
_SHAPES: dict[tuple[int, int], QueueShape] = {}


def _queue_shape(program: Program, index: int) -> QueueShape:
    key = (id(program), index)
    shape = _SHAPES.get(key)
    if shape is None or len(_SHAPES) > 10_000:
        if len(_SHAPES) > 10_000:
            _SHAPES.clear()
        shape = _SHAPES[key] = QueueShape.from_constant(program.constants[index])
    return shape


class Machine:
    """One call's script state: its program, variables and host."""

    def __init__(self, program: Program, host: Host, step_budget: int = DEFAULT_STEP_BUDGET):
        self.program = program
        self.host = host
        self.variables = [v.initial for v in program.variables]
        self.step_budget = step_budget
        self.steps = 0
        self.trail: deque[str] = deque(maxlen=10)
        self._block_at = _blocks_by_pc(program)
        #: Branch coverage, when wanted: the pc each conditional jump continued
        #: at (taken or not) -> how often. The simulator and `qscript test` read it.
        self.coverage: dict[int, int] | None = None

    def error(self, message: str, pc: int) -> ScriptError:
        return ScriptError(message, self.program, pc, [str(step) for step in self.trail])

    def run(self, phase: str | None = None, pc: int | None = None) -> Generator[fx.Effect, Any, Outcome]:
        """Execute from a phase's entry point, or from ``pc``; yield effects.

        The generator is the dispatch loop itself (one frame): a chain of
        ``yield from`` generators cost a frame switch per level on every
        effect, which showed in simulator profiles.
        """
        if pc is None:
            pc = self.program.entries.get(phase or "inbound", -1)
            if pc < 0:
                return _finished(Outcome.STOPPED)
            self.trail.append(_TrailEntry(phase, self.program, pc))
        return self._execute(pc)

    def _execute(self, pc: int):  # noqa: C901 - one dispatch loop is the fastest in CPython
        code = self.program.code
        constants = self.program.constants
        variables = self.variables
        host = self.host
        stack: list = []
        push, pop = stack.append, stack.pop
        budget = self.step_budget
        steps = self.steps
        coverage = self.coverage
        try:
            while True:
                op, arg = code[pc]
                self._pc = pc
                pc += 1
                steps += 1
                if op == Op.CONST:
                    push(constants[arg])
                elif op == Op.LOAD:
                    push(variables[arg])
                elif op == Op.STORE:
                    variables[arg] = pop()
                elif op == Op.JUMP_IF_FALSE:
                    if not pop():
                        pc = arg
                    if coverage is not None:
                        coverage[pc] = coverage.get(pc, 0) + 1
                elif op == Op.JUMP_IF_TRUE:
                    if pop():
                        pc = arg
                    if coverage is not None:
                        coverage[pc] = coverage.get(pc, 0) + 1
                elif op == Op.JUMP:
                    if arg < pc:
                        if steps > budget:
                            self.steps = steps
                            raise self.error(f"the script ran {budget:,} steps without ending; "
                                             "it is probably looping", pc - 1)
                    if arg in self._block_at:
                        self.trail.append(f"goto {self._block_at[arg]} "
                                          f"(line {self.program.position(pc - 1)[0]})")
                    pc = arg
                elif op == Op.FACT:
                    push(host.fact(arg))
                elif op == Op.EQ:
                    b = pop()
                    push(pop() == b)
                elif op == Op.NE:
                    b = pop()
                    push(pop() != b)
                elif Op.LT <= op <= Op.GE:
                    b = pop()
                    push(_compare(op, pop(), b))
                elif op == Op.ADD:
                    b = pop()
                    push(pop() + b)
                elif op == Op.SUB:
                    b = pop()
                    push(pop() - b)
                elif op == Op.MUL:
                    b = pop()
                    push(pop() * b)
                elif op == Op.DIV:
                    b = pop()
                    push(_divide(pop(), b))
                elif op == Op.MOD:
                    b = pop()
                    a = pop()
                    push(a % b if b else 0)
                elif op == Op.NEG:
                    push(-pop())
                elif op == Op.NOT:
                    push(not pop())
                elif op == Op.IN:
                    container = pop()
                    push(pop() in container)
                elif op == Op.NOT_IN:
                    container = pop()
                    push(pop() not in container)
                elif op == Op.JUMP_IF_FALSE_KEEP:
                    if not stack[-1]:
                        pc = arg
                    else:
                        pop()
                elif op == Op.JUMP_IF_TRUE_KEEP:
                    if stack[-1]:
                        pc = arg
                    else:
                        pop()
                elif op == Op.DUP:
                    push(stack[-1])
                elif op == Op.POP:
                    pop()
                elif op == Op.CALL:
                    function_id, count = divmod(arg, 256)
                    args = tuple(stack[-count:]) if count else ()
                    del stack[len(stack) - count:]
                    pure = PURE_BY_ID.get(function_id)
                    push(pure(*args) if pure is not None else host.metric(function_id, args))
                elif op == Op.SET_FACT:
                    host.set_fact(arg, pop())
                elif op == Op.FIELD:
                    record = pop()
                    name, missing = constants[arg]
                    if record:
                        push(record.get(name, missing))
                    else:
                        push(False if name == "found" else missing)
                elif op == Op.LIST:
                    items = tuple(stack[-arg:]) if arg else ()
                    del stack[len(stack) - arg:]
                    push(items)
                elif op == Op.FORMAT:
                    push(format_value(pop(), arg))
                elif op == Op.CLOCK:
                    push(host.clock())
                elif op == Op.STOP:
                    self.steps = steps
                    return Outcome.STOPPED
                else:
                    # Effects: suspend and let the session carry them out.
                    self.steps = steps
                    if steps > budget:
                        raise self.error(f"the script ran {budget:,} steps without ending", pc - 1)
                    effect = _make_effect(self, op, arg, pc - 1, stack)
                    if effect.__class__ is Outcome:
                        return effect  # an effect that ends the run without asking (none today)
                    result = yield effect
                    outcome = _take_result(self, op, effect, result, stack)
                    steps = self.steps
                    if outcome is not None:
                        if isinstance(outcome, int):  # when-empty jump target
                            pc = outcome
                            self.trail.append(f"queue empty: goto {self._block_at.get(pc, pc)}")
                            continue
                        return outcome



        except (ScriptError, GeneratorExit):
            raise
        except RecursionError:
            raise self.error("the script is nested too deeply", self._pc) from None
        except Exception as error:  # noqa: BLE001 - any failure becomes a script error
            raise self.error(f"{type(error).__name__}: {error}", self._pc) from error

class _TrailEntry:
    """A step of the call path, formatted only if an error is reported."""

    __slots__ = ("phase", "program", "pc")

    def __init__(self, phase: str, program: Program, pc: int):
        self.phase, self.program, self.pc = phase, program, pc

    def __str__(self) -> str:
        return f"{self.phase} (line {self.program.position(self.pc)[0]})"


_BLOCKS: dict[int, tuple[Program, dict[int, str]]] = {}


def _blocks_by_pc(program: Program) -> dict[int, str]:
    """Block names by their first pc, computed once per program (not per call)."""
    cached = _BLOCKS.get(id(program))
    if cached is None or cached[0] is not program:
        if len(_BLOCKS) > 1000:
            _BLOCKS.clear()
        cached = _BLOCKS[id(program)] = (program, {pc: n for n, pc in program.blocks.items()})
    return cached[1]


def _finished(outcome: Outcome):
    """A run that ends at once (a phase the script does not have)."""
    return outcome
    yield  # noqa: unreachable - makes this a generator


def _pop_many(stack: list, count: int) -> tuple:
    if not count:
        return ()
    values = tuple(stack[-count:])
    del stack[len(stack) - count:]
    return values


def _make_effect(machine: "Machine", op: int, arg: int, pc: int, stack: list) -> fx.Effect:
    """Pop an effect instruction's operands and build the effect it asks for."""
    pop = stack.pop
    if op == Op.PLAY:
        return fx.Play(pc, _pop_many(stack, arg))
    if op == Op.ANSWER:
        return fx.Answer(pc)
    if op in (Op.QUEUE, Op.REQUEUE, Op.ADD_GROUP):
        return _queue_effect(machine, op, arg, pc, stack)
    if op == Op.WAIT:
        return fx.Wait(pc, pop())
    if op == Op.WAIT_UNTIL:
        return fx.Wait(pc, max(0.0, pop() - machine.host.clock()))
    if op == Op.ANNOUNCE:
        return fx.Announce(pc, "position" if arg == 0 else "wait")
    if op == Op.MENU_INPUT:
        timeout = pop()
        return fx.MenuInput(pc, pop(), timeout)
    if op == Op.COLLECT_INPUT:
        timeout, terminator, maximum, minimum, prompt = pop(), pop(), pop(), pop(), pop()
        return fx.CollectInput(pc, prompt, int(minimum), int(maximum), terminator, timeout)
    if op == Op.SAY:
        currency = pop()
        return fx.Say(pc, _SAY_KINDS[arg], pop(), currency)
    if op == Op.PLAY_HOT:
        return fx.PlayHot(pc, pop())
    if op == Op.MUSIC:
        return fx.Music(pc, pop())
    if op == Op.HANGUP:
        return fx.Hangup(pc)
    if op == Op.TRANSFER:
        return fx.Transfer(pc, pop())
    if op == Op.REMOVE_GROUP:
        return fx.RemoveGroup(pc, pop())
    if op == Op.OFFER_CALLBACK:
        timeout, key, prompt = pop(), pop(), pop()
        return fx.OfferCallback(pc, prompt, key, timeout)
    if op == Op.VOICEMAIL:
        max_seconds, prompt, address = pop(), pop(), pop()
        return fx.Voicemail(pc, address, prompt, max_seconds)
    if op == Op.LOOKUP:
        return fx.Lookup(pc, machine.program.constants[arg], pop())
    if op == Op.COMMAND:
        name, count = machine.program.constants[arg]
        return fx.Command(pc, name, _pop_many(stack, count))
    if op == Op.LOG:
        return fx.Log(pc, pop())
    if op == Op.SAVE:
        value = pop()
        return fx.Save(pc, pop(), value)
    raise machine.error(f"unknown instruction {op}", pc)


def _take_result(machine: "Machine", op: int, effect: fx.Effect, result, stack: list):
    """Push an effect's result; return an Outcome that ends the run, a pc to jump to, or None."""
    if op == Op.MENU_INPUT or op == Op.COLLECT_INPUT:
        stack.append(result or "")
    elif op == Op.QUEUE or op == Op.REQUEUE:
        if result == "empty" and effect.has_when_empty:
            return effect.when_empty_pc
        return Outcome.REQUEUED if op == Op.REQUEUE else Outcome.QUEUED
    elif op == Op.HANGUP:
        return Outcome.HANGUP
    elif op == Op.TRANSFER:
        return Outcome.TRANSFERRED
    elif op == Op.OFFER_CALLBACK:
        if result:
            if machine.coverage is not None:
                # The compiled `JUMP_IF_FALSE; STOP` after the offer is not run
                # when accepted; count its "accepted" branch here.
                continuation = effect.pc + 2
                machine.coverage[continuation] = machine.coverage.get(continuation, 0) + 1
            return Outcome.CALLBACK
        stack.append(False)
    elif op == Op.LOOKUP:
        stack.append({"found": True, **result} if result else {"found": False})
    elif op == Op.COMMAND:
        stack.append(result)
    return None


def _queue_effect(machine: "Machine", op: int, arg: int, pc: int, stack: list) -> fx.Effect:
    shape = _queue_shape(machine.program, arg)
    options = dict.fromkeys(QUEUE_OPTION_ORDER)
    options.update(zip(shape.options, _pop_many(stack, len(shape.options))))
    groups = _pop_many(stack, shape.groups)
    if op == Op.ADD_GROUP:
        return fx.AddGroup(pc, groups[0], options["priority"], options["credit"])
    effect_type = fx.Requeue if op == Op.REQUEUE else fx.Queue
    return effect_type(pc, groups, options["priority"], options["credit"], options["target"],
                       options["prefer_previous"], shape.when_empty >= 0, shape.when_empty)
