"""Readers for the small sections of a site file (groups, agents, numbers, connections).

The file format is documented in :mod:`runtime.site.config`; the larger
sections (calendars, prompts, lookups) are read in :mod:`runtime.site.sections`.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from types import MappingProxyType
from typing import Mapping
from urllib.parse import urlsplit

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runtime.core.blocking import DEFAULT_COMMAND_TIMEOUT
from .model import (DEFAULT_ARI_APP, DEFAULT_ARI_PASSWORD_ENV, DEFAULT_ARI_URL, DEFAULT_PROMPT_DIR,
                    DEFAULT_CONTROL_HOST, DEFAULT_CONTROL_PORT, DEFAULT_CONTROL_TOKEN_ENV, Agent,
                    AnnouncementDefaults, AriConfig, CommandModule, CommandsConfig, ControlConfig,
                    DialplanTarget, Fallback, Group, MailConfig, NumberRoute)
from .values import (NAME_RULE, BadValue, is_valid_name, parse_bool, parse_dialled_number, parse_duration, parse_env_name,
                     parse_host_port, parse_int, parse_language, parse_name, parse_percent,
                     parse_work_timeout)
from .yamlmarks import Reader, describe, did_you_mean, is_null, join_path

DEFAULT_TIMEZONE = "Europe/Stockholm"
DEFAULT_LANGUAGES = ("sv",)
FORMAT_VERSION = 1
_SECRET_HINT = ("secrets are not written in the site file: name the environment variable "
                "that holds it, e.g. {key}_env: QSCRIPT_{section}_{upper}")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9_]*/\S+")


def _secret_hints(section: str, *keys: str) -> dict[str, str]:
    return {key: _SECRET_HINT.format(key=key, section=section.upper(), upper=key.upper())
            for key in keys}


def read_version(reader: Reader, fields) -> None:
    def version(text: str) -> int:
        if text.strip() != str(FORMAT_VERSION):
            raise BadValue(f'unsupported format version "{text.strip()}"',
                           f"this QScript reads version {FORMAT_VERSION}")
        return FORMAT_VERSION
    reader.value(fields, "version", "", version, FORMAT_VERSION)


def read_timezone(reader: Reader, node: Node | None) -> zoneinfo.ZoneInfo:
    if node is None:
        return zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)
    return reader.parse(node, "timezone", parse_timezone) or zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)


def parse_timezone(text: str) -> zoneinfo.ZoneInfo:
    name = text.strip()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        zones = zoneinfo.available_timezones()
        hint = did_you_mean(name, zones) or "use an IANA zone name such as Europe/Stockholm"
        raise BadValue(f'unknown time zone "{name}"', hint) from None


def read_languages(reader: Reader, node: Node | None) -> tuple[str, ...]:
    if node is None:
        return DEFAULT_LANGUAGES
    items = [node] if isinstance(node, ScalarNode) and not is_null(node) else \
        reader.items(node, "languages")
    languages: list[str] = []
    for item in items:
        code = reader.parse(item, "languages", parse_language)
        if code in languages:
            reader.report(item, f'languages: "{code}" is listed twice')
        elif code:
            languages.append(code)
    if not items and (isinstance(node, SequenceNode) or is_null(node)):
        reader.report(node, "languages: list at least one language", "e.g. languages: [sv, en]")
    return tuple(languages) or DEFAULT_LANGUAGES


# ------------------------------------------------------------------ groups and agents

GROUP_KEYS = ("description", "service_level_threshold", "service_level_target", "wrap_up",
              "ring_timeout", "short_abandon_threshold")
AGENT_KEYS = ("id", "name", "endpoint", "groups", "wrap_up", "active", "variables")


def read_groups(reader: Reader, node: Node | None) -> Mapping[str, Group]:
    groups = {}
    for entry in reader.entries(node, "groups") if node is not None else []:
        name = reader.parse(entry.key_node, "groups", parse_name)
        if name is None:
            continue
        path = f"groups.{name}"
        fields = reader.fields(entry.value, path, GROUP_KEYS)
        groups[name] = Group(
            name,
            description=reader.value(fields, "description", path, str.strip, ""),
            service_level_threshold=reader.value(fields, "service_level_threshold", path,
                                                 parse_duration, 20),
            service_level_target=reader.value(fields, "service_level_target", path,
                                              parse_percent, 0.8),
            wrap_up=reader.value(fields, "wrap_up", path, parse_duration, 0),
            ring_timeout=reader.value(fields, "ring_timeout", path, parse_duration, 15),
            short_abandon_threshold=reader.value(fields, "short_abandon_threshold", path,
                                                 parse_duration, 5),
        )
    return MappingProxyType(groups)


def read_agents(reader: Reader, node: Node | None, groups: Mapping[str, Group]) -> tuple[Agent, ...]:
    agents: list[Agent] = []
    first_seen: dict[str, Node] = {}
    for index, item in enumerate(reader.items(node, "agents") if node is not None else []):
        fields = reader.fields(item, f"agents[{index}]", AGENT_KEYS, required=("id",))
        agent_id = reader.value(fields, "id", f"agents[{index}]", parse_name, None)
        if agent_id is None:
            continue
        path = f"agents.{agent_id}"
        duplicate = agent_id in first_seen
        if duplicate:
            line = first_seen[agent_id].start_mark.line + 1
            reader.report(fields.get("id"), f'{path}: duplicate agent id "{agent_id}"',
                          f"it is first used at line {line}; agent ids must be unique")
        first_seen.setdefault(agent_id, fields.get("id"))
        agent = Agent(
            agent_id,
            name=reader.value(fields, "name", path, str.strip, agent_id),
            endpoint=reader.value(fields, "endpoint", path, parse_endpoint, None),
            groups=_agent_groups(reader, fields.get("groups"), join_path(path, "groups"), groups),
            wrap_up=reader.value(fields, "wrap_up", path, parse_duration, None),
            active=reader.value(fields, "active", path, parse_bool, True),
            variables=_agent_variables(reader, fields.get("variables"),
                                       join_path(path, "variables")),
        )
        if not duplicate:  # still read in full above, so its other mistakes are reported too
            agents.append(agent)
    return tuple(agents)


def _agent_variables(reader: Reader, node: Node | None, path: str) -> Mapping[str, str]:
    """Channel variables set on the agent's leg when it is rung (e.g. auto-answer headers)."""
    if node is None:
        return MappingProxyType({})
    values = {}
    for entry in reader.entries(node, path):
        text = reader.text(entry.value, join_path(path, entry.key))
        if text is not None:
            values[entry.key] = text
    return MappingProxyType(values)


def parse_endpoint(text: str) -> str:
    if not _ENDPOINT.fullmatch(text.strip()):
        raise BadValue(f'"{text}" is not an endpoint', "write TECHNOLOGY/resource, e.g. PJSIP/alice")
    return text.strip()


def _agent_groups(reader: Reader, node: Node | None, path: str,
                  groups: Mapping[str, Group]) -> Mapping[str, int]:
    """``[support, sales]`` (penalty 0) or ``{support: 0, sales: 1}``."""
    if node is None:
        return MappingProxyType({})
    if isinstance(node, SequenceNode):
        pairs = [(item, None) for item in node.value]
    elif isinstance(node, MappingNode):
        pairs = [(e.key_node, e.value) for e in reader.entries(node, path)]
    else:
        reader.report(node, f"{path}: expected a list of groups or a mapping group -> penalty, "
                            f"not {describe(node)}", "e.g. groups: [support] or {support: 0, sales: 1}")
        return MappingProxyType({})
    penalties: dict[str, int] = {}
    for name_node, penalty_node in pairs:
        name = reader.parse(name_node, path, str.strip)
        if name is None:
            continue
        if name not in groups:
            hint = did_you_mean(name, groups) or (
                "defined groups: " + ", ".join(groups) if groups else "define it under groups:")
            reader.report(name_node, f'{path}: unknown group "{name}"', hint)
            continue
        if name in penalties:
            reader.report(name_node, f'{path}: the group "{name}" is listed twice')
            continue
        penalty = 0
        if penalty_node is not None:
            penalty = reader.parse(penalty_node, join_path(path, name),
                                   lambda t: parse_int(t, minimum=0)) or 0
        penalties[name] = penalty
    return MappingProxyType(penalties)


# ------------------------------------------------------------------ commands, numbers, fallback


def read_commands(reader: Reader, node: Node | None, base_dir: Path) -> CommandsConfig:
    if node is None:
        return CommandsConfig()
    fields = reader.fields(node, "commands", ("modules", "path", "timeout"))
    modules = []
    for item in reader.items(fields.get("modules"), "commands.modules") if "modules" in fields else []:
        name = reader.parse(item, "commands.modules", parse_module_name)
        if name:
            modules.append(CommandModule(name, reader.location(item)))
    paths = [base_dir]
    if "path" in fields:
        paths = [(base_dir / text).resolve() for item in reader.items(fields.get("path"), "commands.path")
                 if (text := reader.parse(item, "commands.path", str.strip))]
    timeout = reader.value(fields, "timeout", "commands", parse_work_timeout,
                           DEFAULT_COMMAND_TIMEOUT)
    return CommandsConfig(tuple(modules), tuple(paths), timeout)


def parse_module_name(text: str) -> str:
    if not _MODULE.fullmatch(text.strip()):
        hint = "name a Python module, e.g. mysite.commands"
        if text.strip().endswith(".py"):
            hint = f'name the module, not the file: "{text.strip()[:-3].replace("/", ".")}"'
        raise BadValue(f'"{text}" is not a Python module name', hint)
    return text.strip()


def read_numbers(reader: Reader, node: Node | None, base_dir: Path) -> tuple[NumberRoute, ...]:
    routes = []
    for entry in reader.entries(node, "numbers") if node is not None else []:
        number = entry.key if entry.key == "default" else \
            reader.parse(entry.key_node, "numbers", parse_dialled_number)
        path = f'numbers."{entry.key}"'
        script = reader.parse(entry.value, path, str.strip)
        if script and not is_valid_name(Path(script).stem):
            # Deploys, rollbacks and the control API address a script by this name.
            reader.report(entry.value, f'{path}: the script name "{Path(script).stem}" (the file '
                                       "name without .qs) is not a valid name",
                          f"rename the file: {NAME_RULE}")
            continue
        if number and script:
            routes.append(NumberRoute(number, (base_dir / script).resolve(),
                                      reader.location(entry.value)))
    return tuple(routes)


def read_fallback(reader: Reader, node: Node | None, groups: Mapping[str, Group]) -> Fallback | None:
    if node is None:
        return None
    fields = reader.fields(node, "fallback", ("group", "dialplan"))
    if ("group" in fields) == ("dialplan" in fields):
        reader.report(node, "fallback: give exactly one of group or dialplan",
                      "e.g. fallback: {group: support}")
        return None
    if "group" in fields:
        group = reader.parse(fields.get("group"), "fallback.group", str.strip)
        if group is not None and group not in groups:
            reader.report(fields.get("group"), f'fallback.group: unknown group "{group}"',
                          did_you_mean(group, groups) or "define it under groups:")
        return Fallback(group=group)
    path = "fallback.dialplan"
    target = reader.fields(fields.get("dialplan"), path, ("context", "extension", "priority"),
                           required=("context",))
    return Fallback(dialplan=DialplanTarget(
        reader.value(target, "context", path, _dialplan_word, ""),
        reader.value(target, "extension", path, _dialplan_word, None),  # None: the dialled number
        reader.value(target, "priority", path, lambda t: parse_int(t, minimum=1), 1)))


def _dialplan_word(text: str) -> str:
    """A dialplan context or extension: one word (Asterisk would not find one with spaces)."""
    word = text.strip()
    if not word or re.search(r"[\s,()]", word):
        raise BadValue(f'"{text}" is not a dialplan context or extension',
                       "write one word without spaces, commas or brackets, e.g. from-queue")
    return word


# ------------------------------------------------------------------ connections


def read_mail(reader: Reader, node: Node | None) -> MailConfig | None:
    if node is None:
        return None
    keys = ("smtp_host", "smtp_port", "from", "starttls", "ssl", "username", "password_env",
            "timeout")
    fields = reader.fields(node, "mail", keys, required=("from",),
                           hints=_secret_hints("smtp", "password"))
    path = "mail"
    mail = MailConfig(
        sender=reader.value(fields, "from", path, parse_address, ""),
        smtp_host=reader.value(fields, "smtp_host", path, str.strip, "127.0.0.1"),
        smtp_port=reader.value(fields, "smtp_port", path,
                               lambda t: parse_int(t, minimum=1, maximum=65535), 25),
        starttls=reader.value(fields, "starttls", path, parse_bool, False),
        ssl=reader.value(fields, "ssl", path, parse_bool, False),
        username=reader.value(fields, "username", path, str.strip, None),
        password_env=reader.value(fields, "password_env", path, parse_env_name, None),
        timeout=reader.value(fields, "timeout", path, parse_duration, 10),
    )
    if mail.starttls and mail.ssl:
        reader.report(fields.get("ssl"), "mail: starttls and ssl exclude each other",
                      "ssl is implicit TLS (port 465); starttls upgrades a plain connection (587)")
    if mail.username and not mail.password_env:
        reader.report(fields.get("username"), "mail: a username needs password_env",
                      "name the environment variable that holds the password")
    return mail


def parse_address(text: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", text.strip()):
        raise BadValue(f'"{text}" is not an e-mail address', "e.g. qscript@example.com")
    return text.strip()


def read_ari(reader: Reader, node: Node | None) -> AriConfig | None:
    if node is None:
        return None
    fields = reader.fields(node, "ari", ("url", "user", "app", "password_env",
                                         "transfer_context", "callback_endpoint",
                                         "prompt_dir", "asterisk_prompt_dir"),
                           required=("user",), hints=_secret_hints("ari", "password"))
    return AriConfig(
        user=reader.value(fields, "user", "ari", str.strip, ""),
        url=reader.value(fields, "url", "ari", parse_http_url, DEFAULT_ARI_URL),
        app=reader.value(fields, "app", "ari", parse_name, DEFAULT_ARI_APP),
        password_env=reader.value(fields, "password_env", "ari", parse_env_name,
                                  DEFAULT_ARI_PASSWORD_ENV),
        transfer_context=reader.value(fields, "transfer_context", "ari", str.strip, "default"),
        callback_endpoint=reader.value(fields, "callback_endpoint", "ari", _callback_endpoint,
                                       "Local/{number}@default"),
        prompt_dir=reader.value(fields, "prompt_dir", "ari", _directory, DEFAULT_PROMPT_DIR),
        asterisk_prompt_dir=reader.value(fields, "asterisk_prompt_dir", "ari",
                                         _absolute_directory, None),
    )


def _directory(text: str) -> str:
    if not text.strip():
        raise BadValue("the directory is empty", "e.g. /var/lib/asterisk/sounds/qscript")
    return text.strip()


def _absolute_directory(text: str) -> str:
    """A directory as Asterisk sees it: absolute, since Asterisk resolves a relative
    sound name against its own sounds directory and the call's language."""
    if not text.strip().startswith("/"):
        raise BadValue(f'"{text}" is not an absolute path',
                       "write the directory as Asterisk sees it, e.g. /var/lib/asterisk/sounds/qscript")
    return text.strip().rstrip("/") or "/"


def _callback_endpoint(text: str) -> str:
    if "{number}" not in text or "/" not in text:
        raise BadValue(f'"{text}" is not a callback endpoint',
                       "write TECHNOLOGY/resource with {number} where the number goes, "
                       "e.g. PJSIP/{number}@trunk")
    return text.strip()


def parse_http_url(text: str) -> str:
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise BadValue(f'"{text}" is not an http(s) URL', "e.g. http://127.0.0.1:8088") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadValue(f'"{text}" is not an http(s) URL', "e.g. http://127.0.0.1:8088")
    if parts.username is not None or parts.password is not None:
        # The message must not repeat the password.
        raise BadValue("the URL holds a user or password",
                       "write the user under user: and name the password's environment "
                       "variable with password_env:")
    return text.strip().rstrip("/")


def read_control(reader: Reader, node: Node | None) -> ControlConfig:
    if node is None:
        return ControlConfig()
    fields = reader.fields(node, "control", ("listen", "token_env"), hints=_secret_hints("control", "token"))
    host, port = reader.value(fields, "listen", "control", parse_host_port,
                              (DEFAULT_CONTROL_HOST, DEFAULT_CONTROL_PORT))
    token_env = reader.value(fields, "token_env", "control", parse_env_name, DEFAULT_CONTROL_TOKEN_ENV)
    return ControlConfig(host, port, token_env)


def read_database(reader: Reader, node: Node | None, base_dir: Path) -> str:
    default = f"sqlite:///{base_dir / 'qscript.db'}"
    if node is None:
        return default
    return reader.parse(node, "database", lambda t: parse_database_url(t, base_dir)) or default


def parse_database_url(text: str, base_dir: Path) -> str:
    """A SQLAlchemy URL; a relative SQLite file is made absolute against the site directory."""
    from sqlalchemy.engine import make_url  # imported here: only sites that set it pay for it
    from sqlalchemy.exc import ArgumentError
    try:
        url = make_url(text.strip())
    except ArgumentError:
        raise BadValue(f'"{text}" is not a database URL',
                       "e.g. sqlite:///qscript.db or postgresql://user@host/qscript") from None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:") and not Path(url.database).is_absolute():
        url = url.set(database=str(base_dir / url.database))
    return url.render_as_string(hide_password=False)


WAIT_STYLES = ("approximate", "less-than", "padded")


def read_announcements(reader: Reader, node: Node | None) -> AnnouncementDefaults:
    if node is None:
        return AnnouncementDefaults()
    fields = reader.fields(node, "announcements", ("position", "wait", "wait_style"))
    return AnnouncementDefaults(
        position=reader.value(fields, "position", "announcements", parse_bool, True),
        wait=reader.value(fields, "wait", "announcements", parse_bool, True),
        wait_style=reader.value(fields, "wait_style", "announcements", parse_wait_style,
                                "approximate"),
    )


def parse_wait_style(text: str) -> str:
    if text.strip() not in WAIT_STYLES:
        hint = did_you_mean(text.strip(), WAIT_STYLES)
        valid = "styles: " + ", ".join(WAIT_STYLES)
        raise BadValue(f'"{text}" is not a wait style', f"{hint} ({valid})" if hint else valid)
    return text.strip()
