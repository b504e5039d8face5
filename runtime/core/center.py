"""The contact centre: calls, agents and the ACD, shared by both drivers.

A :class:`ContactCenter` owns the ACD engine and the live call sessions. It
routes each incoming call to the program for its dialled number, turns the
ACD's offers into rings on the driver, keeps the timers the ACD asks for
(wrap-up, preferred-agent deadlines), and answers the metrics scripts read
(``agents_ready("support")``, ``is_open("office")``, ...).

Nothing here knows whether calls are simulated or live: that is the driver's
business. The simulator and the ARI runtime each build one ContactCenter.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any, Callable, Iterable

from qscript.builtins import FUNCTIONS
from qscript.bytecode import Program

from runtime.acd import AcdEngine, AcdStateError, AgentInfo, AnswerGroup, Offer, UnknownNameError
from runtime.core.blocking import DEFAULT_COMMAND_TIMEOUT
from runtime.core.latency import LatencyRecorder
from runtime.core.driver import CallInfo, Driver
from runtime.core.records import CallRecord
from runtime.core.session import CallSession, State

log = logging.getLogger("qscript.center")

#: How long an agent's phone rings before the call goes to the next agent.
DEFAULT_RING_TIMEOUT = 15.0
#: How long a call is held for the caller's previous agent (prefer previous agent).
DEFAULT_PREFER_WAIT = 30.0
#: The pause reason of an agent who logs out when their call is over.
LOGGING_OUT = "logging out"


def _empty_program():
    from qscript.bytecode import Program
    return Program(code=[], constants=(), variables=(), entries={"inbound": -1, "queue": -1,
                                                                   "after": -1},
                   blocks={}, source_map=[], source_name="<no script>")


_NO_PROGRAM = _empty_program()


class ProgramTable:
    """Which program answers which dialled number (``"default"`` for the rest).

    Replacing a program (a deploy) affects only calls that arrive afterwards:
    a session keeps the program it started with.
    """

    def __init__(self, programs: dict[str, Program] | None = None):
        self._programs: dict[str, Program] = dict(programs or {})

    def set(self, number: str, program: Program) -> None:
        self._programs[number] = program

    def for_number(self, dialled: str) -> Program | None:
        return self._programs.get(dialled) or self._programs.get("default")

    def items(self):
        return self._programs.items()


class CallHistory:
    """Who the caller last spoke to (for "prefer previous agent"); in memory by default."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, float]] = {}
        #: Remember callers at all? A simulation whose scripts never ask
        #: turns it off (a dict entry per caller, for nothing).
        self.enabled = True

    def previous_agent(self, caller: str, now: float, within: float) -> str | None:
        entry = self._last.get(caller)
        if entry is None or not caller:
            return None
        agent, when = entry
        return agent if now - when <= within else None

    def remember(self, caller: str, agent: str, when: float) -> None:
        if caller and self.enabled:
            self._last[caller] = (agent, when)


class ContactCenter:
    def __init__(self, driver: Driver, programs: ProgramTable, *, site=None,
                 acd: AcdEngine | None = None, history: CallHistory | None = None,
                 on_record: Callable[[CallRecord], None] | None = None,
                 ring_timeout: float = DEFAULT_RING_TIMEOUT, step_budget: int | None = None,
                 fallback_group: str | None = None, coverage: dict | None = None,
                 statistics: Any = None):
        self.driver = driver
        self.programs = programs
        self.site = site
        self.acd = acd if acd is not None else AcdEngine(self._groups_from_site(site))
        self.history = history or CallHistory()
        self.on_record = on_record
        self.ring_timeout = ring_timeout
        self.step_budget = step_budget
        self.fallback_group = fallback_group or self._fallback_from_site(site)
        #: The calls in progress, by call id. Drivers reach them through
        #: session_for / sessions_in_progress / call_count, never directly.
        self._sessions: dict[str, CallSession] = {}
        languages = getattr(site, "languages", None) if site is not None else None
        #: The language a call starts in (the site's first).
        self.default_language = languages[0] if languages else "en"
        self.hot_prompts: dict[str, bool] = self._hot_prompts_from_site(site)
        #: Optional branch coverage: program hash -> {pc: count}, filled by the VM.
        self.coverage = coverage
        #: How long a call waits for its previous agent before anyone may take it.
        self.prefer_wait = DEFAULT_PREFER_WAIT
        #: Custom commands by name (qscript.extensions.RegisteredCommand).
        self.commands: dict = {}
        #: Seconds a custom command may run before its call fails over (the
        #: site's commands.timeout; drivers that run commands inline ignore it).
        self.command_timeout: float = float(getattr(getattr(site, "command_modules", None),
                                                    "timeout", DEFAULT_COMMAND_TIMEOUT))
        #: Called with (session, effect or (event, detail)) for every step of
        #: every call, when set: `qscript test`, debugging and the differential
        #: tests of simulator against live read the script's path from it.
        self.tracer: Callable[[CallSession, Any], None] | None = None
        #: Seconds from an agent becoming free (their call ended, wrap-up
        #: done) to the waiting caller handed to them being connected. (An
        #: agent who becomes free with nobody waiting is not measured: the
        #: wait for the next caller is idle time, not hand-off.)
        self.handoff = LatencyRecorder()
        self._free_since: dict[str, float] = {}
        #: Seconds after a missed ring until the agent is ready again (None: never by itself).
        self.no_answer_pause: float | None = None
        # The ACD's day (service_level() is "today") ends at the site's midnight.
        self.acd.day_ends_at = self._end_of_day(driver.now())
        self.acd.next_day_end = self._end_of_day
        #: Called with an agent's id when the contact centre itself changed the
        #: agent's state (paused for a missed ring, ready again after it), not
        #: on a request: the live runtime stores it.
        self.on_agent_changed: Callable[[str], None] | None = None
        self._preference_timer: Callable[[], None] | None = None
        #: Agents to log out when their call is over (agent_logout_when_free),
        #: with what to call then.
        self._leaving: dict[str, Callable[[], None] | None] = {}
        #: A runtime.core.statistics.FactsRecorder turning queue events and agent states
        #: into statistics facts for the ``statistics`` sink. None: no statistics, and
        #: each queue method below pays one test (the module is not even imported).
        self.facts: Any = None
        if statistics is not None:
            from runtime.core.statistics import FactsRecorder
            self.facts = FactsRecorder(statistics, driver.now, self.acd)
        #: Bumped on every change a live view shows (a call arrives, joins, leaves or is
        #: answered, an agent's state or groups change): a view compares it with the
        #: value it last showed. Where the statistics hooks are; one add each.
        self.changes = 0
        #: Told of each change, when anyone watches (:meth:`watch`); empty costs one test.
        self._watchers: list[Callable[[], None]] = []
        #: Today's and the last 15 minutes' figures, kept once someone watches (a
        #: runtime.core.situation.SituationFigures); None: not kept (the simulator).
        self.situation: Any = None
        #: When each agent's state last changed (driver clock), kept while watched.
        self._agent_since: dict[str, float] = {}
        self._told_before: Callable[[str, Any, str, str, str], None] | None = None

    # ------------------------------------------------------------ setup

    @staticmethod
    def _groups_from_site(site) -> list[AnswerGroup]:
        if site is None:
            return []
        return [AnswerGroup(name, g.service_level_threshold, g.wrap_up)
                for name, g in site.groups.items()]

    @staticmethod
    def _fallback_from_site(site) -> str | None:
        fallback = getattr(site, "fallback", None)
        return getattr(fallback, "group", None) if fallback is not None else None

    @staticmethod
    def _hot_prompts_from_site(site) -> dict[str, bool]:
        if site is None:
            return {}
        return {name: hot.active for name, hot in site.hot_prompts.items()}

    def _end_of_day(self, now: float) -> float:
        """The driver-clock time of the next midnight on the site's wall clock."""
        wall = self.driver.wall_time()
        midnight = dt.datetime.combine(wall.date() + dt.timedelta(days=1), dt.time())
        return now + max(1.0, (midnight - wall).total_seconds())

    def ensure_group(self, name: str) -> None:
        """Define a group the site did not (simulations without a site)."""
        if not self.acd.has_group(name):
            self.acd.define_group(AnswerGroup(name))

    # ------------------------------------------------------------ calls

    def incoming_call(self, call: CallInfo) -> CallSession | None:
        """A call arrived: start the script for its dialled number."""
        program = self.programs.for_number(call.dialled)
        if program is None:
            log.error("no script answers %s and there is no default; call %s handed to "
                      "the fallback", call.dialled, call.call_id)
            if self.driver.fallback(call, "no script for the dialled number"):
                return None
            if self.fallback_group:
                # A session with an empty program: it fails at once and its
                # fallback queues the call to the fallback group.
                session = CallSession(self, _NO_PROGRAM, call)
                self._sessions[call.call_id] = session
                session.driver_failed("no script answers the dialled number")
                return session
            self.driver.hangup(call)
            return None
        session = CallSession(self, program, call)
        self._sessions[call.call_id] = session
        self._changed()
        session.start()
        return session

    def session_ended(self, session: CallSession) -> None:
        self._sessions.pop(session.call.call_id, None)
        self._changed()
        if self.facts is not None:
            self.facts.call_ended(session)
        if self.on_record is not None:
            self.on_record(session.record)

    # ------------------------------------------------------------ the calls, for drivers

    def session_for(self, call_id: str) -> CallSession | None:
        """The session of a call in progress (None once it has ended)."""
        return self._sessions.get(call_id)

    def sessions_in_progress(self) -> list[CallSession]:
        """The sessions of the calls in progress (a copy: calls may end meanwhile)."""
        return list(self._sessions.values())

    def call_count(self) -> int:
        return len(self._sessions)

    def forget(self, call_id: str) -> None:
        """Drop a call whose session could not end by itself (its own
        handling failed): the driver has released the line."""
        self._sessions.pop(call_id, None)

    def dispatch(self, offers: Iterable[Offer]) -> None:
        """Ring the agents the ACD chose."""
        for offer in offers:
            session = self._sessions.get(offer.call_id)
            if session is None:
                # The call vanished between the decision and now: free the agent.
                self.withdraw_offer(offer.call_id, offer.agent_id, self.driver.now())
                continue
            if self.facts is not None:
                self.facts.ringing(offer.call_id, offer.agent_id, offer.group, self.driver.now())
            session.offer(offer.agent_id, offer.group)
        if self.acd.preference_deadlines:
            self._arm_preference_timer()

    def _arm_preference_timer(self) -> None:
        deadline = self.acd.next_preference_deadline()
        if deadline is None or deadline == math.inf:
            return
        if self._preference_timer is not None:
            self._preference_timer()
        delay = max(0.0, deadline - self.driver.now())
        self._preference_timer = self.driver.schedule(delay, self._release_preferences)

    def _release_preferences(self) -> None:
        self._preference_timer = None
        self.dispatch(self.acd.release_expired_preferences(self.driver.now()))

    # ------------------------------------------------------------ the queue, for sessions
    #
    # A call's session changes and reads its place in the queue only through
    # these methods, never through the ACD itself: this is the one place
    # where queue events (joined, left, answered, abandoned...) pass, for
    # whatever comes to observe them (statistics).

    def join_queue(self, call_id: str, groups: Iterable[str], now: float, *, priority: int = 0,
                   credit: float = 0.0, preferred_agent: str | None = None,
                   preference_deadline: float | None = None, arrival: float | None = None,
                   service_level_threshold: float | None = None) -> bool:
        """Queue a call to its groups and ring an agent who can take it now.
        Returns whether one was found (the call did not wait)."""
        offers = self.acd.enqueue(call_id, groups, now, priority=priority, credit=credit,
                                  preferred_agent=preferred_agent,
                                  preference_deadline=preference_deadline, arrival=arrival,
                                  service_level_threshold=service_level_threshold)
        if self.facts is not None:
            self.facts.joined(call_id, groups, now)
        self._changed()
        self.dispatch(offers)
        return bool(offers)

    def join_group(self, call_id: str, group: str, now: float, priority: int | None = None,
                   credit: float | None = None) -> None:
        """A waiting call also waits in ``group`` (overflow), keeping its place;
        with a priority or credit, its rank changes too."""
        offers = self.acd.add_group(call_id, group, now)
        if priority is not None or credit is not None:
            self.acd.set_priority(call_id, priority, credit, now)
        if self.facts is not None:
            self.facts.overflowed(call_id, group, now)
        self._changed()
        self.dispatch(offers)

    def leave_group(self, call_id: str, group: str, now: float) -> None:
        """A waiting call stops waiting in ``group`` (a group nobody defined: nothing)."""
        if self.acd.has_group(group):
            offers = self.acd.remove_group(call_id, group, now)
            if self.facts is not None:
                self.facts.removed(call_id, group, now)
            self._changed()
            self.dispatch(offers)

    def reprioritise(self, call_id: str, priority: int | None, credit: float | None,
                     now: float) -> None:
        self.acd.set_priority(call_id, priority, credit, now)

    def leave_queue(self, call_id: str, now: float, reason: str) -> None:
        """The call leaves the queue for good (if it is in it); ``reason``
        "abandoned" counts as an abandon, any other as a flow-out."""
        if self.acd.has_call(call_id):
            if self.facts is not None:
                self.facts.left_queue(call_id, now, reason)  # (before: it reads the position)
            self._changed()
            self.dispatch(self.acd.remove(call_id, now, reason=reason))

    def withdraw_offer(self, call_id: str, agent_id: str, now: float) -> None:
        """The call no longer rings the agent (it is leaving, or gone): the
        agent is free again, keeping their idle time."""
        self.dispatch(self.acd.offer_failed(call_id, agent_id, now, make_agent_unready=False))

    def call_answered(self, call_id: str, agent_id: str, now: float) -> None:
        """The agent took the call: it is out of the queue, the agent busy."""
        self.acd.answered(call_id, agent_id, now)
        if self.facts is not None:
            self.facts.answered(call_id, agent_id, now)
        self._changed()

    def keep_place_for_callback(self, call_id: str, key: str = "") -> None:
        """The caller accepted a callback (with ``key``): the call keeps its place as a
        callback request."""
        self.acd.convert_to_callback(call_id)
        if self.facts is not None:
            self.facts.callback_taken(call_id, key, self.driver.now())
        self._changed()

    # What a session does that the statistics see but the ACD does not.

    def callback_offered(self, call_id: str) -> None:
        if self.facts is not None:
            self.facts.callback_offered(call_id, self.driver.now())

    def announced(self, call_id: str, what: str, value: float) -> None:
        if self.facts is not None:
            self.facts.announced(call_id, what, value, self.driver.now())

    def transferred(self, call_id: str, number: str) -> None:
        if self.facts is not None:
            self.facts.transferred(call_id, number, self.driver.now())

    def voicemail_left(self, call_id: str, address: str) -> None:
        if self.facts is not None:
            self.facts.voicemail_left(call_id, address, self.driver.now())

    def survey_answer(self, call_id: str, question: str, answer: object) -> None:
        """A `save` in the `after call:` phase."""
        if self.facts is not None:
            self.facts.survey_answer(call_id, question, answer, self.driver.now())

    def is_queued(self, call_id: str) -> bool:
        """Is the call in the queue (waiting, or ringing an agent)?"""
        return self.acd.has_call(call_id)

    def queue_groups(self, call_id: str) -> tuple[str, ...]:
        """The groups a queued call waits in (none for a call not queued)."""
        acd = self.acd
        return acd.call_info(call_id).groups if acd.has_call(call_id) else ()

    def position(self, call_id: str) -> int:
        return self.acd.position(call_id)

    def estimated_wait(self, call_id: str, now: float) -> float:
        return self.acd.estimated_wait(call_id, now)

    def announced_position(self, call_id: str) -> int:
        return self.acd.announced_position(call_id)

    def announced_wait(self, call_id: str, now: float) -> float:
        return self.acd.announced_wait(call_id, now)

    def agents_logged_in(self, groups: Iterable[str]) -> int:
        """Agents logged in to these groups, counted once per group they are in."""
        acd = self.acd
        return sum(acd.agents_logged_in(group) for group in groups)

    # ------------------------------------------------------------ agents

    def agent_login(self, agent_id: str, groups, ready: bool = True) -> None:
        for group in (groups if isinstance(groups, dict) else list(groups)):
            self.ensure_group(group)
        now = self.driver.now()
        self.dispatch(self.acd.login(agent_id, groups, now, ready=ready,
                                     wrap_up=self._site_wrap_up(agent_id)))

    def _site_wrap_up(self, agent_id: str) -> float | None:
        """The agent's own wrap-up from the site (``agents[].wrap_up``), or None."""
        find = getattr(self.site, "agent", None) if self.site is not None else None
        agent = find(agent_id) if find is not None else None
        wrap_up = getattr(agent, "wrap_up", None) if agent is not None else None
        return None if wrap_up is None else float(wrap_up)

    def agent_logout(self, agent_id: str) -> None:
        self.dispatch(self.acd.logout(agent_id, self.driver.now()))
        self._check_empty_groups()

    def agent_logout_when_free(self, agent_id: str,
                               logged_out: Callable[[], None] | None = None) -> None:
        """Log the agent out now if they are free, else as soon as their call
        (ring, talk, wrap-up) is over; meanwhile they are offered no new call
        (a pause is pending in the ACD). ``logged_out`` is called once they are.
        """
        from runtime.acd import AgentState
        state = self.acd.agent_info(agent_id).state
        if state is AgentState.LOGGED_OUT:
            return
        if state is AgentState.READY or state is AgentState.PAUSED:
            self.agent_logout(agent_id)
            if logged_out is not None:
                logged_out()
            return
        self.acd.pause(agent_id, LOGGING_OUT, self.driver.now())
        self._leaving[agent_id] = logged_out

    def _left(self, agent_id: str) -> bool:
        """An agent's call (or wrap-up) ended: log them out if they were leaving
        and are free now (not in wrap-up: _wrap_up_done asks again)."""
        from runtime.acd import AgentState
        if agent_id not in self._leaving or \
                self.acd.agent_info(agent_id).state is not AgentState.PAUSED:
            return False
        logged_out = self._leaving.pop(agent_id)
        self.agent_logout(agent_id)
        if logged_out is not None:
            logged_out()
        return True

    def agent_ready(self, agent_id: str) -> None:
        self.dispatch(self.acd.set_ready(agent_id, self.driver.now()))

    def agent_pause(self, agent_id: str, reason: str) -> None:
        self.acd.pause(agent_id, reason, self.driver.now())

    def agent_groups(self, agent_id: str, groups: dict[str, int]) -> None:
        """The agent now answers these groups (group -> penalty); calls waiting there may ring."""
        offers = self.acd.set_groups(agent_id, groups, self.driver.now())
        self._changed()  # (no state change: the ACD tells nobody)
        self.dispatch(offers)

    def agent_info(self, agent_id: str) -> AgentInfo:
        """An agent's state, groups and call; LookupError for an agent never logged in."""
        return self.acd.agent_info(agent_id)

    def agent_call_ended(self, agent_id: str, call_id: str = "", by: str = "") -> None:
        """An agent's call is over (``call_id``, hung up ``by`` "agent" or "caller", when
        known): wrap-up (timed), then ready for the next call."""
        now = self.driver.now()
        if self.facts is not None and call_id:
            self.facts.completed(call_id, agent_id, by, now)
        offers = self.acd.call_ended(agent_id, now)
        if self._leaving and self._left(agent_id):
            return  # (a leaving agent is offered nothing: their pause was pending)
        if offers:
            self._free_since[agent_id] = now  # handed a waiting caller at once
        else:
            wrap_up = self.acd.wrap_up_seconds(agent_id)
            if wrap_up > 0:
                self.driver.schedule(wrap_up, lambda: self._wrap_up_done(agent_id))
        self.dispatch(offers)

    def agent_missed_ring(self, call_id: str, agent_id: str) -> None:
        """The agent did not answer: the call goes back to its place, the agent is paused.

        With ``no_answer_pause`` set, the agent becomes ready again after that
        many seconds (the simulator's model sets it; live, by default, the
        agent makes themselves ready, as in most ACDs).
        """
        if self.facts is not None:
            self.facts.ring_missed(call_id, agent_id, self.driver.now())
        self.dispatch(self.acd.offer_failed(call_id, agent_id, self.driver.now(),
                                            make_agent_unready=True))
        left = bool(self._leaving) and self._left(agent_id)
        if self.on_agent_changed is not None:
            self.on_agent_changed(agent_id)  # paused for the miss (or logged out, leaving)
        if left:
            return
        if self.no_answer_pause is not None:
            self.driver.schedule(self.no_answer_pause, lambda: self._ready_after_miss(agent_id))

    def _ready_after_miss(self, agent_id: str) -> None:
        from runtime.acd import AgentState
        info = self.acd.agent_info(agent_id)
        if info.state is AgentState.PAUSED and info.pause_reason == "no answer":
            self.dispatch(self.acd.set_ready(agent_id, self.driver.now()))
            if self.on_agent_changed is not None:
                self.on_agent_changed(agent_id)

    def agent_connected(self, agent_id: str) -> None:
        """A caller was connected to the agent: record the hand-off time."""
        free_since = self._free_since.pop(agent_id, None)
        if free_since is not None:
            self.handoff.record(self.driver.now() - free_since)

    def _wrap_up_done(self, agent_id: str) -> None:
        try:
            offers = self.acd.wrap_up_done(agent_id, self.driver.now())
            if self._leaving and self._left(agent_id):
                return
            if offers:
                self._free_since[agent_id] = self.driver.now()
            self.dispatch(offers)
        except Exception:  # noqa: BLE001 - the agent changed state meanwhile (logged out)
            log.debug("wrap-up of %s ended after a state change", agent_id)

    def _check_empty_groups(self) -> None:
        """Calls waiting with `when empty goto` leave when their groups have nobody left."""
        for session in self.sessions_in_progress():
            session.check_queue_empty()

    # ------------------------------------------------------------ an agent passes their call on
    #
    # The agent's own hand on calls (the agent client, the control API): the same
    # for both drivers, as each carries out its part through Driver.release_agent.

    def connected_session(self, agent_id: str) -> CallSession:
        """The call the agent is talking to; AcdStateError when they are on none."""
        from runtime.acd import AgentState
        info = self.acd.agent_info(agent_id)
        session = self._sessions.get(info.call_id or "") if info.state is AgentState.BUSY \
            else None
        if session is None or session.agent != agent_id or session.state is not State.CONNECTED:
            raise AcdStateError(f'agent "{agent_id}" is not on a call (they are '
                                f"{info.state.name.lower().replace('_', ' ')})")
        return session

    def transfer_agent_call(self, agent_id: str, *, number: str | None = None,
                            agent: str | None = None, group: str | None = None) -> str:
        """Pass the agent's call on to an external number, another agent or a group (one
        of them); returns the call's id. To an agent: it rings them only (when free) for
        ``prefer_wait`` seconds, then anyone in their groups; to a group: at the back of
        its queue. The caller hears music on hold meanwhile."""
        if sum(target is not None for target in (number, agent, group)) != 1:
            raise ValueError("a transfer goes to one of: a number, an agent or a group")
        session = self.connected_session(agent_id)
        call_id = session.call.call_id
        if number is not None:
            session.agent_transfer(number)
        elif agent is not None:
            session.agent_requeue(self._groups_of_target(agent_id, agent), keep_place=True,
                                  preferred_agent=agent)
        else:
            session.agent_requeue([self._known_group(group or "")], keep_place=False)
        return call_id

    def requeue_agent_call(self, agent_id: str, group: str | None = None) -> str:
        """Put the agent's call back in the queue of ``group`` (default: the group it was
        answered for), keeping its first arrival for its rank; returns its id."""
        session = self.connected_session(agent_id)
        record = session.record
        target = group or record.answered_group or (record.groups[-1] if record.groups else "")
        session.agent_requeue([self._known_group(target)], keep_place=True)
        return session.call.call_id

    def take_callback(self, agent_id: str, call_id: str) -> None:
        """The agent takes a waiting callback from their list: it rings them now."""
        session = self._sessions.get(call_id)
        if session is None or session.state is not State.CALLBACK or not self.acd.has_call(call_id):
            raise UnknownNameError(f'no pending callback "{call_id}"')
        self.dispatch([self.acd.offer_call_to(call_id, agent_id, self.driver.now())])

    def _known_group(self, group: str) -> str:
        if not self.acd.has_group(group):
            raise UnknownNameError(f'unknown answer group "{group}"')
        return group

    def _groups_of_target(self, agent_id: str, target: str) -> list[str]:
        from runtime.acd import AgentState
        if target == agent_id:
            raise ValueError(f'agent "{agent_id}" cannot transfer a call to themselves')
        try:
            info = self.acd.agent_info(target)
        except LookupError:
            info = None
        if info is None or info.state is AgentState.LOGGED_OUT or not info.groups:
            raise AcdStateError(f'agent "{target}" is not logged in')
        return list(info.groups)

    def nobody_logged_in(self, groups: Iterable[str]) -> bool:
        return all(self.acd.agents_logged_in(g) == 0 for g in groups
                   if self.acd.has_group(g))

    # ------------------------------------------------------------ metrics

    def metric(self, function_id: int, args: tuple, call: CallInfo):
        """Values of the built-in metric functions (see qscript.builtins)."""
        name = FUNCTIONS[function_id].name
        target = args[0] if args else ""
        if name in _GROUP_METRICS:
            if not self.acd.has_group(target):
                return math.inf if name in ("estimated_wait",) else 0
            return _GROUP_METRICS[name](self, target)
        if name == "is_open":
            calendar = self.site.calendars.get(target) if self.site else None
            return True if calendar is None else calendar.is_open(self.driver.wall_time())
        if name == "is_holiday":
            calendar = self.site.calendars.get(target) if self.site else None
            return False if calendar is None else calendar.is_holiday(self.driver.wall_time().date())
        if name == "hot_prompt_active":
            return self.hot_prompts.get(target, False)
        raise LookupError(f"no metric {name}")

    def set_hot_prompt(self, name: str, active: bool) -> None:
        self.hot_prompts[name] = active

    # ------------------------------------------------------------ watching (live views)

    def _changed(self) -> None:
        self.changes += 1
        if self._watchers:
            for watcher in self._watchers:
                watcher()

    def watch(self, on_change: Callable[[], None]) -> Callable[[], None]:
        """Call ``on_change()`` after every change a live view shows; returns the function
        that stops it. ``on_change`` runs inside the change (a queue event, an agent's
        state): it must only note that something changed (schedule its own update),
        never read the state there.

        The first watcher also starts what only live views need: the situation
        figures (:attr:`situation`) and each agent's time in their state.
        """
        if self.situation is None:
            self._start_watching()
        self._watchers.append(on_change)

        def stop() -> None:
            if on_change in self._watchers:
                self._watchers.remove(on_change)
        return stop

    def _start_watching(self) -> None:
        from runtime.core.situation import SituationFigures
        acd = self.acd
        self.situation = SituationFigures(acd.day_ends_at, self._end_of_day)
        acd.on_outcome = self.situation.record
        # The ACD has one agent-state observer (the statistics', when kept): chain it.
        self._told_before = acd.on_agent_state
        acd.on_agent_state = self._agent_state_told

    def _agent_state_told(self, agent_id: str, state: Any, reason: str, call_id: str,
                          group: str) -> None:
        self._agent_since[agent_id] = self.driver.now()
        if self._told_before is not None:
            self._told_before(agent_id, state, reason, call_id, group)
        self._changed()

    # ------------------------------------------------------------ the live view's figures

    def group_names(self) -> list[str]:
        """The answer groups, in the site's order."""
        return self.acd.group_names

    def has_group(self, group: str) -> bool:
        return self.acd.has_group(group)

    def define_group(self, name: str, service_level_threshold: float, wrap_up: float) -> None:
        """Add an answer group or change its settings (a site change at run time)."""
        self.acd.define_group(AnswerGroup(name, service_level_threshold, wrap_up))
        self._changed()

    def set_agent_wrap_up(self, agent_id: str, wrap_up: float | None) -> None:
        """A logged-in agent's own wrap-up from their next call on (None: the group's)."""
        self.acd.set_wrap_up(agent_id, wrap_up)

    def group_view(self, group: str, now: float) -> dict[str, Any]:
        """A group's live figures for a status view or wallboard (today's service level)."""
        acd = self.acd
        acd.roll_day(now)
        return {"calls_waiting": acd.calls_waiting(group),
                "agents_logged_in": acd.agents_logged_in(group),
                "agents_ready": acd.agents_ready(group),
                "agents_busy": acd.agents_busy(group),
                "agents_wrap_up": acd.agents_wrap_up(group),
                "agents_paused": acd.agents_paused(group),
                "oldest_wait_s": round(acd.oldest_wait(group, now), 1),
                "service_level_percent": acd.service_level(group),
                "service_level_threshold_s": acd.group_config(group).service_level_threshold}

    def oldest_wait(self, group: str, now: float) -> float:
        """Seconds the longest-waiting call of the group has waited (0: none waits)."""
        return self.acd.oldest_wait(group, now)

    def queue_positions(self) -> dict[str, int]:
        """The position of every queued call, by call id, computed together (cheap for
        thousands of waiting calls, where one position at a time is not)."""
        return self.acd.positions()

    def known_agent(self, agent_id: str) -> AgentInfo | None:
        """An agent's state, groups and call; None for an agent never logged in."""
        try:
            return self.acd.agent_info(agent_id)
        except LookupError:
            return None

    def agent_since(self, agent_id: str) -> float | None:
        """When the agent's state last changed (driver clock); None: not known (not
        watched then, or never logged in)."""
        return self._agent_since.get(agent_id)


def _service_level(center: ContactCenter, group: str) -> float:
    center.acd.roll_day(center.driver.now())
    value = center.acd.service_level(group)
    return 100.0 if value is None else value


_GROUP_METRICS = {
    "agents_logged_in": lambda c, g: c.acd.agents_logged_in(g),
    "agents_ready": lambda c, g: c.acd.agents_ready(g),
    "agents_busy": lambda c, g: c.acd.agents_busy(g),
    "calls_waiting": lambda c, g: c.acd.calls_waiting(g),
    "oldest_wait": lambda c, g: c.acd.oldest_wait(g, c.driver.now()),
    "estimated_wait": lambda c, g: c.acd.estimated_wait_group(g, c.driver.now()),
    "service_level": _service_level,
}
