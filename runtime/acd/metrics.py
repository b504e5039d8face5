"""Live metrics of the ACD: what queue scripts read.

Definitions (every figure is per answer group unless it names a call):

``agents_logged_in``  agents logged into the group, whatever their state.
``agents_ready``      of those, READY (idle, waiting for a call).
``agents_busy``       RINGING (offered a call) or BUSY (talking).
``agents_wrap_up``    in WRAP_UP (after-call work), not counted as busy.
``agents_paused``     PAUSED.
``calls_waiting``     calls and callback requests in the group's queue; a call
                      ringing an agent is no longer waiting.
``oldest_wait``       seconds the longest-waiting call has waited (by real
                      arrival, whatever its priority); 0 when none waits.
``service_level``     percent of the calls that left the group's queue that
                      were answered within the group's threshold:
                      ``answered_within_threshold / offered · 100`` where
                      offered = answered + abandoned + flowed out (transfer,
                      voicemail...). Abandons and flow-outs are misses, calls
                      still waiting are not counted, and each call counts in
                      one group only (see :class:`~runtime.acd.models.GroupStats`).
                      The wait runs from arrival to answer (ringing included).
                      None when nothing has been offered yet.
``position``          1-based place of a call: 1 + the number of distinct
                      waiting calls ranked before it in any of its groups,
                      i.e. the calls an agent of its groups would take first.
                      For a call in one group, its rank there. A call ringing
                      an agent is at position 1.
``estimated_wait``    seconds until the call is expected to be answered, from
                      the engine's estimator; ``math.inf`` when no agent is
                      logged in and unpaused in any of its groups (the
                      defined "no value"), 0 when one of them is READY and
                      nobody is ahead, 0 for a call ringing an agent.
``announced_wait``/``announced_position``
                      what to tell the caller: the smallest value given to this
                      caller so far, so an announcement never goes up.
"""

from __future__ import annotations

from typing import Final

import math
from bisect import bisect_left
from runtime.acd.estimators import WaitEstimator, WaitQuery
from runtime.acd.matching import MatchingCore
from runtime.acd.models import AgentState, GroupStats, QueueEntry

_READY: Final = AgentState.READY
_RINGING: Final = AgentState.RINGING
_BUSY: Final = AgentState.BUSY
_WRAP_UP: Final = AgentState.WRAP_UP
_PAUSED: Final = AgentState.PAUSED


class AcdMetrics(MatchingCore):
    """Read-only queries of :class:`~runtime.acd.engine.AcdEngine`.

    A layer of the engine's single-inheritance chain ``MatchingCore`` →
    ``AcdMetrics`` → ``AcdEngine`` (single inheritance keeps the classes
    compilable to native classes with mypyc).
    """

    estimator: WaitEstimator  # set by the engine

    # ------------------------------------------------------ agent counts

    def agents_logged_in(self, group: str) -> int:
        """Agents logged into ``group``, in any state."""
        return len(self._group(group).members)

    def agents_ready(self, group: str) -> int:
        """READY agents of ``group``."""
        return self._group(group).state_counts[_READY]

    def agents_busy(self, group: str) -> int:
        """Agents of ``group`` RINGING or BUSY (wrap-up is counted apart)."""
        counts = self._group(group).state_counts
        return counts[_RINGING] + counts[_BUSY]

    def agents_wrap_up(self, group: str) -> int:
        """Agents of ``group`` in WRAP_UP."""
        return self._group(group).state_counts[_WRAP_UP]

    def agents_paused(self, group: str) -> int:
        """PAUSED agents of ``group``."""
        return self._group(group).state_counts[_PAUSED]

    # ------------------------------------------------------- queue figures

    def calls_waiting(self, group: str) -> int:
        """Calls and callback requests waiting in ``group``."""
        return len(self._group(group).queue)

    def oldest_wait(self, group: str, now: float) -> float:
        """Seconds waited by the longest-waiting call of ``group`` (0 if none)."""
        arrival = self._group(group).oldest_arrival()
        return 0.0 if arrival is None else max(0.0, now - arrival)

    def service_level(self, group: str) -> float | None:
        """Percent answered within the threshold of offered (module docstring)."""
        return self._group(group).stats.service_level

    def stats(self, group: str) -> GroupStats:
        """The group's outcome counters (live object, do not modify)."""
        return self._group(group).stats

    def position(self, call_id: str) -> int:
        """1-based place of the call among those its agents would take first."""
        return self._calls_ahead(self._entry(call_id)) + 1

    def positions(self) -> dict[str, int]:
        """:meth:`position` of every waiting or ringing call, by call id, at once.

        For a status page listing thousands of waiting calls: ``position`` of
        a call in several groups counts the calls ahead in each (O(calls)),
        so calling it for each call is O(calls²) — a quarter of a second for
        2,000 calls. Here the calls are taken once in rank order, counting
        those passed per set of groups: a call's position is 1 + the calls
        passed in the sets that share a group with its own.
        """
        waiting = sorted((entry for entry in self._calls.values() if entry.queued),
                         key=_rank_of)
        passed: dict[frozenset[str], int] = {}
        positions: dict[str, int] = {}
        for entry in waiting:
            mine = frozenset(entry.groups)
            ahead = 0
            for groups, count in passed.items():
                if not groups.isdisjoint(mine):
                    ahead += count
            positions[entry.call_id] = ahead + 1
            passed[mine] = passed.get(mine, 0) + 1
        for call_id, entry in self._calls.items():
            if not entry.queued:
                positions[call_id] = 1   # ringing an agent (or not in a queue yet)
        return positions

    # ------------------------------------------------------------- waits

    def estimated_wait(self, call_id: str, now: float) -> float:
        """Seconds until the call should be answered; ``math.inf`` if unstaffed."""
        entry = self._entry(call_id)
        if not entry.queued:
            return 0.0 if entry.ringing_agent is not None else math.inf
        groups = tuple(entry.groups)
        agents, ready = self._staffing(groups)
        query = WaitQuery(groups, self._calls_ahead(entry), agents, ready, now - entry.arrival)
        return self._estimate(query)

    def estimated_wait_group(self, group: str, now: float) -> float:
        """Estimated wait of a new caller joining ``group`` now at priority 0."""
        state = self._group(group)
        agents, ready = self._staffing((group,))
        # every waiting call has priority >= 0 and arrived by now: all are ahead
        return self._estimate(WaitQuery((group,), len(state.queue), agents, ready, 0.0))

    def announced_wait(self, call_id: str, now: float) -> float:
        """The wait to announce: never more than announced before to this caller."""
        entry = self._entry(call_id)
        estimate = self.estimated_wait(call_id, now)
        if entry.announced_wait is not None and entry.announced_wait < estimate:
            return entry.announced_wait
        entry.announced_wait = estimate
        return estimate

    def announced_position(self, call_id: str) -> int:
        """The position to announce: never more than announced before."""
        entry = self._entry(call_id)
        position = self.position(call_id)
        if entry.announced_position is not None and entry.announced_position < position:
            return entry.announced_position
        entry.announced_position = position
        return position

    def _estimate(self, query: WaitQuery) -> float:
        # the two outcomes the language defines, whatever the estimator
        if query.agents == 0:
            return math.inf
        if query.ready_agents > 0 and query.calls_ahead == 0:
            return 0.0
        return self.estimator.estimate(query)

    # ----------------------------------------------------------- helpers

    def _calls_ahead(self, entry: QueueEntry) -> int:
        if not entry.queued:
            return 0
        groups = [self._groups[name] for name in entry.groups]
        if len(groups) == 1:
            return groups[0].calls_ahead_of(entry)
        # several groups: count each call ahead once, however many it shares
        ahead: set[int] = set()
        for group in groups:
            for item in group.queue[: bisect_left(group.queue, entry.rank)]:
                ahead.add(item[2])
        return len(ahead)

    def _staffing(self, groups: tuple[str, ...]) -> tuple[int, int]:
        """(agents logged in and not paused, READY agents) over these groups."""
        if len(groups) == 1:
            group = self._groups[groups[0]]
            counts = group.state_counts
            return len(group.members) - counts[_PAUSED], counts[_READY]
        working: set[str] = set()
        ready: set[str] = set()
        for name in groups:
            for agent_id, agent in self._groups[name].members.items():
                if agent.state is not _PAUSED:
                    working.add(agent_id)
                    if agent.state is _READY:
                        ready.add(agent_id)
        return len(working), len(ready)


def _rank_of(entry: QueueEntry) -> tuple:
    return entry.rank
