"""The typed syntax tree.

Nodes are frozen dataclasses; every node carries the :class:`Span` of the text
it came from, so that every later stage (checker, compiler, source map) can
point back at the script. The parser builds them directly (see parser.py);
nothing downstream sees Lark's parse tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .source import Span


@dataclass(frozen=True, slots=True)
class Node:
    span: Span = field(compare=False)


# ============================================================== expressions


@dataclass(frozen=True, slots=True)
class NumberLit(Node):
    value: int | float


@dataclass(frozen=True, slots=True)
class StringLit(Node):
    value: str


@dataclass(frozen=True, slots=True)
class DurationLit(Node):
    """A duration such as ``30s`` or ``1h30m``; ``seconds`` is the total."""

    seconds: float
    text: str


@dataclass(frozen=True, slots=True)
class TimeLit(Node):
    """A time of day such as ``08:30``; ``minutes`` counts from midnight."""

    minutes: int
    text: str


@dataclass(frozen=True, slots=True)
class BoolLit(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class Name(Node):
    id: str


@dataclass(frozen=True, slots=True)
class Attribute(Node):
    """``value.name``: a call fact (``call.caller``), ``now.time``, or a lookup field."""

    value: "Expr"
    name: str
    name_span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A call of a built-in function, e.g. ``agents_ready("support")``."""

    function: str
    args: tuple["Expr", ...]
    function_span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "not" or "-"
    operand: "Expr"


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """Arithmetic, comparison, membership (``in``/``not in``) and ``and``/``or``."""

    op: str
    left: "Expr"
    right: "Expr"


Expr = Union[NumberLit, StringLit, DurationLit, TimeLit, BoolLit, ListLit, Name,
             Attribute, Call, Unary, Binary]

LITERALS = (NumberLit, StringLit, DurationLit, TimeLit, BoolLit)


# ============================================================== statement parts


@dataclass(frozen=True, slots=True)
class Option(Node):
    """An option of a statement: ``timeout 5s``, ``priority 3``, ``digits 4 to 8``.

    ``name`` is the option's keyword (``prefer previous agent within`` is
    ``prefer_previous``); ``upper`` is the second value of ``digits A to B``;
    ``target`` is the block of ``when empty goto NAME``.
    """

    name: str
    value: "Expr | None" = None
    upper: "Expr | None" = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Key(Node):
    """A telephone key as written: ``1`` or ``"*"``."""

    text: str


@dataclass(frozen=True, slots=True)
class Handler(Node):
    """A branch of a menu or collect: ``key 1:``, ``invalid:``, ``timeout:``, ``failed:``."""

    kind: str  # "key", "invalid", "timeout" or "failed"
    keys: tuple[Key, ...]
    body: tuple["Stmt", ...]


# ============================================================== statements


@dataclass(frozen=True, slots=True)
class Answer(Node):
    pass


@dataclass(frozen=True, slots=True)
class Hangup(Node):
    pass


@dataclass(frozen=True, slots=True)
class Stop(Node):
    pass


@dataclass(frozen=True, slots=True)
class Pass(Node):
    pass


@dataclass(frozen=True, slots=True)
class Break(Node):
    pass


@dataclass(frozen=True, slots=True)
class Play(Node):
    prompts: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class PlayHot(Node):
    prompt: Expr


@dataclass(frozen=True, slots=True)
class Say(Node):
    kind: str  # "number", "amount", "digits" or "duration"
    value: Expr
    currency: Expr | None


@dataclass(frozen=True, slots=True)
class Music(Node):
    """``music "class"`` starts music on hold; ``music off`` (``moh_class`` None) stops it."""

    moh_class: Expr | None


@dataclass(frozen=True, slots=True)
class Wait(Node):
    duration: Expr


@dataclass(frozen=True, slots=True)
class Set(Node):
    """``set name = value`` or ``set call.fact = value`` (``fact`` True)."""

    name: str
    value: Expr
    fact: bool
    target_span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Goto(Node):
    block: str
    block_span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Queue(Node):
    """``queue to`` (inbound) or ``requeue to`` (queued, after call)."""

    groups: tuple[Expr, ...]
    options: tuple[Option, ...]
    requeue: bool


@dataclass(frozen=True, slots=True)
class AddGroup(Node):
    group: Expr
    options: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class RemoveGroup(Node):
    group: Expr


@dataclass(frozen=True, slots=True)
class Announce(Node):
    what: str  # "position" or "wait"


@dataclass(frozen=True, slots=True)
class OfferCallback(Node):
    options: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class Voicemail(Node):
    address: Expr
    options: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class Transfer(Node):
    number: Expr


@dataclass(frozen=True, slots=True)
class Lookup(Node):
    lookup: Expr
    key: Expr
    into: str
    into_span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Command(Node):
    name: str
    args: tuple[Expr, ...]
    into: str | None
    name_span: Span = field(compare=False)
    into_span: Span | None = field(compare=False, default=None)


@dataclass(frozen=True, slots=True)
class Log(Node):
    message: Expr


@dataclass(frozen=True, slots=True)
class Save(Node):
    key: Expr
    value: Expr


@dataclass(frozen=True, slots=True)
class If(Node):
    """``if``/``elif``/``else``: ``branches`` holds (condition, body) pairs."""

    branches: tuple[tuple[Expr, tuple["Stmt", ...]], ...]
    orelse: tuple["Stmt", ...] | None


@dataclass(frozen=True, slots=True)
class Every(Node):
    interval: Expr
    body: tuple["Stmt", ...]


@dataclass(frozen=True, slots=True)
class While(Node):
    condition: Expr
    body: tuple["Stmt", ...]


@dataclass(frozen=True, slots=True)
class Repeat(Node):
    count: Expr
    body: tuple["Stmt", ...]


@dataclass(frozen=True, slots=True)
class Menu(Node):
    prompt: Expr
    options: tuple[Option, ...]
    handlers: tuple[Handler, ...]


@dataclass(frozen=True, slots=True)
class Collect(Node):
    variable: str
    variable_span: Span = field(compare=False)
    options: tuple[Option, ...] = ()
    handlers: tuple[Handler, ...] = ()


Stmt = Union[Answer, Hangup, Stop, Pass, Break, Play, PlayHot, Say, Music, Wait, Set, Goto,
             Queue, AddGroup, RemoveGroup, Announce, OfferCallback, Voicemail, Transfer,
             Lookup, Command, Log, Save, If, Every, While, Repeat, Menu, Collect]


# ============================================================== sections


PHASE_SECTIONS = ("inbound", "queue", "after")


@dataclass(frozen=True, slots=True)
class Section(Node):
    """A top-level section: ``inbound:``, ``queue:``, ``after call:`` or ``block NAME:``."""

    kind: str  # "inbound", "queue", "after" or "block"
    name: str  # the block's name; the kind for the three phase sections
    body: tuple[Stmt, ...]
    name_span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Const(Node):
    name: str
    value: Expr
    name_span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``#`` comment, kept for the formatter."""

    line: int
    column: int
    text: str


@dataclass(frozen=True, slots=True)
class Script(Node):
    sections: tuple[Section, ...]
    consts: tuple[Const, ...]
    comments: tuple[Comment, ...] = ()

    def section(self, kind: str, name: str | None = None) -> Section | None:
        for section in self.sections:
            if section.kind == kind and (name is None or section.name == name):
                return section
        return None

    @property
    def blocks(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if s.kind == "block")


def children(stmt: Stmt) -> list[tuple[Stmt, ...]]:
    """The statement bodies nested directly in a statement, in source order."""
    if isinstance(stmt, If):
        bodies = [body for _, body in stmt.branches]
        if stmt.orelse is not None:
            bodies.append(stmt.orelse)
        return bodies
    if isinstance(stmt, (Every, While, Repeat)):
        return [stmt.body]
    if isinstance(stmt, (Menu, Collect)):
        return [h.body for h in stmt.handlers]
    return []


def walk_statements(body: tuple[Stmt, ...]):
    """Every statement in a body, depth first, in source order."""
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        yield stmt
        for nested in reversed(children(stmt)):
            stack.extend(reversed(nested))
