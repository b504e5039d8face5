"""Reading a site file with positions: YAML nodes, problems, :class:`SiteError`.

The loader never constructs Python objects with PyYAML. It composes the node
tree (``yaml.compose``), where every node keeps its ``start_mark``, and reads
scalars as the text the user wrote. That keeps a line and column for every
value, and side-steps YAML 1.1 typing surprises (``13:00`` -> 780, ``no`` ->
false). It also lets the loader see what PyYAML's constructor silently
accepts: a key written twice in one mapping.

A :class:`Reader` walks the nodes of one file and collects :class:`Problem` s
instead of stopping at the first, so that one run reports every mistake.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from qscript.diagnostics import clip_line

from .values import BadValue

T = TypeVar("T")

#: Site files larger than this are refused before parsing; a real one is a few kilobytes.
MAX_SITE_BYTES = 5_000_000
#: Deeper nesting is refused; the deepest place in a real site file is about six levels down.
MAX_DEPTH = 64
#: Reports stop after this many problems: past it, the rest is usually one mistake's echo.
MAX_PROBLEMS = 100

_NULL_TAG = "tag:yaml.org,2002:null"
#: libyaml's loader when PyYAML has it: ten times faster, same marks (columns in characters).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based line and column in a file (line 0: the file as a whole)."""

    file: str
    line: int = 0
    column: int = 0

    @classmethod
    def of(cls, file: str, node: Node) -> "Location":
        mark = node.start_mark
        return cls(file, mark.line + 1, mark.column + 1)

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One error in a site file (or in a file it refers to)."""

    location: Location
    message: str
    hint: str | None = None

    def headline(self) -> str:
        return f"{self.location}: error: {self.message}"

    def render(self, source_text: str | None = None) -> str:
        """Headline, the source line with a caret (if the text is given), and the hint."""
        lines = [self.headline()]
        if source_text is not None and self.location.line:
            lines.extend(_excerpt(source_text, self.location))
        if self.hint:
            lines.append(f"   = help: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"file": self.location.file, "line": self.location.line,
                "column": self.location.column, "severity": "error",
                "message": self.message, "help": self.hint}


def _excerpt(text: str, location: Location) -> list[str]:
    lines = text.splitlines()
    if not 1 <= location.line <= len(lines):
        return []
    gutter = " " * len(str(location.line))
    text, column, _ = clip_line(lines[location.line - 1].expandtabs(1), location.column,
                                location.column + 1)
    return [f"{gutter} |", f"{location.line} | {text}", f"{gutter} | {' ' * (column - 1)}^"]


class SiteError(Exception):
    """A site file that cannot be used; ``problems`` lists every error found in one pass."""

    def __init__(self, problems: Sequence[Problem], sources: dict[str, str] | None = None):
        self.problems = tuple(problems)
        self.sources = dict(sources or {})  # file name -> text, for excerpts
        super().__init__(self.render(excerpts=False))

    def render(self, excerpts: bool = True) -> str:
        """Every problem; with ``excerpts`` also the offending source lines."""
        shown = self.problems[:MAX_PROBLEMS]
        parts = [p.render(self.sources.get(p.location.file) if excerpts else None) for p in shown]
        if len(self.problems) > len(shown):
            parts.append(f"... and {len(self.problems) - len(shown)} more errors")
        return "\n".join(parts)

    def to_json(self) -> str:
        return json.dumps([p.to_json() for p in self.problems], indent=2)

    def __str__(self) -> str:
        return self.render(excerpts=False)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """ "did you mean "x"?" for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f'did you mean "{matches[0]}"?' if matches else None


# ------------------------------------------------------------------ reading the file


def decode_site_bytes(data: bytes, name: str) -> str:
    """The text of a site file, or a :class:`SiteError` for binary, huge or non-UTF-8 input."""
    if len(data) > MAX_SITE_BYTES:
        _fail(name, f"the file is {len(data):,} bytes; site files are limited to "
                    f"{MAX_SITE_BYTES:,} bytes")
    if b"\x00" in data:
        _fail(name, "this is a binary file, not a YAML file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise SiteError([Problem(Location(name, line, column),
                                 f"the file is not valid UTF-8 (byte 0x{data[error.start]:02x})",
                                 "save the file as UTF-8")]) from None


#: The kinds of YAML file read with positions: their top-level keys and how one starts.
FILE_KINDS = {
    "site file": ("site:, groups:, ...", "start with e.g. 'site: My company' and 'groups:'"),
    "traffic model": ("start:, duration:, arrivals:, ...",
                      "start with start:, duration:, arrivals: and agents:"),
    "scenario file": ("script:, scenarios:", "start with script: and scenarios:"),
}


def compose_yaml(text: str, name: str, kind: str = "site file") -> Node:
    """The YAML node tree of one document; syntax errors and empty files become SiteErrors.
    ``kind`` (a key of :data:`FILE_KINDS`) names the file in messages."""
    keys, start = FILE_KINDS[kind]
    try:
        _check_depth(text, name)
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as error:
        raise SiteError([_syntax_problem(error, text, name)], {name: text}) from None
    except yaml.reader.ReaderError as error:  # a control character: no mark, only an offset
        raise SiteError([_reader_problem(error, text, name)], {name: text}) from None
    except yaml.YAMLError as error:
        raise SiteError([Problem(Location(name), f"YAML error: {error}")]) from None
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
        _fail(name, f"the {kind} is empty", start)
    if not isinstance(root, MappingNode):
        raise SiteError([Problem(Location.of(name, root),
                                 f"the {kind} must be a mapping of keys ({keys}), "
                                 f"not {describe(root)}")], {name: text})
    return root


def _check_depth(text: str, name: str) -> None:
    """Refuse absurd nesting from the event stream, before a recursive composer meets it
    (PyYAML's pure-Python one would overflow the stack; libyaml stops at 1000 levels)."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise SiteError([Problem(Location.of(name, event),
                                         f"the YAML is nested more than {MAX_DEPTH} levels deep",
                                         "a real file needs only a few levels")], {name: text})
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _reader_problem(error: yaml.reader.ReaderError, text: str, name: str) -> Problem:
    character = error.character if isinstance(error.character, int) else ord(error.character)
    # Located by searching: libyaml reports a byte offset, PyYAML a character offset.
    offset = max(text.find(chr(character)), 0)
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return Problem(Location(name, line, column),
                   f"the file contains the character U+{character:04X}, which YAML does not allow",
                   "remove it; YAML allows only printable characters, tabs and line breaks")


def _syntax_problem(error: yaml.MarkedYAMLError, text: str, name: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    location = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
    problem = (error.problem or error.context or "invalid YAML").removeprefix("but ")
    message = f"YAML syntax error: {problem}"
    hint = None
    if error.context and error.problem:
        context_mark = error.context_mark
        where = f" (line {context_mark.line + 1})" if context_mark else ""
        hint = f"{error.context}{where}"
    if mark is not None and _character_at(text, mark.line, mark.column) == "\t":
        hint = "indent with spaces; YAML does not allow tabs for indentation"
    return Problem(location, message, hint)


def _character_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    if 0 <= line < len(lines) and 0 <= column < len(lines[line]):
        return lines[line][column]
    return ""


def _fail(name: str, message: str, hint: str | None = None):
    raise SiteError([Problem(Location(name), message, hint)])


def describe(node: Node) -> str:
    """What a node is, for "expected a mapping, not ..." messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "an empty value"
    return f'the value "{node.value}"'


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


# ------------------------------------------------------------------ walking the nodes


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``key: value`` of a mapping, with both nodes for positions."""

    key: str
    key_node: Node
    value: Node


class Fields:
    """The entries of a mapping with fixed keys (already checked against the allowed ones)."""

    def __init__(self, node: Node, entries: Iterable[Entry]):
        self.node = node
        self.entries = {e.key: e for e in entries}

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return entry.value if entry else None


class Reader:
    """Walks the nodes of one file and collects problems; ``path`` names the current place."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def location(self, node: Node) -> Location:
        return Location.of(self.file, node)

    def report(self, node: Node, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.location(node), message, hint))

    # -- structure

    def entries(self, node: Node, path: str) -> list[Entry]:
        """The entries of a mapping with free keys (names); duplicates and non-mappings reported."""
        if is_null(node):
            return []
        if not isinstance(node, MappingNode):
            self.report(node, f"{path}: expected a mapping, not {describe(node)}")
            return []
        result: list[Entry] = []
        first_seen: dict[str, Node] = {}
        for key_node, value in self._flatten(node, path):
            if not isinstance(key_node, ScalarNode) or is_null(key_node):
                self.report(key_node, f"{path}: keys must be plain names, not {describe(key_node)}")
                continue
            key = key_node.value
            if key in first_seen:
                line = first_seen[key].start_mark.line + 1
                self.report(key_node, f"{join_path(path, key)}: duplicate key \"{key}\"",
                            f"it is already defined at line {line}; YAML keeps only one, so "
                            f"remove or rename one of them")
                continue
            first_seen[key] = key_node
            result.append(Entry(key, key_node, value))
        return result

    def _flatten(self, node: MappingNode, path: str) -> Iterator[tuple[Node, Node]]:
        """The pairs of a mapping with ``<<: *anchor`` merges applied (explicit keys win)."""
        explicit = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        merged: list[tuple[Node, Node]] = []
        explicit_keys = {k.value for k, _ in explicit if isinstance(k, ScalarNode)}
        for key, value in node.value:
            if key.tag != _MERGE_TAG:
                continue
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.report(source, f"{path}: '<<' merges a mapping, not {describe(source)}")
                    continue
                for pair in source.value:
                    name = pair[0].value if isinstance(pair[0], ScalarNode) else None
                    if name not in explicit_keys:
                        explicit_keys.add(name)
                        merged.append(pair)
        yield from merged
        yield from explicit

    def fields(self, node: Node, path: str, allowed: Sequence[str],
               required: Sequence[str] = (), hints: dict[str, str] | None = None) -> Fields:
        """A mapping with fixed keys: unknown keys (with did-you-mean) and missing ones reported."""
        entries = self.entries(node, path)
        known = []
        for entry in entries:
            if entry.key in allowed:
                known.append(entry)
                continue
            hint = (hints or {}).get(entry.key) or did_you_mean(entry.key, allowed)
            valid = "valid keys: " + ", ".join(allowed)
            self.report(entry.key_node, f"{path + ': ' if path else ''}unknown key \"{entry.key}\"",
                        f"{hint} ({valid})" if hint else valid)
        fields = Fields(node, known)
        for key in required:
            if key not in fields and (isinstance(node, MappingNode) or is_null(node)):
                self.report(node, f"{path + ': ' if path else ''}missing required key \"{key}\"")
        return fields

    def items(self, node: Node, path: str) -> list[Node]:
        """The items of a list (an empty value is an empty list)."""
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.report(node, f"{path}: expected a list, not {describe(node)}")
            return []
        return list(node.value)

    # -- scalars

    def text(self, node: Node, path: str) -> str | None:
        """The text of a scalar as written, or None (reported) for anything else."""
        if isinstance(node, ScalarNode) and not is_null(node):
            return node.value
        if is_null(node):
            self.report(node, f"{path}: missing value")
        else:
            self.report(node, f"{path}: expected a single value, not {describe(node)}")
        return None

    def parse(self, node: Node, path: str, parser: Callable[[str], T]) -> T | None:
        """A scalar converted by ``parser``; a :class:`BadValue` is reported and gives None."""
        text = self.text(node, path)
        if text is None:
            return None
        try:
            return parser(text)
        except BadValue as error:
            self.report(node, f"{path}: {error.message}", error.hint)
            return None

    def value(self, fields: Fields, key: str, path: str, parser: Callable[[str], T],
              default: T) -> T:
        """An optional field: ``default`` when it is absent (or wrong, after reporting it)."""
        node = fields.get(key)
        if node is None:
            return default
        parsed = self.parse(node, join_path(path, key), parser)
        return default if parsed is None else parsed


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


