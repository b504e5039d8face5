"""Parsing: source text to the typed AST (:mod:`qscript.ast`).

The grammar (grammar/qscript.lark) is loaded once from the installed package
with Lark's on-disk cache. Lark calls :class:`_AstBuilder` while it parses
(an "internal transformer"), so no parse tree is ever built: that halves the
time to parse a large script. Because internal transformers get no position
metadata, the parser keeps every token (``keep_all_tokens``) and spans are
computed from the first and last token or node of each rule.

Syntax errors become :class:`~qscript.diagnostics.Diagnostic` objects with a
code (Q01xx), a span and, where we can tell, a hint. Parsing stops at the
first syntax error (resynchronising an indentation-based LALR parse tends to
produce a cascade of false errors); the checker, which runs on any script
that parses, reports every other problem in one run.
"""

from __future__ import annotations

import math

import dataclasses
import re
from functools import lru_cache

from lark import Lark, Token
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast, codes
from .diagnostics import DiagnosticBag
from .lexer import LexError, QScriptLexer, find_comments
from .source import Source, Span


def _token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line or token.line,
                token.end_column or token.column + 1)


# ============================================================== AST building


_LAYOUT = frozenset(("_NL", "_INDENT", "_DEDENT"))


def _span(items) -> Span:
    """The span from the first to the last positioned item (token or node)."""
    first = last = None
    for item in items:
        if isinstance(item, Token):
            if item.type in _LAYOUT:
                continue
            span = _token_span(item)
        elif isinstance(item, ast.Node):
            span = item.span
        else:
            continue
        if first is None:
            first = span
        last = span
    if first is None:
        return Span(0, 0, 0, 0)
    return first.to(last)


def _header_span(children) -> Span:
    """Span of a compound statement's header: from its keyword to the ":"."""
    header = []
    for item in children:
        header.append(item)
        if isinstance(item, Token) and item.type == "COLON":
            break
    return _span(header)


def _nodes(children) -> list:
    return [c for c in children if isinstance(c, ast.Node)]


def _exprs(children) -> tuple:
    return tuple(c for c in children if isinstance(c, ast.Node) and not isinstance(c, ast.Option))


def _options(children) -> tuple:
    return tuple(c for c in children if isinstance(c, ast.Option))


def _names(children) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type == "NAME"]


def _body(children) -> tuple:
    for item in children:
        if isinstance(item, _Body):
            return item.statements
    return ()


class _Body:
    __slots__ = ("statements",)

    def __init__(self, statements):
        self.statements = statements


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_DURATION_PART = re.compile(r"([0-9]+)(ms|d|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


_MAX_INT = 2**63 - 1
_MAX_DURATION_DIGITS = 12


def _abbreviate(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


_PREFIX_NOT = "prefix not"
_PRECEDENCE = {
    "or": 1, "and": 2, _PREFIX_NOT: 3,
    "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4, "not in": 4,
    "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
}


def _climb(items: list, position: int, min_precedence: int):
    """Precedence climbing over a flat list of operands and (op, span) pairs.

    Returns the expression built from ``items[position:]`` using operators of
    at least ``min_precedence``, and the position after it. All binary
    operators are left-associative.
    """
    item = items[position]
    if isinstance(item, tuple) and item[0] == _PREFIX_NOT:
        operand, position = _climb(items, position + 1, _PRECEDENCE[_PREFIX_NOT])
        left = ast.Unary(item[1].to(operand.span), "not", operand)
    else:
        left, position = item, position + 1
    while position < len(items):
        op, _ = items[position]
        precedence = _PRECEDENCE[op]
        if precedence < min_precedence:
            break
        right, position = _climb(items, position + 1, precedence + 1)
        left = ast.Binary(left.span.to(right.span), op, left, right)
    return left, position


class _AstBuilder:
    """Lark callbacks, one per grammar alias, building :mod:`qscript.ast` nodes.

    Literal checks that need a diagnostic (a time of day 25:00, an unknown
    escape) record it in ``self.bag`` and keep going with a placeholder value.
    """

    def __init__(self):
        self.bag: DiagnosticBag | None = None
        self.comments: list[ast.Comment] = []
        # ids of expressions written in parentheses; see _flatten_operand.
        self._parenthesized: set[int] = set()

    # -- structure
    def start(self, children):
        sections = tuple(c for c in children if isinstance(c, ast.Section))
        consts = tuple(c for c in children if isinstance(c, ast.Const))
        return ast.Script(_span(children), sections, consts)

    def body(self, children):
        return _Body(tuple(c for c in children if isinstance(c, ast.Node)))

    def statement(self, children):
        return children[0]

    def _section(self, kind, children):
        names = _names(children)
        name = str(names[0]) if names else kind
        name_span = _token_span(names[0]) if names else _token_span(children[0])
        return ast.Section(_header_span(children), kind, name, _body(children), name_span)

    def inbound_section(self, c):
        return self._section("inbound", c)

    def queue_section(self, c):
        return self._section("queue", c)

    def after_section(self, c):
        # "call" is not a keyword (call.caller must lex as a name), so the
        # grammar accepts any name after "after" and we insist on "call" here.
        word = c[1]
        if str(word) != "call" and self.bag is not None:
            self.bag.report(codes.UNEXPECTED_TOKEN,
                            f'unexpected "{word}"; expected "call"', _token_span(word),
                            help='the after-call section is written "after call:"')
        section = self._section("after", c)
        return ast.Section(section.span, "after", "after", section.body, section.name_span)

    def block_section(self, c):
        return self._section("block", c)

    def const_section(self, c):
        name = _names(c)[0]
        return ast.Const(_span(c), str(name), _exprs(c)[0], _token_span(name))

    # -- simple statements
    def answer_stmt(self, c):
        return ast.Answer(_span(c))

    def hangup_stmt(self, c):
        return ast.Hangup(_span(c))

    def stop_stmt(self, c):
        return ast.Stop(_span(c))

    def pass_stmt(self, c):
        return ast.Pass(_span(c))

    def break_stmt(self, c):
        return ast.Break(_span(c))

    def play_stmt(self, c):
        return ast.Play(_span(c), _exprs(c))

    def play_hot_stmt(self, c):
        return ast.PlayHot(_span(c), _exprs(c)[0])

    def say_stmt(self, c):
        kind = str(c[1])
        exprs = _exprs(c)
        return ast.Say(_span(c), kind, exprs[0], exprs[1] if len(exprs) > 1 else None)

    def music_stmt(self, c):
        return ast.Music(_span(c), _exprs(c)[0])

    def music_off_stmt(self, c):
        return ast.Music(_span(c), None)

    def wait_stmt(self, c):
        return ast.Wait(_span(c), _exprs(c)[0])

    def set_stmt(self, c):
        target = c[1]
        return ast.Set(_span(c), target[0], _exprs(c)[0], target[1], target[2])

    def name_target(self, c):
        return (str(c[0]), False, _token_span(c[0]))

    def fact_target(self, c):
        owner, fact = c[0], c[2]
        if str(owner) != "call":
            # Only call facts are assignable; the checker reports anything else.
            return (f"{owner}.{fact}", True, _span(c))
        return (str(fact), True, _span(c))

    def goto_stmt(self, c):
        return ast.Goto(_span(c), str(c[1]), _token_span(c[1]))

    def queue_stmt(self, c):
        return ast.Queue(_span(c), _exprs(c), _options(c), requeue=False)

    def requeue_stmt(self, c):
        return ast.Queue(_span(c), _exprs(c), _options(c), requeue=True)

    def add_group_stmt(self, c):
        return ast.AddGroup(_span(c), _exprs(c)[0], _options(c))

    def remove_group_stmt(self, c):
        return ast.RemoveGroup(_span(c), _exprs(c)[0])

    def announce_stmt(self, c):
        return ast.Announce(_span(c), str(c[1]))

    def callback_stmt(self, c):
        return ast.OfferCallback(_span(c), _options(c))

    def voicemail_stmt(self, c):
        return ast.Voicemail(_span(c), _exprs(c)[0], _options(c))

    def transfer_stmt(self, c):
        return ast.Transfer(_span(c), _exprs(c)[0])

    def lookup_stmt(self, c):
        exprs = _exprs(c)
        into = _names(c)[-1]
        return ast.Lookup(_span(c), exprs[0], exprs[1], str(into), _token_span(into))

    def command_stmt(self, c):
        names = _names(c)
        args = next((a for a in c if isinstance(a, tuple)), ())
        into = names[1] if len(names) > 1 else None
        return ast.Command(_span(c), str(names[0]), args, str(into) if into else None,
                           _token_span(names[0]), _token_span(into) if into else None)

    def log_stmt(self, c):
        return ast.Log(_span(c), _exprs(c)[0])

    def save_stmt(self, c):
        exprs = _exprs(c)
        return ast.Save(_span(c), exprs[0], exprs[1])

    # -- options
    def _option(self, name, c, **extra):
        exprs = _exprs(c)
        value = exprs[0] if exprs else None
        return ast.Option(_span(c), name, value, **extra)

    def opt_priority(self, c):
        return self._option("priority", c)

    def opt_credit(self, c):
        return self._option("credit", c)

    def opt_target(self, c):
        return self._option("target", c)

    def opt_prefer_previous(self, c):
        return self._option("prefer_previous", c)

    def opt_when_empty(self, c):
        return ast.Option(_span(c), "when_empty", None, target=str(_names(c)[-1]))

    def opt_prompt(self, c):
        return self._option("prompt", c)

    def opt_key(self, c):
        return ast.Option(_span(c), "key", c[1])

    def opt_timeout(self, c):
        return self._option("timeout", c)

    def opt_retries(self, c):
        return self._option("retries", c)

    def opt_max(self, c):
        return self._option("max", c)

    def opt_terminator(self, c):
        return ast.Option(_span(c), "terminator", c[1])

    def opt_valid(self, c):
        return self._option("valid", c)

    def opt_digits(self, c):
        exprs = _exprs(c)
        return ast.Option(_span(c), "digits", exprs[0], exprs[1] if len(exprs) > 1 else None)

    # -- compound statements
    def if_stmt(self, c):
        branches = [(_exprs(c)[0], _body(c))]
        orelse = None
        for item in c:
            if isinstance(item, tuple) and len(item) == 2 and item[0] == "elif":
                branches.append(item[1])
            elif isinstance(item, tuple) and len(item) == 2 and item[0] == "else":
                orelse = item[1]
        return ast.If(_header_span(c), tuple(branches), orelse)

    def elif_clause(self, c):
        return ("elif", (_exprs(c)[0], _body(c)))

    def else_clause(self, c):
        return ("else", _body(c))

    def every_stmt(self, c):
        return ast.Every(_header_span(c), _exprs(c)[0], _body(c))

    def while_stmt(self, c):
        return ast.While(_header_span(c), _exprs(c)[0], _body(c))

    def repeat_stmt(self, c):
        return ast.Repeat(_header_span(c), _exprs(c)[0], _body(c))

    def menu_stmt(self, c):
        handlers = tuple(h for h in c if isinstance(h, ast.Handler))
        return ast.Menu(_header_span(c), _exprs(c)[0], _options(c), handlers)

    def collect_stmt(self, c):
        handlers = tuple(h for h in c if isinstance(h, ast.Handler))
        name = _names(c)[0]
        span = _header_span(c) if handlers else _span(c)
        return ast.Collect(span, str(name), _token_span(name), _options(c), handlers)

    def _handler(self, kind, c):
        keys = tuple(k for k in c if isinstance(k, ast.Key))
        return ast.Handler(_header_span(c), kind, keys, _body(c))

    def key_handler(self, c):
        return self._handler("key", c)

    def invalid_handler(self, c):
        return self._handler("invalid", c)

    def timeout_handler(self, c):
        return self._handler("timeout", c)

    def failed_handler(self, c):
        return self._handler("failed", c)

    def key(self, c):
        token = c[0]
        text = self._unquote(token) if token.type == "STRING" else str(token)
        return ast.Key(_token_span(token), text)

    # -- expressions
    def expr(self, c):
        """A chain ``operand (op operand)*``, arranged by operator precedence."""
        items: list = []
        i = 0
        while i < len(c):
            item = c[i]
            if isinstance(item, Token):
                if item.type == "NOT":  # "not" "in"
                    items.append(("not in", _token_span(item)))
                    i += 2
                    continue
                items.append((str(item), _token_span(item)))
            else:
                self._flatten_operand(item, items)
            i += 1
        result, _ = _climb(items, 0, 0)
        return result

    def _flatten_operand(self, operand, items: list) -> None:
        # An unparenthesised "not x" binds looser than comparisons ("not a == b"
        # is "not (a == b)"), so it is re-read here as a prefix operator.
        while (isinstance(operand, ast.Unary) and operand.op == "not"
               and id(operand) not in self._parenthesized):
            items.append((_PREFIX_NOT, operand.span))
            operand = operand.operand
        items.append(operand)

    def parenthesized(self, c):
        inner = c[1]
        self._parenthesized.add(id(inner))
        return inner

    def not_op(self, c):
        return ast.Unary(_span(c), "not", c[-1])

    def neg_op(self, c):
        return ast.Unary(_span(c), "-", c[-1])

    def attribute(self, c):
        return ast.Attribute(_span(c), c[0], str(c[2]), _token_span(c[2]))

    def call(self, c):
        args = next((a for a in c if isinstance(a, tuple)), ())
        return ast.Call(_span(c), str(c[0]), args, _token_span(c[0]))

    def arguments(self, c):
        return tuple(a for a in c if isinstance(a, ast.Node))

    def list_literal(self, c):
        items = next((a for a in c if isinstance(a, tuple)), ())
        return ast.ListLit(_span(c), items)

    def number(self, c):
        text = str(c[0])
        if "." in text:
            value = float(text)
            # Hundreds of digits read as infinity: a number must be finite.
            too_large = math.isinf(value)
        else:
            # Python refuses to convert integers of more than 4,300 digits:
            # check the length first (an int64 has at most 19 digits).
            too_large = len(text.lstrip("0")) > len(str(_MAX_INT)) or int(text) > _MAX_INT
            value = 0 if too_large else int(text)
        if too_large:
            # The bytecode stores integer constants in 64 bits; a bigger
            # literal would only fail later, when the program is written.
            if self.bag is not None:
                self.bag.report(codes.BAD_LITERAL, f"the number {_abbreviate(text)} is too large",
                                _token_span(c[0]), help=f"whole numbers go up to {_MAX_INT}")
            value = 0
        return ast.NumberLit(_token_span(c[0]), value)

    def string(self, c):
        return ast.StringLit(_token_span(c[0]), self._unquote(c[0]))

    def duration(self, c):
        token = c[0]
        seconds, seen = 0.0, set()
        for amount, unit in _DURATION_PART.findall(str(token)):
            if unit in seen and self.bag is not None:
                self.bag.report(codes.BAD_LITERAL, f"the unit {unit!r} appears twice in "
                                f"duration {str(token)!r}", _token_span(token))
            seen.add(unit)
            if len(amount) > _MAX_DURATION_DIGITS:
                # int(amount) * 0.001 raises OverflowError for hundreds of
                # digits; no timeout or wait needs more than a few.
                if self.bag is not None:
                    self.bag.report(codes.BAD_LITERAL, f"the duration {_abbreviate(str(token))} "
                                    "is too long", _token_span(token),
                                    help=f"durations are written with at most "
                                    f"{_MAX_DURATION_DIGITS} digits per unit")
                return ast.DurationLit(_token_span(token), 0, str(token))
            seconds += int(amount) * _UNIT_SECONDS[unit]
        if seconds == int(seconds):
            seconds = int(seconds)
        return ast.DurationLit(_token_span(token), seconds, str(token))

    def time_of_day(self, c):
        token = c[0]
        hours, minutes = (int(p) for p in str(token).split(":"))
        if (hours > 23 or minutes > 59) and self.bag is not None:
            self.bag.report(codes.BAD_LITERAL, f"{str(token)} is not a time of day",
                            _token_span(token), help="times of day run from 00:00 to 23:59")
        return ast.TimeLit(_token_span(token), hours * 60 + minutes, str(token))

    def true(self, c):
        return ast.BoolLit(_token_span(c[0]), True)

    def false(self, c):
        return ast.BoolLit(_token_span(c[0]), False)

    def name(self, c):
        return ast.Name(_token_span(c[0]), str(c[0]))

    def _unquote(self, token: Token) -> str:
        body = str(token)[1:-1]
        if "\\" not in body:
            return body
        out, i = [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                elif self.bag is not None:
                    self.bag.report(codes.BAD_LITERAL, f"unknown escape \\{nxt} in a string",
                                    Span(token.line, token.column + 2 + i, token.line,
                                         token.column + 4 + i),
                                    help='the escapes are \\n, \\t, \\" and \\\\')
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _AstBuilder]:
    builder = _AstBuilder()
    lark = Lark.open_from_package(
        "qscript.grammar", "qscript.lark", ("",),
        parser="lalr", lexer=QScriptLexer,
        transformer=builder, keep_all_tokens=True, cache=True,
        maybe_placeholders=False,
    )
    return lark, builder


class _FastLALR:
    """Runs Lark's LALR table with a leaner loop than Lark's own.

    Lark's parser looks up each reduction's callback in a dict keyed by rule
    objects, whose hash and equality are Python methods (and, after loading
    the table from Lark's cache, equality is called on every lookup). Here
    each reduce action is resolved once to (size, target, callback), so the
    loop does plain dict and list operations. The grammar, the table and the
    callbacks are Lark's; only the driving loop is ours. Errors are raised as
    Lark's UnexpectedToken, exactly as Lark would.
    """

    def __init__(self, lark: Lark):
        inner = lark.parser.parser.parser
        table = inner.parse_table
        callbacks = inner.callbacks
        self.start_state = table.start_states["start"]
        self.end_state = table.end_states["start"]
        self.states = {}
        for state, actions in table.states.items():
            resolved = {}
            for symbol, (action, arg) in actions.items():
                if action.name == "Shift":
                    resolved[symbol] = (True, arg)
                else:
                    resolved[symbol] = (False, (len(arg.expansion), arg.origin.name, callbacks[arg]))
            self.states[state] = resolved
        self.lexer = QScriptLexer(lark.lexer_conf)

    def parse(self, text: str):
        states = self.states
        state_stack = [self.start_state]
        value_stack: list = []
        token = None
        for token in self.lexer.lex(text):
            self._feed(states, state_stack, value_stack, token, False)
        end = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
        return self._feed(states, state_stack, value_stack, end, True)

    def _feed(self, states, state_stack, value_stack, token, is_end):
        end_state = self.end_state
        kind = token.type
        while True:
            actions = states[state_stack[-1]]
            entry = actions.get(kind)
            if entry is None:
                expected = {s for s in actions if s.isupper()}
                raise UnexpectedToken(token, expected, state=None, interactive_parser=None)
            shift, arg = entry
            if shift:
                state_stack.append(arg)
                value_stack.append(token)
                return None
            size, origin, callback = arg
            if size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                children = []
            value = callback(children)
            state_stack.append(states[state_stack[-1]][origin][1])
            value_stack.append(value)
            if is_end and state_stack[-1] == end_state:
                return value_stack[-1]


@lru_cache(maxsize=1)
def _fast_parser() -> _FastLALR:
    return _FastLALR(_parser()[0])


# ============================================================== syntax errors


_TOKEN_NAMES = {
    "_NL": "a new line", "_INDENT": "an indented block", "_DEDENT": "the end of the block",
    "$END": "the end of the file", "NAME": "a name", "STRING": "a string", "INT": "a number",
    "NUMBER": "a number", "DURATION": "a duration (e.g. 30s)", "TIME_OF_DAY": "a time (e.g. 08:30)",
    "COLON": '":"', "COMMA": '","', "LPAR": '"("', "RPAR": '")"', "LSQB": '"["', "RSQB": '"]"',
    "EQUAL": '"="', "DOT": '"."', "BINARY_OP": "an operator", "MINUS": '"-"',
}


def _describe_token(name: str) -> str:
    if name in _TOKEN_NAMES:
        return _TOKEN_NAMES[name]
    return f'"{name.lower()}"' if name.isalpha() or "_" in name else name


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_describe_token(e) for e in expected if not e.startswith("__ANON")})
    if len(names) > 8:
        # Too many to list: say what kind of thing may start here.
        if "HANGUP" in expected:
            return "a statement"
        if "NAME" in expected and "STRING" in expected:
            return "an expression"
        return "a statement or expression"
    if len(names) <= 1:
        return names[0] if names else "something else"
    return ", ".join(names[:-1]) + " or " + names[-1]


_FOUND_LAYOUT = {"_NL": "end of line", "_INDENT": "indentation", "_DEDENT": "end of block"}


def _describe_found(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    if token.type in _FOUND_LAYOUT:
        # Not _describe_token's "a new line": the message reads "unexpected <found>".
        return _FOUND_LAYOUT[token.type]
    return repr(str(token)).replace("'", '"') if token.type != "STRING" else f"string {token}"


def _syntax_hint(error: UnexpectedToken) -> str | None:
    expected = error.expected
    token = error.token
    if "COLON" in expected and token.type == "_NL":
        return 'a statement that opens a block ends with ":"'
    if token.type == "_INDENT":
        return "only the line after a line ending with \":\" is indented further"
    # After a condition LALR may already have reduced the expression, so only
    # ":" is expected where "=" was written: "if x = 1:" means "==" too.
    if token.type == "EQUAL" and ("BINARY_OP" in expected or "COLON" in expected):
        return 'to compare, write "=="'
    if "_INDENT" in expected:
        return "indent the lines of the block (four spaces is conventional)"
    if token.type == "NAME" and token in _KEYWORD_TYPOS:
        return f"did you mean {_KEYWORD_TYPOS[token]!r}?".replace("'", '"')
    return None


_KEYWORD_TYPOS = {"elseif": "elif", "else_if": "elif", "goto_": "goto", "then": ":",
                  "endif": "(nothing: blocks end by indentation)",
                  "end": "(nothing: blocks end by indentation)"}


def _report_syntax(bag: DiagnosticBag, error: UnexpectedInput, source: Source) -> None:
    # The lexer closes open blocks with _DEDENT tokens placed after the last
    # line; one of those being unexpected means the file ended too early
    # (e.g. after "if x:"), and its position is past the end of the file.
    at_end = isinstance(error, UnexpectedToken) and (error.token.type == "$END" or (
        error.token.type == "_DEDENT" and (error.token.start_pos or 0) >= len(source.text)))
    if isinstance(error, UnexpectedEOF) or at_end:
        line = max(1, len(source.lines))
        bag.report(codes.UNEXPECTED_END, "the file ends in the middle of a statement",
                   Span.point(line, len(source.line_text(line)) + 1),
                   help=f"expected {_describe_expected(set(error.expected))}")
        return
    assert isinstance(error, UnexpectedToken)
    token = error.token
    if token.type in ("_NL", "_DEDENT", "_INDENT"):
        # Point at the end of the line the statement was on, where the problem is.
        line = token.line
        text = source.line_text(line)
        span = Span.point(line, len(text.rstrip()) + 1)
        if token.type == "_INDENT":
            span = Span(token.end_line, 1, token.end_line, len(str(token)) + 1)
    else:
        span = _token_span(token)
    bag.report(codes.UNEXPECTED_TOKEN,
               f"unexpected {_describe_found(token)}; expected {_describe_expected(set(error.expected))}",
               span, help=_syntax_hint(error))


# ============================================================== entry point


def parse(source: Source, bag: DiagnosticBag, *, keep_comments: bool = False) -> ast.Script | None:
    """Parse ``source``; report problems into ``bag``. Returns None on a syntax error.

    With ``keep_comments`` the script's ``#`` comments are attached to the
    result (``Script.comments``), for the formatter.
    """
    _, builder = _parser()
    fast = _fast_parser()
    builder.bag = bag
    builder._parenthesized.clear()
    text = source.text
    if not text.endswith("\n"):
        text += "\n"
    try:
        script = fast.parse(text)
        if keep_comments:
            comments = tuple(ast.Comment(*c) for c in find_comments(source.text))
            script = dataclasses.replace(script, comments=comments)
        return script
    except LexError as problem:
        bag.report(problem.code, problem.message, problem.span, help=problem.help)
    except UnexpectedInput as error:
        _report_syntax(bag, error, source)
    except RecursionError:
        bag.report(codes.TOO_DEEP, "the script is nested too deeply to parse", Span.point(1, 1))
    finally:
        builder.bag = None
    return None
