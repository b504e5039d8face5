"""What happened to a call: the record a session keeps and hands on when it ends.

The simulator aggregates records into its report; the live runtime stores
them in the database (call log, statistics, previous-agent matching).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from typing import Final


# Outcomes of a call, as recorded.
ANSWERED: Final = "answered"          # connected to an agent
ABANDONED: Final = "abandoned"        # the caller hung up while queued
TRANSFERRED: Final = "transferred"    # sent to an external number
VOICEMAIL: Final = "voicemail"        # left a voice message
CALLBACK: Final = "callback"          # accepted a callback (then answered or not)
HUNG_UP: Final = "hung_up"            # the script hung up, or the caller left outside the queue
FAILED: Final = "failed"              # the script failed and the fallback took over


_NOTHING_SAVED: Final[Mapping[str, object]] = MappingProxyType({})


class CallRecord:
    """One call's record, filled in by its session as the call goes on.

    A plain class with an explicit ``__init__`` rather than a dataclass: the
    runtime's hot modules are compiled with mypyc, which compiles an explicit
    ``__init__`` but leaves a dataclass's generated one interpreted.
    """

    def __init__(self, call_id: str, caller: str, dialled: str, *, script: str = "",
                 script_hash: str = "", arrived_at: float = 0.0,
                 queued_at: float | None = None, answered_at: float | None = None,
                 agent_ended_at: float | None = None, ended_at: float | None = None,
                 outcome: str = HUNG_UP, groups: list[str] | None = None,
                 answered_group: str | None = None, agent: str | None = None,
                 language: str = "", priority: int = 0, target: float | None = None,
                 digits: str = "", estimated_wait_at_entry: float | None = None,
                 announced_waits: Sequence[float] = (),
                 saved: Mapping[str, object] | None = None, log: Sequence[str] = (),
                 error: str | None = None, voicemail_to: str | None = None,
                 transferred_to: str | None = None) -> None:
        self.call_id = call_id
        self.caller = caller
        self.dialled = dialled
        self.script = script                    # program source name
        self.script_hash = script_hash
        self.arrived_at = arrived_at
        self.queued_at = queued_at
        self.answered_at = answered_at          # when an agent was connected
        self.agent_ended_at = agent_ended_at    # when the agent's part of the call ended
        self.ended_at = ended_at
        self.outcome = outcome
        self.groups: list[str] = [] if groups is None else groups   # groups joined, in order
        self.answered_group = answered_group
        self.agent = agent
        self.language = language
        self.priority = priority
        #: The call's service-level target (`queue to ... target 20s`), when set;
        #: it replaces the group's threshold in the service-level figures.
        self.target = target
        self.digits = digits
        #: Estimated wait when the call joined the queue (for estimator accuracy).
        self.estimated_wait_at_entry = estimated_wait_at_entry
        # Most calls announce, save and log nothing: these start as shared
        # empty (immutable) values and get their own container on the first
        # write, through the methods below.
        self.announced_waits: Sequence[float] = announced_waits
        self.saved: Mapping[str, object] = _NOTHING_SAVED if saved is None else saved
        self.log: Sequence[str] = log             # `log` statements
        self.error = error
        self.voicemail_to = voicemail_to
        self.transferred_to = transferred_to

    def add_announced_wait(self, seconds: float) -> None:
        self.announced_waits = [*self.announced_waits, seconds]

    def add_log(self, message: str) -> None:
        self.log = [*self.log, message]

    def save(self, key: str, value: object) -> None:
        """A `save` statement: ``key`` = ``value`` in the call's record."""
        self.saved = {**self.saved, key: value}

    def copy(self) -> "CallRecord":
        """A copy that shares nothing mutable with this record (a custom command's)."""
        return CallRecord(
            self.call_id, self.caller, self.dialled, script=self.script,
            script_hash=self.script_hash, arrived_at=self.arrived_at, queued_at=self.queued_at,
            answered_at=self.answered_at, agent_ended_at=self.agent_ended_at,
            ended_at=self.ended_at, outcome=self.outcome, groups=list(self.groups),
            answered_group=self.answered_group, agent=self.agent, language=self.language,
            priority=self.priority, target=self.target, digits=self.digits,
            estimated_wait_at_entry=self.estimated_wait_at_entry,
            announced_waits=list(self.announced_waits), saved=dict(self.saved),
            log=list(self.log), error=self.error, voicemail_to=self.voicemail_to,
            transferred_to=self.transferred_to)

    def __repr__(self) -> str:
        return (f"CallRecord({self.call_id!r}, outcome={self.outcome!r}, "
                f"groups={self.groups!r}, agent={self.agent!r})")

    @property
    def waited(self) -> float | None:
        """Time from joining the queue to being answered (or leaving)."""
        if self.queued_at is None:
            return None
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else end - self.queued_at
