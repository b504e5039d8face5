"""The console's changes to agents, answer groups and calendars, layered over the site file.

The site file stays the starting point. An administrator's change in the web
console (or through the control API) is one entry — an agent, a group or a
calendar — written as the site file would write it (plain JSON: ``{"id":
"bob", "groups": ["support"], "wrap_up": "10s"}``). The runtime stores the
latest change of each entry (runtime/store/site_changes.py) and the
*effective site* is the file with those entries put in place of (or beside)
the file's own.

The effective site is read by the very readers that read the file
(:func:`~runtime.site.toplevel.read_groups`, ``read_agents``,
``read_calendars``, ``read_fallback``), over the file's own YAML nodes with
the changed entries' nodes put in: a bad change gets the same message as the
same mistake in the file, and the cross-checks hold too (an agent naming a
group that a change removed; the fallback group removed). A problem in a
changed entry is located in that change (``agent bob (console change):3:14``);
one the change causes in the file's entries is located in the file.

Agents are never removed (their statistics name them): removing one is
deactivating it (``active: false``). Groups and calendars may be removed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .model import Site
from .sections import read_calendars
from .toplevel import read_agents, read_fallback, read_groups
from .yamlmarks import _LOADER, Location, Problem, Reader, SiteError, is_null

#: kind -> the site file's section that holds such entries.
SECTIONS = {"agent": "agents", "group": "groups", "calendar": "calendars"}
KINDS = tuple(SECTIONS)
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass(frozen=True)
class SiteChange:
    """The latest change of one entry: its new content, or None when it was removed."""

    kind: str                              # agent | group | calendar
    name: str                              # the agent id, group or calendar name
    entry: Mapping[str, Any] | None        # as the site file writes it (JSON); None: removed
    changed_at: dt.datetime
    changed_by: str = ""

    @property
    def deleted(self) -> bool:
        return self.entry is None

    @property
    def source_name(self) -> str:
        """Where problems in this change are reported (the 'file' of its location)."""
        return f"{self.kind} {self.name} (console change)"

    def text(self) -> str:
        """The entry as JSON text, one key per line (so a problem's line means something)."""
        return json.dumps(self.entry, indent=2, ensure_ascii=False)


class _LayeredReader(Reader):
    """A reader of nodes from several texts: the file's, and each change's.

    A change's nodes carry its name in their marks (composed from a named
    stream); the file's were composed from a string and carry PyYAML's
    ``<unicode string>``, so they are the file's.
    """

    def location(self, node: Node) -> Location:
        name = getattr(node.start_mark, "name", "") or ""
        return Location.of(self.file if name.startswith("<") else name, node)


def apply_changes(site: Site, changes: Iterable[SiteChange]) -> Site:
    """The site file's site with the changes in place; SiteError (every problem) if they
    do not fit. One change per (kind, name): the last given wins."""
    latest: dict[tuple[str, str], SiteChange] = {}
    for change in changes:
        if change.kind not in SECTIONS:
            raise ValueError(f'unknown kind of site change "{change.kind}"; '
                             f"kinds: {', '.join(KINDS)}")
        latest[(change.kind, change.name)] = change
    nodes = {kind: dict(file_entries(site, kind)) for kind in KINDS}
    for change in latest.values():
        if change.entry is None:
            nodes[change.kind].pop(change.name, None)
        else:
            nodes[change.kind][change.name] = _change_node(change)
    reader = _LayeredReader(site.source_name)
    groups = read_groups(reader, _mapping(nodes["group"]))
    agents = read_agents(reader, _sequence(nodes["agent"]), groups)
    calendars = read_calendars(reader, _mapping(nodes["calendar"]), site.timezone)
    read_fallback(reader, site.sections.get("fallback"), groups)  # it may name a removed group
    if reader.problems:
        sources = {c.source_name: c.text() for c in latest.values() if c.entry is not None}
        ordered = sorted(reader.problems, key=lambda p: (p.location.file, p.location.line,
                                                         p.location.column))
        raise SiteError(ordered, sources)
    changed = dataclasses.replace(site, groups=groups, agents=agents,
                                  calendars=MappingProxyType(calendars))
    if "commands" in site.__dict__:  # imported once already: not again for each change
        changed.__dict__["commands"] = site.__dict__["commands"]
    return changed


def file_entries(site: Site, kind: str) -> dict[str, Node]:
    """The site file's own entries of a kind, by name, in the file's order."""
    node = site.sections.get(SECTIONS[kind])
    if node is None or is_null(node):
        return {}
    quiet = Reader(site.source_name)  # the file was checked when it loaded
    if kind == "agent":
        entries: dict[str, Node] = {}
        for item in quiet.items(node, "agents"):
            fields = quiet.entries(item, "agents") if isinstance(item, MappingNode) else []
            agent_id = next((e.value.value for e in fields
                             if e.key == "id" and isinstance(e.value, ScalarNode)), None)
            if agent_id is not None:
                entries.setdefault(agent_id.strip(), item)
        return entries
    return {entry.key: entry.value for entry in quiet.entries(node, SECTIONS[kind])}


def entry_data(site: Site, kind: str, name: str) -> dict[str, Any] | None:
    """An entry of the site file as plain JSON data (scalars as the text written)."""
    node = file_entries(site, kind).get(name)
    if node is None:
        return None
    data = node_to_data(node)
    return data if isinstance(data, dict) else {}


def node_to_data(node: Node) -> Any:
    """A YAML node as JSON data: mappings, lists, and scalars as the text written (null: None)."""
    if isinstance(node, MappingNode):
        quiet = Reader("<file>")
        return {entry.key: node_to_data(entry.value) for entry in quiet.entries(node, "")}
    if isinstance(node, SequenceNode):
        return [node_to_data(item) for item in node.value]
    return None if is_null(node) else node.value


def _change_node(change: SiteChange) -> Node:
    """The change's entry as YAML nodes, marked with the change's name (JSON is YAML)."""
    stream = io.StringIO(change.text())
    stream.name = change.source_name  # type: ignore[misc]  # the marks' name
    return yaml.compose(stream, Loader=_LOADER)


#: Where a section made of several layers "is": the top of the site file.
_TOP = yaml.Mark("<unicode string>", 0, 0, 0, "", 0)


def _mapping(entries: Mapping[str, Node]) -> MappingNode:
    pairs = []
    for name, value in entries.items():
        key = ScalarNode(_STR_TAG, name, value.start_mark, value.end_mark)
        pairs.append((key, value))
    return MappingNode(_MAP_TAG, pairs, _TOP, _TOP)


def _sequence(entries: Mapping[str, Node]) -> SequenceNode:
    return SequenceNode(_SEQ_TAG, list(entries.values()), _TOP, _TOP)


def problems_of(error: SiteError) -> list[dict[str, Any]]:
    """The problems of a refused change for a form or an API answer: where, what, how."""
    return [{"where": str(p.location), "message": p.message, "help": p.hint}
            for p in error.problems]


__all__ = ["KINDS", "SECTIONS", "SiteChange", "apply_changes", "entry_data", "file_entries",
           "node_to_data", "problems_of", "Problem", "SiteError"]
