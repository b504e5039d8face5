"""The site as loaded: a frozen tree of typed dataclasses.

Durations are seconds (int when whole), times of day minutes after midnight,
paths absolute (resolved against the site file's directory) — the same
representations the script language uses. Secrets are never held: the site
names the environment variables that hold them (``*_env``), read when needed.
See :mod:`runtime.site.config` for the file format.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo

from qscript.extensions import CommandError, RegisteredCommand, load_modules
from qscript.symbols import SiteSymbols

from runtime.core.blocking import DEFAULT_COMMAND_TIMEOUT
from .calendar import Calendar
from .lookups import Lookup
from .prompts import HotPrompt, HotPromptSwitches, PromptCatalogue, UnknownPrompt
from .web import WebConfig
from .yamlmarks import Location, Problem, SiteError, did_you_mean

DEFAULT_ARI_URL = "http://127.0.0.1:8088"
DEFAULT_ARI_APP = "qscript"
DEFAULT_ARI_PASSWORD_ENV = "QSCRIPT_ARI_PASSWORD"
DEFAULT_CONTROL_HOST = "127.0.0.1"
DEFAULT_CONTROL_PORT = 8089
DEFAULT_CONTROL_TOKEN_ENV = "QSCRIPT_CONTROL_TOKEN"


@dataclass(frozen=True, slots=True)
class Group:
    """An answer group (a queue of calls served by the agents in it)."""

    name: str
    description: str = ""
    service_level_threshold: float = 20     # seconds: "answered within" for the service level
    service_level_target: float = 0.8       # share of calls to answer within the threshold
    short_abandon_threshold: float = 5      # seconds: an abandon sooner than this is "short"
    wrap_up: float = 0                      # seconds after a call before the agent gets the next
    ring_timeout: float = 15                # seconds an agent's phone rings before the next is tried


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    endpoint: str | None = None                      # what the live runtime dials, e.g. PJSIP/alice
    groups: Mapping[str, int] = field(default_factory=dict)  # group -> penalty (0 is best)
    wrap_up: float | None = None                     # None: the group's wrap-up
    active: bool = True                              # deactivated agents cannot log in
    #: Channel variables set on the agent's leg when it is rung (auto-answer
    #: headers for SIP phones, or a simulated agent's behaviour in tests).
    variables: Mapping[str, str] = field(default_factory=dict)

    def wrap_up_in(self, group: Group) -> float:
        return group.wrap_up if self.wrap_up is None else self.wrap_up


@dataclass(frozen=True, slots=True)
class NumberRoute:
    """A dialled number (or ``default``) and the script that answers it."""

    number: str
    script: Path
    where: Location


@dataclass(frozen=True, slots=True)
class DialplanTarget:
    context: str
    extension: str | None = None      # None: the dialled number
    priority: int = 1


@dataclass(frozen=True, slots=True)
class Fallback:
    """Where a call goes when its script fails: an answer group or an Asterisk dialplan location."""

    group: str | None = None
    dialplan: DialplanTarget | None = None


@dataclass(frozen=True, slots=True)
class CommandModule:
    name: str
    where: Location


@dataclass(frozen=True, slots=True)
class CommandsConfig:
    modules: tuple[CommandModule, ...] = ()
    paths: tuple[Path, ...] = ()     # added to sys.path before importing the modules
    timeout: float = DEFAULT_COMMAND_TIMEOUT   # seconds a command may run live


def _secret(variable: str | None) -> str | None:
    return os.environ.get(variable) if variable else None


@dataclass(frozen=True, slots=True)
class MailConfig:
    sender: str                       # "from" in the file
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    starttls: bool = False
    ssl: bool = False                 # implicit TLS (SMTPS, usually port 465)
    username: str | None = None
    password_env: str | None = None
    timeout: float = 10

    def password(self) -> str | None:
        """The SMTP password from its environment variable (None when unset)."""
        return _secret(self.password_env)


#: Asterisk's own sounds directory on a Debian install, which it reads with any
#: language setting; the runtime's user needs write access to this subdirectory.
DEFAULT_PROMPT_DIR = "/var/lib/asterisk/sounds/qscript"


@dataclass(frozen=True, slots=True)
class AriConfig:
    user: str
    url: str = DEFAULT_ARI_URL
    app: str = DEFAULT_ARI_APP
    password_env: str = DEFAULT_ARI_PASSWORD_ENV
    transfer_context: str = "default"                   # where `transfer to NUMBER` continues
    callback_endpoint: str = "Local/{number}@default"   # how a callback dials the customer
    #: Where the runtime writes uploaded prompt recordings (relative: to the site file),
    #: and the same directory as Asterisk sees it (differs when Asterisk runs in a
    #: chroot or a container); see runtime/live/prompt_uploads.py.
    prompt_dir: str = DEFAULT_PROMPT_DIR
    asterisk_prompt_dir: str | None = None              # None: prompt_dir

    def password(self) -> str | None:
        return _secret(self.password_env)


@dataclass(frozen=True, slots=True)
class ControlConfig:
    host: str = DEFAULT_CONTROL_HOST
    port: int = DEFAULT_CONTROL_PORT
    token_env: str = DEFAULT_CONTROL_TOKEN_ENV

    def token(self) -> str | None:
        return _secret(self.token_env)


@dataclass(frozen=True, slots=True)
class AnnouncementDefaults:
    position: bool = True
    wait: bool = True
    wait_style: str = "approximate"   # approximate | less-than | padded


@dataclass(frozen=True)
class Site:
    """A loaded site configuration; build one with :func:`runtime.site.load_site`."""

    name: str
    timezone: ZoneInfo
    languages: tuple[str, ...]
    base_dir: Path
    path: Path | None = None
    groups: Mapping[str, Group] = field(default_factory=dict)
    agents: tuple[Agent, ...] = ()
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    prompts: PromptCatalogue | None = None
    hot_prompts: Mapping[str, HotPrompt] = field(default_factory=dict)
    lookups: Mapping[str, Lookup] = field(default_factory=dict)
    command_modules: CommandsConfig = CommandsConfig()
    mail: MailConfig | None = None
    numbers: tuple[NumberRoute, ...] = ()
    fallback: Fallback | None = None
    ari: AriConfig | None = None
    control: ControlConfig = ControlConfig()
    database: str = "sqlite:///qscript.db"
    announcements: AnnouncementDefaults = AnnouncementDefaults()
    web: WebConfig = WebConfig()
    source_name: str = "<site>"       # the name problems are reported under

    @property
    def default_language(self) -> str:
        return self.languages[0]

    # -- lookups by name

    def agent(self, agent_id: str) -> Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def agents_in(self, group: str) -> list[Agent]:
        """The agents of a group, best penalty first."""
        members = [a for a in self.agents if group in a.groups]
        return sorted(members, key=lambda a: a.groups[group])

    def calendar(self, name: str) -> Calendar:
        return _get(self.calendars, name, "calendar")

    def lookup(self, name: str) -> Lookup:
        return _get(self.lookups, name, "lookup")

    def script_for(self, dialled: str | None) -> Path | None:
        """The script answering a dialled number: its own entry, else ``default``, else None."""
        routes = {r.number: r.script for r in self.numbers}
        return routes.get(dialled or "", routes.get("default"))

    # -- prompts

    def prompt_media(self, name: str, language: str | None = None) -> str:
        """The media for a prompt in a language, falling back to the default language, then
        to the language-independent entry; :class:`UnknownPrompt` for an unknown name."""
        if self.prompts is None:
            raise UnknownPrompt(f'unknown prompt "{name}"; the site defines no prompts')
        return self.prompts.media(name, language)

    def hot_prompt_switches(self) -> HotPromptSwitches:
        """Fresh run-time switches, each in its initial state from the site file."""
        return HotPromptSwitches(self.hot_prompts)

    # -- the checker's view

    @functools.cached_property
    def commands(self) -> dict[str, RegisteredCommand]:
        """The custom commands by name, imported on first use (see :meth:`load_commands`)."""
        return self.load_commands()

    def load_commands(self) -> dict[str, RegisteredCommand]:
        """Import the command modules; an import failure is a :class:`SiteError` at its entry."""
        for directory in reversed(self.command_modules.paths):
            if str(directory) not in sys.path:
                sys.path.insert(0, str(directory))
        commands: dict[str, RegisteredCommand] = {}
        defined_in: dict[str, str] = {}
        listed: set[str] = set()
        problems = []
        for module in self.command_modules.modules:
            if module.name in listed:
                problems.append(Problem(module.where, f'commands.modules: "{module.name}" is '
                                        "listed twice", "list each module once"))
                continue
            listed.add(module.name)
            try:
                found = load_modules([module.name])
            except CommandError as error:
                problems.append(Problem(module.where, f"commands.modules: {error}",
                                        "the module must be importable from the site file's "
                                        "directory or the Python path"))
                continue
            for name, registered in found.items():
                earlier = commands.get(name)
                if earlier is not None and earlier.function is not registered.function:
                    problems.append(Problem(
                        module.where, f'commands.modules: command "{name}" is defined twice: '
                        f"in {defined_in[name]} and in {module.name}",
                        "rename one (@command(name=...) gives a command another name)"))
                    continue
                commands.setdefault(name, registered)
                defined_in.setdefault(name, module.name)
        if problems:
            raise SiteError(problems)
        return commands

    def symbols(self) -> SiteSymbols:
        """The names a script may use on this site, for the checker."""
        return SiteSymbols(
            groups=frozenset(self.groups),
            prompts=self.prompts.names() if self.prompts else frozenset(),
            calendars=frozenset(self.calendars),
            hot_prompts=frozenset(self.hot_prompts),
            languages=frozenset(self.languages),
            lookups={name: lookup.info() for name, lookup in self.lookups.items()},
            commands={name: c.info for name, c in self.commands.items()},
        )

    def close(self) -> None:
        """Close the lookups' database connections."""
        for lookup in self.lookups.values():
            lookup.close()


def _get(table: Mapping, name: str, kind: str):
    try:
        return table[name]
    except KeyError:
        hint = did_you_mean(name, table)
        raise KeyError(f'unknown {kind} "{name}"' + (f"; {hint}" if hint else "")) from None
