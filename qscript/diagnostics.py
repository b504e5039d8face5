"""Diagnostics: errors and warnings with a code, a span and hints.

Rendering follows rustc/mypy::

    support.qs:12:9: error[Q1003]: unknown answer group "suport"
       |
    12 |     queue to "suport"
       |              ^^^^^^^^
       = help: did you mean "support"?

Diagnostics are collected in a :class:`DiagnosticBag` so that every pass can
report all it finds before the compiler refuses the script.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Iterable

from .codes import Code, Severity
from .source import Source, Span


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: Code
    message: str
    span: Span
    source_name: str
    help: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def severity(self) -> Severity:
        return self.code.severity

    @property
    def is_error(self) -> bool:
        return self.code.severity is Severity.ERROR

    def headline(self) -> str:
        location = self.source_name
        if self.span.line:
            location += f":{self.span.line}:{self.span.column}"
        return _printable(f"{location}: {self.severity.value}[{self.code.code}]: {self.message}")

    def render(self, source: Source | None = None) -> str:
        """The diagnostic as text: headline, source line with carets, hints."""
        out = [self.headline()]
        if source is not None and self.span.line:
            out.extend(_excerpt(source, self.span))
        if self.help:
            out.append(_printable(f"   = help: {self.help}"))
        for note in self.notes:
            out.append(_printable(f"   = note: {note}"))
        return "\n".join(out)

    def to_json(self) -> dict:
        return {
            "file": self.source_name,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "severity": self.severity.value,
            "code": self.code.code,
            "message": self.message,
            "help": self.help,
            "notes": list(self.notes),
        }


#: Control characters (and line/paragraph separators) in a script or a name.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _printable(text: str) -> str:
    """``text`` with control characters shown as U+FFFD, one for one.

    Rendered diagnostics go to a terminal: a script's escape sequences (in a
    string, or a stray byte the lexer complains about) must not reach it, and
    a vertical tab or form feed would break the excerpt's layout. One
    character for one keeps the carets under the right column.
    """
    return _UNPRINTABLE.sub("\ufffd", text)


#: The widest source excerpt shown: a longer line is cut around the span, so a
#: megabyte-long line (generated, minified) is not printed whole, twice over.
EXCERPT_WIDTH = 240


def clip_line(text: str, column: int, end: int, width: int = EXCERPT_WIDTH) -> tuple[str, int, int]:
    """A line cut to about ``width`` characters around columns ``column``..``end``
    (1-based, end exclusive), marked with "…" where cut; with the columns moved to match."""
    if len(text) <= width:
        return text, column, end
    start = max(0, min(column - 1 - width // 4, len(text) - width))
    stop = start + width
    prefix = "…" if start > 0 else ""
    suffix = "…" if stop < len(text) else ""
    shown_column = column - start + len(prefix)
    shown_end = min(end - start, width + 1) + len(prefix)
    return prefix + text[start:stop] + suffix, shown_column, max(shown_column + 1, shown_end)


def _excerpt(source: Source, span: Span) -> list[str]:
    text = _printable(source.line_text(span.line).expandtabs(1))
    if not text and span.line > len(source.lines):
        return []
    gutter = len(str(span.line))
    end = span.end_column if span.end_line == span.line else len(text) + 1
    text, column, end = clip_line(text, span.column, end)
    width = max(1, end - column)
    pad = " " * gutter
    return [
        f"{pad} |",
        f"{span.line} | {text}",
        f"{pad} | {' ' * (column - 1)}{'^' * width}",
    ]


@dataclass
class DiagnosticBag:
    """Collects diagnostics for one source file."""

    source: Source
    items: list[Diagnostic] = field(default_factory=list)

    def report(self, code: Code, message: str, span: Span, *, help: str | None = None,
               notes: Iterable[str] = ()) -> Diagnostic:
        diagnostic = Diagnostic(code, message, span, self.source.name, help, tuple(notes))
        self.items.append(diagnostic)
        return diagnostic

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.is_error]

    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if not d.is_error]

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.span.line, d.span.column, d.code.code))


def quote(name: object) -> str:
    """A name as messages show it: in double quotes, as the script writes strings."""
    return f'"{name}"'


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean" hint for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {quote(matches[0])}?" if matches else None


def render_all(diagnostics: Iterable[Diagnostic], source: Source | None) -> str:
    return "\n\n".join(d.render(source) for d in diagnostics)


def to_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2)
