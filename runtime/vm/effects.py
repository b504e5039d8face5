"""Effects: what a script asks the outside world to do.

The VM never touches telephony. When it reaches an effect instruction it
suspends and hands one of these objects to the call session, which carries it
out through the driver (simulator or live Asterisk) and resumes the VM with
the result. Every effect a driver must implement is listed here; see
:class:`runtime.core.driver.Driver`.

Results the VM expects back:

* ``MenuInput`` → the key pressed (``""`` when none before the timeout)
* ``CollectInput`` → the digits entered (``""`` on timeout)
* ``OfferCallback`` → True when the caller accepted
* ``Lookup`` → a dict of fields, or None when the key is not found
* ``Command`` → the command's return value
* ``Queue``/``Requeue``/``AddGroup`` → None, or ``"empty"`` when no agent is
  logged in to any of the groups and the script said ``when empty goto``
* everything else → None
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Effect:
    """Base class; ``pc`` is the instruction that asked for it (for error positions)."""

    pc: int


@dataclass(slots=True)
class Answer(Effect):
    pass


@dataclass(slots=True)
class Hangup(Effect):
    pass


@dataclass(slots=True)
class Play(Effect):
    prompts: tuple[str, ...]


@dataclass(slots=True)
class PlayHot(Effect):
    name: str


@dataclass(slots=True)
class Say(Effect):
    kind: str            # "number", "amount", "digits" or "duration"
    value: Any
    currency: str


@dataclass(slots=True)
class Music(Effect):
    moh_class: str       # "" = stop music on hold


@dataclass(slots=True)
class Wait(Effect):
    seconds: float


@dataclass(slots=True)
class MenuInput(Effect):
    prompt: str
    timeout: float


@dataclass(slots=True)
class CollectInput(Effect):
    prompt: str
    min_digits: int
    max_digits: int
    terminator: str
    timeout: float


@dataclass(slots=True)
class Queue(Effect):
    groups: tuple[str, ...]
    priority: int | None
    credit: float | None
    target: float | None
    prefer_previous: float | None
    has_when_empty: bool
    when_empty_pc: int = -1


@dataclass(slots=True)
class Requeue(Queue):
    pass


@dataclass(slots=True)
class AddGroup(Effect):
    group: str
    priority: int | None
    credit: float | None


@dataclass(slots=True)
class RemoveGroup(Effect):
    group: str


@dataclass(slots=True)
class Announce(Effect):
    what: str            # "position" or "wait"


@dataclass(slots=True)
class OfferCallback(Effect):
    prompt: str
    key: str
    timeout: float


@dataclass(slots=True)
class Voicemail(Effect):
    address: str
    prompt: str
    max_seconds: float


@dataclass(slots=True)
class Transfer(Effect):
    number: str


@dataclass(slots=True)
class Lookup(Effect):
    lookup: str
    key: str


@dataclass(slots=True)
class Command(Effect):
    name: str
    args: tuple


@dataclass(slots=True)
class Log(Effect):
    message: str


@dataclass(slots=True)
class Save(Effect):
    key: str
    value: Any
