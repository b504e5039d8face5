"""Branch coverage: which way each condition of a script went, by source line.

The VM counts, for every conditional jump it runs, the pc it continued at
(the jump's target, or the next instruction): ``{pc: count}`` per program.
A count belongs to the *condition* — the line of the jump — not to the line
of the pc it continued at, which is a branch body, the statement after an
``if``, or the next test of a menu. :func:`branch_points` says which jump
each continuation belongs to.

Both ``qscript simulate`` (the "branches taken" table) and ``qscript test``
(the branches no scenario took) read coverage this way.
"""

from __future__ import annotations

from dataclasses import dataclass

from qscript.bytecode import Op, Program


@dataclass(frozen=True)
class BranchPoint:
    """A conditional jump: at ``pc`` (on ``line``), continuing at ``taken`` or ``through``."""

    pc: int
    line: int
    taken: int
    through: int
    #: Which value of the condition makes the jump: False for JUMP_IF_FALSE.
    taken_when: bool


def branch_points(program: Program) -> list[BranchPoint]:
    """Every conditional jump of the program, in pc order."""
    points = []
    for pc, (op, arg) in enumerate(program.code):
        if op == Op.JUMP_IF_FALSE or op == Op.JUMP_IF_TRUE:
            points.append(BranchPoint(pc, program.position(pc)[0], arg, pc + 1,
                                      op == Op.JUMP_IF_TRUE))
    return points


def branches_by_line(program: Program, coverage: dict[int, int]) -> list[dict]:
    """How often the conditions on each line were true and false.

    ``{line, source, count, true, false}`` for each line with a condition
    that ran, in line order; ``count`` is ``true + false``. A line with
    several conditions (a menu tests each key in turn; ``a and b``) adds
    them up. Conditions sharing a continuation (the jumps of ``a and b`` to
    one ``else``) count it once.
    """
    lines = program.source_text.split("\n")  # lines as the lexer counts them
    by_line: dict[int, dict[str, int]] = {}
    claimed: set[int] = set()
    for point in branch_points(program):
        for pc, when in ((point.taken, point.taken_when), (point.through, not point.taken_when)):
            if pc in claimed:
                continue
            claimed.add(pc)
            count = coverage.get(pc, 0)
            if count:
                row = by_line.setdefault(point.line, {"true": 0, "false": 0})
                row["true" if when else "false"] += count
    return [{"line": line, "source": lines[line - 1].strip() if 0 < line <= len(lines) else "",
             "count": row["true"] + row["false"], "true": row["true"], "false": row["false"]}
            for line, row in sorted(by_line.items())]
