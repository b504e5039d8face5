"""The matching core of the ACD: who takes which call.

Rules
-----

* **Which call does a free agent take?** The best-ranked call among all the
  groups the agent serves, rank key ``(-priority, arrival - credit, seq)``;
  equal ranks (same priority and credited arrival) go to the group where the
  agent's penalty is lowest, then to the earlier call. Calls reserved for
  another agent (preferred agent, deadline not passed) are skipped.
* **Which agent gets a new call?** Among the READY agents of the call's
  groups: lowest penalty for any of the call's groups, then longest idle
  (earliest ``ready_since``), then earliest login. A call preferring an agent
  who is logged into one of its groups (in any state, paused included) goes
  to that agent only, until the deadline.

Matching is event-driven and keeps one invariant: after every public method
of the engine returns, no READY agent could take any waiting call. So only
the agent or call that changed needs to be matched, never a scan of all of
them. A match is an :class:`~runtime.acd.models.Offer`: the agent becomes
RINGING and the call leaves the queue (reserved) until the driver reports
the answer or the failure.

Preference deadlines are the one change that happens without an event; the
driver calls ``release_expired_preferences`` at ``next_preference_deadline``.
"""

from __future__ import annotations

from typing import Callable, Final

import heapq
import math

from runtime.acd.models import (
    Agent,
    AgentState,
    GroupState,
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


class MatchingCore:
    """The engine's state and the matching rules (base of :class:`AcdEngine`)."""

    def __init__(self) -> None:
        self._groups: dict[str, GroupState] = {}
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, QueueEntry] = {}  # waiting or ringing
        self._next_seq = 0
        #: Preferred-agent deadlines, a heap of (deadline, seq, entry); may hold
        #: stale items. Read-only outside the engine: empty means none pending.
        self.preference_deadlines: list[tuple[float, int, QueueEntry]] = []
        self._preferring: dict[str, set[str]] = {}  # agent id -> call ids preferring them
        #: Told of every change of an agent's state, when set (statistics): called with
        #: (agent id, new state, pause reason, call id, the call's group), the last two
        #: "" unless ringing, busy or in wrap-up. None (the default) costs one test.
        self.on_agent_state: Callable[[str, AgentState, str, str, str], None] | None = None
        #: Told of every call outcome the day's counters count, when set (the live
        #: wallboard's "last 15 minutes"): called with (group, outcome, seconds waited,
        #: answered within the threshold, now); outcome is "answered", "abandoned" or
        #: "flowed_out", the group the one whose counters took it. None costs one test.
        self.on_outcome: Callable[[str, str, float, bool, float], None] | None = None

    def _place_call(self, entry: QueueEntry, now: float) -> list[Offer]:
        """Offer a call that is not in the queue, or queue it at its rank."""
        match = self._best_agent_for(entry, now)
        if match is not None:
            return [self._offer(entry, match[0], match[1], now)]
        self._queue(entry)
        return []

    def _rematch_waiting(self, entry: QueueEntry, now: float) -> list[Offer]:
        """Offer a queued call whose eligibility may have widened."""
        if not entry.queued:
            return []
        match = self._best_agent_for(entry, now)
        return [self._offer(entry, match[0], match[1], now)] if match is not None else []

    def _rematch_all(self, entries: list[QueueEntry], now: float) -> list[Offer]:
        # best-ranked first, so that one free agent takes the best of them
        offers: list[Offer] = []
        for entry in sorted(entries, key=lambda e: e.rank):
            offers += self._rematch_waiting(entry, now)
        return offers

    def _rematch_preferring(self, agent_id: str, now: float) -> list[Offer]:
        """Re-examine calls reserved for this agent after they left groups or logged out."""
        call_ids = self._preferring.get(agent_id, ())
        return self._rematch_all([self._calls[c] for c in call_ids if c in self._calls], now)

    def _best_agent_for(self, entry: QueueEntry, now: float) -> tuple[Agent, str] | None:
        """The READY agent who should take this call, and on behalf of which group."""
        preferred = None if entry.preferred_agent is None else \
            self._active_preferred_agent(entry, now)
        if preferred is not None:
            if preferred.state is not READY:
                return None
            penalties = preferred.penalties
            group = min((g for g in entry.groups if g in penalties), key=penalties.__getitem__)
            return preferred, group
        best = None
        for name in entry.groups:
            ready = self._groups[name].ready
            if ready and (best is None or ready[0] < best[0]):
                best = (ready[0], name)
        return (best[0][-1], best[1]) if best is not None else None

    def _best_call_for(self, agent: Agent, now: float) -> tuple[QueueEntry, str] | None:
        """The waiting call this agent should take, and on behalf of which group."""
        best_key = best = None
        for name, penalty in agent.penalties.items():
            for item in self._groups[name].queue:
                if best_key is not None and item[:2] > best_key[:2]:
                    break  # everything further down this group ranks lower
                entry = item[-1]
                if self._reserved_for_other(entry, agent, now):
                    continue
                key = (item[0], item[1], penalty, item[2])
                if best_key is None or key < best_key:
                    best_key, best = key, (entry, name)
                break
        return best

    def _offer(self, entry: QueueEntry, agent: Agent, group: str, now: float) -> Offer:
        if entry.queued:
            self._unqueue(entry)
        self._leave_ready_lists(agent)
        agent.call = entry
        agent.call_group = group
        agent.offered_at = now
        self._set_state(agent, RINGING)
        entry.ringing_agent = agent.agent_id
        return Offer(entry.call_id, agent.agent_id, group)

    def _make_ready(self, agent: Agent, now: float, keep_idle_time: bool = False) -> list[Offer]:
        """Move an agent to READY (or to the pause they asked for) and match them."""
        if agent.pending_pause is not None:
            self._pause_now(agent, agent.pending_pause)
            return []
        self._leave_ready_lists(agent)
        if not keep_idle_time or agent.ready_since is None or agent.state is PAUSED:
            agent.ready_since = now
        agent.pause_reason = None
        self._set_state(agent, READY)
        match = self._best_call_for(agent, now)
        if match is not None:
            return [self._offer(match[0], agent, match[1], now)]
        for name in agent.penalties:
            self._groups[name].insert_ready(agent)
        return []

    def _pause_now(self, agent: Agent, reason: str) -> None:
        self._leave_ready_lists(agent)
        agent.pause_reason = reason
        agent.pending_pause = None
        self._set_state(agent, PAUSED)

    # ----------------------------------------------------- preferences

    def _set_preference(self, entry: QueueEntry, agent_id: str, deadline: float | None) -> None:
        deadline = math.inf if deadline is None else float(deadline)
        entry.preferred_agent = agent_id
        entry.preference_deadline = deadline
        self._preferring.setdefault(agent_id, set()).add(entry.call_id)
        if deadline < math.inf:
            heapq.heappush(self.preference_deadlines, (deadline, entry.seq, entry))

    def _forget_preference(self, entry: QueueEntry) -> None:
        agent_id = entry.preferred_agent
        if agent_id is None:
            return
        calls = self._preferring.get(agent_id)
        if calls is not None:
            calls.discard(entry.call_id)
            if not calls:
                del self._preferring[agent_id]
        entry.preferred_agent = entry.preference_deadline = None

    def _preference_is_live(self, item: tuple[float, int, QueueEntry]) -> bool:
        entry = item[2]
        return self._calls.get(entry.call_id) is entry and entry.preference_deadline == item[0]

    def _active_preferred_agent(self, entry: QueueEntry, now: float) -> Agent | None:
        """The agent the call is reserved for right now, if any."""
        agent_id = entry.preferred_agent
        deadline = entry.preference_deadline
        if agent_id is None or deadline is None or now >= deadline:
            return None
        agent = self._agents.get(agent_id)
        if agent is None or agent.state is LOGGED_OUT:
            return None
        penalties = agent.penalties
        for name in entry.groups:
            if name in penalties:
                return agent
        return None

    def _reserved_for_other(self, entry: QueueEntry, agent: Agent, now: float) -> bool:
        if entry.preferred_agent is None or entry.preferred_agent == agent.agent_id:
            return False
        return self._active_preferred_agent(entry, now) is not None

    # ----------------------------------------------------------- helpers

    def _queue(self, entry: QueueEntry) -> None:
        for name in entry.groups:
            self._groups[name].insert_call(entry)
        entry.queued = True

    def _unqueue(self, entry: QueueEntry) -> None:
        for name in entry.groups:
            self._groups[name].remove_call(entry)
        entry.queued = False

    def _leave_ready_lists(self, agent: Agent) -> None:
        if agent.ready_keys:
            for name in list(agent.ready_keys):
                self._groups[name].remove_ready(agent)

    def _set_state(self, agent: Agent, state: AgentState) -> None:
        old = agent.state
        for counts in agent.state_counts:
            counts[old] -= 1
            counts[state] += 1
        agent.state = state
        if self.on_agent_state is not None:
            self._tell_state(agent)

    def _tell_state(self, agent: Agent) -> None:
        """Tell ``on_agent_state`` the agent's state (the fields it reads are set first)."""
        observer = self.on_agent_state
        if observer is None:
            return
        state = agent.state
        entry = agent.call
        if entry is not None and (state is RINGING or state is BUSY or state is WRAP_UP):
            observer(agent.agent_id, state, "", entry.call_id, agent.call_group or "")
        else:
            observer(agent.agent_id, state, agent.pause_reason or "", "", "")

    def _join_groups(self, agent: Agent, penalties: dict[str, int]) -> None:
        agent.penalties = penalties
        agent.state_counts = []
        for name in penalties:
            group = self._groups[name]
            group.members[agent.agent_id] = agent
            group.state_counts[agent.state] += 1
            agent.state_counts.append(group.state_counts)

    def _leave_groups(self, agent: Agent) -> None:
        self._leave_ready_lists(agent)
        for name in agent.penalties:
            group = self._groups[name]
            del group.members[agent.agent_id]
            group.state_counts[agent.state] -= 1
        agent.penalties = {}
        agent.state_counts = []

    def _take_seq(self) -> int:
        self._next_seq += 1
        return self._next_seq

    def _group(self, name: str) -> GroupState:
        try:
            return self._groups[name]
        except KeyError:
            raise UnknownNameError(f"no answer group {name!r}") from None

    def _agent(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownNameError(f"no agent {agent_id!r}") from None

    def _entry(self, call_id: str) -> QueueEntry:
        try:
            return self._calls[call_id]
        except KeyError:
            raise UnknownNameError(f"no waiting call {call_id!r}") from None
