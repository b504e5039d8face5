"""The names a script gets for free: call facts, ``now``, and built-in functions.

Each entry has a stable numeric id: the bytecode refers to facts and
functions by id, so ids are part of the bytecode format — append new entries,
never renumber (bump ``bytecode.FORMAT_VERSION`` if you must).
"""

from __future__ import annotations

from dataclasses import dataclass

from .types import ANY, BOOLEAN, DURATION, NUMBER, STRING, TIME, Type, list_of


@dataclass(frozen=True, slots=True)
class Fact:
    id: int
    owner: str      # "call" or "now"
    name: str
    type: Type
    settable: bool
    doc: str

    @property
    def qualified(self) -> str:
        return f"{self.owner}.{self.name}"


@dataclass(frozen=True, slots=True)
class Function:
    id: int
    name: str
    params: tuple[tuple[str, Type], ...]
    returns: Type
    doc: str
    #: What a string literal argument names, checked against the site:
    #: "group", "calendar", "hot_prompt" or None.
    resource: str | None = None


FACTS: tuple[Fact, ...] = (
    Fact(0, "call", "caller", STRING, False, "The caller's number (caller ID), \"\" when withheld."),
    Fact(1, "call", "dialled", STRING, False, "The number the caller dialled."),
    Fact(2, "call", "digits", STRING, False, "The digits most recently entered with `collect`."),
    Fact(3, "call", "menu", STRING, False, "The key most recently chosen in a `menu`."),
    Fact(4, "call", "language", STRING, True, "The call's language, used to pick prompts."),
    Fact(5, "call", "priority", NUMBER, True, "The call's absolute priority (0-99) in the queue."),
    Fact(6, "call", "waited", DURATION, False, "Time in queue so far (0s before queueing)."),
    Fact(7, "call", "position", NUMBER, False, "Position in the queue, 1 = next (0 when not queued)."),
    Fact(8, "call", "estimated_wait", DURATION, False,
         "Estimated remaining wait; unbounded when no agent is logged in to the call's groups."),
    Fact(9, "call", "id", STRING, False, "The call's unique id."),
    Fact(10, "call", "agent", STRING, False, "The agent who answered (in `after call`), else \"\"."),
    Fact(11, "call", "previous_agent", STRING, False,
         "The agent this caller last spoke to, \"\" if none on record."),
    Fact(12, "call", "callback", BOOLEAN, False, "True once the caller accepted a callback."),
    Fact(13, "call", "queued", BOOLEAN, False, "True while the call waits in a queue."),
    Fact(14, "call", "elapsed", DURATION, False, "Time since the call arrived."),
    Fact(15, "call", "groups", list_of(STRING), False, "The answer groups the call waits in."),
    Fact(16, "now", "time", TIME, False, "The time of day in the site's time zone."),
    Fact(17, "now", "weekday", STRING, False, "The day of the week: \"monday\" ... \"sunday\"."),
    Fact(18, "now", "date", STRING, False, "Today's date as \"YYYY-MM-DD\"."),
)

FACTS_BY_NAME: dict[tuple[str, str], Fact] = {(f.owner, f.name): f for f in FACTS}
FACT_OWNERS = ("call", "now")

_G = (("group", STRING),)

FUNCTIONS: tuple[Function, ...] = (
    Function(0, "agents_logged_in", _G, NUMBER, "Agents logged in to the group.", "group"),
    Function(1, "agents_ready", _G, NUMBER, "Agents ready (free) in the group.", "group"),
    Function(2, "agents_busy", _G, NUMBER, "Agents of the group on a call or being rung.", "group"),
    Function(3, "calls_waiting", _G, NUMBER, "Calls waiting in the group.", "group"),
    Function(4, "oldest_wait", _G, DURATION, "Wait of the longest-waiting call in the group.", "group"),
    Function(5, "estimated_wait", _G, DURATION,
             "Estimated wait for a call joining the group now; unbounded when nobody is logged in.",
             "group"),
    Function(6, "service_level", _G, NUMBER,
             "Percent of the group's calls today answered within its service-level threshold "
             "(abandons count as misses); 100 when none offered yet.", "group"),
    Function(7, "is_open", (("calendar", STRING),), BOOLEAN,
             "True when the calendar is open now (hours, holidays and deviations).", "calendar"),
    Function(8, "is_holiday", (("calendar", STRING),), BOOLEAN,
             "True when today is a public holiday in the calendar.", "calendar"),
    Function(9, "hot_prompt_active", (("name", STRING),), BOOLEAN,
             "True when the hot prompt is switched on.", "hot_prompt"),
    Function(10, "len", (("value", ANY),), NUMBER, "Length of a string or list."),
    Function(11, "starts_with", (("text", STRING), ("prefix", STRING)), BOOLEAN,
             "True when the text starts with the prefix."),
    Function(12, "to_number", (("text", STRING),), NUMBER,
             "The number a string of digits spells; 0 when it is not a number."),
    Function(13, "to_text", (("value", ANY),), STRING, "A value as text."),
    Function(14, "luhn_valid", (("digits", STRING),), BOOLEAN,
             "True when the digits pass the Luhn (mod 10) check, as Swedish personal and "
             "organisation numbers and card numbers do."),
    Function(15, "seconds", (("duration", DURATION),), NUMBER, "A duration in seconds."),
    Function(16, "ends_with", (("text", STRING), ("suffix", STRING)), BOOLEAN,
             "True when the text ends with the suffix."),
)

FUNCTIONS_BY_NAME: dict[str, Function] = {f.name: f for f in FUNCTIONS}

#: Names a variable, constant or block may not take.
RESERVED = frozenset(FACT_OWNERS) | frozenset(FUNCTIONS_BY_NAME)
