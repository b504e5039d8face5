"""The lexer: script text to tokens, with indentation as _INDENT/_DEDENT.

Lark's grammar (grammar/qscript.lark) stays the single definition of the
terminals: this lexer is built from the terminal definitions Lark hands it
(``lexer_conf``), so adding a keyword or a literal to the grammar needs no
change here. It exists for speed and for better errors:

* one combined regular expression, matched once per token, with whitespace
  skipped by the same match — about twice as fast as Lark's contextual lexer;
* indentation handled in the same loop (no separate post-lexer pass);
* unexpected characters, bad dedents and runaway nesting are reported as
  :class:`LexError` with a position and a code, not as Lark exceptions.

Keywords are reserved: an identifier spelt like a keyword lexes as that
keyword, exactly as in Python, except right after a dot, so that facts and
fields may have any name (``call.priority``, ``customer.key``).
"""

from __future__ import annotations

import re

from lark import Token
from lark.lexer import Lexer, PatternStr

from . import codes
from .source import Span

MAX_NESTING = 100
# Token.__new__ only forwards to _future_new after checking for a deprecated
# keyword; calling it directly saves a call per token.
_new_token = Token._future_new
TAB_WIDTH = 8

_OPEN = {"(": 1, "[": 1}
_CLOSE = {")": 1, "]": 1}
_MATCHING = {"(": ")", "[": "]"}


class LexError(Exception):
    """A lexical problem, carrying its diagnostic code and span."""

    def __init__(self, code: codes.Code, message: str, span: Span, help: str | None = None):
        super().__init__(message)
        self.code, self.message, self.span, self.help = code, message, span, help


class QScriptLexer(Lexer):
    """A Lark custom lexer (interface 0: ``lex(text)``)."""

    __future_interface__ = 0

    def __init__(self, lexer_conf):
        keywords: dict[str, str] = {}
        punctuation: dict[str, str] = {}
        regex_terminals = []
        ignore = set(lexer_conf.ignore)
        for terminal in lexer_conf.terminals:
            if terminal.name in ignore:
                continue
            pattern = terminal.pattern
            if isinstance(pattern, PatternStr):
                (keywords if pattern.value.isidentifier() else punctuation)[pattern.value] = terminal.name
            else:
                regex_terminals.append(terminal)
        # Higher priority first, then longer patterns, as Lark orders them.
        regex_terminals.sort(key=lambda t: (-t.priority, -t.pattern.max_width, t.name))
        groups = [f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in regex_terminals]
        for text in sorted(punctuation, key=len, reverse=True):
            groups.append(f"(?P<{punctuation[text]}>{re.escape(text)})")
        whitespace = "|".join(f"(?:{t.pattern.to_regexp()})" for t in lexer_conf.terminals
                              if t.name in ignore)
        self._token_re = re.compile(f"(?:{whitespace})*(?:{'|'.join(groups)})")
        self._whitespace_re = re.compile(f"(?:{whitespace})*")
        self._keywords = keywords
        self._newline_type = "_NL"

    def lex(self, text: str):
        """Yield Lark tokens for ``text`` (which must end with a newline)."""
        match_token = self._token_re.match
        skip_whitespace = self._whitespace_re.match
        keywords = self._keywords
        indents = [0]
        brackets = 0
        open_brackets: list[tuple[str, int, int]] = []
        position, line, line_start = 0, 1, 0
        length = len(text)
        last_line = 1
        after_dot = False
        # The first line's indentation counts like any other line's (no newline
        # token comes before it): "  inbound:" is as wrong as "\n  inbound:".
        first = skip_whitespace(text, 0).end()
        if first and first < length and text[first] not in "\r\n#":
            yield from self._indentation("\n" + text[:first], indents, 0, 1, first)
        while True:
            match = match_token(text, position)
            if match is None:
                position = skip_whitespace(text, position).end()
                if position >= length:
                    break
                column = position - line_start + 1
                char = text[position]
                if char == '"':
                    end = text.find("\n", position)
                    raise LexError(codes.UNEXPECTED_CHARACTER, "this string is not closed on its line",
                                   Span(line, column, line, column + (end - position)),
                                   help='end the string with a closing " on the same line')
                raise LexError(codes.UNEXPECTED_CHARACTER,
                               f'unexpected character "{char}"' if char.isprintable()
                               else f"unexpected character U+{ord(char):04X}",
                               Span(line, column, line, column + 1),
                               help=_character_hint(char))
            kind = match.lastgroup
            start = match.start(kind)
            value = match.group(kind)
            end = match.end()
            column = start - line_start + 1
            if kind == "_NL":
                newlines = value.count("\n")
                if brackets == 0:
                    yield _new_token("_NL", value, start, line, column, line + newlines, 1, end)
                line += newlines
                line_start = start + value.rfind("\n") + 1
                position = end
                last_line = line
                if brackets == 0:
                    yield from self._indentation(value, indents, start, line, end)
                continue
            if kind == "NAME":
                # After a dot every word is a name: call.priority, customer.key.
                if not after_dot:
                    kind = keywords.get(value, "NAME")
            elif value in _OPEN:
                brackets += 1
                if brackets > MAX_NESTING:
                    raise LexError(codes.TOO_DEEP, "brackets are nested too deeply",
                                   Span(line, column, line, column + 1))
                open_brackets.append((value, line, column))
            elif value in _CLOSE and brackets:
                brackets -= 1
                open_brackets.pop()
            after_dot = value == "."
            yield _new_token(kind, value, start, line, column, line, column + len(value), end)
            position = end
        if open_brackets:
            # Newlines inside brackets are ignored, so without this the parser
            # would only see the file end somewhere after the last line.
            char, open_line, open_column = open_brackets[-1]
            raise LexError(codes.UNEXPECTED_END, f'the file ends before this "{char}" is closed',
                           Span(open_line, open_column, open_line, open_column + 1),
                           help=f'close it with "{_MATCHING[char]}"')
        while len(indents) > 1:
            indents.pop()
            yield Token("_DEDENT", "", length, last_line, 1, last_line, 1, length)

    @staticmethod
    def _indentation(newline: str, indents: list[int], start: int, line: int, end: int):
        """_INDENT/_DEDENT tokens for the indentation after a newline token."""
        indent_text = newline[newline.rfind("\n") + 1:]
        indent = len(indent_text) + indent_text.count("\t") * (TAB_WIDTH - 1)
        if indent > indents[-1]:
            if len(indents) > MAX_NESTING:
                raise LexError(codes.TOO_DEEP, "blocks are nested too deeply",
                               Span(line, 1, line, indent + 1))
            indents.append(indent)
            yield Token("_INDENT", indent_text, end, line, 1, line, indent + 1, end)
            return
        while indent < indents[-1]:
            indents.pop()
            yield Token("_DEDENT", indent_text, end, line, 1, line, indent + 1, end)
        if indent != indents[-1]:
            raise LexError(
                codes.BAD_INDENT,
                f"this line is indented to column {indent + 1}, which matches no enclosing block",
                Span(line, 1, line, indent + 1),
                help=f"indent it to column {indents[-1] + 1} to continue the enclosing block",
            )


def _character_hint(char: str) -> str | None:
    if char == "'":
        return 'strings are written in double quotes: "like this"'
    if char == "{" or char == "}":
        return "blocks are written by indenting the lines after a line ending with \":\""
    if char == ";":
        return "write one statement per line"
    if char == "&":
        return 'use "and"'
    if char == "|":
        return 'use "or"'
    if char == "!":
        return 'use "not", or "!=" for "not equal"'
    return None


_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def find_comments(text: str) -> list[tuple[int, int, str]]:
    """Every ``#`` comment in ``text`` as (line, column, text), for the formatter.

    Strings cannot span lines, so skipping string literals is enough to tell
    a comment's ``#`` from one inside a string.
    """
    comments = []
    line, line_start, scanned = 1, 0, 0
    for match in _STRING_OR_COMMENT.finditer(text):
        if match.group().startswith("#"):
            start = match.start()
            line += text.count("\n", scanned, start)
            scanned = start
            line_start = text.rfind("\n", 0, start) + 1
            comments.append((line, start - line_start + 1, match.group().rstrip()))
    return comments
