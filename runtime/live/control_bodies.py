"""The request bodies of the control API, described once and checked before anything is done.

Every POST route has a schema: the fields it accepts, for each what it must
be, and whether it is required. :func:`parse_body` turns the raw bytes into a
JSON object; :func:`check_body` checks it against the route's schema and
returns the values, so that a handler validates first and then calls the
runtime. A body that does not fit is a :class:`BadBody` (a ``ValueError``:
the API answers 400 with its message), which says which field is wrong,
what it must be and what it was:

    "active" must be true or false (a JSON boolean), not the string "false"

Unknown fields are refused too (a misspelt ``activ`` must not be ignored),
and an optional field given as ``null`` counts as not given. The same
schemas are listed in docs/live.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from qscript.source import MAX_SOURCE_BYTES

from runtime.site.values import NAME_RULE, is_valid_name

#: The largest whole number a field takes (versions, penalties): the database's integer.
MAX_WHOLE = 2**31 - 1
MAX_COMMENT = 1000
MAX_REASON = 200
MAX_SOURCE_NAME = 1000
MAX_GROUPS = 1000


class BadBody(ValueError):
    """A request body that is not what the route expects (answered with 400)."""


@dataclass(frozen=True)
class Field:
    name: str
    #: What the value must be, for messages ("true or false (a JSON boolean)").
    expected: str
    #: Returns the value to use, or raises BadBody (its message is not shown: ``expected`` is).
    check: Callable[[Any], Any]
    required: bool = False


def _fail() -> None:
    raise BadBody()


def _boolean(value: Any) -> bool:
    if value is not True and value is not False:
        _fail()
    return value


def _whole(minimum: int, maximum: int = MAX_WHOLE) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if type(value) is not int or not minimum <= value <= maximum:
            _fail()
        return value
    return check


def _text(max_length: int, *, single_line: bool = True) -> Callable[[Any], str]:
    """A string of at most ``max_length`` characters; without control characters
    when ``single_line`` (names and notes end up in terminals and log lines)."""
    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) > max_length:
            _fail()
        if single_line and any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in value):
            _fail()
        return value
    return check


def _source(value: Any) -> str:
    if not isinstance(value, str):
        _fail()
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate (\ud800) is not text a file could hold
        _fail()
    if size > MAX_SOURCE_BYTES:
        _fail()
    return value


def _groups(value: Any) -> dict[str, int]:
    """A list of answer group names (penalty 0), or an object of names and penalties."""
    if isinstance(value, list):
        pairs = [(name, 0) for name in value]
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        _fail()
    if len(pairs) > MAX_GROUPS:
        _fail()
    penalty = _whole(0)
    groups: dict[str, int] = {}
    for name, given in pairs:
        if not isinstance(name, str) or not is_valid_name(name) or name in groups:
            _fail()
        groups[name] = penalty(given)
    return groups


GROUPS_EXPECTED = ("a list of answer group names, or an object of names and penalties "
                   f"(whole numbers, 0 to {MAX_WHOLE}); names {NAME_RULE}")
GROUPS = Field("groups", GROUPS_EXPECTED, _groups)
#: Every agent action takes a reason (clients send one with each), only pause uses it.
REASON = Field("reason", f"a text of at most {MAX_REASON} characters on one line",
               _text(MAX_REASON))

#: The body each POST route accepts, by route.
BODIES: Mapping[str, tuple[Field, ...]] = {
    "agent login": (GROUPS, REASON),
    "agent logout": (REASON,),
    "agent ready": (REASON,),
    "agent pause": (REASON,),
    "agent groups": (Field("groups", GROUPS_EXPECTED, _groups, required=True), REASON),
    "deploy": (
        Field("source", f"the script text, a string of at most {MAX_SOURCE_BYTES:,} bytes "
                        "in UTF-8", _source, required=True),
        Field("source_name", f"a file name, a text of at most {MAX_SOURCE_NAME} characters "
                             "on one line", _text(MAX_SOURCE_NAME)),
        Field("comment", f"a text of at most {MAX_COMMENT} characters on one line",
              _text(MAX_COMMENT)),
    ),
    "check": (
        Field("source", f"the script text, a string of at most {MAX_SOURCE_BYTES:,} bytes "
                        "in UTF-8", _source, required=True),
    ),
    "rollback": (Field("version", f"a whole number from 1 to {MAX_WHOLE}", _whole(1)),),
    "hot prompt": (Field("active", "true or false (a JSON boolean)", _boolean, required=True),),
}


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object a request body holds (an empty body is ``{}``); BadBody if none."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BadBody("the body is not valid JSON: it is not UTF-8") from None
    except RecursionError:
        raise BadBody("the body is not valid JSON: it is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, or a number too long to convert
        raise BadBody(f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadBody(f"the body must be a JSON object, not {_describe(data)}")
    return data


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def check_body(route: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The route's fields from ``data``, checked: {name: value}, None for optional fields
    not given. BadBody for an unknown field, a missing required one or a wrong value."""
    fields = BODIES[route]
    known = {field.name for field in fields}
    for name in data:
        if name not in known:
            accepted = ", ".join(f'"{n}"' for n in known) or "no fields"
            raise BadBody(f'unknown field "{_short(name)}" for {route}; it accepts {accepted}')
    values: dict[str, Any] = {}
    for field in fields:
        value = data.get(field.name)
        if value is None:
            if field.required:
                raise BadBody(f'{route} needs "{field.name}": {field.expected}')
            values[field.name] = None
            continue
        try:
            values[field.name] = field.check(value)
        except BadBody:
            raise BadBody(f'"{field.name}" must be {field.expected}, not {_describe(value)}') \
                from None
    return values


def _describe(value: Any) -> str:
    """A JSON value in a few words: its type, and itself when short."""
    if value is True or value is False:
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "a number out of range"
        text = json.dumps(value)
        return f"the number {text}" if len(text) <= 30 else f"a number of {len(text)} digits"
    if isinstance(value, str):
        return f"the string {json.dumps(_short(value))}" if len(value) <= 60 else \
            f"a string of {len(value):,} characters"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return f"an object of {len(value)} field{'s' if len(value) != 1 else ''}"
    return "null"


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:60] + "..."
