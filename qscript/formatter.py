"""The canonical formatter behind ``qscript fmt``.

:func:`format_source` parses a script and prints it back in the one canonical
layout; :func:`format_script` prints an already parsed :class:`~qscript.ast.Script`.
The output parses to the same AST as the input (spans aside), formatting it
again changes nothing, and every ``#`` comment survives exactly once.

Canonical layout:

* four spaces a level, one statement a line, no trailing whitespace, exactly
  one newline at the end of the file;
* top-level sections (and constants) in source order with one blank line
  between them; consecutive ``const`` lines stay together unless the source
  separated them. Inside blocks a run of blank lines becomes one blank line,
  and none is kept at the start of a block or before ``elif``/``else``;
* options in the order written, with single spaces; one space after commas,
  around binary operators and ``=``; ``after call:``; digit keys bare and
  ``"*"``/``"#"`` quoted; strings re-escaped; durations and times as written;
* the fewest parentheses that parse back to the same tree.

Long lines are never wrapped: a statement always prints on one line, even a
statement that was wrapped inside brackets in the source.

Comments:

* a comment after code stays at the end of that line, two spaces after it;
* a comment on a line of its own stays before the line that follows it,
  indented like that line. Where blocks end, its column decides which block it
  closes: it goes to the end of the innermost block whose statements start at
  or left of it;
* a comment inside a statement that spans several lines moves to a line of
  its own just before the statement (a line can carry only one comment).

Some positions are not in the AST: the ``elif`` and ``else`` keywords, and a
")" that closes a wrapped statement on a line of its own. Given the source
text (as :func:`format_source` passes it), the formatter reads them there;
without it, it assumes ``else:`` follows the previous body directly and takes
gaps between lines for blank lines, so comments near an ``else`` may move.
Columns are compared as character counts: with tabs and spaces mixed, a
comment at the end of nested blocks may land in a different one of them.
"""

from __future__ import annotations

import math
import re
import traceback
from dataclasses import dataclass, field
from decimal import Decimal

from . import ast, codes
from .diagnostics import Diagnostic, DiagnosticBag
from .parser import parse
from .source import Source, Span

INDENT = "    "

# Binding strength, higher binds tighter. Must agree with the parser's
# precedence climbing (a test checks it): prefix "not" sits between "and" and
# the comparisons, so "not a == b" is "not (a == b)".
_BINARY = {"or": 1, "and": 2,
           "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4, "not in": 4,
           "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_NOT, _NEGATE, _ATOM = 3, 7, 8

_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"})
_DIGITS = re.compile(r"[0-9]+")
_OPTION_WORDS = {"prefer_previous": "prefer previous agent within", "valid": "valid if"}
_ELIF, _ELSE = re.compile(r"\s*elif\b"), re.compile(r"\s*else\b")
_SECTION_HEADERS = {"inbound": "inbound:", "queue": "queue:", "after": "after call:"}


@dataclass
class FormatResult:
    """The outcome of :func:`format_source`: the text, or None and the reasons why not."""

    text: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def format_source(text: str, name: str = "<script>") -> FormatResult:
    """Format script text. Never raises: problems come back as diagnostics.

    ``text`` is None when the script has errors (syntax errors, but also bad
    literals such as an unknown string escape, which the AST cannot print back
    faithfully).
    """
    source = Source(text, name)
    bag = DiagnosticBag(source)
    formatted = None
    try:
        script = parse(source, bag, keep_comments=True)
        if script is not None and not bag.has_errors:
            formatted = format_script(script, text)
    except RecursionError:
        bag.report(codes.TOO_DEEP, "the script is nested too deeply to format", Span.point(1, 1))
    except Exception:  # noqa: BLE001 - a crash must become a diagnostic, never a traceback
        detail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        bag.report(codes.INTERNAL, f"internal error while formatting: {detail}", Span.point(1, 1),
                   help="please report this with the script that caused it")
    return FormatResult(formatted, bag.sorted())


def format_script(script: ast.Script, source: str | None = None) -> str:
    """Print ``script`` and its comments as canonical text.

    ``source``, the text the script was parsed from, tells where the AST has
    no positions, so that comments keep their exact place (see above).
    """
    return _ScriptPrinter(script, source).print()


def format_expr(expr: ast.Expr) -> str:
    """An expression as canonical text, e.g. for messages and tools."""
    return _ExprPrinter()(expr)


# ============================================================== expressions


def _precedence(node: ast.Expr) -> int:
    if isinstance(node, ast.Binary):
        return _BINARY[node.op]
    if isinstance(node, ast.Unary):
        return _NOT if node.op == "not" else _NEGATE
    return _ATOM


def _number(value: int | float) -> str:
    """A number literal that reads back as ``value`` (the grammar has no exponents)."""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "9" * 400 + ".0"  # only a literal too big for a float reads back as inf
    text = repr(value)
    if "e" in text:
        text = format(Decimal(text), "f")  # 1e+20 -> 100000000000000000000
    return text if "." in text else text + ".0"


def _quote(text: str) -> str:
    return '"' + text.translate(_ESCAPES) + '"'


def _key(key: ast.Key) -> str:
    return key.text if _DIGITS.fullmatch(key.text) else _quote(key.text)


class _ExprPrinter:
    """Prints expressions with the fewest parentheses that parse back to the same tree."""

    def __call__(self, node: ast.Expr, min_precedence: int = 0) -> str:
        text = getattr(self, "_print_" + type(node).__name__)(node)
        return f"({text})" if _precedence(node) < min_precedence else text

    def join(self, nodes) -> str:
        return ", ".join(self(node) for node in nodes)

    def _print_NumberLit(self, node: ast.NumberLit) -> str:
        return _number(node.value)

    def _print_StringLit(self, node: ast.StringLit) -> str:
        return _quote(node.value)

    def _print_DurationLit(self, node: ast.DurationLit) -> str:
        return node.text

    def _print_TimeLit(self, node: ast.TimeLit) -> str:
        return node.text

    def _print_BoolLit(self, node: ast.BoolLit) -> str:
        return "true" if node.value else "false"

    def _print_ListLit(self, node: ast.ListLit) -> str:
        return f"[{self.join(node.items)}]"

    def _print_Name(self, node: ast.Name) -> str:
        return node.id

    def _print_Attribute(self, node: ast.Attribute) -> str:
        return f"{self(node.value, _ATOM)}.{node.name}"

    def _print_Call(self, node: ast.Call) -> str:
        return f"{node.function}({self.join(node.args)})"

    def _print_Unary(self, node: ast.Unary) -> str:
        if node.op == "not":
            return "not " + self(node.operand, _NOT)
        # "-(-x)" rather than "--x", which reads like a decrement.
        return "-" + self(node.operand, _NEGATE + 1)

    def _print_Binary(self, node: ast.Binary) -> str:
        # Operators are left-associative: a right operand of the same strength
        # needs parentheses, a left one does not. The left spine is walked in
        # a loop so that a long chain (a + b + c + ...) does not recurse.
        tail = []
        while True:
            precedence = _BINARY[node.op]
            tail.append(f" {node.op} {self(node.right, precedence + 1)}")
            left = node.left
            if not (isinstance(left, ast.Binary) and _BINARY[left.op] >= precedence):
                return self(left, precedence) + "".join(reversed(tail))
            node = left


# ============================================================== statements


class _ScriptPrinter:
    """Prints a script line by line in source order, placing comments as it goes.

    Every code line is emitted with the source lines it came from; before it,
    the comments from the lines in between are flushed (see :meth:`_flush`).
    Blank lines are decided from the gaps between source lines (see
    :meth:`_wants_blank`).
    """

    def __init__(self, script: ast.Script, source: str | None):
        self._script = script
        self._expr = _ExprPrinter()
        self._source_lines = source.split("\n") if source is not None else None
        self._comments = sorted(script.comments, key=lambda c: (c.line, c.column))
        self._comment_columns = {c.line: c.column for c in self._comments}
        self._next_comment = 0
        self._out: list[str] = []
        self._last_line = 0           # last source line printed (code or comment)
        self._code_end = 0            # last source line of the last code line
        self._code_depth: int | None = None
        self._header_open = False     # the last line printed opened a block
        self._columns: list[int] = []  # source column of each open block, by depth
        self._previous_top: str | None = None  # kind of the last top-level item, until
                                               # the next top-level line is printed

    def print(self) -> str:
        items = sorted(self._script.consts + self._script.sections,
                       key=lambda node: (node.span.line, node.span.column))
        for item in items:
            getattr(self, "_print_" + type(item).__name__)(item)
        self._flush(math.inf, 0, None)
        return "".join(line + "\n" for line in self._out)

    # -- sections

    def _print_Section(self, node: ast.Section) -> None:
        header = _SECTION_HEADERS.get(node.kind) or f"block {node.name}:"
        self._header(0, header, node.span, top="section")
        self._body(node.body, 1)

    def _print_Const(self, node: ast.Const) -> None:
        self._simple(0, f"const {node.name} = {self._expr(node.value)}", node, top="const")

    def _body(self, statements, depth: int) -> None:
        for statement in statements:
            getattr(self, "_print_" + type(statement).__name__)(statement, depth)

    # -- simple statements

    def _print_keyword(self, node, depth):
        self._simple(depth, type(node).__name__.lower(), node)

    _print_Answer = _print_Hangup = _print_Stop = _print_Pass = _print_Break = _print_keyword

    def _print_Play(self, node: ast.Play, depth):
        self._simple(depth, f"play {self._expr.join(node.prompts)}", node)

    def _print_PlayHot(self, node: ast.PlayHot, depth):
        self._simple(depth, f"play hot {self._expr(node.prompt)}", node)

    def _print_Say(self, node: ast.Say, depth):
        text = f"say {node.kind} {self._expr(node.value)}"
        if node.currency is not None:
            text += f" currency {self._expr(node.currency)}"
        self._simple(depth, text, node)

    def _print_Music(self, node: ast.Music, depth):
        moh_class = "off" if node.moh_class is None else self._expr(node.moh_class)
        self._simple(depth, f"music {moh_class}", node)

    def _print_Wait(self, node: ast.Wait, depth):
        self._simple(depth, f"wait {self._expr(node.duration)}", node)

    def _print_Set(self, node: ast.Set, depth):
        # A fact is stored without its owner "call"; any other owner is kept
        # in the name ("x.y") for the checker to reject.
        target = f"call.{node.name}" if node.fact and "." not in node.name else node.name
        self._simple(depth, f"set {target} = {self._expr(node.value)}", node)

    def _print_Goto(self, node: ast.Goto, depth):
        self._simple(depth, f"goto {node.block}", node)

    def _print_Queue(self, node: ast.Queue, depth):
        verb = "requeue" if node.requeue else "queue"
        head = f"{verb} to {self._expr.join(node.groups)}"
        self._simple(depth, self._with_options(head, node.options), node)

    def _print_AddGroup(self, node: ast.AddGroup, depth):
        head = f"add group {self._expr(node.group)}"
        self._simple(depth, self._with_options(head, node.options), node)

    def _print_RemoveGroup(self, node: ast.RemoveGroup, depth):
        self._simple(depth, f"remove group {self._expr(node.group)}", node)

    def _print_Announce(self, node: ast.Announce, depth):
        self._simple(depth, f"announce {node.what}", node)

    def _print_OfferCallback(self, node: ast.OfferCallback, depth):
        self._simple(depth, self._with_options("offer callback", node.options), node)

    def _print_Voicemail(self, node: ast.Voicemail, depth):
        head = f"voicemail to {self._expr(node.address)}"
        self._simple(depth, self._with_options(head, node.options), node)

    def _print_Transfer(self, node: ast.Transfer, depth):
        self._simple(depth, f"transfer to {self._expr(node.number)}", node)

    def _print_Lookup(self, node: ast.Lookup, depth):
        text = f"lookup {self._expr(node.lookup)} by {self._expr(node.key)} into {node.into}"
        self._simple(depth, text, node)

    def _print_Command(self, node: ast.Command, depth):
        text = f"do {node.name}({self._expr.join(node.args)})"
        if node.into is not None:
            text += f" into {node.into}"
        self._simple(depth, text, node)

    def _print_Log(self, node: ast.Log, depth):
        self._simple(depth, f"log {self._expr(node.message)}", node)

    def _print_Save(self, node: ast.Save, depth):
        self._simple(depth, f"save {self._expr(node.key)} = {self._expr(node.value)}", node)

    # -- compound statements

    def _print_If(self, node: ast.If, depth):
        (condition, body), *elifs = node.branches
        self._header(depth, f"if {self._expr(condition)}:", node.span)
        self._body(body, depth + 1)
        for condition, body in elifs:
            first = self._elif_line(condition.span.line)
            last = self._end_line(condition.span, "):")
            self._clause(depth, f"elif {self._expr(condition)}:", first, last)
            self._body(body, depth + 1)
        if node.orelse is not None:
            first = self._else_line(node.orelse, node.span.column)
            self._clause(depth, "else:", first, first)
            self._body(node.orelse, depth + 1)

    def _print_Every(self, node: ast.Every, depth):
        self._block(depth, f"every {self._expr(node.interval)}:", node)

    def _print_While(self, node: ast.While, depth):
        self._block(depth, f"while {self._expr(node.condition)}:", node)

    def _print_Repeat(self, node: ast.Repeat, depth):
        self._block(depth, f"repeat {self._expr(node.count)} times:", node)

    def _block(self, depth: int, header: str, node) -> None:
        self._header(depth, header, node.span)
        self._body(node.body, depth + 1)

    def _print_Menu(self, node: ast.Menu, depth):
        head = self._with_options(f"menu {self._expr(node.prompt)}", node.options)
        self._header(depth, head + ":", node.span)
        self._handlers(node.handlers, depth + 1)

    def _print_Collect(self, node: ast.Collect, depth):
        head = self._with_options(f"collect {node.variable}", node.options)
        if not node.handlers:
            self._simple(depth, head, node)
            return
        self._header(depth, head + ":", node.span)
        self._handlers(node.handlers, depth + 1)

    def _handlers(self, handlers, depth: int) -> None:
        for handler in handlers:
            self._print_Handler(handler, depth)

    def _print_Handler(self, node: ast.Handler, depth):
        head = f"key {', '.join(_key(k) for k in node.keys)}" if node.kind == "key" else node.kind
        self._block(depth, head + ":", node)

    def _with_options(self, head: str, options) -> str:
        return "".join([head] + [" " + self._option(option) for option in options])

    def _option(self, option: ast.Option) -> str:
        if option.name == "when_empty":
            return f"when empty goto {option.target}"
        if isinstance(option.value, ast.Key):  # "key 1", "terminator "#""
            return f"{option.name} {_key(option.value)}"
        text = f"{_OPTION_WORDS.get(option.name, option.name)} {self._expr(option.value)}"
        if option.upper is not None:
            text += f" to {self._expr(option.upper)}"
        return text

    # -- where elif and else are (the AST does not say)

    def _elif_line(self, condition_line: int) -> int:
        """The line of ``elif``: its condition's, unless the condition was wrapped."""
        found = self._find_line(_ELIF, range(condition_line, self._code_end, -1))
        return condition_line if found is None else found

    def _else_line(self, orelse, column: int) -> int:
        """The line of ``else:``, between the previous body and ``orelse``."""
        end = orelse[0].span.line if orelse else self._code_end + 1
        found = self._find_line(_ELSE, range(self._code_end + 1, end))
        if found is not None:
            return found
        # No source text: skip the comment lines that cannot share a line with
        # an "else:" written at the column of its "if".
        line = self._code_end + 1
        while line < end and self._comment_columns.get(line, math.inf) < column + len("else:"):
            line += 1
        return line

    def _find_line(self, pattern: re.Pattern, candidates: range) -> int | None:
        lines = self._source_lines or []
        return next((n for n in candidates if 0 < n <= len(lines) and pattern.match(lines[n - 1])),
                    None)

    # -- emitting lines

    def _simple(self, depth: int, text: str, node: ast.Node, *, top: str | None = None) -> None:
        span = node.span
        self._code(depth, text, span.line, self._end_line(span), span.column, top=top)

    def _end_line(self, span: Span, closers: str = ")") -> int:
        """The last line of a statement, counting closing parentheses its span leaves out.

        The parser's span of ``(expr)`` is the span of ``expr``, so ``log (a\n)``
        seems to end before its ")". Only ")", blanks and comments can follow a
        statement before the next one starts, so every ")" up to there is its own
        (for an ``elif`` condition, every ")" and the ":").
        """
        end, lines = span.end_line, self._source_lines
        line, column = span.end_line, span.end_column - 1
        while lines is not None and 0 < line <= len(lines):
            rest = lines[line - 1][column:]
            code = rest.lstrip(" \t\f\r" + closers)
            if any(char in closers for char in rest[:len(rest) - len(code)]):
                end = line
            if code and not code.startswith("#"):
                break
            line, column = line + 1, 0
        return end

    def _header(self, depth: int, text: str, span: Span, *, top: str | None = None) -> None:
        self._code(depth, text, span.line, span.end_line, span.column, opens=True, top=top)

    def _clause(self, depth: int, text: str, first: int, last: int) -> None:
        # An elif/else sits at the column of its "if", which is already recorded.
        self._code(depth, text, first, last, self._columns[depth], opens=True, clause=True)

    def _code(self, depth: int, text: str, first: int, last: int, column: int, *,
              opens: bool = False, clause: bool = False, top: str | None = None) -> None:
        """Emit a code line that came from source lines ``first``..``last``.

        Comments before ``first`` are flushed first. Comments inside the
        statement move before it; one on its last line stays at its end.
        """
        self._flush(first, depth, top)
        inner = self._take_comments(last)
        trailing = inner.pop() if inner and inner[-1].line == last else None
        blank = self._wants_blank(depth, first, clause=clause, top=top)
        for comment in inner:
            self._append(depth, comment.text, blank)
            blank = False
        self._append(depth, text + (f"  {trailing.text}" if trailing else ""), blank)
        self._last_line = max(self._last_line, last)
        self._code_end, self._code_depth, self._header_open = last, depth, opens
        self._columns[depth:] = [column]
        if depth == 0:
            self._previous_top = top

    def _flush(self, before: float, depth: int, top: str | None) -> None:
        """Emit the comment lines before source line ``before``; the next code is at ``depth``.

        Where blocks end between the last code line and the next, each comment
        goes to the innermost block whose statements start at or left of its
        column, never deeper than the comment before it (order is kept).
        """
        deepest = depth
        if not self._header_open and self._code_depth is not None:
            deepest = max(depth, self._code_depth)
        for comment in self._take_comments(before - 1):
            deepest = self._comment_depth(comment.column, depth, deepest)
            blank = self._wants_blank(deepest, comment.line, top=top)
            self._append(deepest, comment.text, blank)
            self._last_line = comment.line
            if deepest == 0:
                self._previous_top = None
            self._header_open = False

    def _comment_depth(self, column: int, lowest: int, deepest: int) -> int:
        for depth in range(deepest, lowest, -1):
            if depth < len(self._columns) and self._columns[depth] <= column:
                return depth
        return lowest

    def _take_comments(self, last_line: float) -> list[ast.Comment]:
        """The comments not yet placed that are on or before ``last_line``."""
        start = end = self._next_comment
        while end < len(self._comments) and self._comments[end].line <= last_line:
            end += 1
        self._next_comment = end
        return self._comments[start:end]

    def _wants_blank(self, depth: int, line: int, *, clause: bool = False,
                     top: str | None = None) -> bool:
        """Whether a blank line goes before a line at ``depth`` from source ``line``."""
        if not self._out or self._header_open or clause:
            return False  # the start of the file or of a block; before elif/else
        if depth == 0 and self._previous_top is not None and top is not None:
            if not (self._previous_top == top == "const"):
                return True  # exactly one blank line between sections
        return self._blank_between(self._last_line, line)  # one where the source had some

    def _blank_between(self, after: int, before: int) -> bool:
        """Whether the source has a blank line between lines ``after`` and ``before``."""
        if self._source_lines is None:
            return before > after + 1
        # Read the text: a line missing from the AST's spans (a lone ")" that
        # closes a wrapped statement) is not a blank line.
        return any(not self._source_lines[line - 1].strip()
                   for line in range(max(after + 1, 1), min(before, len(self._source_lines) + 1)))

    def _append(self, depth: int, text: str, blank: bool) -> None:
        if blank:
            self._out.append("")
        self._out.append(INDENT * depth + text)
