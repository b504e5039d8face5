"""The compiler: a checked AST to a :class:`~qscript.bytecode.Program`.

It runs only on scripts the checker accepted, so it does not re-validate.
All sections and blocks go into one flat instruction list; ``goto`` is a
jump. Menus, digit collection with retries, and ``every`` loops are lowered
to plain jumps around a few effect instructions, so the VM stays small and
the same logic runs in the simulator and live.

The source map records, for each statement, the first instruction compiled
from it: a runtime error or a disassembly line points back to the script.
"""

from __future__ import annotations

from . import ast
from .builtins import FACTS_BY_NAME, FUNCTIONS_BY_NAME
from .bytecode import QUEUE_OPTION_ORDER, TYPE_TAGS, Op, Program, QueueShape, Variable, source_hash
from .checker import _NOT_CONSTANT, COUNTS, MINUTES_PER_DAY, CheckResult, quiet_typer
from .diagnostics import DiagnosticBag
from .flow import body_completes
from .source import Source
from .types import TIME, zero_value

DEFAULT_MENU_TIMEOUT = 5.0
DEFAULT_RETRIES = 2
DEFAULT_COLLECT_TIMEOUT = 10.0
DEFAULT_MAX_DIGITS = 32
DEFAULT_TERMINATOR = "#"
DEFAULT_CALLBACK_KEY = "1"
DEFAULT_VOICEMAIL_MAX = 120.0

_BINARY_OPS = {"+": Op.ADD, "-": Op.SUB, "*": Op.MUL, "/": Op.DIV, "%": Op.MOD, "==": Op.EQ,
               "!=": Op.NE, "<": Op.LT, "<=": Op.LE, ">": Op.GT, ">=": Op.GE, "in": Op.IN,
               "not in": Op.NOT_IN}
_SAY_KINDS = {"number": 0, "amount": 1, "digits": 2, "duration": 3}


class _Label:
    """A jump target whose pc may not be known yet; jumps to it are patched later."""

    __slots__ = ("pc", "uses")

    def __init__(self):
        self.pc: int | None = None
        self.uses: list[int] = []


class Compiler:
    def __init__(self, checked: CheckResult, source: Source):
        self.checked = checked
        self.source = source
        self.typer = quiet_typer(checked, DiagnosticBag(source))
        self.code: list[list[int]] = []
        self.constants: list = []
        self._constant_index: dict = {}
        self.slots: dict[str, int] = {}
        self.variables: list[Variable] = []
        for name, type_ in checked.variables.items():
            self._new_slot(name, type_.name, zero_value(type_))
        self.source_map: list[tuple[int, int, int]] = []
        self.block_labels = {name: _Label() for name in checked.blocks}
        self.loop_ends: list[_Label] = []
        self._hidden = 0
        self._time_memo: dict[int, bool] = {}

    # ---------------------------------------------------------------- emitting

    def emit(self, op: Op, arg: int = 0) -> int:
        self.code.append([int(op), arg])
        return len(self.code) - 1

    def mark(self, node: ast.Node) -> None:
        """Attribute the next instructions to ``node`` in the source map."""
        position = (node.span.line, node.span.column)
        if self.source_map and self.source_map[-1][0] == len(self.code):
            self.source_map[-1] = (len(self.code), *position)
        elif not self.source_map or self.source_map[-1][1:] != position:
            self.source_map.append((len(self.code), *position))

    def constant(self, value) -> int:
        key = (type(value), value)
        index = self._constant_index.get(key)
        if index is None:
            index = len(self.constants)
            self.constants.append(value)
            self._constant_index[key] = index
        return index

    def emit_const(self, value) -> None:
        self.emit(Op.CONST, self.constant(value))

    def jump(self, op: Op, label: _Label) -> None:
        pc = self.emit(op, -1)
        if label.pc is not None:
            self.code[pc][1] = label.pc
        else:
            label.uses.append(pc)

    def place(self, label: _Label) -> None:
        label.pc = len(self.code)
        for pc in label.uses:
            self.code[pc][1] = label.pc
        label.uses.clear()

    def _new_slot(self, name: str, type_name: str, initial) -> int:
        self.slots[name] = len(self.variables)
        self.variables.append(Variable(name, type_name if type_name in TYPE_TAGS else "any", initial))
        return self.slots[name]

    def hidden_slot(self, purpose: str, initial=0) -> int:
        """A slot for compiler bookkeeping (retry counters, loop deadlines, the menu key)."""
        self._hidden += 1
        type_name = "string" if isinstance(initial, str) else "number"
        return self._new_slot(f"%{purpose}{self._hidden}", type_name, initial)

    # ---------------------------------------------------------------- program

    def compile(self) -> Program:
        entries = {"inbound": -1, "queue": -1, "after": -1}
        blocks = {}
        for section in self.checked.script.sections:
            if section.kind == "block":
                if self.block_labels[section.name].pc is not None:
                    continue  # a duplicate; the checker reported it
                self.place(self.block_labels[section.name])
                blocks[section.name] = len(self.code)
            elif entries[section.kind] == -1:
                entries[section.kind] = len(self.code)
            else:
                continue
            self.mark(section)
            self.body(section.body)
            self.mark(section)
            self.emit(Op.STOP)
        code = [tuple(instruction) for instruction in self.code]
        return Program(code, tuple(self.constants), tuple(self.variables), entries, blocks,
                       self.source_map, self.source.name, source_hash(self.source.text),
                       self.source.text)

    def body(self, statements) -> None:
        for stmt in statements:
            self.mark(stmt)
            _STATEMENTS[type(stmt)](self, stmt)

    # ---------------------------------------------------------------- expressions

    def expr(self, expr: ast.Expr) -> None:
        if not isinstance(expr, ast.LITERALS):
            value = self.typer.constant_value(expr)
            if value is not _NOT_CONSTANT and value is not None:
                self.emit_const(value)
                return
        _EXPRESSIONS[type(expr)](self, expr)

    def count(self, expr: ast.Expr, kind: str) -> None:
        """Push a count or priority (see checker.COUNTS); the VM checks one not known before the call."""
        self.expr(expr)
        if self.typer.constant_value(expr) is _NOT_CONSTANT:
            low, high, what = COUNTS[kind]
            self.emit(Op.WHOLE, self.constant((what, low, high)))

    def _literal(self, expr) -> None:
        if isinstance(expr, ast.DurationLit):
            self.emit_const(float(expr.seconds))
        elif isinstance(expr, ast.TimeLit):
            self.emit_const(expr.minutes)
        else:
            self.emit_const(expr.value)

    def _list(self, expr: ast.ListLit) -> None:
        for item in expr.items:
            self.expr(item)
        self.emit(Op.LIST, len(expr.items))

    def _name(self, expr: ast.Name) -> None:
        if expr.id in self.checked.consts:
            self.emit_const(self.checked.consts[expr.id])
        else:
            self.emit(Op.LOAD, self.slots[expr.id])

    def _attribute(self, expr: ast.Attribute) -> None:
        if isinstance(expr.value, ast.Name) and (expr.value.id, expr.name) in FACTS_BY_NAME \
                and expr.value.id not in self.slots:
            self.emit(Op.FACT, FACTS_BY_NAME[(expr.value.id, expr.name)].id)
            return
        self.expr(expr.value)
        # A lookup that found nothing has no fields: each reads as its type's
        # zero value (0, "", false, ...), so `customer.balance > 100` is safe.
        missing = zero_value(self.typer.type_of(expr))
        self.emit(Op.FIELD, self.constant((expr.name, "" if missing is None else missing)))

    def _call(self, expr: ast.Call) -> None:
        function = FUNCTIONS_BY_NAME[expr.function]
        if function.name == "to_text":
            self.expr(expr.args[0])
            self.emit(Op.FORMAT, self._type_tag(expr.args[0]))
            return
        for arg in expr.args:
            self.expr(arg)
        self.emit(Op.CALL, function.id * 256 + len(expr.args))

    def _unary(self, expr: ast.Unary) -> None:
        self.expr(expr.operand)
        self.emit(Op.NOT if expr.op == "not" else Op.NEG)

    def _binary(self, expr: ast.Binary) -> None:
        if expr.op in ("and", "or"):
            end = _Label()
            self.expr(expr.left)
            self.jump(Op.JUMP_IF_FALSE_KEEP if expr.op == "and" else Op.JUMP_IF_TRUE_KEEP, end)
            self.expr(expr.right)
            self.place(end)
            return
        self.expr(expr.left)
        self.expr(expr.right)
        if expr.op in ("+", "-") and self._is_time(expr.left):
            # A time of day is minutes since midnight, a duration seconds (the
            # VM's ADD/SUB are plain arithmetic), so convert here, exactly as
            # the checker's constant folding (Checker._fold) does.
            if self._is_time(expr.right):           # time - time → duration in seconds
                self.emit(Op.SUB)
                self.emit_const(60.0)
                self.emit(Op.MUL)
            else:                                   # time ± duration → time, wrapping at midnight
                self.emit_const(60.0)
                self.emit(Op.DIV)
                self.emit(_BINARY_OPS[expr.op])
                self.emit_const(MINUTES_PER_DAY)
                self.emit(Op.MOD)
            return
        self.emit(_BINARY_OPS[expr.op])

    def _is_time(self, expr: ast.Expr) -> bool:
        """Is the static type of ``expr`` a time of day? (memoised: sums can be long)"""
        if isinstance(expr, ast.Binary):
            if expr.op not in ("+", "-"):
                return False
            cached = self._time_memo.get(id(expr))
            if cached is None:
                cached = self._is_time(expr.left) and not self._is_time(expr.right)
                self._time_memo[id(expr)] = cached
            return cached
        return self.typer.type_of(expr) == TIME

    def _type_tag(self, expr: ast.Expr) -> int:
        return TYPE_TAGS.get(self.typer.type_of(expr).name, TYPE_TAGS["any"])

    def text(self, expr: ast.Expr) -> None:
        """Push ``expr`` as text, formatted by its static type."""
        self.expr(expr)
        if self.typer.type_of(expr).name != "string":
            self.emit(Op.FORMAT, self._type_tag(expr))

    def option_or(self, options, name: str, default) -> None:
        """Push the value of an option, or a default when it is not given."""
        for option in options:
            if option.name == name:
                if isinstance(option.value, ast.Key):
                    self.emit_const(option.value.text)
                else:
                    self.expr(option.value)
                return
        self.emit_const(default)

    # ---------------------------------------------------------------- statements

    def _simple(op: Op, arg: int = 0):  # noqa: N805 - a table helper, not a method
        def compile_simple(self, stmt) -> None:
            self.emit(op, arg)
        return compile_simple

    def _pass(self, stmt) -> None:
        pass

    def _break(self, stmt) -> None:
        self.jump(Op.JUMP, self.loop_ends[-1])

    def _play(self, stmt: ast.Play) -> None:
        for prompt in stmt.prompts:
            self.expr(prompt)
        self.emit(Op.PLAY, len(stmt.prompts))

    def _play_hot(self, stmt: ast.PlayHot) -> None:
        self.expr(stmt.prompt)
        self.emit(Op.PLAY_HOT)

    def _say(self, stmt: ast.Say) -> None:
        if stmt.kind == "digits":
            self.text(stmt.value)
        else:
            self.expr(stmt.value)
        if stmt.currency is not None:
            self.expr(stmt.currency)
        else:
            self.emit_const("")
        self.emit(Op.SAY, _SAY_KINDS[stmt.kind])

    def _music(self, stmt: ast.Music) -> None:
        if stmt.moh_class is None:
            self.emit_const("")
        else:
            self.expr(stmt.moh_class)
        self.emit(Op.MUSIC)

    def _wait(self, stmt: ast.Wait) -> None:
        self.expr(stmt.duration)
        self.emit(Op.WAIT)

    def _set(self, stmt: ast.Set) -> None:
        if stmt.fact:
            if stmt.name == "priority":
                self.count(stmt.value, "priority")
            else:
                self.expr(stmt.value)
            self.emit(Op.SET_FACT, FACTS_BY_NAME[("call", stmt.name)].id)
        else:
            self.expr(stmt.value)
            self.emit(Op.STORE, self.slots[stmt.name])

    def _goto(self, stmt: ast.Goto) -> None:
        self.jump(Op.JUMP, self.block_labels[stmt.block])

    def _queue_shape(self, groups: int, options) -> int:
        """Push present options in the canonical order; return the shape constant."""
        by_name = {o.name: o for o in options}
        present = tuple(name for name in QUEUE_OPTION_ORDER if name in by_name)
        for name in present:
            if name == "priority":
                self.count(by_name[name].value, "priority")
            else:
                self.expr(by_name[name].value)
        when_empty = -1
        if "when_empty" in by_name:
            # Patched to the block's pc once known: see compile_script.
            when_empty = -2 - list(self.block_labels).index(by_name["when_empty"].target)
        return self.constant(QueueShape(groups, present, when_empty).as_constant())

    def _queue(self, stmt: ast.Queue) -> None:
        for group in stmt.groups:
            self.expr(group)
        shape = self._queue_shape(len(stmt.groups), stmt.options)
        self.emit(Op.REQUEUE if stmt.requeue else Op.QUEUE, shape)

    def _add_group(self, stmt: ast.AddGroup) -> None:
        self.expr(stmt.group)
        self.emit(Op.ADD_GROUP, self._queue_shape(1, stmt.options))

    def _remove_group(self, stmt: ast.RemoveGroup) -> None:
        self.expr(stmt.group)
        self.emit(Op.REMOVE_GROUP)

    def _announce(self, stmt: ast.Announce) -> None:
        self.emit(Op.ANNOUNCE, 0 if stmt.what == "position" else 1)

    def _callback(self, stmt: ast.OfferCallback) -> None:
        self.option_or(stmt.options, "prompt", "")
        self.option_or(stmt.options, "key", DEFAULT_CALLBACK_KEY)
        self.option_or(stmt.options, "timeout", DEFAULT_MENU_TIMEOUT)
        self.emit(Op.OFFER_CALLBACK)
        declined = _Label()
        # An accepted callback ends the script: the caller hangs up and keeps
        # their place in the queue as a callback request.
        self.jump(Op.JUMP_IF_FALSE, declined)
        self.emit(Op.STOP)
        self.place(declined)

    def _voicemail(self, stmt: ast.Voicemail) -> None:
        self.expr(stmt.address)
        self.option_or(stmt.options, "prompt", "")
        self.option_or(stmt.options, "max", DEFAULT_VOICEMAIL_MAX)
        self.emit(Op.VOICEMAIL)

    def _transfer(self, stmt: ast.Transfer) -> None:
        self.expr(stmt.number)
        self.emit(Op.TRANSFER)

    def _lookup(self, stmt: ast.Lookup) -> None:
        self.text(stmt.key)
        self.emit(Op.LOOKUP, self.constant(self.typer.static_string(stmt.lookup)))
        self.emit(Op.STORE, self.slots[stmt.into])

    def _command(self, stmt: ast.Command) -> None:
        for arg in stmt.args:
            self.expr(arg)
        self.emit(Op.COMMAND, self.constant((stmt.name, len(stmt.args))))
        if stmt.into:
            self.emit(Op.STORE, self.slots[stmt.into])
        else:
            self.emit(Op.POP)

    def _log(self, stmt: ast.Log) -> None:
        self.text(stmt.message)
        self.emit(Op.LOG)

    def _save(self, stmt: ast.Save) -> None:
        self.expr(stmt.key)
        self.expr(stmt.value)
        self.emit(Op.SAVE)

    def _if(self, stmt: ast.If) -> None:
        end = _Label()
        for condition, body in stmt.branches:
            following = _Label()
            self.mark(condition)
            self.expr(condition)
            self.jump(Op.JUMP_IF_FALSE, following)
            self.body(body)
            if body_completes(body):
                self.jump(Op.JUMP, end)
            self.place(following)
        if stmt.orelse is not None:
            self.body(stmt.orelse)
        self.place(end)

    def _loop(self, top: _Label, end: _Label, body) -> None:
        self.loop_ends.append(end)
        try:
            self.body(body)
        finally:
            self.loop_ends.pop()

    def _every(self, stmt: ast.Every) -> None:
        # Start-to-start period: each round waits until `interval` after the
        # round began, so announcements do not stretch the period.
        deadline = self.hidden_slot("every")
        top, end = _Label(), _Label()
        self.place(top)
        self.emit(Op.CLOCK)
        self.expr(stmt.interval)
        self.emit(Op.ADD)
        self.emit(Op.STORE, deadline)
        self._loop(top, end, stmt.body)
        self.mark(stmt)
        self.emit(Op.LOAD, deadline)
        self.emit(Op.WAIT_UNTIL)
        self.jump(Op.JUMP, top)
        self.place(end)

    def _while(self, stmt: ast.While) -> None:
        top, end = _Label(), _Label()
        self.place(top)
        self.expr(stmt.condition)
        self.jump(Op.JUMP_IF_FALSE, end)
        self._loop(top, end, stmt.body)
        self.jump(Op.JUMP, top)
        self.place(end)

    def _repeat(self, stmt: ast.Repeat) -> None:
        counter = self.hidden_slot("repeat")
        top, end = _Label(), _Label()
        self.emit_const(0)
        self.emit(Op.STORE, counter)
        self.place(top)
        self.emit(Op.LOAD, counter)
        self.count(stmt.count, "repeat")
        self.emit(Op.LT)
        self.jump(Op.JUMP_IF_FALSE, end)
        self._loop(top, end, stmt.body)
        self.emit(Op.LOAD, counter)
        self.emit_const(1)
        self.emit(Op.ADD)
        self.emit(Op.STORE, counter)
        self.jump(Op.JUMP, top)
        self.place(end)

    def _handler_then_retry(self, handler: ast.Handler | None, retry: _Label) -> None:
        if handler is not None:
            self.mark(handler)
            self.body(handler.body)
            if not body_completes(handler.body):
                return
        self.jump(Op.JUMP, retry)

    def _handlers(self, handlers) -> dict[str, ast.Handler]:
        return {h.kind: h for h in handlers if h.kind != "key"}

    def _retry_tail(self, stmt, attempts: int, options, top: _Label, failed, end: _Label) -> None:
        """attempts += 1; retry while attempts <= retries; then run failed: (if any)."""
        self.mark(stmt)
        retries = next((o.value for o in options if o.name == "retries"), None)
        if retries is None or self.typer.constant_value(retries) != 0:
            self.emit(Op.LOAD, attempts)
            self.emit_const(1)
            self.emit(Op.ADD)
            self.emit(Op.DUP)
            self.emit(Op.STORE, attempts)
            if retries is None:
                self.emit_const(DEFAULT_RETRIES)
            else:
                self.count(retries, "retries")
            self.emit(Op.LE)
            self.jump(Op.JUMP_IF_TRUE, top)
        # With `retries 0` there is no retry loop at all (so branch coverage
        # does not list a retry no caller can reach).
        if failed is not None:
            self.mark(failed)
            self.body(failed.body)
            if not body_completes(failed.body):
                return
        self.jump(Op.JUMP, end)

    def _menu(self, stmt: ast.Menu) -> None:
        attempts = self.hidden_slot("attempts")
        key = self.hidden_slot("key", "")
        top, on_timeout, retry, end = _Label(), _Label(), _Label(), _Label()
        handlers = self._handlers(stmt.handlers)
        self.emit_const(0)
        self.emit(Op.STORE, attempts)
        self.place(top)
        self.expr(stmt.prompt)
        self.option_or(stmt.options, "timeout", DEFAULT_MENU_TIMEOUT)
        self.emit(Op.MENU_INPUT)
        self.emit(Op.STORE, key)
        key_labels = []
        for handler in stmt.handlers:
            if handler.kind != "key":
                continue
            label = _Label()
            key_labels.append((handler, label))
            self.emit(Op.LOAD, key)
            if len(handler.keys) == 1:
                self.emit_const(handler.keys[0].text)
                self.emit(Op.EQ)
            else:
                self.emit_const(tuple(k.text for k in handler.keys))
                self.emit(Op.IN)
            self.jump(Op.JUMP_IF_TRUE, label)
        self.emit(Op.LOAD, key)
        self.emit_const("")
        self.emit(Op.EQ)
        self.jump(Op.JUMP_IF_TRUE, on_timeout)
        self._handler_then_retry(handlers.get("invalid"), retry)
        self.place(on_timeout)
        if "timeout" in handlers:
            self.mark(handlers["timeout"])
            self.body(handlers["timeout"].body)
        self.place(retry)
        self._retry_tail(stmt, attempts, stmt.options, top, handlers.get("failed"), end)
        for handler, label in key_labels:
            self.place(label)
            self.mark(handler)
            self.body(handler.body)
            if body_completes(handler.body):
                self.jump(Op.JUMP, end)
        self.place(end)

    def _collect(self, stmt: ast.Collect) -> None:
        attempts = self.hidden_slot("attempts")
        variable = self.slots[stmt.variable]
        top, invalid, on_timeout, retry, end = _Label(), _Label(), _Label(), _Label(), _Label()
        handlers = self._handlers(stmt.handlers)
        options = {o.name: o for o in stmt.options}
        self.emit_const(0)
        self.emit(Op.STORE, attempts)
        self.place(top)
        self.option_or(stmt.options, "prompt", "")
        digits = options.get("digits")
        if digits is not None:
            self.count(digits.value, "digits")
            self.count(digits.upper if digits.upper is not None else digits.value, "digits")
        else:
            self.emit_const(1)
            self.emit_const(DEFAULT_MAX_DIGITS)
        self.option_or(stmt.options, "terminator", DEFAULT_TERMINATOR)
        self.option_or(stmt.options, "timeout", DEFAULT_COLLECT_TIMEOUT)
        self.emit(Op.COLLECT_INPUT)
        self.emit(Op.STORE, variable)
        self.emit(Op.LOAD, variable)
        self.emit_const("")
        self.emit(Op.EQ)
        self.jump(Op.JUMP_IF_TRUE, on_timeout)
        if digits is not None:  # too few digits (ended early with the terminator)
            self.emit(Op.LOAD, variable)
            self.emit(Op.CALL, FUNCTIONS_BY_NAME["len"].id * 256 + 1)
            self.expr(digits.value)
            self.emit(Op.LT)
            self.jump(Op.JUMP_IF_TRUE, invalid)
        if "valid" in options:
            self.expr(options["valid"].value)
            self.jump(Op.JUMP_IF_FALSE, invalid)
        self.jump(Op.JUMP, end)
        self.place(invalid)
        self._handler_then_retry(handlers.get("invalid"), retry)
        self.place(on_timeout)
        if "timeout" in handlers:
            self.mark(handlers["timeout"])
            self.body(handlers["timeout"].body)
        self.place(retry)
        # A failed entry leaves the variable empty, so scripts can test for "".
        failed = handlers.get("failed")
        self.emit_const("")
        self.emit(Op.STORE, variable)
        self._retry_tail(stmt, attempts, stmt.options, top, failed, end)
        self.place(end)


_EXPRESSIONS = {
    ast.NumberLit: Compiler._literal, ast.StringLit: Compiler._literal,
    ast.DurationLit: Compiler._literal, ast.TimeLit: Compiler._literal,
    ast.BoolLit: Compiler._literal, ast.ListLit: Compiler._list, ast.Name: Compiler._name,
    ast.Attribute: Compiler._attribute, ast.Call: Compiler._call, ast.Unary: Compiler._unary,
    ast.Binary: Compiler._binary,
}

_STATEMENTS = {
    ast.Answer: Compiler._simple(Op.ANSWER), ast.Hangup: Compiler._simple(Op.HANGUP),
    ast.Stop: Compiler._simple(Op.STOP), ast.Pass: Compiler._pass, ast.Break: Compiler._break,
    ast.Play: Compiler._play, ast.PlayHot: Compiler._play_hot, ast.Say: Compiler._say,
    ast.Music: Compiler._music, ast.Wait: Compiler._wait, ast.Set: Compiler._set,
    ast.Goto: Compiler._goto, ast.Queue: Compiler._queue, ast.AddGroup: Compiler._add_group,
    ast.RemoveGroup: Compiler._remove_group, ast.Announce: Compiler._announce,
    ast.OfferCallback: Compiler._callback, ast.Voicemail: Compiler._voicemail,
    ast.Transfer: Compiler._transfer, ast.Lookup: Compiler._lookup,
    ast.Command: Compiler._command, ast.Log: Compiler._log, ast.Save: Compiler._save,
    ast.If: Compiler._if, ast.Every: Compiler._every, ast.While: Compiler._while,
    ast.Repeat: Compiler._repeat, ast.Menu: Compiler._menu, ast.Collect: Compiler._collect,
}


def compile_script(checked: CheckResult, source: Source) -> Program:
    """Compile a checked script (the checker must have reported no errors)."""
    compiler = Compiler(checked, source)
    program = compiler.compile()
    _patch_when_empty(program, list(compiler.block_labels.values()), compiler)
    return program


def _patch_when_empty(program: Program, labels: list[_Label], compiler: Compiler) -> None:
    """Replace the block placeholders in queue shapes with the blocks' pcs."""
    constants = list(program.constants)
    for index, value in enumerate(constants):
        if isinstance(value, tuple) and value and value[0] == "queue" and value[3] <= -2:
            constants[index] = value[:3] + (labels[-2 - value[3]].pc,)
    program.constants = tuple(constants)
