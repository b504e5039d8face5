"""Custom commands: named extensions written in Python.

A site provides commands in a Python module it names in its configuration
(``commands: {modules: [mysite.commands]}``)::

    from qscript.extensions import command

    @command
    def crm_score(call, number: str) -> float:
        "Score of the customer in the CRM."
        return crm.lookup(number).score

The signature comes from the annotations (``str`` → string, ``int``/``float``
→ number, ``bool`` → boolean, ``datetime.timedelta`` → duration,
``datetime.time`` → time); the first parameter receives the running call's
context and is not part of the script-visible signature. The checker checks
every ``do crm_score(...)`` against it at compile time (Q1007, Q2002, Q2001).
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import typing
from dataclasses import dataclass
from typing import Callable

from .symbols import CommandInfo, Parameter

_PYTHON_TYPES = {
    str: "string", int: "number", float: "number", bool: "boolean",
    datetime.timedelta: "duration", datetime.time: "time",
}


class CommandError(Exception):
    """A custom command is declared wrongly (bad annotation, duplicate name, bad module)."""


@dataclass(frozen=True)
class RegisteredCommand:
    info: CommandInfo
    function: Callable


def _value_type(annotation, where: str) -> str:
    if annotation in _PYTHON_TYPES:
        return _PYTHON_TYPES[annotation]
    raise CommandError(f"{where}: unsupported type {annotation!r}; use str, int, float, bool, "
                       "datetime.timedelta or datetime.time")


def describe(function: Callable, name: str | None = None) -> CommandInfo:
    """The script-visible signature of a command function."""
    where = f"command {function.__module__}.{function.__qualname__}"
    try:
        hints = typing.get_type_hints(function)
    except Exception as error:  # noqa: BLE001 - any failure is the module author's
        raise CommandError(f"{where}: cannot read its annotations: {error}") from None
    parameters = list(inspect.signature(function).parameters.values())
    if not parameters:
        raise CommandError(f"{where}: the first parameter must take the call context")
    declared = []
    for parameter in parameters[1:]:
        if parameter.name not in hints:
            raise CommandError(f"{where}: parameter {parameter.name!r} has no type annotation")
        declared.append(Parameter(parameter.name, _value_type(hints[parameter.name], where)))
    returns = hints.get("return", type(None))
    result = None if returns is type(None) else _value_type(returns, where)
    return CommandInfo(name or function.__name__, tuple(declared), result,
                       inspect.getdoc(function) or "")


#: The attribute the decorator puts on a command function.
_MARK = "__qscript_command__"


def command(function: Callable | None = None, *, name: str | None = None):
    """Decorator marking a custom command (usable as ``@command`` or ``@command(name=...)``).

    The signature is read and checked at once; the function is only marked,
    not put in a global table, so two sites in one process (tests, a
    simulator beside a live runtime) can each have a command of the same name.
    """

    def register(fn: Callable) -> Callable:
        setattr(fn, _MARK, RegisteredCommand(describe(fn, name), fn))
        return fn

    return register(function) if function is not None else register


def load_modules(modules: list[str]) -> dict[str, RegisteredCommand]:
    """Import the named modules and return the commands they define, by name.

    Two commands of the same name in these modules are an error.
    """
    found: dict[str, RegisteredCommand] = {}
    where: dict[str, str] = {}
    for module in modules:
        try:
            imported = importlib.import_module(module)
        except KeyboardInterrupt:
            raise
        except SystemExit as error:
            # sys.exit at import would end `qscript check`/`test` with its code (0: a pass).
            raise CommandError(f"cannot import command module {module!r}: it called "
                               f"sys.exit({error.code!r})") from None
        except Exception as error:  # noqa: BLE001 - report any import failure clearly
            raise CommandError(f"cannot import command module {module!r}: {error}") from None
        except BaseException as error:  # noqa: BLE001 - GeneratorExit and the like
            raise CommandError(f"cannot import command module {module!r}: "
                               f"{type(error).__name__}: {error}") from None
        for value in vars(imported).values():
            registered = getattr(value, _MARK, None)
            if not isinstance(registered, RegisteredCommand):
                continue
            name = registered.info.name
            if name in found and found[name].function is not value:
                raise CommandError(f"command {name!r} is defined twice: in {where[name]} "
                                   f"and in {module}")
            found[name] = registered
            where[name] = module
    return found
