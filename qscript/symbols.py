"""What the checker knows about a site: the names a script may refer to.

A :class:`SiteSymbols` lists the answer groups, prompts, calendars, hot
prompts, lookups (with typed fields) and custom commands (with signatures) of
one site. The runtime's site configuration loader (``runtime.site``) builds
one from a site YAML file; tests build them directly. Without one, the checker
accepts any name for these (it cannot know better) and checks the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The value types of the language, by the names used in site files and messages.
VALUE_TYPES = ("number", "string", "boolean", "duration", "time")


@dataclass(frozen=True, slots=True)
class LookupInfo:
    """A customer lookup: ``lookup "name" by KEY into VAR`` gives VAR these fields."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)  # field name -> value type


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """A custom command's signature: ``do name(args) into VAR``."""

    name: str
    parameters: tuple[Parameter, ...] = ()
    returns: str | None = None  # a value type, or None for no result
    doc: str = ""

    def signature(self) -> str:
        params = ", ".join(f"{p.name}: {p.type}" for p in self.parameters)
        result = f" -> {self.returns}" if self.returns else ""
        return f"{self.name}({params}){result}"


@dataclass(frozen=True, slots=True)
class SiteSymbols:
    groups: frozenset[str] = frozenset()
    prompts: frozenset[str] = frozenset()
    calendars: frozenset[str] = frozenset()
    hot_prompts: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    lookups: dict[str, LookupInfo] = field(default_factory=dict)
    commands: dict[str, CommandInfo] = field(default_factory=dict)
