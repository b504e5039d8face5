"""Value types of the language.

A script's values are numbers, strings, booleans, durations, times of day,
lists of one element type, and records (the result of a ``lookup``). ``ANY``
is not a type a script can write: the checker gives it to expressions it
could not type (after reporting why) so that one mistake is reported once,
and to lookup fields when no site configuration says what they are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Type:
    name: str
    element: "Type | None" = None          # for lists
    lookup: str | None = None              # for records: the lookup's name

    def __str__(self) -> str:
        if self.name == "list":
            return f"list of {self.element}s" if self.element is not ANY else "list"
        if self.name == "record":
            return f"record from lookup {self.lookup!r}" if self.lookup else "record"
        return self.name


NUMBER = Type("number")
STRING = Type("string")
BOOLEAN = Type("boolean")
DURATION = Type("duration")
TIME = Type("time")
ANY = Type("any")
NOTHING = Type("nothing")  # a custom command without a result

SCALARS = {"number": NUMBER, "string": STRING, "boolean": BOOLEAN, "duration": DURATION,
           "time": TIME}


def list_of(element: Type) -> Type:
    return Type("list", element)


def record(lookup: str | None) -> Type:
    return Type("record", lookup=lookup)


def compatible(expected: Type, actual: Type) -> bool:
    """Can a value of type ``actual`` be used where ``expected`` is needed?"""
    if expected is ANY or actual is ANY or expected == actual:
        return True
    if expected.name == actual.name == "list":
        return compatible(expected.element or ANY, actual.element or ANY)
    if expected.name == actual.name == "record":
        return expected.lookup is None or actual.lookup is None
    return False


def zero_value(type_: Type):
    """The value a variable of this type has before anything is assigned to it."""
    return _ZERO.get(type_.name, None) if type_.name not in ("list", "record") else (
        () if type_.name == "list" else None)


_ZERO = {"number": 0, "string": "", "boolean": False, "duration": 0.0, "time": 0}
