"""The ACD engine: matches waiting calls with agents.

The engine is shared by the discrete-event simulator and the live Asterisk
runtime, so it is clock-agnostic and free of side effects: every method takes
``now`` (seconds on any monotonic or simulated clock), changes the engine's
state and returns its decisions. It never sleeps, does I/O, reads the wall
clock or draws random numbers; timers (wrap-up, preference deadlines) are the
driver's to schedule.

The rules (which agent, which call) are in :mod:`runtime.acd.matching`;
the metric and statistics definitions in :mod:`runtime.acd.metrics`.

Costs: enqueue, answer, removal and agent readiness are O(log n) searches in
per-group sorted lists (plus a memmove, see :class:`~runtime.acd.models.GroupState`), times the
number of groups involved; the metrics are O(1), except those for a call in
several groups (O(calls ahead) or O(agents of its groups)).
"""

from __future__ import annotations

from typing import Callable, Final

import heapq
import math
from collections.abc import Iterable, Mapping

from runtime.acd.estimators import ErlangMedianEstimator, WaitEstimator
from runtime.acd.metrics import AcdMetrics
from runtime.acd.models import (
    ABANDONED,
    CALL,
    CALLBACK,
    AcdStateError,
    Agent,
    AgentInfo,
    AgentState,
    AnswerGroup,
    CallInfo,
    GroupState,
    GroupStats,
    Offer,
    QueueEntry,
    UnknownNameError,
)

READY: Final = AgentState.READY
RINGING: Final = AgentState.RINGING
BUSY: Final = AgentState.BUSY
WRAP_UP: Final = AgentState.WRAP_UP
PAUSED: Final = AgentState.PAUSED
LOGGED_OUT: Final = AgentState.LOGGED_OUT
NO_ANSWER: Final = "no answer"


class AcdEngine(AcdMetrics):
    """Automatic call distributor for a set of answer groups.

    ``groups``: the answer groups (more can be defined later with
    :meth:`define_group`). ``estimator``: the waiting-time estimator, by default
    an :class:`~runtime.acd.estimators.ErlangMedianEstimator`.
    """

    def __init__(
        self, groups: Iterable[AnswerGroup] = (), estimator: WaitEstimator | None = None
    ) -> None:
        super().__init__()
        self.estimator = estimator if estimator is not None else ErlangMedianEstimator()
        self.total_stats = GroupStats()
        #: Engine time at which the day's counters (``stats``, behind
        #: ``service_level``) end and start again, and how the next end is
        #: found; set by the centre from the site's clock (never by default).
        self.day_ends_at: float = math.inf
        self.next_day_end: Callable[[float], float] | None = None
        for group in groups:
            self.define_group(group)

    # ------------------------------------------------------------ the day

    def roll_day(self, now: float) -> None:
        """Start the day's counters again once ``now`` is past the end of the day.

        Called before every count and every read of them, so a figure is
        always of the current day without a timer (a recurring timer would
        keep a simulation's event loop running for ever).
        """
        if now < self.day_ends_at:
            return
        for state in self._groups.values():
            state.stats = GroupStats()
        self.total_stats = GroupStats()
        following = self.next_day_end
        self.day_ends_at = following(now) if following is not None else math.inf

    # ------------------------------------------------------------ groups

    def define_group(self, group: AnswerGroup) -> None:
        """Add an answer group, or change the configuration of an existing one."""
        state = self._groups.get(group.name)
        if state is None:
            self._groups[group.name] = GroupState(group)
        else:
            state.config = group

    def group_config(self, name: str) -> AnswerGroup:
        """The configuration of answer group ``name``."""
        return self._group(name).config

    @property
    def group_names(self) -> list[str]:
        """Names of the defined answer groups, in definition order."""
        return list(self._groups)

    def has_group(self, name: str) -> bool:
        """Is ``name`` a defined answer group? (O(1); the hot paths ask this per call)"""
        return name in self._groups

    # ------------------------------------------------------------- calls

    def enqueue(
        self,
        call_id: str,
        groups: Iterable[str],
        now: float,
        *,
        priority: int = 0,
        credit: float = 0.0,
        kind: str = CALL,
        service_level_threshold: float | None = None,
        preferred_agent: str | None = None,
        preference_deadline: float | None = None,
        arrival: float | None = None,
    ) -> list[Offer]:
        """Queue a call (or callback request) in one or more groups.

        ``priority``: absolute, 0-99, higher first. ``credit``: seconds of aged
        priority. ``arrival`` defaults to ``now`` (pass an earlier time to let a
        caller rejoin at an old place). ``preferred_agent`` is the only agent
        allowed to take the call before ``preference_deadline`` (None: no
        deadline), if logged into one of its groups. ``service_level_threshold``
        (the script's ``target``) replaces the group's threshold for this call
        in the service-level figures. Returns the offer if an agent can take it now.
        """
        calls = self._calls
        if call_id in calls:
            raise AcdStateError(f"call {call_id!r} is already queued")
        if groups.__class__ is tuple and len(groups) == 1:  # type: ignore[attr-defined]
            group_list = [groups[0]]  # type: ignore[index]
        else:
            group_list = list(dict.fromkeys(groups))
        known = self._groups
        for name in group_list:
            if name not in known:
                raise UnknownNameError(f"no answer group {name!r}")
        if priority.__class__ is not int or not 0 <= priority <= 99:
            _check_priority(priority)
        if kind != CALL and kind != CALLBACK:
            raise ValueError(f"kind must be {CALL!r} or {CALLBACK!r}, got {kind!r}")
        self._next_seq += 1
        entry = QueueEntry(call_id, group_list, priority, float(credit),
                           now if arrival is None else arrival, self._next_seq, kind)
        entry.service_level_threshold = service_level_threshold
        calls[call_id] = entry
        if preferred_agent is not None:
            self._set_preference(entry, preferred_agent, preference_deadline)
        return self._place_call(entry, now)

    def add_group(self, call_id: str, group: str, now: float) -> list[Offer]:
        """Let a waiting call also wait in ``group`` (overflow), keeping its place."""
        entry = self._entry(call_id)
        state = self._group(group)
        if group in entry.groups:
            return []
        entry.groups.append(group)
        if not entry.queued:  # ringing: it rejoins all its groups if the offer fails
            return []
        state.insert_call(entry)
        return self._rematch_waiting(entry, now)

    def remove_group(self, call_id: str, group: str, now: float) -> list[Offer]:
        """Stop a call waiting in ``group``; it keeps its place in the others.

        A call may be left in no group at all; it then waits (unmatched) until
        a group is added or it is removed. Returns offers because leaving a
        group can lift a preferred-agent reservation.
        """
        entry = self._entry(call_id)
        self._group(group)
        if group not in entry.groups:
            return []
        if entry.queued:
            self._groups[group].remove_call(entry)
        entry.groups.remove(group)
        entry.last_group = group
        return self._rematch_waiting(entry, now) if entry.queued else []

    def set_priority(
        self, call_id: str, priority: int | None, credit: float | None, now: float
    ) -> None:
        """Change a call's priority and/or credit (None keeps it); its rank follows.

        Returns nothing: re-ranking cannot create a match, as no READY agent
        can take any waiting call (the engine's invariant).
        """
        entry = self._entry(call_id)
        if priority is not None:
            _check_priority(priority)
        queued = entry.queued
        if queued:
            self._unqueue(entry)
        if priority is not None:
            entry.priority = priority
        if credit is not None:
            entry.credit = float(credit)
        entry.rerank()
        if queued:
            self._queue(entry)

    def prefer_agent(
        self, call_id: str, agent_id: str | None, deadline: float | None, now: float
    ) -> list[Offer]:
        """Reserve a call for ``agent_id`` until ``deadline`` (None: no deadline).

        ``agent_id`` None clears the preference.
        """
        entry = self._entry(call_id)
        self._forget_preference(entry)
        if agent_id is not None:
            self._set_preference(entry, agent_id, deadline)
        return self._rematch_waiting(entry, now) if entry.queued else []

    def next_preference_deadline(self) -> float | None:
        """When the driver should next call :meth:`release_expired_preferences`."""
        heap = self.preference_deadlines
        while heap and not self._preference_is_live(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def release_expired_preferences(self, now: float) -> list[Offer]:
        """Open the calls whose preferred-agent deadline has passed to every agent."""
        heap = self.preference_deadlines
        expired = []
        while heap and heap[0][0] <= now:
            item = heapq.heappop(heap)
            if self._preference_is_live(item):
                expired.append(item[2])
        for entry in expired:
            self._forget_preference(entry)
        return self._rematch_all(expired, now)

    def remove(self, call_id: str, now: float, reason: str = ABANDONED) -> list[Offer]:
        """Take a call out for good: abandoned, transferred, sent to voicemail...

        ``reason == "abandoned"`` counts as an abandon in the statistics; any
        other reason counts as a flow-out. Both are service-level misses. A
        call removed while ringing frees its agent (READY again, keeping their
        idle time), which may produce offers.
        """
        entry = self._entry(call_id)
        del self._calls[call_id]
        self._forget_preference(entry)
        offers: list[Offer] = []
        if entry.queued:
            self._unqueue(entry)
        elif entry.ringing_agent is not None:
            agent = self._agents[entry.ringing_agent]
            entry.ringing_agent = None
            agent.call = agent.call_group = None
            offers = self._make_ready(agent, now, keep_idle_time=True)
        self._record_unanswered(entry, now, reason)
        return offers

    def offer_call_to(self, call_id: str, agent_id: str, now: float) -> Offer:
        """Ring ``agent_id`` with one waiting call they chose (a callback from their list),
        whatever its rank, on behalf of their best group among the call's.

        The agent must be READY or PAUSED; a paused agent goes back to their pause
        after the call (it stays pending). If they do not answer, the call goes back
        to its place (:meth:`offer_failed`).
        """
        entry = self._entry(call_id)
        agent = self._agent(agent_id)
        if not entry.queued:
            raise AcdStateError(f"call {call_id!r} is not waiting (it is ringing an agent)")
        if agent.state is not READY and agent.state is not PAUSED:
            raise AcdStateError(f"agent {agent_id!r} is {agent.state.name}, not READY or PAUSED")
        penalties = agent.penalties
        shared = [name for name in entry.groups if name in penalties]
        if not shared:
            raise AcdStateError(f"call {call_id!r} waits in none of agent {agent_id!r}'s groups")
        if self._reserved_for_other(entry, agent, now):
            raise AcdStateError(f"call {call_id!r} is reserved for agent "
                                f"{entry.preferred_agent!r}")
        if agent.state is PAUSED:
            agent.pending_pause = agent.pause_reason
        return self._offer(entry, agent, min(shared, key=penalties.__getitem__), now)

    def convert_to_callback(self, call_id: str) -> None:
        """Mark a waiting call as a callback request; it keeps its place."""
        self._entry(call_id).kind = CALLBACK

    def answered(self, call_id: str, agent_id: str, now: float) -> None:
        """The agent answered the call offered to them: the agent is BUSY."""
        agent, entry = self._ringing_pair(call_id, agent_id)
        del self._calls[call_id]
        if entry.preferred_agent is not None:
            self._forget_preference(entry)
        entry.ringing_agent = None
        self._set_state(agent, BUSY)
        agent.answered_at = now
        agent.calls_answered += 1
        group = self._groups[agent.call_group]  # type: ignore[index]
        config = group.config
        waited = now - entry.arrival
        threshold = entry.service_level_threshold
        within = waited <= (config.service_level_threshold if threshold is None else threshold)
        if now >= self.day_ends_at:
            self.roll_day(now)
        _count_answer(group.stats, waited, within)
        _count_answer(self.total_stats, waited, within)
        self.estimator.record_answer(config.name, waited)
        if self.on_outcome is not None:
            self.on_outcome(config.name, "answered", waited, within, now)

    def offer_failed(
        self, call_id: str, agent_id: str, now: float, make_agent_unready: bool = True
    ) -> list[Offer]:
        """The agent did not answer: the call goes back to its original place.

        The agent is PAUSED with reason ``"no answer"``, or READY again (keeping
        their idle time) if ``make_agent_unready`` is false.
        """
        agent, entry = self._ringing_pair(call_id, agent_id)
        entry.ringing_agent = None
        agent.call = agent.call_group = None
        if make_agent_unready:
            self._pause_now(agent, NO_ANSWER)
        offers = self._place_call(entry, now)
        if not make_agent_unready:
            offers += self._make_ready(agent, now, keep_idle_time=True)
        return offers

    def call_ended(self, agent_id: str, now: float) -> list[Offer]:
        """The agent's call is over: wrap-up, or READY at once if the group has none."""
        agent = self._agents.get(agent_id) or self._agent(agent_id)
        if agent.state is not BUSY:
            raise AcdStateError(f"agent {agent_id!r} is {agent.state.name}, not BUSY")
        group = self._groups[agent.call_group]  # type: ignore[index]
        wrap_up = group.config.wrap_up if agent.wrap_up is None else agent.wrap_up
        handle_time = now - agent.answered_at + wrap_up
        if now >= self.day_ends_at:
            self.roll_day(now)
        group.stats.total_handle_time += handle_time
        self.total_stats.total_handle_time += handle_time
        self.estimator.record_handle(group.config.name, now - agent.offered_at + wrap_up)
        agent.last_call_end = now
        if wrap_up > 0:
            self._set_state(agent, WRAP_UP)   # (told with its call: agent.call is still set)
            agent.call = None
            return []
        agent.call = None
        return self._make_ready(agent, now)

    def set_wrap_up(self, agent_id: str, wrap_up: float | None) -> None:
        """Change a known agent's own wrap-up (None: each call's group's), from their next
        call on (an administrator changed it while they are logged in)."""
        if wrap_up is not None and not wrap_up >= 0:
            raise ValueError(f"wrap_up must be >= 0 seconds, got {wrap_up!r}")
        self._agent(agent_id).wrap_up = None if wrap_up is None else float(wrap_up)

    def wrap_up_seconds(self, agent_id: str) -> float:
        """Wrap-up time owed for the agent's current or last call: the agent's own
        (:meth:`login`), else that of the call's group."""
        agent = self._agent(agent_id)
        if agent.call_group is None:
            return 0.0
        if agent.wrap_up is not None:
            return agent.wrap_up
        return self._groups[agent.call_group].config.wrap_up

    def wrap_up_done(self, agent_id: str, now: float) -> list[Offer]:
        """The wrap-up timer fired. Ignored unless the agent is still in WRAP_UP
        (a late timer after a logout or an early :meth:`set_ready` is normal)."""
        agent = self._agent(agent_id)
        if agent.state is not WRAP_UP:
            return []
        return self._make_ready(agent, now)

    # ------------------------------------------------------------ agents

    def login(
        self,
        agent_id: str,
        groups: Mapping[str, int] | Iterable[str],
        now: float,
        *,
        ready: bool = True,
        wrap_up: float | None = None,
    ) -> list[Offer]:
        """Log an agent into answer groups (a list means penalty 0 everywhere).

        The agent starts READY, or PAUSED with reason ``"logged in"`` if
        ``ready`` is false. ``wrap_up`` (seconds) is the agent's own wrap-up
        after every call, replacing the groups' (None: each call's group's).
        """
        agent = self._agents.get(agent_id)
        if agent is None:
            agent = self._agents[agent_id] = Agent(agent_id, self._take_seq())
        elif agent.state is not LOGGED_OUT:
            raise AcdStateError(f"agent {agent_id!r} is already logged in")
        penalties = self._penalties(groups)
        if wrap_up is not None and not wrap_up >= 0:
            raise ValueError(f"wrap_up must be >= 0 seconds, got {wrap_up!r}")
        agent.wrap_up = None if wrap_up is None else float(wrap_up)
        agent.state = PAUSED
        agent.pause_reason = "logged in"
        self._join_groups(agent, penalties)
        if ready:
            return self._make_ready(agent, now)
        if self.on_agent_state is not None:
            self._tell_state(agent)   # logged in, paused
        return []

    def logout(self, agent_id: str, now: float) -> list[Offer]:
        """Log an agent out (not while RINGING or BUSY: report the call first).

        Returns offers: calls that preferred this agent are open to all.
        """
        agent = self._agent(agent_id)
        if agent.state in (RINGING, BUSY):
            raise AcdStateError(
                f"agent {agent_id!r} is {agent.state.name}; report offer_failed or call_ended first"
            )
        if agent.state is LOGGED_OUT:
            return []
        self._leave_groups(agent)
        agent.state = LOGGED_OUT
        agent.pause_reason = agent.pending_pause = None
        agent.ready_since = None
        if self.on_agent_state is not None:
            self._tell_state(agent)
        return self._rematch_preferring(agent_id, now)

    def set_ready(self, agent_id: str, now: float) -> list[Offer]:
        """The agent is ready for calls: ends a pause or wrap-up early.

        While RINGING or BUSY it cancels a pause asked for during the call.
        """
        agent = self._agent(agent_id)
        state = agent.state
        if state is LOGGED_OUT:
            raise AcdStateError(f"agent {agent_id!r} is not logged in")
        agent.pending_pause = None
        if state in (PAUSED, WRAP_UP):
            return self._make_ready(agent, now)
        return []

    def pause(self, agent_id: str, reason: str, now: float) -> None:
        """Pause an agent. During a call or wrap-up the pause starts after it."""
        agent = self._agent(agent_id)
        state = agent.state
        if state is LOGGED_OUT:
            raise AcdStateError(f"agent {agent_id!r} is not logged in")
        if state in (READY, PAUSED):
            self._pause_now(agent, reason)
        else:
            agent.pending_pause = reason

    def set_groups(
        self, agent_id: str, groups: Mapping[str, int] | Iterable[str], now: float
    ) -> list[Offer]:
        """Change the answer groups (and penalties) of a logged-in agent."""
        agent = self._agent(agent_id)
        if agent.state is LOGGED_OUT:
            raise AcdStateError(f"agent {agent_id!r} is not logged in")
        penalties = self._penalties(groups)
        self._leave_groups(agent)
        self._join_groups(agent, penalties)
        offers = self._make_ready(agent, now, keep_idle_time=True) if agent.state is READY else []
        return offers + self._rematch_preferring(agent_id, now)

    def agent_info(self, agent_id: str) -> AgentInfo:
        """A snapshot of the agent's state."""
        return self._agent(agent_id).info()

    def call_info(self, call_id: str) -> CallInfo:
        """A snapshot of a waiting or ringing call."""
        return self._entry(call_id).info()

    def has_call(self, call_id: str) -> bool:
        """Whether the call is waiting or ringing an agent."""
        return call_id in self._calls

    # ----------------------------------------------------------- helpers

    def _record_unanswered(self, entry: QueueEntry, now: float, reason: str) -> None:
        name = entry.statistics_group()
        waited = now - entry.arrival
        abandoned = reason == ABANDONED
        if now >= self.day_ends_at:
            self.roll_day(now)
        group_stats = self._groups[name].stats if name in self._groups else None
        for stats in (group_stats, self.total_stats):
            if stats is None:
                continue
            stats.offered += 1
            if abandoned:
                stats.abandoned += 1
                stats.total_wait_abandoned += waited
            else:
                stats.flowed_out += 1
        if abandoned:
            self.estimator.record_abandon(name, waited)
        if self.on_outcome is not None and group_stats is not None:
            self.on_outcome(name, "abandoned" if abandoned else "flowed_out", waited, False, now)

    def _ringing_pair(self, call_id: str, agent_id: str) -> tuple[Agent, QueueEntry]:
        agent = self._agents.get(agent_id) or self._agent(agent_id)
        entry = agent.call
        if agent.state is not RINGING or entry is None or entry.call_id != call_id:
            raise AcdStateError(f"call {call_id!r} is not ringing agent {agent_id!r}")
        return agent, entry

    def _penalties(self, groups: Mapping[str, int] | Iterable[str]) -> dict[str, int]:
        if isinstance(groups, Mapping):
            penalties = {name: int(penalty) for name, penalty in groups.items()}
        else:
            penalties = dict.fromkeys(groups, 0)
        for name, penalty in penalties.items():
            self._group(name)
            if penalty < 0:
                raise ValueError(f"penalty must be >= 0, got {penalty} for group {name!r}")
        return penalties

def _count_answer(stats: GroupStats, waited: float, within: bool) -> None:
    stats.offered += 1
    stats.answered += 1
    if within:
        stats.answered_within_threshold += 1
    stats.total_wait_answered += waited


def _check_priority(priority: int) -> None:
    if int(priority) != priority or not 0 <= priority <= 99:
        raise ValueError(f"priority must be an integer 0-99, got {priority!r}")
