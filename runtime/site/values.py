"""Parsers for the scalar values of a site file: durations, times, time ranges, names.

Every parser takes the scalar's text exactly as written (the loader never lets
PyYAML's YAML 1.1 typing touch it: ``13:00`` would become the integer 780,
``no`` the boolean false and ``+4687001000`` lose its plus sign) and either
returns the value or raises :class:`BadValue` with a message and, where it
helps, a hint saying how to write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The seconds in one unit of a duration; the same units as the script language.
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:[0-9]+(?:ms|d|h|m|s))+")
_DURATION_PART = re.compile(r"([0-9]+)(ms|d|h|m|s)")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_DASHES = "\u2013\u2014"  # en and em dash: word processors put them into "08:00–17:00"
#: The longest name (group, agent, prompt, script...) a site or the control API accepts.
MAX_NAME_LENGTH = 100
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,%d}" % (MAX_NAME_LENGTH - 1))
#: How names are written, for messages (the same rule everywhere: site, CLI, control API).
NAME_RULE = (f"use letters, digits, '_', '.' and '-' only, at most {MAX_NAME_LENGTH}, "
             "starting with a letter, a digit or '_'")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIALLED_NUMBER = re.compile(r"\+?[0-9*#]+")

DURATION_HINT = "write a duration as whole numbers with units: 20s, 5m, 1h30m (units: ms, s, m, h, d)"
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


class BadValue(ValueError):
    """A scalar that does not parse; ``hint`` says how to write it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True, order=True)
class TimeRange:
    """Opening hours within one day, in minutes after midnight; ``end`` may be 1440 (24:00)."""

    start: int
    end: int

    def contains(self, minute: float) -> bool:
        return self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{format_time(self.start)}-{format_time(self.end)}"


def format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_duration(text: str) -> float:
    """``20s``, ``5m``, ``1h30m``, ``250ms`` -> seconds (an int when whole)."""
    compact = text.strip()
    if not _DURATION.fullmatch(compact):
        hint = DURATION_HINT
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", compact):
            hint = f"add a unit: {compact}s for seconds, {compact}m for minutes"
        raise BadValue(f'"{text}" is not a duration', hint)
    seconds, seen = 0.0, set()
    for amount, unit in _DURATION_PART.findall(compact):
        if unit in seen:
            raise BadValue(f'the unit "{unit}" appears twice in duration "{text}"', DURATION_HINT)
        seen.add(unit)
        seconds += int(amount) * _UNIT_SECONDS[unit]
    return int(seconds) if seconds == int(seconds) else seconds


def parse_work_timeout(text: str) -> float:
    """How long a lookup or custom command may take live: a duration, more than 0s, at most 60s.

    The caller waits in silence meanwhile, so a minute is the most that makes sense.
    """
    from runtime.core.blocking import MAX_TIMEOUT
    seconds = parse_duration(text)
    if seconds <= 0:
        raise BadValue(f'"{text.strip()}" is no time to wait', "a timeout must be more than 0s, "
                       "e.g. 2s or 500ms")
    if seconds > MAX_TIMEOUT:
        raise BadValue(f'"{text.strip()}" is too long: the caller waits in silence meanwhile',
                       f"a timeout may be at most {MAX_TIMEOUT:g}s")
    return seconds


def parse_time(text: str, *, allow_end_of_day: bool = False) -> int:
    """``08:30`` -> minutes after midnight; ``24:00`` only where a range may end at midnight."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise BadValue(f'"{text}" is not a time of day', "write times as HH:MM, e.g. 08:00 or 17:30")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if allow_end_of_day and (hours, minutes) == (24, 0):
        return 24 * 60
    if hours > 23 or minutes > 59:
        limit = "24:00" if allow_end_of_day else "23:59"
        raise BadValue(f'"{text}" is not a time of day', f"times run from 00:00 to {limit}")
    return hours * 60 + minutes


def parse_time_range(text: str) -> TimeRange:
    """``08:00-17:00`` -> a :class:`TimeRange`; the end must come after the start."""
    cleaned = text.strip()
    for dash in _DASHES:
        cleaned = cleaned.replace(dash, "-")
    parts = cleaned.split("-")
    if len(parts) != 2:
        raise BadValue(f'"{text.strip()}" is not a time range',
                       'write opening hours as "08:00-17:00", several as "08:00-12:00, 13:00-17:00", '
                       'or "closed"')
    try:
        start = parse_time(parts[0])
        end = parse_time(parts[1], allow_end_of_day=True)
    except BadValue as error:
        raise BadValue(f'{error.message} (in the range "{text.strip()}")', error.hint) from None
    if end <= start:
        raise BadValue(f'the range "{text.strip()}" ends before it starts',
                       "a range cannot pass midnight: split it, e.g. monday: 22:00-24:00 and "
                       "tuesday: 00:00-06:00" if end < start else None)
    return TimeRange(start, end)


def parse_opening_hours(text: str) -> tuple[TimeRange, ...]:
    """``"08:00-12:00, 13:00-17:00"`` or ``closed`` -> sorted, non-overlapping ranges."""
    if text.strip().lower() == "closed":
        return ()
    ranges = sorted(parse_time_range(part) for part in text.split(","))
    return check_no_overlap(ranges)


def check_no_overlap(ranges: list[TimeRange]) -> tuple[TimeRange, ...]:
    """Refuse overlapping ranges in one day; they are almost always a typing mistake."""
    ordered = sorted(ranges)
    for earlier, later in zip(ordered, ordered[1:]):
        if later.start < earlier.end:
            raise BadValue(f"the ranges {earlier} and {later} overlap",
                           "merge them into one range")
    return tuple(ordered)


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadValue(f'"{text}" is not true or false', "write true or false")


def parse_int(text: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise BadValue(f'"{text}" is not a whole number') from None
    if minimum is not None and value < minimum:
        raise BadValue(f"{value} is too small; the smallest allowed is {minimum}")
    if maximum is not None and value > maximum:
        raise BadValue(f"{value} is too large; the largest allowed is {maximum}")
    return value


def parse_percent(text: str) -> float:
    """``80%`` or ``80`` -> 0.8."""
    number = text.strip().removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        raise BadValue(f'"{text}" is not a percentage', "write e.g. 80%") from None
    if not 0 <= value <= 100:
        raise BadValue(f'"{text}" is not between 0% and 100%')
    return value / 100


def parse_name(text: str) -> str:
    """A resource name (group, prompt, calendar...): letters, digits, ``_ . -``, no spaces."""
    name = text.strip()
    if not is_valid_name(name):
        hint = NAME_RULE
        if " " in name:
            dashed = name.replace(" ", "-")
            hint += f', e.g. "{dashed}"'
        raise BadValue(f'"{text}" is not a valid name', hint)
    return name


def is_valid_name(name: str) -> bool:
    """Whether ``name`` follows :data:`NAME_RULE` (as written: no surrounding spaces).

    Names travel as URL path segments of the control API, so the rule keeps
    out ``/``, spaces, ``%`` and names made of dots (``..``).
    """
    return _NAME.fullmatch(name) is not None


def parse_identifier(text: str) -> str:
    """A field name a script writes after a dot (``customer.segment``)."""
    name = text.strip()
    if not _IDENTIFIER.fullmatch(name):
        raise BadValue(f'"{text}" is not a valid field name',
                       "scripts read fields as record.field: use letters, digits and '_', "
                       "not starting with a digit")
    return name


def parse_language(text: str) -> str:
    code = text.strip()
    if not _LANGUAGE.fullmatch(code):
        raise BadValue(f'"{text}" is not a language code',
                       "use an ISO 639 code such as sv or en, optionally with a region: en-GB")
    return code


def parse_env_name(text: str) -> str:
    name = text.strip()
    if not _ENV_NAME.fullmatch(name):
        raise BadValue(f'"{text}" is not an environment variable name',
                       "name the variable that holds the secret, e.g. QSCRIPT_SMTP_PASSWORD")
    return name


def parse_dialled_number(text: str) -> str:
    number = text.strip()
    if not _DIALLED_NUMBER.fullmatch(number):
        compact = re.sub(r"[\s().-]", "", number)
        hint = (f'write it without spaces or punctuation: "{compact}"'
                if _DIALLED_NUMBER.fullmatch(compact) else
                "write the dialled number as digits, optionally with a leading +, or 'default'")
        raise BadValue(f'"{text}" is not a phone number', hint)
    return number


def parse_host_port(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``127.0.0.1:8089``, ``[::1]:8089`` or ``:8089`` -> (host, port)."""
    value = text.strip()
    host, separator, port_text = value.rpartition(":")
    if not separator or not port_text.isdigit():
        raise BadValue(f'"{text}" is not host:port', "write e.g. 127.0.0.1:8089")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise BadValue(f"port {port} is out of range", "ports run from 1 to 65535")
    host = host.removeprefix("[").removesuffix("]") or default_host
    return host, port
