"""Source files and positions.

A :class:`Source` is the text of one script with its display name. A
:class:`Span` marks a region of it; lines and columns are 1-based, as Lark
reports them and as editors show them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

#: Scripts larger than this are refused before parsing (error Q0001).
MAX_SOURCE_BYTES = 5_000_000


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: start and end (exclusive) line and column."""

    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(line: int, column: int) -> "Span":
        return Span(line, column, line, column + 1)

    def to(self, other: "Span") -> "Span":
        """The span from the start of this one to the end of ``other``."""
        return Span(self.line, self.column, other.end_line, other.end_column)

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


#: Used for nodes synthesised by the compiler that have no source text.
NO_SPAN = Span(0, 0, 0, 0)


@dataclass(slots=True)
class Source:
    """The text of one script, with its name for diagnostics."""

    text: str
    name: str = "<script>"
    _lines: list[str] | None = field(default=None, repr=False)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            # Split at "\n" only, as the lexer counts lines: str.splitlines()
            # also splits at \f, \v, \x1c-\x1e, \x85, \u2028 and \u2029, and a
            # diagnostic would then show a different line than it points at.
            lines = self.text.split("\n")
            if lines[-1] == "":
                lines.pop()
            self._lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        return self._lines

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, or "" outside the file."""
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return ""

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.text.encode("utf-8")).digest()

    @classmethod
    def from_path(cls, path: str | Path) -> "Source":
        """Read a script file; raises :class:`SourceError` for unreadable input."""
        from .files import UnreadableFile, read_limited
        path = Path(path)
        try:
            data = read_limited(path, MAX_SOURCE_BYTES, kind="script")
        except UnreadableFile as error:
            raise SourceError(str(error)) from None
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> "Source":
        return cls(decode_source(data, name), name)


class SourceError(Exception):
    """A script could not be read as text (missing, binary, not UTF-8, too big)."""


def decode_source(data: bytes, name: str) -> str:
    """Decode script bytes as UTF-8, refusing binary or oversized input clearly."""
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceError(
            f"{name}: the file is {len(data):,} bytes; scripts are limited to "
            f"{MAX_SOURCE_BYTES:,} bytes"
        )
    if b"\x00" in data:
        raise SourceError(f"{name}: this is a binary file, not a QScript source")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SourceError(
            f"{name}:{line}: the file is not valid UTF-8 (byte 0x{data[error.start]:02x} "
            f"at offset {error.start}); save it as UTF-8"
        ) from None
    return text
