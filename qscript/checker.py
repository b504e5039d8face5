"""The checker: names, types, options, menus and site resources.

It walks the AST after parsing and reports every problem it finds into a
:class:`~qscript.diagnostics.DiagnosticBag` (it never stops at the first).
Control-flow checks — unreachable code, loops that can spin, phases — live
in :mod:`qscript.flow`, which runs after this.

Variables are global to the script and have one type each, inferred from
their assignments: a first, quiet pass infers the types (so that a block
defined after its use still types correctly), a second pass checks and
reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import ast, codes
from .builtins import FACT_OWNERS, FACTS, FACTS_BY_NAME, FUNCTIONS_BY_NAME, RESERVED
from .diagnostics import DiagnosticBag, did_you_mean, quote as _q
from .symbols import SiteSymbols
from .types import (ANY, BOOLEAN, DURATION, NUMBER, SCALARS, STRING, TIME, Type,
                    compatible, list_of, record)

VALID_KEYS = frozenset("0123456789*#")
#: The longest string a script can build, in characters (the VM's limit too).
MAX_TEXT_LENGTH = 65_536
MAX_DIGITS = 32
MAX_RETRIES = 20
MAX_PRIORITY = 99
MAX_REPEAT = 1000

#: The statement options and values that count something (or rank, for a
#: priority): whole numbers in these ranges. The checker checks those known
#: before the call; the compiler makes the VM check the others (Op.WHOLE).
COUNTS = {"priority": (0, MAX_PRIORITY, "a priority"), "retries": (0, MAX_RETRIES, "retries"),
          "digits": (1, MAX_DIGITS, "a digit count"), "repeat": (0, MAX_REPEAT, "a repeat count")}


@dataclass
class CheckResult:
    """What later stages need to know about a checked script."""

    script: ast.Script
    variables: dict[str, Type] = field(default_factory=dict)   # in first-assignment order
    consts: dict[str, object] = field(default_factory=dict)    # folded values
    const_types: dict[str, Type] = field(default_factory=dict)
    blocks: dict[str, ast.Section] = field(default_factory=dict)
    site: SiteSymbols | None = None


# -------------------------------------------------------------- operator typing

_ARITHMETIC = {
    "+": {(NUMBER, NUMBER): NUMBER, (STRING, STRING): STRING, (DURATION, DURATION): DURATION,
          (TIME, DURATION): TIME},
    "-": {(NUMBER, NUMBER): NUMBER, (DURATION, DURATION): DURATION, (TIME, TIME): DURATION,
          (TIME, DURATION): TIME},
    "*": {(NUMBER, NUMBER): NUMBER, (DURATION, NUMBER): DURATION, (NUMBER, DURATION): DURATION},
    "/": {(NUMBER, NUMBER): NUMBER, (DURATION, NUMBER): DURATION, (DURATION, DURATION): NUMBER},
    "%": {(NUMBER, NUMBER): NUMBER},
}
_ORDERED = (NUMBER, DURATION, TIME, STRING)
#: Operators whose constant results the checker folds, and so can grow.
_GROWING = frozenset(("+", "-", "*"))
_COMPARISONS = frozenset(("<", "<=", ">", ">="))
_EQUALITY = frozenset(("==", "!="))


def _article(type_: Type) -> str:
    text = str(type_)
    return ("an " if text[0] in "aeiou" else "a ") + text


class Checker:
    def __init__(self, script: ast.Script, bag: DiagnosticBag, site: SiteSymbols | None):
        self.script = script
        self.bag = bag
        self.site = site
        self.result = CheckResult(script, site=site)
        self.variables = self.result.variables
        self._first_assignment: dict[str, ast.Node] = {}
        self._quiet = False
        self._loop_depth = 0
        # Folded once per node: a long sum a + b + ... would cost quadratic
        # time otherwise. (Constants are folded in order, so a name folds to a
        # constant's value only after its definition, which is what is wanted.)
        self._fold_memo: dict[int, tuple[object, bool]] | None = {}
        #: Constant expressions too large to build: node id -> (node, message).
        self._oversized: dict[int, tuple[ast.Node, str]] = {}

    # ---------------------------------------------------------------- driver

    def run(self) -> CheckResult:
        self._check_sections()
        self._check_consts()
        self._infer_variable_types()
        for section in self.script.sections:
            self._check_body(section.body)
        for node, message in self._oversized.values():
            self.report(codes.TOO_LARGE, message, node.span,
                        help=f"strings hold at most {MAX_TEXT_LENGTH:,} characters and numbers "
                        "go up to about 1.8e308; build the value during the call instead")
        return self.result

    def report(self, code: codes.Code, message: str, span, help: str | None = None) -> None:
        if not self._quiet:
            self.bag.report(code, message, span, help=help)

    def _check_sections(self) -> None:
        seen: dict[tuple[str, str], ast.Section] = {}
        for section in self.script.sections:
            key = (section.kind, section.name)
            label = f"block {_q(section.name)}" if section.kind == "block" else \
                ("after call" if section.kind == "after" else section.kind)
            if key in seen:
                self.report(codes.DUPLICATE_SECTION, f"{label} is defined twice",
                            section.name_span,
                            help=f"the first definition is at line {seen[key].span.line}")
                continue
            seen[key] = section
            if section.kind == "block":
                self._check_not_reserved(section.name, section.name_span, "a block")
                self.result.blocks[section.name] = section
        if ("inbound", "inbound") not in seen:
            line = self.script.sections[0].span if self.script.sections else ast.Span(1, 1, 1, 2)
            self.report(codes.EMPTY_SCRIPT, "the script has no inbound section", line,
                        help='add "inbound:" with the statements a call starts with')

    def _check_not_reserved(self, name: str, span, what: str) -> None:
        if name in RESERVED:
            self.report(codes.RESERVED_NAME, f"{what} cannot be named {_q(name)}: that is a "
                        "built-in name", span, help="choose another name")

    # ---------------------------------------------------------------- constants

    def _check_consts(self) -> None:
        for const in self.script.consts:
            self._check_not_reserved(const.name, const.name_span, "a constant")
            if const.name in self.result.consts:
                self.report(codes.DUPLICATE_SECTION, f"constant {_q(const.name)} is defined twice",
                            const.name_span)
                continue
            reported = len(self.bag.items)
            oversized = len(self._oversized)
            type_ = self.type_of(const.value)
            value = self.constant_value(const.value)
            # An ill-typed or too large value is not folded; its error is enough
            # (also for the constants defined with this one).
            if value is _NOT_CONSTANT and len(self.bag.items) == reported \
                    and len(self._oversized) == oversized \
                    and not self._uses_failed_constant(const.value):
                self.report(codes.TYPE_MISMATCH, f"the value of constant {_q(const.name)} is not "
                            "known before the call starts", const.value.span,
                            help="a constant may use literals, other constants and operators")
                value = None
            self.result.consts[const.name] = value
            self.result.const_types[const.name] = type_

    def _uses_failed_constant(self, expr: ast.Expr) -> bool:
        """Does expr read a constant whose value could not be folded (already reported)?"""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Name) and self.result.consts.get(node.id, 0) is _NOT_CONSTANT:
                return True
            stack.extend(child for child in (getattr(node, "left", None), getattr(node, "right", None),
                                             getattr(node, "operand", None)) if child is not None)
            stack.extend(getattr(node, "items", ()) or getattr(node, "args", ()))
        return False

    def constant_value(self, expr: ast.Expr):
        """The value of an expression computable at compile time, or _NOT_CONSTANT."""
        return self._fold(expr)[0]

    def _fold(self, expr: ast.Expr) -> tuple[object, bool]:
        memo = self._fold_memo
        if memo is None:
            return self._fold_node(expr)
        # The compiler asks about every subexpression of every expression;
        # without the memo a long sum a + b + ... costs quadratic time.
        folded = memo.get(id(expr))
        if folded is None:
            folded = memo[id(expr)] = self._fold_node(expr)
        return folded

    def _fold_node(self, expr: ast.Expr) -> tuple[object, bool]:
        """(value or _NOT_CONSTANT, whether the value is a time of day).

        Only well-typed operations are folded: folding runs before (and
        regardless of) type errors, and Python would raise on ``-"a"`` or
        build a gigabyte for ``"a" * 999999999``. A time of day is minutes
        since midnight and a duration is seconds, so time arithmetic needs to
        know which operand is a time; that is why the flag is carried along
        (the compiler lowers the same operations in ``Compiler._binary``).
        """
        if isinstance(expr, (ast.NumberLit, ast.StringLit, ast.BoolLit)):
            return expr.value, False
        if isinstance(expr, ast.DurationLit):
            return float(expr.seconds), False
        if isinstance(expr, ast.TimeLit):
            return expr.minutes, True
        if isinstance(expr, ast.Name) and expr.id in self.result.consts:
            return self.result.consts[expr.id], self.result.const_types.get(expr.id) == TIME
        if isinstance(expr, ast.ListLit):
            items = tuple(self._fold(i)[0] for i in expr.items)
            return (_NOT_CONSTANT if _NOT_CONSTANT in items else items), False
        if isinstance(expr, ast.Unary):
            operand, is_time = self._fold(expr.operand)
            if expr.op == "not":
                return (not operand, False) if isinstance(operand, bool) else _NOT_FOLDED
            return (-operand, False) if _is_number(operand) and not is_time else _NOT_FOLDED
        if isinstance(expr, ast.Binary) and expr.op in ("+", "-", "*"):
            (left, left_time), (right, right_time) = self._fold(expr.left), \
                self._fold(expr.right)
            if expr.op == "+" and isinstance(left, str) and isinstance(right, str):
                if len(left) + len(right) > MAX_TEXT_LENGTH:
                    # Refused, not built: doubling a constant string a few dozen
                    # times would need more memory than the machine has.
                    return self._too_large(expr, f"this string would be "
                                           f"{len(left) + len(right):,} characters long")
                return left + right, False
            if not (_is_number(left) and _is_number(right)):
                return _NOT_FOLDED
            if left_time and right_time and expr.op == "-":
                return (left - right) * 60.0, False          # time - time: a duration
            if left_time and not right_time and expr.op in ("+", "-"):
                shift = right / 60                            # time ± duration, wrapping at midnight
                return (left + shift if expr.op == "+" else left - shift) % MINUTES_PER_DAY, True
            if left_time or right_time:
                return _NOT_FOLDED                            # ill-typed; the checker reports it
            value = left + right if expr.op == "+" else left - right if expr.op == "-" \
                else left * right
            if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
                value = float(value)  # the bytecode stores integers in 64 bits
            if isinstance(value, float) and math.isinf(value):
                return self._too_large(expr, "this number is too large")
            return value, False
        return _NOT_FOLDED

    def _too_large(self, expr: ast.Expr, message: str) -> tuple[object, bool]:
        """Record a constant expression too large to build (reported once, by run)."""
        self._oversized.setdefault(id(expr), (expr, message))
        return _NOT_FOLDED

    def static_string(self, expr: ast.Expr) -> str | None:
        """A string known at compile time (a literal or a string constant), else None."""
        if isinstance(expr, ast.StringLit):
            return expr.value
        if isinstance(expr, ast.Name):
            value = self.result.consts.get(expr.id)
            return value if isinstance(value, str) else None
        return None

    # ---------------------------------------------------------------- variables

    def _infer_variable_types(self) -> None:
        """Quietly type every assignment, in source order, until the types settle."""
        self._quiet = True
        try:
            for _ in range(3):
                before = dict(self.variables)
                for section in self.script.sections:
                    for stmt in ast.walk_statements(section.body):
                        self._infer_assignment(stmt)
                if before == self.variables:
                    break
        finally:
            self._quiet = False
        self._check_inferred_types()

    def _check_inferred_types(self) -> None:
        """Report variables whose type nothing determines (`set x = x + 1m` alone).

        Every variable starts a call at the zero value of its type, so its type
        must be known. It is unknown (ANY) legitimately when it comes from
        outside: a custom command's result, a lookup field, without a site to
        say their types. It is an error when only the variable itself (or other
        such variables) feeds it: nothing could ever say what it holds.
        """
        assignments: dict[str, list[ast.Stmt]] = {}
        for section in self.script.sections:
            for stmt in ast.walk_statements(section.body):
                if isinstance(stmt, ast.Set) and not stmt.fact:
                    assignments.setdefault(stmt.name, []).append(stmt)
                elif isinstance(stmt, (ast.Collect, ast.Lookup, ast.Command)):
                    name = stmt.variable if isinstance(stmt, ast.Collect) else stmt.into
                    if name:
                        assignments.setdefault(name, []).append(stmt)
        unknown = {name for name, type_ in self.variables.items() if type_ is ANY
                   and all(isinstance(s, ast.Set) for s in assignments.get(name, ()))}
        changed = True
        while changed:  # a variable fed from outside lends that to those it feeds
            changed = False
            for name in list(unknown):
                if any(self._unknown_from_outside(s.value, unknown) for s in assignments[name]):
                    unknown.discard(name)
                    changed = True
        for name in sorted(unknown):
            first = assignments[name][0]
            self.report(codes.UNKNOWN_TYPE, f"the type of variable {_q(name)} cannot be "
                        "inferred: every value assigned to it is computed from itself "
                        "(or from other variables of unknown type)",
                        first.target_span, help=f"give it a first value of the type it holds, "
                        f"e.g. set {name} = 0s, before it is used")

    def _unknown_from_outside(self, expr: ast.Expr, unknown: set[str]) -> bool:
        """Could expr's unknown type come from elsewhere than the variables in `unknown`?

        From outside (a lookup field, a variable fed by a custom command), or
        from a mistake already reported (an unknown function, a type error):
        only an expression that reads one of `unknown` is a candidate.
        """
        stack: list[ast.Expr] = [expr]
        reads_unknown = False
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Name):
                reads_unknown = reads_unknown or node.id in unknown
                if node.id in self.variables and self.variables[node.id] is ANY \
                        and node.id not in unknown:
                    return True
            elif isinstance(node, ast.Attribute):
                if not (isinstance(node.value, ast.Name) and node.value.id in FACT_OWNERS
                        and node.value.id not in self.variables):
                    return True  # a field of a lookup result
            elif isinstance(node, ast.Binary):
                stack += [node.left, node.right]
            elif isinstance(node, ast.Unary):
                stack.append(node.operand)
            elif isinstance(node, ast.ListLit):
                stack += node.items
            elif isinstance(node, ast.Call):
                stack += node.args
        return not reads_unknown

    def _infer_assignment(self, stmt: ast.Stmt) -> None:
        if isinstance(stmt, ast.Set) and not stmt.fact:
            self._declare(stmt.name, self.type_of(stmt.value), stmt)
        elif isinstance(stmt, ast.Collect):
            self._declare(stmt.variable, STRING, stmt)
        elif isinstance(stmt, ast.Lookup):
            self._declare(stmt.into, record(self.static_string(stmt.lookup)), stmt)
        elif isinstance(stmt, ast.Command) and stmt.into:
            info = self.site.commands.get(stmt.name) if self.site else None
            returns = SCALARS.get(info.returns, ANY) if info and info.returns else ANY
            self._declare(stmt.into, returns, stmt)

    def _declare(self, name: str, type_: Type, node: ast.Node) -> None:
        if name in RESERVED or name in self.result.consts:
            return
        current = self.variables.get(name)
        if current is None or (current is ANY and type_ is not ANY):
            self.variables[name] = type_
            self._first_assignment.setdefault(name, node)

    def _assign(self, name: str, type_: Type, node: ast.Node, span) -> None:
        """Check an assignment against the variable's inferred type."""
        if name in self.result.consts:
            self.report(codes.READ_ONLY, f"{_q(name)} is a constant and cannot be assigned", span)
            return
        if name in RESERVED:
            self._check_not_reserved(name, span, "a variable")
            return
        current = self.variables.get(name, ANY)
        if not compatible(current, type_) and not compatible(type_, current):
            first = self._first_assignment.get(name)
            where = f" (first assigned at line {first.span.line})" if first else ""
            self.report(codes.CONFLICTING_TYPES,
                        f"variable {_q(name)} holds {_article(current)}{where}, but is assigned "
                        f"{_article(type_)} here", span,
                        help="use a new variable for the other value")

    # ---------------------------------------------------------------- expressions

    def type_of(self, expr: ast.Expr) -> Type:
        return _EXPR_RULES[type(expr)](self, expr)

    def _type_literal(self, expr) -> Type:
        return _LITERAL_TYPES[type(expr)]

    def _type_list(self, expr: ast.ListLit) -> Type:
        element = ANY
        for item in expr.items:
            item_type = self.type_of(item)
            if element is ANY:
                element = item_type
            elif not compatible(element, item_type):
                self.report(codes.TYPE_MISMATCH, f"a list holds values of one type; this is "
                            f"{_article(item_type)} among {element} values", item.span)
        return list_of(element)

    def _type_name(self, expr: ast.Name) -> Type:
        name = expr.id
        if name in self.result.const_types:
            return self.result.const_types[name]
        if name in self.variables:
            return self.variables[name]
        if name in FACT_OWNERS:
            facts = ", ".join(f.qualified for f in FACTS if f.owner == name)
            self.report(codes.TYPE_MISMATCH, f"{_q(name)} is not a value by itself", expr.span,
                        help=f"use one of its facts: {facts}")
            return ANY
        if name in FUNCTIONS_BY_NAME:
            self.report(codes.TYPE_MISMATCH, f"{_q(name)} is a function; call it with "
                        f"{name}(...)", expr.span)
            return ANY
        later = next((c for c in self.script.consts if c.name == name), None)
        if later is not None:
            # Constants are evaluated in order; saying "unknown" would mislead.
            self.report(codes.UNKNOWN_VARIABLE, f"constant {_q(name)} is used before its "
                        "definition", expr.span, help=f"it is defined at line {later.span.line}; "
                        "a constant can only use the constants above it")
            return ANY
        known = list(self.variables) + list(self.result.consts)
        self.report(codes.UNKNOWN_VARIABLE, f"unknown variable {_q(name)}", expr.span,
                    help=did_you_mean(name, known) or
                    "assign it first with set, collect, lookup or do ... into")
        return ANY

    def _type_attribute(self, expr: ast.Attribute) -> Type:
        if isinstance(expr.value, ast.Name) and expr.value.id in FACT_OWNERS \
                and expr.value.id not in self.variables:
            owner = expr.value.id
            fact = FACTS_BY_NAME.get((owner, expr.name))
            if fact is None:
                names = [f.name for f in FACTS if f.owner == owner]
                self.report(codes.UNKNOWN_ATTRIBUTE, f"{_q(owner)} has no fact {_q(expr.name)}",
                            expr.name_span, help=did_you_mean(expr.name, names) or
                            "the facts are: " + ", ".join(names))
                return ANY
            return fact.type
        base = self.type_of(expr.value)
        if base is ANY:
            return ANY
        if base.name != "record":
            self.report(codes.TYPE_MISMATCH, f"{_article(base)} has no field {_q(expr.name)}",
                        expr.name_span)
            return ANY
        if expr.name == "found":
            return BOOLEAN
        info = self.site.lookups.get(base.lookup) if (self.site and base.lookup) else None
        if info is None:
            return ANY
        if expr.name not in info.fields:
            fields = ["found", *info.fields]
            self.report(codes.UNKNOWN_ATTRIBUTE, f"lookup {_q(base.lookup)} has no field "
                        f"{_q(expr.name)}", expr.name_span,
                        help=did_you_mean(expr.name, fields) or "its fields are: " + ", ".join(fields))
            return ANY
        return SCALARS.get(info.fields[expr.name], ANY)

    def _type_call(self, expr: ast.Call) -> Type:
        function = FUNCTIONS_BY_NAME.get(expr.function)
        arg_types = [self.type_of(a) for a in expr.args]
        if function is None:
            self.report(codes.UNKNOWN_FUNCTION, f"unknown function {_q(expr.function)}",
                        expr.function_span, help=did_you_mean(expr.function, FUNCTIONS_BY_NAME))
            return ANY
        if len(expr.args) != len(function.params):
            expected = ", ".join(f"{n}: {t}" for n, t in function.params)
            self.report(codes.ARGUMENT_COUNT, f"{function.name}() takes {len(function.params)} "
                        f"argument{'s' if len(function.params) != 1 else ''}, got {len(expr.args)}",
                        expr.span, help=f"{function.name}({expected})")
            return function.returns
        for arg, arg_type, (param, param_type) in zip(expr.args, arg_types, function.params):
            if function.name == "len" and arg_type is not ANY and arg_type is not STRING \
                    and arg_type.name != "list":
                self.report(codes.TYPE_MISMATCH, f"len() needs a string or a list, not "
                            f"{_article(arg_type)}", arg.span)
            elif not compatible(param_type, arg_type):
                self.report(codes.TYPE_MISMATCH, f"argument {_q(param)} of {function.name}() "
                            f"must be {_article(param_type)}, not {_article(arg_type)}", arg.span)
        if function.resource:
            self.check_resource(function.resource, expr.args[0])
        return function.returns

    def _type_unary(self, expr: ast.Unary) -> Type:
        operand = self.type_of(expr.operand)
        if expr.op == "not":
            self.expect(expr.operand, operand, BOOLEAN, '"not"')
            return BOOLEAN
        if operand not in (NUMBER, DURATION, ANY):
            self.report(codes.TYPE_MISMATCH, f"cannot negate {_article(operand)}", expr.span)
            return ANY
        return operand

    def _type_binary(self, expr: ast.Binary) -> Type:
        op = expr.op
        left, right = self.type_of(expr.left), self.type_of(expr.right)
        if op in _GROWING:
            self._fold(expr)  # finds constant values too large to build
        if op in ("and", "or"):
            self.expect(expr.left, left, BOOLEAN, f'"{op}"')
            self.expect(expr.right, right, BOOLEAN, f'"{op}"')
            return BOOLEAN
        if left is ANY or right is ANY:
            if op in _COMPARISONS or op in _EQUALITY or op.endswith("in"):
                return BOOLEAN
            # The result type follows from the known operand only when one
            # rule fits it: an unknown value minus a time is a duration, but
            # a time minus an unknown value may be a time or a duration.
            known, side = (left, 0) if right is ANY else (right, 1)
            results = {result for operands, result in _ARITHMETIC[op].items()
                       if operands[side] == known}
            return results.pop() if len(results) == 1 else ANY
        if op in _EQUALITY:
            if not compatible(left, right):
                self._mismatch(expr, left, right)
            return BOOLEAN
        if op in _COMPARISONS:
            if left != right or left not in _ORDERED:
                self._mismatch(expr, left, right)
            return BOOLEAN
        if op in ("in", "not in"):
            if right is STRING and left is STRING:
                return BOOLEAN
            if right.name != "list" or not compatible(right.element or ANY, left):
                self.report(codes.TYPE_MISMATCH, f'"{op}" needs a list of {left} values or a '
                            f"string on its right, not {_article(right)}", expr.right.span)
            return BOOLEAN
        result = _ARITHMETIC[op].get((left, right))
        if result is None:
            self._mismatch(expr, left, right)
            return ANY
        return result

    def _mismatch(self, expr: ast.Binary, left: Type, right: Type) -> None:
        hint = None
        if {left, right} == {NUMBER, DURATION}:
            hint = "give the number a unit, e.g. 30s or 2m"
        elif {left, right} == {STRING, NUMBER}:
            hint = "convert with to_number(...) or to_text(...)"
        self.report(codes.TYPE_MISMATCH, f'cannot apply "{expr.op}" to {_article(left)} and '
                    f"{_article(right)}", expr.span, help=hint)

    def expect(self, expr: ast.Expr, actual: Type, expected: Type, what: str) -> None:
        if compatible(expected, actual):
            return
        hint = None
        if expected is DURATION and actual is NUMBER:
            hint = "durations need a unit: 500ms, 30s, 2m, 1h, 1d"
        elif expected is STRING and actual is NUMBER:
            hint = 'write it in quotes, e.g. "1"'
        elif expected is BOOLEAN:
            hint = "compare it with something, e.g. == or >"
        self.report(codes.TYPE_MISMATCH, f"{what} needs {_article(expected)}, but this is "
                    f"{_article(actual)}", expr.span, help=hint)

    def check_value(self, expr: ast.Expr | None, expected: Type, what: str) -> None:
        if expr is not None:
            self.expect(expr, self.type_of(expr), expected, what)

    # ---------------------------------------------------------------- resources

    _RESOURCE = {
        "group": ("groups", codes.UNKNOWN_GROUP, "answer group"),
        "prompt": ("prompts", codes.UNKNOWN_PROMPT, "prompt"),
        "calendar": ("calendars", codes.UNKNOWN_CALENDAR, "calendar"),
        "hot_prompt": ("hot_prompts", codes.UNKNOWN_HOT_PROMPT, "hot prompt"),
        "lookup": ("lookups", codes.UNKNOWN_LOOKUP, "lookup"),
        "language": ("languages", codes.BAD_VALUE, "language"),
    }

    def check_resource(self, kind: str, expr: ast.Expr) -> None:
        """Check a compile-time name (group, prompt, ...) against the site, if there is one."""
        if self.site is None:
            return
        name = self.static_string(expr)
        if name is None:
            return
        attribute, code, label = self._RESOURCE[kind]
        known = getattr(self.site, attribute)
        if kind == "language" and not known:
            return
        if name not in known:
            self.report(code, f"unknown {label} {_q(name)}", expr.span,
                        help=did_you_mean(name, known) or
                        (f"the site defines: {', '.join(sorted(known))}" if known and len(known) <= 8
                         else "define it in the site configuration"))

    # ---------------------------------------------------------------- statements

    def _check_body(self, body: tuple[ast.Stmt, ...]) -> None:
        for stmt in body:
            _STMT_RULES[type(stmt)](self, stmt)

    def _nothing(self, stmt) -> None:
        pass

    def _check_break(self, stmt: ast.Break) -> None:
        if self._loop_depth == 0:
            self.report(codes.BREAK_OUTSIDE_LOOP, '"break" outside a loop', stmt.span,
                        help='"break" leaves the innermost every, while or repeat loop')

    def _check_play(self, stmt: ast.Play) -> None:
        for prompt in stmt.prompts:
            self.check_value(prompt, STRING, "play")
            self.check_resource("prompt", prompt)

    def _check_play_hot(self, stmt: ast.PlayHot) -> None:
        self.check_value(stmt.prompt, STRING, "play hot")
        self.check_resource("hot_prompt", stmt.prompt)

    def _check_say(self, stmt: ast.Say) -> None:
        if stmt.kind == "digits":
            value_type = self.type_of(stmt.value)
            if value_type not in (STRING, NUMBER, ANY):
                self.report(codes.TYPE_MISMATCH, f"say digits needs a string or a number, not "
                            f"{_article(value_type)}", stmt.value.span)
        else:
            expected = DURATION if stmt.kind == "duration" else NUMBER
            self.check_value(stmt.value, expected, f"say {stmt.kind}")
        self.check_value(stmt.currency, STRING, "currency")

    def _check_music(self, stmt: ast.Music) -> None:
        self.check_value(stmt.moh_class, STRING, "music")

    def _check_wait(self, stmt: ast.Wait) -> None:
        self.check_value(stmt.duration, DURATION, "wait")
        self._check_range(stmt.duration, 0, 86400, "a wait", unit="s")

    def _check_set(self, stmt: ast.Set) -> None:
        value_type = self.type_of(stmt.value)
        if not stmt.fact:
            self._assign(stmt.name, value_type, stmt, stmt.target_span)
            return
        fact = FACTS_BY_NAME.get(("call", stmt.name))
        if fact is None or not fact.settable:
            settable = [f.qualified for f in FACTS if f.settable]
            what = f"call.{stmt.name}" if "." not in stmt.name else stmt.name
            self.report(codes.READ_ONLY, f"{what} cannot be assigned", stmt.target_span,
                        help="only " + " and ".join(settable) + " can be set")
            return
        self.expect(stmt.value, value_type, fact.type, f"call.{fact.name}")
        if fact.name == "language":
            self.check_resource("language", stmt.value)
        elif fact.name == "priority":
            self._check_count(stmt.value, 0, MAX_PRIORITY, "a priority")

    def _check_goto(self, stmt: ast.Goto) -> None:
        self._check_block_name(stmt.block, stmt.block_span)

    def _check_block_name(self, name: str, span) -> None:
        if name not in self.result.blocks:
            self.report(codes.UNKNOWN_BLOCK, f"unknown block {_q(name)}", span,
                        help=did_you_mean(name, self.result.blocks) or
                        f'define it with "block {name}:"')

    def _check_queue(self, stmt: ast.Queue) -> None:
        for group in stmt.groups:
            self.check_value(group, STRING, "an answer group")
            self.check_resource("group", group)
        self._check_options(stmt.options, _QUEUE_OPTIONS)

    def _check_add_group(self, stmt: ast.AddGroup) -> None:
        self.check_value(stmt.group, STRING, "an answer group")
        self.check_resource("group", stmt.group)
        self._check_options(stmt.options, _ADD_GROUP_OPTIONS, '"add group"')

    def _check_remove_group(self, stmt: ast.RemoveGroup) -> None:
        self.check_value(stmt.group, STRING, "an answer group")
        self.check_resource("group", stmt.group)

    def _check_callback(self, stmt: ast.OfferCallback) -> None:
        self._check_options(stmt.options, _CALLBACK_OPTIONS, '"offer callback"')
        if not any(o.name == "prompt" for o in stmt.options):
            # Without a prompt the caller hears nothing and cannot know a key accepts.
            self.report(codes.MISPLACED_OPTION, '"offer callback" needs a prompt',
                        stmt.span, help='e.g. offer callback prompt "cb-offer" key 1')

    def _check_voicemail(self, stmt: ast.Voicemail) -> None:
        self.check_value(stmt.address, STRING, "voicemail to")
        address = self.static_string(stmt.address)
        if address is not None and "@" not in address:
            self.report(codes.BAD_VALUE, f"{_q(address)} is not an e-mail address", stmt.address.span)
        self._check_options(stmt.options, _VOICEMAIL_OPTIONS)

    def _check_transfer(self, stmt: ast.Transfer) -> None:
        self.check_value(stmt.number, STRING, "transfer to")

    def _check_lookup(self, stmt: ast.Lookup) -> None:
        # Typed once: typing again would report an unknown name in it twice.
        lookup_type = self.type_of(stmt.lookup)
        self.expect(stmt.lookup, lookup_type, STRING, "lookup")
        if self.static_string(stmt.lookup) is None and lookup_type is STRING:
            self.report(codes.TYPE_MISMATCH, "the lookup must be named by a string literal or "
                        "constant", stmt.lookup.span)
        self.check_resource("lookup", stmt.lookup)
        key_type = self.type_of(stmt.key)
        if key_type not in (STRING, NUMBER, ANY):
            self.report(codes.TYPE_MISMATCH, f"a lookup key must be a string or a number, not "
                        f"{_article(key_type)}", stmt.key.span)
        self._assign(stmt.into, record(self.static_string(stmt.lookup)), stmt, stmt.into_span)

    def _check_command(self, stmt: ast.Command) -> None:
        arg_types = [self.type_of(a) for a in stmt.args]
        if self.site is None:
            if stmt.into:
                # Without a site the result's type is unknown, but the name must
                # still be one a variable can have (not a constant, not `call`).
                self._assign(stmt.into, ANY, stmt, stmt.into_span)
            return
        info = self.site.commands.get(stmt.name)
        if info is None:
            self.report(codes.UNKNOWN_COMMAND, f"unknown command {_q(stmt.name)}", stmt.name_span,
                        help=did_you_mean(stmt.name, self.site.commands) or
                        "custom commands are declared by the site's command modules")
            return
        if len(stmt.args) != len(info.parameters):
            self.report(codes.ARGUMENT_COUNT, f"{stmt.name}() takes {len(info.parameters)} "
                        f"argument{'s' if len(info.parameters) != 1 else ''}, got "
                        f"{len(stmt.args)}", stmt.span, help=info.signature())
        else:
            for arg, arg_type, param in zip(stmt.args, arg_types, info.parameters):
                expected = SCALARS.get(param.type, ANY)
                if not compatible(expected, arg_type):
                    self.report(codes.TYPE_MISMATCH, f"argument {_q(param.name)} of {stmt.name}() "
                                f"must be {_article(expected)}, not {_article(arg_type)}",
                                arg.span, help=info.signature())
        if stmt.into:
            if info.returns is None:
                self.report(codes.TYPE_MISMATCH, f"{stmt.name}() returns nothing to store",
                            stmt.into_span, help=f'remove "into {stmt.into}"')
            else:
                self._assign(stmt.into, SCALARS.get(info.returns, ANY), stmt, stmt.into_span)

    def _check_log(self, stmt: ast.Log) -> None:
        self.type_of(stmt.message)

    def _check_save(self, stmt: ast.Save) -> None:
        self.check_value(stmt.key, STRING, "save")
        value_type = self.type_of(stmt.value)
        if value_type.name in ("list", "record"):
            self.report(codes.TYPE_MISMATCH, f"save stores a single value, not "
                        f"{_article(value_type)}", stmt.value.span)

    def _check_if(self, stmt: ast.If) -> None:
        for condition, body in stmt.branches:
            self.check_value(condition, BOOLEAN, "a condition")
            if isinstance(condition, ast.BoolLit):
                self.report(codes.CONSTANT_CONDITION, f"the condition is always "
                            f"{str(condition.value).lower()}", condition.span)
            self._check_body(body)
        if stmt.orelse is not None:
            self._check_body(stmt.orelse)

    def _check_loop_body(self, body) -> None:
        self._loop_depth += 1
        try:
            self._check_body(body)
        finally:
            self._loop_depth -= 1

    def _check_every(self, stmt: ast.Every) -> None:
        self.check_value(stmt.interval, DURATION, "every")
        value = self.constant_value(stmt.interval)
        if isinstance(value, float) and value < 1:
            self.report(codes.INTERVAL_TOO_SHORT, "every needs an interval of at least 1s",
                        stmt.interval.span)
        self._check_loop_body(stmt.body)

    def _check_while(self, stmt: ast.While) -> None:
        self.check_value(stmt.condition, BOOLEAN, "a condition")
        if isinstance(stmt.condition, ast.BoolLit) and not stmt.condition.value:
            self.report(codes.CONSTANT_CONDITION, "the condition is always false", stmt.condition.span)
        self._check_loop_body(stmt.body)

    def _check_repeat(self, stmt: ast.Repeat) -> None:
        self.check_value(stmt.count, NUMBER, "repeat")
        self._check_count(stmt.count, 0, MAX_REPEAT, "a repeat count")
        self._check_loop_body(stmt.body)

    def _check_menu(self, stmt: ast.Menu) -> None:
        self.check_value(stmt.prompt, STRING, "menu")
        self.check_resource("prompt", stmt.prompt)
        self._check_options(stmt.options, _MENU_OPTIONS)
        self._check_handlers(stmt.handlers, allow_keys=True)
        if not any(h.kind == "key" for h in stmt.handlers):
            self.report(codes.EMPTY_MENU, "this menu has no key handlers", stmt.span,
                        help='add branches such as "key 1:"')

    def _check_collect(self, stmt: ast.Collect) -> None:
        self._assign(stmt.variable, STRING, stmt, stmt.variable_span)
        self._check_options(stmt.options, _COLLECT_OPTIONS)
        self._check_handlers(stmt.handlers, allow_keys=False)
        names = {o.name for o in stmt.options}
        if any(h.kind == "invalid" for h in stmt.handlers) and not names & {"valid", "digits"}:
            handler = next(h for h in stmt.handlers if h.kind == "invalid")
            self.report(codes.SURPLUS_HANDLER, "this invalid: handler can never run: nothing "
                        "makes an entry invalid", handler.span,
                        help='add "valid if ..." or a digit count such as "digits 6"')

    def _check_handlers(self, handlers, allow_keys: bool) -> None:
        seen_keys: dict[str, ast.Key] = {}
        seen_kinds: dict[str, ast.Handler] = {}
        for handler in handlers:
            if handler.kind == "key":
                if not allow_keys:
                    self.report(codes.MISPLACED_HANDLER, "collect has no key handlers",
                                handler.span, help="use a menu to branch on single keys")
                for key in handler.keys:
                    self._check_key(key)
                    if key.text in seen_keys:
                        self.report(codes.DUPLICATE_KEY, f"key {key.text} is already handled at "
                                    f"line {seen_keys[key.text].span.line}", key.span)
                    seen_keys.setdefault(key.text, key)
            elif handler.kind in seen_kinds:
                self.report(codes.DUPLICATE_HANDLER, f"a second {handler.kind}: handler",
                            handler.span,
                            help=f"the first is at line {seen_kinds[handler.kind].span.line}")
            else:
                seen_kinds[handler.kind] = handler
            self._check_body(handler.body)

    def _check_key(self, key: ast.Key) -> None:
        if len(key.text) != 1 or key.text not in VALID_KEYS:
            self.report(codes.BAD_KEY, f"{_q(key.text)} is not a telephone key", key.span,
                        help='keys are 0-9, "*" and "#"')

    # ---------------------------------------------------------------- options

    def _check_options(self, options: tuple[ast.Option, ...], allowed: dict,
                       statement: str = "") -> None:
        seen: dict[str, ast.Option] = {}
        for option in options:
            if option.name in seen:
                self.report(codes.DUPLICATE_OPTION, f"option {_q(option.name.replace('_', ' '))} "
                            "is given twice", option.span)
            seen[option.name] = option
            rule = allowed.get(option.name)
            if rule is None:
                names = ", ".join(_OPTION_WORDS.get(n, n) for n in allowed)
                self.report(codes.MISPLACED_OPTION, f"{statement} does not take the option "
                            f"{_q(_OPTION_WORDS.get(option.name, option.name))}", option.span,
                            help=f"its options are: {names}")
                continue
            rule(self, option)

    def _option_duration(self, option: ast.Option, low: float = 0, high: float = 86400 * 30):
        # Named as written in the script ("prefer previous agent within", not "prefer previous").
        label = _OPTION_WORDS.get(option.name, option.name)
        self.check_value(option.value, DURATION, label)
        self._check_range(option.value, low, high, f"the {label}", unit="s")

    def _option_prompt(self, option: ast.Option) -> None:
        self.check_value(option.value, STRING, "prompt")
        self.check_resource("prompt", option.value)

    def _option_key(self, option: ast.Option) -> None:
        self._check_key(option.value)

    def _option_retries(self, option: ast.Option) -> None:
        self.check_value(option.value, NUMBER, "retries")
        self._check_count(option.value, 0, MAX_RETRIES, "retries")

    def _option_priority(self, option: ast.Option) -> None:
        self.check_value(option.value, NUMBER, "priority")
        self._check_count(option.value, 0, MAX_PRIORITY, "a priority")

    def _option_digits(self, option: ast.Option) -> None:
        self.check_value(option.value, NUMBER, "digits")
        self._check_count(option.value, 1, MAX_DIGITS, "a digit count")
        if option.upper is not None:
            self.check_value(option.upper, NUMBER, "digits")
            self._check_count(option.upper, 1, MAX_DIGITS, "a digit count")
            low, high = self.constant_value(option.value), self.constant_value(option.upper)
            if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
                self.report(codes.BAD_VALUE, f"digits {low} to {high} is an empty range",
                            option.span, help=f"write digits {high} to {low}")

    def _option_valid(self, option: ast.Option) -> None:
        self.check_value(option.value, BOOLEAN, "valid if")

    def _option_when_empty(self, option: ast.Option) -> None:
        self._check_block_name(option.target, option.span)

    def _check_count(self, expr, low, high, what: str) -> None:
        """A count or priority: a whole number from low to high (when known before the call)."""
        value = self.constant_value(expr) if expr is not None else _NOT_CONSTANT
        if isinstance(value, float) and not value.is_integer():
            self.report(codes.BAD_VALUE, f"{what} must be a whole number, not {value:g}",
                        expr.span, help=f"use a whole number from {low} to {high}")
            return
        self._check_range(expr, low, high, what)

    def _check_range(self, expr, low, high, what: str, unit: str = "") -> None:
        value = self.constant_value(expr) if expr is not None else _NOT_CONSTANT
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        if not low <= value <= high:
            self.report(codes.BAD_VALUE, f"{what} must be between {_fmt(low, unit)} and "
                        f"{_fmt(high, unit)}, not {_fmt(value, unit)}", expr.span)


_OPTION_WORDS = {"prefer_previous": "prefer previous agent within", "max": "max duration"}


def _fmt(value, unit: str) -> str:
    if isinstance(value, float) and value == int(value):
        value = int(value)
    return f"{value}{unit}"


class _NotConstant:
    def __repr__(self) -> str:
        return "<not constant>"


_NOT_CONSTANT = _NotConstant()
_NOT_FOLDED = (_NOT_CONSTANT, False)
_INT64_MIN, _INT64_MAX = -2**63, 2**63 - 1
#: A time of day is stored as minutes since midnight.
MINUTES_PER_DAY = 1440


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

_LITERAL_TYPES = {ast.NumberLit: NUMBER, ast.StringLit: STRING, ast.DurationLit: DURATION,
                  ast.TimeLit: TIME, ast.BoolLit: BOOLEAN}

_EXPR_RULES = {
    ast.NumberLit: Checker._type_literal, ast.StringLit: Checker._type_literal,
    ast.DurationLit: Checker._type_literal, ast.TimeLit: Checker._type_literal,
    ast.BoolLit: Checker._type_literal, ast.ListLit: Checker._type_list,
    ast.Name: Checker._type_name, ast.Attribute: Checker._type_attribute,
    ast.Call: Checker._type_call, ast.Unary: Checker._type_unary, ast.Binary: Checker._type_binary,
}

_STMT_RULES = {
    ast.Answer: Checker._nothing, ast.Hangup: Checker._nothing, ast.Stop: Checker._nothing,
    ast.Pass: Checker._nothing, ast.Break: Checker._check_break, ast.Play: Checker._check_play,
    ast.PlayHot: Checker._check_play_hot, ast.Say: Checker._check_say,
    ast.Music: Checker._check_music, ast.Wait: Checker._check_wait, ast.Set: Checker._check_set,
    ast.Goto: Checker._check_goto, ast.Queue: Checker._check_queue,
    ast.AddGroup: Checker._check_add_group, ast.RemoveGroup: Checker._check_remove_group,
    ast.Announce: Checker._nothing, ast.OfferCallback: Checker._check_callback,
    ast.Voicemail: Checker._check_voicemail, ast.Transfer: Checker._check_transfer,
    ast.Lookup: Checker._check_lookup, ast.Command: Checker._check_command,
    ast.Log: Checker._check_log, ast.Save: Checker._check_save, ast.If: Checker._check_if,
    ast.Every: Checker._check_every, ast.While: Checker._check_while,
    ast.Repeat: Checker._check_repeat, ast.Menu: Checker._check_menu,
    ast.Collect: Checker._check_collect,
}

_TIMEOUT = lambda self, o: Checker._option_duration(self, o, 0.1, 3600)  # noqa: E731
_QUEUE_OPTIONS = {
    "priority": Checker._option_priority,
    "credit": lambda self, o: Checker._option_duration(self, o, 0, 86400),
    "target": lambda self, o: Checker._option_duration(self, o, 1, 86400),
    "prefer_previous": lambda self, o: Checker._option_duration(self, o, 1, 86400 * 365),
    "when_empty": Checker._option_when_empty,
}
_ADD_GROUP_OPTIONS = {"priority": _QUEUE_OPTIONS["priority"], "credit": _QUEUE_OPTIONS["credit"]}
_OPTION_WORDS = {"prefer_previous": "prefer previous agent within", "when_empty": "when empty goto",
                 "valid": "valid if", "max": "max"}
_CALLBACK_OPTIONS = {"prompt": Checker._option_prompt, "key": Checker._option_key,
                     "timeout": _TIMEOUT}
_VOICEMAIL_OPTIONS = {"prompt": Checker._option_prompt,
                      "max": lambda self, o: Checker._option_duration(self, o, 1, 3600)}
_MENU_OPTIONS = {"timeout": _TIMEOUT, "retries": Checker._option_retries}
_COLLECT_OPTIONS = {"prompt": Checker._option_prompt, "digits": Checker._option_digits,
                    "terminator": Checker._option_key, "timeout": _TIMEOUT,
                    "retries": Checker._option_retries, "valid": Checker._option_valid}


def quiet_typer(result: CheckResult, bag: DiagnosticBag) -> Checker:
    """A checker over an already checked script that types expressions without reporting."""
    checker = Checker(result.script, bag, result.site)
    checker.result = result
    checker.variables = result.variables
    checker._quiet = True
    checker._fold_memo = {}  # the AST no longer changes: fold each node once
    return checker


def check(script: ast.Script, bag: DiagnosticBag, site: SiteSymbols | None = None) -> CheckResult:
    """Check names, types and options; report into ``bag``."""
    return Checker(script, bag, site).run()
