"""The disassembler: a program's instructions beside the source lines they came from.

::

    inbound:
      3 |     answer
         0  ANSWER
      4 |     queue to "main"
         1  CONST          0  ; "main"
         2  QUEUE          1  ; groups=1
"""

from __future__ import annotations

from .builtins import FACTS, FUNCTIONS
from .bytecode import JUMPS, Op, Program, QueueShape
from .source import Source


def describe_argument(program: Program, op: Op, arg: int) -> str:
    """A human reading of an instruction's argument, for the comment column."""
    constants = program.constants
    if op == Op.FIELD:
        return constants[arg][0]
    if op in (Op.CONST, Op.LOOKUP):
        return _show(constants[arg])
    if op in (Op.LOAD, Op.STORE):
        return program.variables[arg].name
    if op in (Op.FACT, Op.SET_FACT):
        return FACTS[arg].qualified if 0 <= arg < len(FACTS) else "?"
    if op == Op.CALL:
        function_id, count = divmod(arg, 256)
        name = FUNCTIONS[function_id].name if function_id < len(FUNCTIONS) else "?"
        return f"{name}/{count}"
    if op in (Op.QUEUE, Op.REQUEUE, Op.ADD_GROUP):
        shape = QueueShape.from_constant(constants[arg])
        text = f"groups={shape.groups}"
        if shape.options:
            text += " options=" + ",".join(shape.options)
        if shape.when_empty >= 0:
            text += f" when_empty->{shape.when_empty}"
        return text
    if op == Op.WHOLE:
        what, low, high = program.constants[arg]
        return f"{what}, {low} to {high}"
    if op == Op.COMMAND:
        name, count = constants[arg]
        return f"{name}/{count}"
    if op in JUMPS:
        return f"-> {arg}"
    if op == Op.SAY:
        return ("number", "amount", "digits", "duration")[arg] if 0 <= arg < 4 else "?"
    if op == Op.ANNOUNCE:
        return "position" if arg == 0 else "wait"
    return ""


def _show(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


_TAKES_ARGUMENT = {Op.CONST, Op.LOAD, Op.STORE, Op.FACT, Op.SET_FACT, Op.FIELD, Op.LIST,
                   Op.FORMAT, Op.CALL, Op.PLAY, Op.SAY, Op.QUEUE, Op.REQUEUE, Op.ADD_GROUP,
                   Op.ANNOUNCE, Op.LOOKUP, Op.COMMAND, Op.WHOLE} | JUMPS


def disassemble(program: Program) -> str:
    """The whole program as text, with each source line before its instructions."""
    lines_of_source = Source(program.source_text).lines  # numbered as the lexer numbers them
    labels = {pc: f"{phase}:" if phase != "after" else "after call:"
              for phase, pc in program.entries.items() if pc >= 0}
    labels.update({pc: f"block {name}:" for name, pc in program.blocks.items()})
    map_index = 0
    source_map = program.source_map
    last_line = None
    out = [f"; {program.source_name}  sha256:{program.hash_hex[:16]}  "
           f"{len(program.code)} instructions, {len(program.constants)} constants, "
           f"{len(program.variables)} variables"]
    width = len(str(max(1, len(program.code) - 1)))
    for pc, (op, arg) in enumerate(program.code):
        if pc in labels:
            out.append("")
            out.append(labels[pc])
            last_line = None
        while map_index < len(source_map) and source_map[map_index][0] <= pc:
            line = source_map[map_index][1]
            if line != last_line and 0 < line <= len(lines_of_source):
                out.append(f"  {line:>4} | {lines_of_source[line - 1]}")
                last_line = line
            map_index += 1
        op = Op(op)
        argument = f"{arg:>6}" if op in _TAKES_ARGUMENT else "      "
        comment = describe_argument(program, op, arg)
        text = f"  {pc:>{width + 4}}  {op.name:<18}{argument}"
        out.append(f"{text}  ; {comment}" if comment else text.rstrip())
    return "\n".join(out) + "\n"
