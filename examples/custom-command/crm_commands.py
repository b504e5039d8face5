"""Custom commands for QScript scripts: a blocklist and case creation.

A site loads this module by naming it in its configuration::

    commands:
      modules: [crm_commands]

(the module must be importable, e.g. on PYTHONPATH). Each function decorated
with ``@command`` becomes a statement ``do NAME(ARGS) into VARIABLE``. The
first parameter receives the running call's context from the runtime; the
others, with their annotations, are the arguments a script passes.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from qscript.extensions import command

#: One number per line; lines starting with "#" are comments.
BLOCKLIST = Path(__file__).with_name("blocklist.txt")

_case_numbers = itertools.count(100001)


def _blocked_numbers() -> set[str]:
    if not BLOCKLIST.exists():
        return set()
    lines = BLOCKLIST.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


@command
def blocked(call, number: str) -> bool:
    """True when the number is on the site's blocklist."""
    return number in _blocked_numbers()


@command
def open_case(call, customer: str, channel: str) -> str:
    """Open a case in the case handling for the customer; returns the case number."""
    # A real site would call its CRM here, with a timeout of its own shorter than the
    # site's commands.timeout (live, commands run in worker threads; itertools.count
    # is safe to share between them). This example just numbers the cases.
    return str(next(_case_numbers))
