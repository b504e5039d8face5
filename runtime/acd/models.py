"""The ACD's data: answer groups, agents, queue entries, offers and counters.

Concepts
--------

**Answer group**
    A named pool of work (``"support"``, ``"sales_se"``). It has a service
    level threshold (seconds, default 20: a call answered within it "met the
    service goal") and a wrap-up time (seconds an agent stays unavailable
    after each call of this group, default 0; an agent logged in with a
    wrap-up of their own has that instead).

**Agent**
    A person who answers calls. An agent is a member of several answer groups,
    each with a *penalty*: 0 is best, lower is preferred. States:

    ``LOGGED_OUT``  not working.
    ``READY``       idle and waiting for a call; ``ready_since`` records when
                    the agent became idle (longest idle is served first).
    ``RINGING``     offered a call, not yet answered; the call is reserved.
    ``BUSY``        talking.
    ``WRAP_UP``     after-call work; becomes READY when the driver reports
                    ``wrap_up_done`` (it schedules the timer).
    ``PAUSED``      logged in but not taking calls, with a reason string
                    (``"lunch"``, ``"no answer"`` after a missed offer).

**Queue entry**
    One waiting call, or a callback request that keeps the caller's place
    (``kind == "callback"``). It waits in a *set of groups* at once; groups can
    be added or removed while it waits (overflow) without losing its place.
    ``priority`` is absolute (0-99, higher always first); ``credit`` is aged
    priority in seconds: the call ranks as if it had arrived ``credit``
    seconds earlier. An entry may prefer one agent until a deadline: until
    ``now >= deadline`` only that agent may take it, provided the agent is
    logged into one of the entry's groups; afterwards anyone may.

**Rank key**
    ``(-priority, arrival - credit, sequence_number)``: the smallest key is
    served first. The same key is used in every group, so a call waiting in
    groups A and B is compared fairly with the calls of both.

**Offer**
    The engine's decision "ring this agent with this call, on behalf of this
    group". The agent becomes RINGING and the call leaves the queue (it is
    reserved) until the driver reports ``answered`` or ``offer_failed``.
"""

from __future__ import annotations

import enum
import heapq
from bisect import bisect_left, insort
from dataclasses import dataclass
from typing import Final, NamedTuple

#: The removal reason that counts as an abandoned call in the statistics.
ABANDONED: Final = "abandoned"
#: Queue entry kinds.
CALL: Final = "call"
CALLBACK: Final = "callback"


class AcdError(Exception):
    """An operation the ACD cannot perform (a bug in the driver, not bad luck)."""


class AcdStateError(AcdError):
    """The operation does not fit the agent's or the call's current state."""


class UnknownNameError(AcdError, LookupError):
    """No answer group, agent or call by that name."""


class AgentState(enum.IntEnum):
    """The state of an agent (see the module docstring)."""

    LOGGED_OUT = 0
    READY = 1
    RINGING = 2
    BUSY = 3
    WRAP_UP = 4
    PAUSED = 5


@dataclass(frozen=True, slots=True)
class AnswerGroup:
    """Configuration of one answer group."""

    name: str
    service_level_threshold: float = 20.0
    wrap_up: float = 0.0


class Offer:
    """Ring ``agent_id`` with ``call_id``, on behalf of answer group ``group``.

    A small class, not a NamedTuple: a NamedTuple's constructor runs as
    interpreted Python even when this module is compiled with mypyc.
    """

    __slots__ = ("call_id", "agent_id", "group")

    def __init__(self, call_id: str, agent_id: str, group: str) -> None:
        self.call_id = call_id
        self.agent_id = agent_id
        self.group = group

    def _key(self) -> tuple[str, str, str]:
        return (self.call_id, self.agent_id, self.group)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Offer) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Offer({self.call_id!r}, {self.agent_id!r}, {self.group!r})"


class AgentInfo(NamedTuple):
    """A read-only snapshot of one agent."""

    agent_id: str
    state: AgentState
    pause_reason: str | None
    groups: dict[str, int]  # group name -> penalty
    ready_since: float | None
    calls_answered: int
    last_call_end: float | None
    call_id: str | None  # the call ringing or connected, if any
    #: A pause asked for during a call or wrap-up: it starts when that is over.
    pending_pause: str | None = None


class CallInfo(NamedTuple):
    """A read-only snapshot of one queue entry."""

    call_id: str
    groups: tuple[str, ...]
    priority: int
    credit: float
    arrival: float
    kind: str
    ringing_agent: str | None  # set while the call is offered to an agent
    preferred_agent: str | None
    preference_deadline: float | None


class QueueEntry:
    """A waiting call or callback request (internal, mutable)."""

    __slots__ = (
        "call_id",
        "groups",
        "priority",
        "credit",
        "arrival",
        "seq",
        "rank",
        "kind",
        "preferred_agent",
        "preference_deadline",
        "ringing_agent",
        "queued",
        "last_group",
        "announced_wait",
        "announced_position",
        "service_level_threshold",
    )

    def __init__(
        self,
        call_id: str,
        groups: list[str],
        priority: int,
        credit: float,
        arrival: float,
        seq: int,
        kind: str,
    ) -> None:
        self.call_id = call_id
        self.groups = groups  # in the order joined; groups[0] gets the statistics
        self.priority = priority
        self.credit = credit
        self.arrival = arrival
        self.seq = seq
        self.rank = (-priority, arrival - credit, seq)
        self.kind = kind
        self.preferred_agent: str | None = None
        self.preference_deadline: float | None = None
        self.ringing_agent: str | None = None
        self.queued = False  # in its groups' queue lists (not ringing, not new)
        self.last_group = groups[0] if groups else ""
        self.announced_wait: float | None = None
        self.announced_position: int | None = None
        self.service_level_threshold: float | None = None  # the call's own target

    def rerank(self) -> None:
        self.rank = (-self.priority, self.arrival - self.credit, self.seq)

    def statistics_group(self) -> str:
        """The one group whose counters record this call's outcome if it is not answered."""
        return self.groups[0] if self.groups else self.last_group

    def info(self) -> CallInfo:
        return CallInfo(
            self.call_id,
            tuple(self.groups),
            self.priority,
            self.credit,
            self.arrival,
            self.kind,
            self.ringing_agent,
            self.preferred_agent,
            self.preference_deadline,
        )


class Agent:
    """An agent's live state (internal, mutable)."""

    __slots__ = (
        "agent_id",
        "seq",
        "state",
        "pause_reason",
        "pending_pause",
        "penalties",
        "state_counts",
        "ready_since",
        "ready_keys",
        "calls_answered",
        "last_call_end",
        "call",
        "call_group",
        "offered_at",
        "answered_at",
        "wrap_up",
    )

    def __init__(self, agent_id: str, seq: int) -> None:
        self.agent_id = agent_id
        self.seq = seq  # tie-break between agents idle since the same instant
        self.state = AgentState.LOGGED_OUT
        self.pause_reason: str | None = None
        self.pending_pause: str | None = None  # pause asked for during a call
        self.penalties: dict[str, int] = {}
        #: The state counters of the agent's groups (GroupState.state_counts),
        #: kept beside ``penalties`` so a state change needs no group lookups.
        self.state_counts: list[list[int]] = []
        self.ready_since: float | None = None
        self.ready_keys: dict[str, tuple] = {}  # group -> key in its ready list
        self.calls_answered = 0
        self.last_call_end: float | None = None
        self.call: QueueEntry | None = None
        self.call_group: str | None = None
        self.offered_at = 0.0
        self.answered_at = 0.0
        #: The agent's own wrap-up (seconds), replacing the group's; None: the group's.
        self.wrap_up: float | None = None

    def info(self) -> AgentInfo:
        return AgentInfo(
            self.agent_id,
            self.state,
            self.pause_reason,
            dict(self.penalties),
            self.ready_since,
            self.calls_answered,
            self.last_call_end,
            self.call.call_id if self.call is not None else None,
            self.pending_pause,
        )


@dataclass(slots=True)
class GroupStats:
    """Outcome counters of the calls that have left a group's queue.

    Each call is counted once: in the group that answered it, or, when it
    left unanswered, in the group it joined first among those it was still
    waiting in (``statistics_group``). Calls still waiting are not counted.

    ``offered = answered + abandoned + flowed_out``, where ``flowed_out``
    counts every other removal (transfer, voicemail, ...). All three kinds
    of unanswered calls are service-level misses.
    """

    offered: int = 0
    answered: int = 0
    answered_within_threshold: int = 0
    abandoned: int = 0
    flowed_out: int = 0
    total_wait_answered: float = 0.0
    total_wait_abandoned: float = 0.0
    total_handle_time: float = 0.0  # talk + configured wrap-up of ended calls

    @property
    def service_level(self) -> float | None:
        """Percent answered within the threshold of offered; None if nothing offered."""
        if self.offered == 0:
            return None
        return 100.0 * self.answered_within_threshold / self.offered

    @property
    def average_speed_of_answer(self) -> float | None:
        """Mean wait (seconds) of answered calls; None if none answered."""
        return self.total_wait_answered / self.answered if self.answered else None

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned / offered as a fraction; None if nothing offered."""
        return self.abandoned / self.offered if self.offered else None


class GroupState:
    """One answer group's live structures (internal).

    ``queue`` holds ``(rank..., entry)`` tuples sorted by rank and ``ready``
    holds ``(penalty, ready_since, agent_seq, agent)`` for the READY agents.
    Both are plain sorted lists kept with :mod:`bisect`: the usual insertions
    land at the tail and the removals near the head, and the memmove that
    list insertion costs stays far below Python's per-operation overhead up
    to queues of about 100,000 entries.
    """

    __slots__ = ("config", "queue", "ready", "arrivals", "members", "state_counts", "stats")

    def __init__(self, config: AnswerGroup) -> None:
        self.config = config
        self.queue: list[tuple] = []
        self.ready: list[tuple] = []
        self.arrivals: list[tuple[float, int, QueueEntry]] = []  # lazy heap, for oldest_wait
        self.members: dict[str, Agent] = {}  # logged-in agents of this group
        self.state_counts = [0] * len(AgentState)
        self.stats = GroupStats()

    # -- waiting calls
    def insert_call(self, entry: QueueEntry) -> None:
        _insert_sorted(self.queue, (*entry.rank, entry))
        heapq.heappush(self.arrivals, (entry.arrival, entry.seq, entry))
        if len(self.arrivals) > 2 * len(self.queue) + 64:
            self._rebuild_arrivals()

    def remove_call(self, entry: QueueEntry) -> None:
        queue = self.queue
        index = 0 if queue[0][-1] is entry else bisect_left(queue, entry.rank)
        assert queue[index][-1] is entry, "queue out of step with its entries"
        del queue[index]  # arrivals are cleaned lazily

    def calls_ahead_of(self, entry: QueueEntry) -> int:
        return bisect_left(self.queue, entry.rank)

    def oldest_arrival(self) -> float | None:
        """Arrival time of the longest-waiting call (regardless of rank)."""
        arrivals = self.arrivals
        while arrivals:
            if _is_queued(arrivals[0][2], self):
                return arrivals[0][0]
            heapq.heappop(arrivals)
        return None

    def _rebuild_arrivals(self) -> None:
        self.arrivals = [(item[-1].arrival, item[-1].seq, item[-1]) for item in self.queue]
        heapq.heapify(self.arrivals)

    # -- ready agents
    def insert_ready(self, agent: Agent) -> None:
        # The item is its own search key: (penalty, ready_since, seq) are
        # unique, so the agent at the end is never compared.
        item = (agent.penalties[self.config.name], agent.ready_since, agent.seq, agent)
        agent.ready_keys[self.config.name] = item
        _insert_sorted(self.ready, item)

    def remove_ready(self, agent: Agent) -> None:
        key = agent.ready_keys.pop(self.config.name)
        ready = self.ready
        # usually the longest idle, at the head, is the one leaving
        del ready[0 if ready[0][-1] is agent else bisect_left(ready, key)]


def _insert_sorted(items: list[tuple], item: tuple) -> None:
    """``insort``, with one comparison in the usual case: the item goes last
    (callers join the queue, agents become ready, in time order). Keys are
    unique (they end with a sequence number), so the trailing object is
    never compared."""
    if not items or items[-1] < item:
        items.append(item)
    else:
        insort(items, item)


def _is_queued(entry: QueueEntry, group: GroupState) -> bool:
    """Whether the entry is in the group's queue right now (binary search)."""
    index = bisect_left(group.queue, entry.rank)
    return index < len(group.queue) and group.queue[index][-1] is entry
