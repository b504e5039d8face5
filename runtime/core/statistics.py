"""What the statistics see: the centre's queue events and the agents' states, as facts.

The contact centre (:mod:`runtime.core.center`) is the one place a call's
session changes its place in the queue, and the ACD tells of every change of
an agent's state (``AcdEngine.on_agent_state``). When a centre is given a
:class:`StatisticsSink`, it builds a :class:`FactsRecorder` that listens
there and turns what it hears into the facts of :mod:`runtime.store.facts`:

* per call, while it runs: the queue segments (joined a group, left it and
  how), the events (entered, announced, overflowed, removed, callback
  offered/taken, ring, ring no answer, answered, completed, abandoned,
  transferred, voicemail) and the survey answers (a ``save`` in ``after call:``);
  handed over as one :class:`~runtime.store.facts.ContactFacts` when the call's
  record is final;
* per agent: an :class:`~runtime.store.facts.AgentInterval` each time the
  agent's state changes (ready, ringing, busy, wrap-up, paused with its
  reason; logged out is no interval) and the agent events (login, logout,
  pause, unpause).

Both drivers feed it the same way, so a call makes the same facts simulated
and live. Without a sink (``qscript simulate`` and ``qscript test`` by
default) the centre has no recorder and each of its queue methods pays one
``is None`` test. Times are driver-clock seconds (``driver.now()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from runtime.acd import AgentState
from runtime.store import facts as F

if TYPE_CHECKING:
    from runtime.acd import AcdEngine
    from runtime.core.session import CallSession


class StatisticsSink(Protocol):
    """Where the facts go: the simulator collects a day, the live runtime writes them
    through its outbox as they come."""

    def contact(self, facts: F.ContactFacts) -> None:
        """A call's record is final (the call ended)."""

    def agent_activity(self, intervals: Sequence[F.AgentInterval],
                       events: Sequence[F.Event]) -> None:
        """Agent-state intervals that ended and agent events that happened."""


class CollectingSink:
    """A sink that keeps everything in lists (a simulated day, tests)."""

    def __init__(self) -> None:
        self.contacts: list[F.ContactFacts] = []
        self.intervals: list[F.AgentInterval] = []
        self.events: list[F.Event] = []

    def contact(self, facts: F.ContactFacts) -> None:
        self.contacts.append(facts)

    def agent_activity(self, intervals: Sequence[F.AgentInterval],
                       events: Sequence[F.Event]) -> None:
        self.intervals.extend(intervals)
        self.events.extend(events)


_STATE_NAMES = {AgentState.READY: F.READY, AgentState.RINGING: F.RINGING,
                AgentState.BUSY: F.BUSY, AgentState.WRAP_UP: F.WRAP_UP,
                AgentState.PAUSED: F.PAUSED}

#: How a call's leaving the queue (the reason given to ContactCenter.leave_queue)
#: ends its open segments, and the event it makes.
_LEAVING = {"abandoned": (F.ABANDONED, F.ABANDON), "transferred": (F.TRANSFERRED, None),
            "voicemail": (F.VOICEMAIL, None), "requeued": (F.REMOVED, F.LEFT_GROUP)}


class _CallFacts:
    """What one call has made so far."""

    __slots__ = ("open", "segments", "events", "survey", "ring_at", "ring_group", "position")

    def __init__(self) -> None:
        self.open: dict[str, float] = {}          # group -> when the call joined it
        self.segments: list[F.Segment] = []
        self.events: list[F.Event] = []
        self.survey: list[F.SurveyAnswer] = []
        self.ring_at = 0.0                        # when the agent's phone started ringing
        self.ring_group = ""
        self.position = 0                         # the position when it last joined

    def close(self, group: str, now: float, how: str, agent: str | None = None) -> None:
        entered = self.open.pop(group, None)
        if entered is not None:
            self.segments.append(F.Segment(group, entered, now, how, agent))

    def close_all(self, now: float, how: str) -> list[str]:
        groups = list(self.open)
        for group in groups:
            self.close(group, now, how)
        return groups


class _AgentNow:
    __slots__ = ("state", "since", "reason", "call_id", "group")

    def __init__(self, state: str, since: float, reason: str, call_id: str, group: str) -> None:
        self.state, self.since, self.reason = state, since, reason
        self.call_id, self.group = call_id, group


class FactsRecorder:
    """Listens to a centre and its ACD and hands facts to a sink (see the module)."""

    def __init__(self, sink: StatisticsSink, clock: Callable[[], float], acd: "AcdEngine") -> None:
        self.sink = sink
        self.clock = clock
        self.acd = acd
        self._calls: dict[str, _CallFacts] = {}
        self._agents: dict[str, _AgentNow] = {}
        #: The script version of a program, by its hash (live: the deployed version).
        self.script_versions: dict[str, int] = {}
        acd.on_agent_state = self.agent_state

    # ------------------------------------------------------------ calls

    def _call(self, call_id: str) -> _CallFacts:
        facts = self._calls.get(call_id)
        if facts is None:
            facts = self._calls[call_id] = _CallFacts()
        return facts

    def _event(self, call: _CallFacts, now: float, kind: str, group: str = "", agent: str = "",
               data: dict[str, Any] | None = None) -> None:
        call.events.append(F.Event(now, kind, group, agent, data))

    def _position(self, call_id: str) -> int:
        acd = self.acd
        return acd.position(call_id) if acd.has_call(call_id) else 0

    def joined(self, call_id: str, groups: Iterable[str], now: float) -> None:
        """The call joined the queue in these groups (``queue to``, ``requeue to``)."""
        call = self._call(call_id)
        position = call.position = self._position(call_id)
        for group in groups:
            if group not in call.open:
                call.open[group] = now
                self._event(call, now, F.ENTERED, group, data={"position": position})

    def overflowed(self, call_id: str, group: str, now: float) -> None:
        """``add group``: the waiting call also waits in ``group``."""
        call = self._call(call_id)
        if group in call.open or not self.acd.has_call(call_id):
            return
        self._event(call, now, F.OVERFLOWED, group, data={"to": group})
        call.open[group] = now
        self._event(call, now, F.ENTERED, group, data={"position": self._position(call_id)})

    def removed(self, call_id: str, group: str, now: float) -> None:
        """``remove group``."""
        call = self._call(call_id)
        if group in call.open:
            call.close(group, now, F.REMOVED)
            self._event(call, now, F.LEFT_GROUP, group)

    def left_queue(self, call_id: str, now: float, reason: str) -> None:
        """The call left the queue for good (abandoned, transfer, voicemail, requeue, ...)."""
        call = self._call(call_id)
        how, kind = _LEAVING.get(reason, (F.ENDED, F.LEFT_GROUP))
        position = self._position(call_id) if kind == F.ABANDON else 0
        groups = call.close_all(now, how)
        if kind == F.ABANDON:
            self._event(call, now, F.ABANDON, groups[0] if groups else "",
                        data={"position": position})
        elif kind is not None:
            for group in groups:
                self._event(call, now, kind, group)

    def ringing(self, call_id: str, agent_id: str, group: str, now: float) -> None:
        call = self._call(call_id)
        call.ring_at, call.ring_group = now, group
        self._event(call, now, F.RING, group, agent_id)

    def ring_missed(self, call_id: str, agent_id: str, now: float) -> None:
        call = self._call(call_id)
        self._event(call, now, F.RING_NO_ANSWER, call.ring_group, agent_id,
                    {"ring": round(now - call.ring_at, 3)})

    def answered(self, call_id: str, agent_id: str, now: float) -> None:
        call = self._call(call_id)
        group = call.ring_group
        call.close(group, now, F.ANSWERED, agent_id)
        call.close_all(now, F.ANSWERED_ELSEWHERE)
        self._event(call, now, F.ANSWER, group, agent_id, {"ring": round(now - call.ring_at, 3)})

    def completed(self, call_id: str, agent_id: str, by: str, now: float) -> None:
        call = self._call(call_id)
        self._event(call, now, F.COMPLETED, call.ring_group, agent_id, {"by": by})

    def callback_offered(self, call_id: str, now: float) -> None:
        call = self._call(call_id)
        self._event(call, now, F.CALLBACK_OFFERED, next(iter(call.open), ""))

    def callback_taken(self, call_id: str, key: str, now: float) -> None:
        call = self._call(call_id)
        groups = call.close_all(now, F.CALLBACK)
        self._event(call, now, F.CALLBACK_TAKEN, groups[0] if groups else "",
                    data={"key": key} if key else None)

    def announced(self, call_id: str, what: str, value: float, now: float) -> None:
        call = self._call(call_id)
        self._event(call, now, F.ANNOUNCED, next(iter(call.open), ""),
                    data={"what": what, "value": value})

    def transferred(self, call_id: str, number: str, now: float) -> None:
        call = self._call(call_id)
        self._event(call, now, F.TRANSFER, data={"to": number})

    def voicemail_left(self, call_id: str, address: str, now: float) -> None:
        call = self._call(call_id)
        self._event(call, now, F.VOICEMAIL_LEFT, data={"to": address})

    def survey_answer(self, call_id: str, question: str, answer: object, now: float) -> None:
        self._call(call_id).survey.append(F.SurveyAnswer(question, answer, now))

    def call_ended(self, session: "CallSession") -> None:
        """The call's record is final: its facts go to the sink."""
        record = session.record
        call = self._calls.pop(record.call_id, None) or _CallFacts()
        ended = record.ended_at if record.ended_at is not None else self.clock()
        call.close_all(ended, F.ENDED)
        self.sink.contact(F.ContactFacts(
            record, segments=call.segments, events=call.events, survey=call.survey,
            script_version=self.script_versions.get(record.script_hash),
            lookup_key=session.lookup_key, callback_accepted=session.callback_accepted))

    # ------------------------------------------------------------ agents

    def agent_state(self, agent_id: str, state: AgentState, reason: str, call_id: str,
                    group: str) -> None:
        """The ACD changed an agent's state (AcdEngine.on_agent_state)."""
        now = self.clock()
        name = _STATE_NAMES.get(state)      # None: logged out
        before = self._agents.get(agent_id)
        if before is not None and name == before.state and reason == before.reason \
                and call_id == before.call_id:
            return
        intervals: list[F.AgentInterval] = []
        events: list[F.Event] = []
        if before is not None and now > before.since:
            intervals.append(F.AgentInterval(agent_id, before.state, before.since, now,
                                             reason=before.reason, call_id=before.call_id,
                                             group=before.group))
        if before is None and name is not None:
            groups = list(self.acd.agent_info(agent_id).groups)
            events.append(F.Event(now, F.LOGIN, agent=agent_id, data={"groups": groups}))
        elif before is not None and before.state == F.PAUSED and name != F.PAUSED \
                and name is not None:
            events.append(F.Event(now, F.UNPAUSE, agent=agent_id))
        if name == F.PAUSED:
            events.append(F.Event(now, F.PAUSE, agent=agent_id, data={"reason": reason}))
        if name is None:
            self._agents.pop(agent_id, None)
            if before is not None:
                events.append(F.Event(now, F.LOGOUT, agent=agent_id))
        else:
            self._agents[agent_id] = _AgentNow(name, now, reason, call_id, group)
        if intervals or events:
            self.sink.agent_activity(intervals, events)

    def close(self) -> None:
        """End the open agent intervals now (the end of a simulated day, a shutdown);
        the agents stay as they are (no logout event)."""
        now = self.clock()
        intervals = [F.AgentInterval(agent_id, current.state, current.since, now,
                                     reason=current.reason, call_id=current.call_id,
                                     group=current.group)
                     for agent_id, current in self._agents.items() if now > current.since]
        for current in self._agents.values():
            current.since = now
        if intervals:
            self.sink.agent_activity(intervals, [])
