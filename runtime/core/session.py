"""A call session: one call's script, run against the driver and the ACD.

The session drives the VM (:mod:`runtime.vm`) phase by phase:

    inbound ──queue to──▶ queued (queue: section runs) ──agent answers──▶ connected
       │                        │ when empty goto / voicemail / transfer    │
       ▼                        ▼                                           ▼
     ends                 back to inbound-like flow              agent hangs up ──▶ after call

Effects the VM yields are carried out here: telephony through the driver,
queueing through the ACD (via the center), lookups, custom commands, logging.
An agent answering interrupts the in-queue treatment wherever it is.

Any failure — a script runtime error, a driver error, a broken custom
command — hands the call to the fallback (the driver's own, e.g. back to the
Asterisk dialplan, else the site's fallback group) so a caller is never
stranded, and never affects other calls.
"""

from __future__ import annotations

import logging
import math
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Final, Generator

from qscript.builtins import FACTS
from qscript.bytecode import Program

from runtime.core.blocking import WorkTimedOut
from runtime.core.driver import CallInfo, Recording
from runtime.core.records import ABANDONED, ANSWERED, CALLBACK, FAILED, TRANSFERRED, VOICEMAIL, CallRecord
from runtime.vm import Machine, Outcome, ScriptError
from runtime.vm import effects as fx

if TYPE_CHECKING:
    from runtime.core.center import ContactCenter

log = logging.getLogger("qscript.session")

_PENDING: Final = object()   # an effect handler's "the driver will resume us later"


class _EndedHost:
    """The host of a machine whose call has ended: nothing may run any more.

    An ended session hands its machine this instead of itself, which breaks
    the session <-> machine reference cycle (see ``CallSession._end``).
    """

    def fact(self, fact_id: int) -> Any:
        raise RuntimeError("the call has ended")

    def set_fact(self, fact_id: int, value: Any) -> None:
        raise RuntimeError("the call has ended")

    def metric(self, function_id: int, args: tuple) -> Any:
        raise RuntimeError("the call has ended")

    def clock(self) -> float:
        raise RuntimeError("the call has ended")


_ENDED_HOST: Final = _EndedHost()


class State(str, Enum):
    INBOUND = "inbound"        # running the inbound phase (or a block after leaving a queue)
    QUEUED = "queued"          # waiting in the ACD; the queue: section runs
    RINGING = "ringing"        # queued, and an agent's phone is ringing for it
    CONNECTED = "connected"    # talking to an agent
    AFTER = "after"            # after call: the agent hung up, the survey runs
    CALLBACK = "callback"      # the caller hung up and waits for a callback
    ENDED = "ended"


# Enum members as module constants: `State.QUEUED` is an attribute lookup
# on the enum class (~70 ns in CPython 3.11), done many times per call.
# (Final: mypyc keeps them in C variables, not the module's dict.)
_INBOUND: Final = State.INBOUND
_QUEUED: Final = State.QUEUED
_RINGING: Final = State.RINGING
_CONNECTED: Final = State.CONNECTED
_AFTER: Final = State.AFTER
_CALLBACK: Final = State.CALLBACK
_ENDED: Final = State.ENDED
_OUTCOME_QUEUED: Final = Outcome.QUEUED
_OUTCOME_REQUEUED: Final = Outcome.REQUEUED
_OUTCOME_CALLBACK: Final = Outcome.CALLBACK
_OUTCOME_HANGUP: Final = Outcome.HANGUP
_OUTCOME_TRANSFERRED: Final = Outcome.TRANSFERRED

_FACT_IDS: Final = {f.qualified: f.id for f in FACTS}


class CallSession:
    def __init__(self, center: "ContactCenter", program: Program, call: CallInfo):
        self.center = center
        self.driver = center.driver
        self.program = program
        self.call = call
        budget = center.step_budget
        machine = self.machine = Machine(program, self, budget) if budget else \
            Machine(program, self)
        script_hash = machine.script_hash
        if center.coverage is not None:
            machine.coverage = center.coverage.setdefault(script_hash, {})
        self.state = _INBOUND
        self.record = CallRecord(call.call_id, call.caller, call.dialled,
                                 script=machine.script_name, script_hash=script_hash,
                                 arrived_at=call.arrived_at, language=call.language)
        self.language = call.language or center.default_language
        self.priority = 0
        self.digits = ""
        self.menu_key = ""
        self.agent: str | None = None
        self.callback_accepted = False
        #: The key the caller accepted a callback with (statistics).
        self.callback_key = ""
        #: The key the last customer lookup was made with (statistics: ContactFacts.lookup_key).
        self.lookup_key = ""
        #: What each lookup the script made found, by lookup name: its fields, or None
        #: (not found). For the agent's screen pop; None until the first lookup.
        self.lookups: dict[str, Any] | None = None
        self.when_empty_pc = -1
        #: The caller's leg is gone (hung up, or released for a callback).
        self.caller_gone = False
        self._gen: Generator[fx.Effect, Any, Outcome] | None = None  # the running VM phase
        self._token = 0             # bumped on every interrupt; stale callbacks compare it
        self._media_busy = False    # a timed driver action is in progress
        #: _resume is handling the end of a phase: a phase started meanwhile
        #: (queue: after `queue to` / `requeue to`) is run by that loop.
        self._next_phase_by_loop = False
        #: Inside the driver's ``answer``: a completion now means "answered at once".
        self._answering = False
        self._answered_at_once = False

    # ------------------------------------------------------------ running phases

    def start(self) -> None:
        self._run_phase("inbound")

    def _run_phase(self, phase: str | None, pc: int | None = None) -> None:
        try:
            self._gen = self.machine.run(phase, pc)
        except Exception as error:  # noqa: BLE001
            self._fail(f"cannot start the {phase} phase: {error}")
            return
        if self._next_phase_by_loop:
            # Started from the end of the previous phase: _resume's loop runs
            # it. Calling _resume here would nest one call per phase entry: a
            # queue: section that reaches `requeue to` before it waits ran
            # out of stack (a RecursionError, or a segfault compiled).
            self._next_phase_by_loop = False
            return
        self._resume(self._token, None)

    def _resume(self, token: int, value: Any) -> None:
        """Feed a result to the VM and carry out effects until one must wait."""
        if token != self._token or self._gen is None:
            return  # a stale callback from before an interrupt
        self._media_busy = False
        gen = self._gen
        while True:
            try:
                effect = gen.send(value)
            except StopIteration as stop:
                self._gen = None
                self._next_phase_by_loop = True
                try:
                    self._phase_ended(stop.value)
                finally:
                    self._next_phase_by_loop = False
                next_phase = self._running_phase()
                if next_phase is None or self.state is _ENDED:
                    return
                gen = next_phase  # the next phase began: run it here
                value = None
                continue
            except ScriptError as script_error:
                self._gen = None
                self._fail(script_error.render())
                return
            if self.center.tracer is not None and not isinstance(effect, fx.PlayHot):
                self.center.tracer(self, effect)
            try:
                value = _HANDLERS[type(effect)](self, effect)
            except Exception as error:  # noqa: BLE001 - a driver or command failure
                self._effect_failed(gen, effect, error)
                return
            if value is _PENDING:
                return
            if self.state is _ENDED or self._gen is not gen:
                return

    def _effect_failed(self, gen: Generator[fx.Effect, Any, Outcome], effect: fx.Effect,
                       error: BaseException) -> None:
        """Carrying out an effect failed: the call fails over, with the effect's position."""
        self._gen = None
        gen.close()
        self._fail(f"{self._where(effect)}: {type(effect).__name__.lower()} failed: {error}")

    def _where(self, effect: fx.Effect) -> str:
        line, column = self.program.position(effect.pc)
        return f"{self.program.source_name}:{line}:{column}"

    def _running_phase(self) -> Generator[fx.Effect, Any, Outcome] | None:
        """The phase now running, read through a call: after ``self._gen = None``
        mypy keeps the attribute narrowed to None across other calls, and
        mypyc would check the value read against None (a TypeError at run
        time when _phase_ended started the next phase)."""
        return self._gen

    def _done(self):
        """A completion callback for a timed driver action."""
        token = self._token
        self._media_busy = True
        return lambda result=None: self._resume(token, result)

    def _interrupt(self) -> None:
        """Stop the running phase wherever it is (agent answered, caller left)."""
        self._token += 1
        if self._media_busy:
            self._media_busy = False
            try:
                self.driver.stop_media(self.call)
            except Exception:  # noqa: BLE001 - the leg may be gone already
                log.debug("stop_media failed for %s", self.call.call_id, exc_info=True)
        # The phase's generator is dropped, not closed: the VM keeps no
        # cleanup code in it, and closing throws GeneratorExit through it
        # (5 % of a simulation, for every call an agent answers).
        self._gen = None

    def _phase_ended(self, outcome: Outcome) -> None:
        if self.state is _ENDED:
            return
        if outcome is _OUTCOME_QUEUED or outcome is _OUTCOME_REQUEUED:
            self._enter_queue_phase()
        elif outcome is _OUTCOME_CALLBACK:
            self._become_callback()
        elif outcome is _OUTCOME_HANGUP or outcome is _OUTCOME_TRANSFERRED:
            self._end(self.record.outcome)
        elif self.state in (_QUEUED, _RINGING):
            # The queue treatment ran out: the caller keeps waiting with music.
            self.driver.music_on_hold(self.call, "default")
        elif self.state is _CONNECTED:
            pass
        else:
            # Inbound or after-call phase ended without queueing: the call ends.
            self._hang_up_caller()

    def _enter_queue_phase(self) -> None:
        if self.state not in (_QUEUED, _RINGING):
            return  # answered (or gone) before the phase could start
        self.driver.music_on_hold(self.call, "default")
        if self.machine.has_phase("queue"):
            self._run_phase("queue")

    # ------------------------------------------------------------ effect handlers

    def _on_answer(self, effect: fx.Answer):
        # A driver may answer before it returns (the simulator: answering
        # takes no time); the script then goes straight on, as after any
        # effect that does not wait.
        token = self._token
        self._media_busy = True  # (as with _done: the answer is in progress)

        def answered(_: Any = None) -> None:
            if self._answering:
                self._answered_at_once = True
            else:
                self._resume(token, None)
        self._answering, self._answered_at_once = True, False
        try:
            self.driver.answer(self.call, answered)
        finally:
            self._answering = False
        if self._answered_at_once:
            self._media_busy = False
            return None
        return _PENDING

    def _on_hangup(self, effect: fx.Hangup):
        self._leave_queue("hung up by the script")
        # A hang-up after a voice message, transfer or agent keeps that outcome.
        self.driver.hangup(self.call)
        return None

    def _on_play(self, effect: fx.Play):
        media = [self.prompt_media(p) for p in effect.prompts]
        self.driver.play(self.call, media, self._done())
        return _PENDING

    def _on_play_hot(self, effect: fx.PlayHot):
        active = self.center.hot_prompts.get(effect.name, False)
        if self.center.tracer is not None:
            # Traced here, not before: an inactive hot prompt is not heard.
            self.center.tracer(self, ("play hot" if active else "hot prompt off",
                                      effect.name, effect.pc))
        if not active:
            return None
        hot = self.center.site.hot_prompts.get(effect.name) if self.center.site else None
        prompt = getattr(hot, "prompt", None) or effect.name
        self.driver.play(self.call, [self.prompt_media(prompt)], self._done())
        return _PENDING

    def _on_say(self, effect: fx.Say):
        self.driver.say(self.call, effect.kind, effect.value, effect.currency, self.language,
                        self._done())
        return _PENDING

    def _on_music(self, effect: fx.Music):
        self.driver.music_on_hold(self.call, effect.moh_class or None)
        return None

    def _on_wait(self, effect: fx.Wait):
        self.driver.wait(self.call, max(0.0, float(effect.seconds)), self._done())
        return _PENDING

    def _on_menu(self, effect: fx.MenuInput):
        done = self._done()

        def got_key(key):
            if key:
                self.menu_key = key
            done(key or "")
        self.driver.get_key(self.call, effect.prompt, self._media(effect.prompt),
                            float(effect.timeout), got_key)
        return _PENDING

    def _on_collect(self, effect: fx.CollectInput):
        done = self._done()

        def got_digits(digits):
            if digits:
                self.digits = digits
                self.record.digits = digits
            done(digits or "")
        self.driver.get_digits(self.call, effect.prompt, self._media(effect.prompt),
                               effect.min_digits,
                               effect.max_digits, effect.terminator, float(effect.timeout),
                               got_digits)
        return _PENDING

    def _on_queue(self, effect: fx.Queue):
        center = self.center
        groups = effect.groups
        for group in groups:
            center.ensure_group(group)
        has_when_empty = effect.has_when_empty
        if has_when_empty and center.nobody_logged_in(groups):
            return "empty"
        requeue = type(effect) is fx.Requeue
        if requeue:
            self._leave_queue("requeued", count=False)
        self.when_empty_pc = effect.when_empty_pc if has_when_empty else -1
        if effect.priority is not None:
            self.priority = int(effect.priority)
        now = self.driver.now()
        preferred: str | None = None
        deadline = math.inf
        if effect.prefer_previous:
            preferred = center.history.previous_agent(self.call.caller, now,
                                                      float(effect.prefer_previous))
            if preferred is not None:
                deadline = now + center.prefer_wait
        record = self.record
        arrival = record.queued_at if requeue else None
        self.state = _QUEUED
        first_time = record.queued_at is None
        if first_time:
            record.queued_at = now
        joined = record.groups
        for group in groups:
            if group not in joined:
                joined.append(group)
        record.priority = self.priority
        target = effect.target
        if target:
            record.target = float(target)
        answered_at_once = center.join_queue(
            self.call.call_id, groups, now, priority=self.priority,
            credit=float(effect.credit or 0.0), preferred_agent=preferred,
            preference_deadline=deadline, arrival=arrival,
            service_level_threshold=float(target) if target else None)
        if record.estimated_wait_at_entry is None:
            record.estimated_wait_at_entry = 0.0 if answered_at_once else \
                center.estimated_wait(self.call.call_id, now)
        if first_time and (self.state is _QUEUED or self.state is _RINGING):
            # The caller waits (not answered at once): their patience starts,
            # from the moment they joined.
            self.driver.call_queued(self.call)
        return None

    def _on_add_group(self, effect: fx.AddGroup):
        if not self._in_queue():
            return None
        self.center.ensure_group(effect.group)
        now = self.driver.now()
        if effect.group not in self.record.groups:
            self.record.groups.append(effect.group)
        self.center.join_group(self.call.call_id, effect.group, now, effect.priority,
                               effect.credit)
        return None

    def _on_remove_group(self, effect: fx.RemoveGroup):
        if self._in_queue():
            self.center.leave_group(self.call.call_id, effect.group, self.driver.now())
        return None

    def _on_announce(self, effect: fx.Announce):
        if not self._in_queue():
            return None
        center, now = self.center, self.driver.now()
        settings = getattr(self.center.site, "announcements", None)
        if settings is not None and not getattr(settings, effect.what, True):
            return None  # the site switched this announcement off
        done = self._done()
        if effect.what == "position":
            position = center.announced_position(self.call.call_id)
            center.announced(self.call.call_id, "position", float(position))
            intro = self._media("queue-position")
            def say_position(_: Any = None) -> None:
                self.driver.say(self.call, "number", position, "", self.language, done)
            self.driver.play(self.call, intro, say_position)
            return _PENDING
        wait = center.announced_wait(self.call.call_id, now)
        self.record.add_announced_wait(wait)
        # (an unknown wait is -1 in the statistics: JSON has no infinity)
        center.announced(self.call.call_id, "wait", -1.0 if wait == math.inf else round(wait, 3))
        if wait == math.inf:
            self.driver.play(self.call, self._media("queue-wait-unknown"), done)
        else:
            minutes = announced_minutes(wait, getattr(settings, "wait_style", "approximate"))

            def say_wait(_: Any = None) -> None:
                self.driver.say(self.call, "duration", minutes * 60.0, "", self.language, done)
            self.driver.play(self.call, self._media("queue-wait"), say_wait)
        return _PENDING

    def _on_offer_callback(self, effect: fx.OfferCallback):
        if not self._in_queue():
            return False
        done = self._done()
        self.center.callback_offered(self.call.call_id)

        def got_key(key):
            accepted = bool(key) and key == effect.key and self._in_queue()
            if accepted:
                self.callback_key = str(key)
            done(accepted)
        self.driver.get_key(self.call, effect.prompt, self._media(effect.prompt),
                            float(effect.timeout), got_key, accept_key=effect.key)
        return _PENDING

    def _on_voicemail(self, effect: fx.Voicemail):
        self._leave_queue("voicemail")
        self.driver.music_on_hold(self.call, None)  # out of the queue: its music ends
        self.record.outcome = VOICEMAIL
        self.record.voicemail_to = effect.address
        done = self._done()

        def recorded(recording: Recording | None):
            if recording is not None:
                self.center.voicemail_left(self.call.call_id, effect.address)
                self.driver.send_voicemail(effect.address, recording, self.call)
            done(None)
        self.driver.record(self.call, self._media(effect.prompt), float(effect.max_seconds),
                           recorded)
        return _PENDING

    def _on_transfer(self, effect: fx.Transfer):
        self._leave_queue("transferred")
        self.record.outcome = TRANSFERRED
        self.record.transferred_to = effect.number
        self.center.transferred(self.call.call_id, effect.number)
        self.driver.transfer(self.call, effect.number)
        return None

    # Lookups and custom commands may block (a locked database, a CRM that
    # hangs): the driver runs them where they cannot hold up other calls
    # (Driver.run_blocking), or at once when it runs them inline (the simulator).

    def _on_lookup(self, effect: fx.Lookup):
        lookup = self.center.site.lookups.get(effect.lookup) if self.center.site else None
        if lookup is None:
            return None
        key = str(effect.key)
        self.lookup_key = key
        if self.driver.runs_blocking_inline:
            try:
                found = lookup.find(key)
            except Exception as error:  # noqa: BLE001 - a lookup that fails finds nothing
                self._lookup_failed(effect, error)
                found = None
            self._keep_lookup(effect.lookup, found)
            return found
        token = self._token
        self._media_busy = True   # the caller hanging up drops the lookup (stop_media)

        def answered(result: Any, error: BaseException | None) -> None:
            if token != self._token:
                return  # the call moved on while the lookup ran: nobody waits for it
            if error is not None:
                self._lookup_failed(effect, error)
                result = None
            self._keep_lookup(effect.lookup, result)
            self._resume(token, result)
        self.driver.run_blocking(self.call, "lookup", lambda: lookup.find(key),
                                 float(lookup.timeout), answered)
        return _PENDING

    def _keep_lookup(self, name: str, found: Any) -> None:
        if self.lookups is None:
            self.lookups = {}
        self.lookups[name] = dict(found) if isinstance(found, dict) else None

    def _lookup_failed(self, effect: fx.Lookup, error: BaseException) -> None:
        """A lookup that fails or does not answer in time is "not found": the call goes
        on (a CRM outage must not drop callers), with a warning in its record and log."""
        what = f"did not answer within {error.seconds:g}s" if isinstance(error, WorkTimedOut) \
            else f"failed: {error}"
        message = f'{self._where(effect)}: warning: lookup "{effect.lookup}" {what}; ' \
                  "the call goes on as not found"
        log.warning("call %s: %s", self.call.call_id, message)
        self.record.add_log(message)

    def _on_command(self, effect: fx.Command):
        registered = self.center.commands.get(effect.name)
        if registered is None:
            raise LookupError(f"custom command {effect.name!r} is not loaded")
        name, function, args = effect.name, registered.function, effect.args
        context = self.context()
        if self.driver.runs_blocking_inline:
            return _run_command(name, function, context, args)
        token, gen, timeout = self._token, self._gen, float(self.center.command_timeout)
        self._media_busy = True   # the caller hanging up drops the command's result

        def finished(result: Any, error: BaseException | None) -> None:
            if token != self._token or gen is None or self._gen is not gen:
                return  # the call moved on while the command ran: its result is dropped
            if error is None:
                self._resume(token, result)
                return
            self._media_busy = False
            if isinstance(error, WorkTimedOut):
                error = RuntimeError(f"custom command {name!r} did not finish within "
                                     f"{timeout:g}s")
            elif not isinstance(error, Exception):
                error = RuntimeError(_aborted(name, error))  # no Ctrl-C in a worker thread
            self._effect_failed(gen, effect, error)
        self.driver.run_blocking(self.call, "command",
                                 lambda: _run_command(name, function, context, args),
                                 timeout, finished)
        return _PENDING

    def _on_log(self, effect: fx.Log):
        self.record.add_log(str(effect.message))
        log.info("%s: %s", self.call.call_id, effect.message)
        return None

    def _on_save(self, effect: fx.Save):
        self.record.save(str(effect.key), effect.value)
        if self.state is _AFTER:
            self.center.survey_answer(self.call.call_id, str(effect.key), effect.value)
        return None

    # ------------------------------------------------------------ queue and agents

    def _in_queue(self) -> bool:
        return self.state in (_QUEUED, _RINGING) and self.center.is_queued(self.call.call_id)

    def _leave_queue(self, reason: str, count: bool = True) -> None:
        """Take the call out of the ACD (voicemail, transfer, hang-up, requeue)."""
        if self.state is _RINGING and self.agent_ringing is not None:
            self.center.withdraw_offer(self.call.call_id, self.agent_ringing, self.driver.now())
            self.agent_ringing = None
        self.center.leave_queue(self.call.call_id, self.driver.now(), reason)
        if self.state in (_QUEUED, _RINGING):
            self.state = _INBOUND

    agent_ringing: str | None = None

    def offer(self, agent_id: str, group: str) -> None:
        """The ACD chose an agent for this call: ring them."""
        self.state = _RINGING if self.state is _QUEUED else self.state
        self.agent_ringing = agent_id

        def answered():
            if self.agent_ringing == agent_id:
                self._agent_answered(agent_id, group)

        def failed(reason: str):
            if self.agent_ringing == agent_id:
                self.agent_ringing = None
                if self.state is _RINGING:
                    self.state = _QUEUED
                self.center.agent_missed_ring(self.call.call_id, agent_id)
        if self.state is _CALLBACK:
            self._ring_for_callback(agent_id, group, answered, failed)
            return
        self.driver.ring_agent(self.call, agent_id, group, self.center.ring_timeout, answered,
                               failed)

    def _ring_for_callback(self, agent_id, group, answered, failed) -> None:
        """A callback's turn came: ring the agent, then call the customer back."""
        def agent_answered():
            self.driver.call_back(self.call, self.call.caller, answered,
                                  lambda reason: self._callback_failed(agent_id, reason))
        self.driver.ring_agent(self.call, agent_id, group, self.center.ring_timeout,
                               agent_answered, failed)

    def _callback_failed(self, agent_id: str, reason: str) -> None:
        now = self.driver.now()
        self.agent_ringing = None
        self.center.call_answered(self.call.call_id, agent_id, now)
        self.center.agent_call_ended(agent_id)
        self.record.outcome = CALLBACK
        self._end(CALLBACK)

    def _agent_answered(self, agent_id: str, group: str) -> None:
        center, driver, call = self.center, self.driver, self.call
        now = driver.now()
        self.agent_ringing = None
        center.call_answered(call.call_id, agent_id, now)
        self._interrupt()
        self.agent = agent_id
        self.state = _CONNECTED
        record = self.record
        record.answered_at = now
        record.agent = agent_id
        record.answered_group = group
        if record.outcome != FAILED:
            # A failed call the fallback group answers stays `failed` (the
            # agent and answered_at say who took it): the failure must show.
            record.outcome = ANSWERED
        center.history.remember(call.caller, agent_id, now)
        if center.tracer is not None:
            center.tracer(self, ("connected", agent_id))
        driver.music_on_hold(call, None)
        driver.connect(call, agent_id)
        center.agent_connected(agent_id)

    def agent_leg_ended(self) -> None:
        """The agent hung up (or their leg failed): after-call phase, or the end."""
        if self.state is not _CONNECTED or self.agent is None:
            return
        self.record.agent_ended_at = self.driver.now()
        self.center.agent_call_ended(self.agent, self.call.call_id, "agent")
        if self.machine.has_phase("after") and not self.caller_gone:
            self.state = _AFTER
            self._run_phase("after")
        else:
            self._hang_up_caller()

    # ------------------------------------------------------------ the agent passes the call on

    def agent_transfer(self, number: str) -> None:
        """The connected agent sends the caller to an external number: the agent's
        part ends (wrap-up follows), the call ends transferred."""
        agent = self._release_connected_agent()
        record = self.record
        record.outcome = TRANSFERRED
        record.transferred_to = number
        self.center.transferred(self.call.call_id, number)
        self.driver.transfer(self.call, number)
        self.center.agent_call_ended(agent, self.call.call_id, "agent")
        self._end(TRANSFERRED)

    def agent_requeue(self, groups: list[str], keep_place: bool,
                      preferred_agent: str | None = None) -> None:
        """The connected agent puts the caller back in the queue of ``groups``: the
        agent's part ends and the caller hears music and the ``queue:`` section again.

        With ``keep_place`` the call ranks by its first arrival in the queue (a
        requeue); without, it joins at the back (a transfer to a group).
        ``preferred_agent`` (a transfer to an agent) lets only that agent take it
        until the centre's ``prefer_wait`` has passed; then anyone in ``groups``.
        The call is queued before the releasing agent is free, so that another
        agent who is ready takes it first.
        """
        agent = self._release_connected_agent()
        center, record, call_id = self.center, self.record, self.call.call_id
        now = self.driver.now()
        arrival = record.queued_at if keep_place else None
        record.answered_at = None   # call.waited and the next screen pop count on
        for group in groups:
            center.ensure_group(group)
            if group not in record.groups:
                record.groups.append(group)
        if record.queued_at is None:
            record.queued_at = now
        self.state = _QUEUED
        self.when_empty_pc = -1
        self.driver.music_on_hold(self.call, "default")
        center.join_queue(call_id, groups, now, priority=self.priority, arrival=arrival,
                          preferred_agent=preferred_agent,
                          preference_deadline=now + center.prefer_wait
                          if preferred_agent is not None else None,
                          service_level_threshold=record.target)
        center.agent_call_ended(agent, call_id, "agent")
        if (self.state is _QUEUED or self.state is _RINGING) and self.machine.has_phase("queue"):
            self._run_phase("queue")

    def _release_connected_agent(self) -> str:
        """End the connected agent's leg (the caller stays on the line); their id."""
        agent = self.agent
        if self.state is not _CONNECTED or agent is None:
            raise RuntimeError(f"call {self.call.call_id} is not connected to an agent")
        self._interrupt()
        self.driver.release_agent(self.call, agent)
        self.record.agent_ended_at = self.driver.now()
        self.agent = None
        if self.center.tracer is not None:
            self.center.tracer(self, ("released", agent))
        return agent

    def caller_hung_up(self) -> None:
        """The caller's leg is gone."""
        self.caller_gone = True
        if self.state is _ENDED or self.state is _CALLBACK:
            return
        self._interrupt()
        if self.state in (_QUEUED, _RINGING):
            self._leave_queue(ABANDONED)
            self._end(ABANDONED)
        elif self.state is _CONNECTED and self.agent is not None:
            self.record.agent_ended_at = self.driver.now()
            self.center.agent_call_ended(self.agent, self.call.call_id, "caller")
            self._end(self.record.outcome)  # answered, or failed (see _agent_answered)
        else:
            self._end(self.record.outcome)

    def check_queue_empty(self) -> None:
        """Called when agents log out: honour `when empty goto`."""
        if self.when_empty_pc < 0 or self.state is not _QUEUED:
            return
        groups = self.center.queue_groups(self.call.call_id)
        if groups and self.center.nobody_logged_in(groups):
            self._interrupt()
            self._leave_queue("queue empty")
            self.state = _INBOUND
            self.driver.music_on_hold(self.call, None)
            pc, self.when_empty_pc = self.when_empty_pc, -1
            self._run_phase(None, pc)

    def _become_callback(self) -> None:
        """The caller accepted a callback: keep the place, release the line."""
        self.callback_accepted = True
        self.call.extra["callback"] = True
        self.record.outcome = CALLBACK
        if self.center.tracer is not None:
            self.center.tracer(self, ("callback", "accepted"))
        self.center.keep_place_for_callback(self.call.call_id, self.callback_key)
        self.state = _CALLBACK
        self.driver.hangup(self.call)

    # ------------------------------------------------------------ endings

    def _hang_up_caller(self) -> None:
        if self.state is _ENDED:
            return
        if not self.caller_gone:
            self.driver.hangup(self.call)
        self._end(self.record.outcome)

    def _end(self, outcome: str) -> None:
        if self.state is _ENDED:
            return
        if outcome == ANSWERED and self.callback_accepted:
            # A callback that reached an agent stays a callback in the records:
            # its agent and answered_at tell that it was made.
            outcome = CALLBACK
        if self.center.tracer is not None:
            self.center.tracer(self, ("ended", outcome))
        self._interrupt()
        self.state = _ENDED
        self.record.outcome = outcome
        self.record.ended_at = self.driver.now()
        self.record.language = self.language
        # The machine's host is this session: a reference cycle that would
        # keep every ended call in memory until the cyclic collector runs
        # (the simulator runs with it off). Nothing runs the script any more.
        self.machine.host = _ENDED_HOST
        self.center.session_ended(self)

    def driver_failed(self, reason: str) -> None:
        """A driver request for this call failed (Asterisk refused or vanished)."""
        if self.state is not _ENDED:
            self._fail(reason)

    def _fail(self, reason: str) -> None:
        """The script or the driver failed: hand the caller to the fallback."""
        first, newline, rest = reason.partition("\n")  # a runtime error: its call path follows
        reason = first + self._waiting_context() + newline + rest
        log.error("call %s: %s", self.call.call_id, reason)
        # A call goes to the fallback group once: failing again there (its
        # after-call part fails each time an agent has taken it) would queue
        # it for ever.
        failed_before = self.record.error is not None
        self.record.error = reason
        waiting = self.state is _QUEUED or self.state is _RINGING
        self._interrupt()
        self._leave_queue("script failed", count=False)
        if self.caller_gone:
            self._end(FAILED)
            return
        try:
            if self.driver.fallback(self.call, reason):
                self._end(FAILED)
                return
        except Exception:  # noqa: BLE001 - the fallback of last resort must not raise
            log.exception("driver fallback failed for %s", self.call.call_id)
        group = self.center.fallback_group
        if group and not failed_before:
            self._queue_to_fallback(group, keep_place=waiting)
            return
        self.driver.hangup(self.call)
        self._end(FAILED)

    def _waiting_context(self) -> str:
        """What a call failing in the queue was waiting for: a step limit
        reached after hours with nobody to answer says why."""
        center = self.center
        call_id = self.call.call_id
        if self.record.queued_at is None or not center.is_queued(call_id) or \
                (self.state is not _QUEUED and self.state is not _RINGING):
            return ""
        groups = center.queue_groups(call_id)
        agents = center.agents_logged_in(groups)
        waited = _span(self.driver.now() - self.record.queued_at)
        names = ", ".join(f'"{group}"' for group in groups)
        logged_in = "no agent was logged in" if agents == 0 else \
            f"{agents} agent{'s' if agents != 1 else ''} logged in"
        return f" (the call had waited {waited} in the queue for {names}; {logged_in})"

    def _queue_to_fallback(self, group: str, keep_place: bool) -> None:
        """A failed call waits in the fallback group. One that was waiting in
        a queue when it failed keeps its place (it counts from its first queue
        time); any other (failing before it queued, or in its after-call
        survey) joins at the back."""
        center, record = self.center, self.record
        center.ensure_group(group)
        now = self.driver.now()
        arrival = record.queued_at if keep_place else None
        self.state = _QUEUED
        self.when_empty_pc = -1
        record.outcome = FAILED
        if record.queued_at is None:
            record.queued_at = now
        if group not in record.groups:
            record.groups.append(group)
        self.driver.music_on_hold(self.call, "default")
        center.join_queue(self.call.call_id, [group], now, arrival=arrival)
        if arrival is None and (self.state is _QUEUED or self.state is _RINGING):
            self.driver.call_queued(self.call)  # it waits: the caller's patience starts

    # ------------------------------------------------------------ host interface (VM)

    def fact(self, fact_id: int) -> Any:
        return _FACT_GETTERS[fact_id](self)

    def set_fact(self, fact_id: int, value: Any) -> None:
        if fact_id == _FACT_IDS["call.language"]:
            self.language = str(value)
        elif fact_id == _FACT_IDS["call.priority"]:
            self.priority = int(value)
            if self._in_queue():
                self.center.reprioritise(self.call.call_id, self.priority, None,
                                         self.driver.now())

    def metric(self, function_id: int, args: tuple) -> Any:
        return self.center.metric(function_id, args, self.call)

    def clock(self) -> float:
        # Rounded to the millisecond: times summed from many float intervals
        # drift by ~1e-12, and `every 30s` + `if call.waited >= 3m` must see 180.0.
        return round(self.driver.now() - self.call.arrived_at, 3)

    # ------------------------------------------------------------ helpers

    def prompt_media(self, name: str) -> str:
        site = self.center.site
        if site is not None:
            try:
                media = site.prompt_media(name, self.language)
            except LookupError:
                # Announcement prompts (queue-position, ...) may be left out of
                # a site's catalogue; Asterisk's own sounds of that name play.
                media = None
            if media:
                # A bare sound name (sv/welcome) becomes a media URI.
                return media if ":" in media.split("/", 1)[0] else f"sound:{media}"
        return f"sound:{name}"

    def _media(self, prompt: str) -> list[str]:
        return [self.prompt_media(prompt)] if prompt else []

    def context(self) -> dict:
        """What a custom command sees of the call: a snapshot, the command's own.

        A command may run in a worker thread and outlive its call (a caller
        hanging up, a timeout): it must not share the call's live record.
        """
        return {"call_id": self.call.call_id, "caller": self.call.caller,
                "dialled": self.call.dialled, "language": self.language,
                "digits": self.digits, "record": self.record.copy()}

    def _waited(self) -> float:
        if self.record.queued_at is None:
            return 0.0
        end = self.record.answered_at if self.record.answered_at is not None else self.driver.now()
        return round(end - self.record.queued_at, 3)  # see clock()


def _run_command(name: str, function: Callable, context: dict, args: tuple) -> Any:
    """Call a custom command's function; a failure is an exception the call fails over with."""
    try:
        return function(context, *args)
    except KeyboardInterrupt:
        raise  # Ctrl-C stops the process, as anywhere else
    except Exception:
        raise  # the call fails over with the error's location (_effect_failed)
    except BaseException as error:
        # SystemExit (sys.exit), GeneratorExit, ...: a command must not end
        # `qscript test` (with exit 0) or the live runtime; only its call fails.
        raise RuntimeError(_aborted(name, error)) from None


def _aborted(name: str, error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"custom command {name!r} called sys.exit({error.code!r}); a command cannot end " \
               "the runtime"
    return f"custom command {name!r} raised {type(error).__name__}: {error}"


def _span(seconds: float) -> str:
    """A duration to read: 45s, 12m 5s, 3h 20m, 2d 4h."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def announced_minutes(wait: float, style: str) -> int:
    """The whole minutes to say for an estimated wait, by the site's wait style.

    ``approximate``: the nearest minute; ``less-than``: rounded up ("less than
    N minutes"); ``padded``: 20 % more, rounded up (Avaya's advice: half of
    waits exceed an unpadded estimate). Never less than one minute.
    """
    minutes = wait / 60.0
    if style == "less-than":
        value = math.ceil(minutes)
    elif style == "padded":
        value = math.ceil(minutes * 1.2)
    else:
        value = round(minutes)
    return max(1, int(value))


def _wall(session: CallSession):
    return session.driver.wall_time()


def _minutes_of_day(moment) -> float:
    return moment.hour * 60 + moment.minute + moment.second / 60


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_FACT_GETTERS: Final = {
    _FACT_IDS["call.caller"]: lambda s: s.call.caller,
    _FACT_IDS["call.dialled"]: lambda s: s.call.dialled,
    _FACT_IDS["call.digits"]: lambda s: s.digits,
    _FACT_IDS["call.menu"]: lambda s: s.menu_key,
    _FACT_IDS["call.language"]: lambda s: s.language,
    _FACT_IDS["call.priority"]: lambda s: s.priority,
    _FACT_IDS["call.waited"]: lambda s: s._waited(),
    _FACT_IDS["call.position"]: lambda s: s.center.position(s.call.call_id)
    if s._in_queue() else 0,
    _FACT_IDS["call.estimated_wait"]: lambda s: s.center.estimated_wait(
        s.call.call_id, s.driver.now()) if s._in_queue() else 0.0,
    _FACT_IDS["call.id"]: lambda s: s.call.call_id,
    _FACT_IDS["call.agent"]: lambda s: s.agent or "",
    _FACT_IDS["call.previous_agent"]: lambda s: s.center.history.previous_agent(
        s.call.caller, s.driver.now(), math.inf) or "",
    _FACT_IDS["call.callback"]: lambda s: s.callback_accepted,
    _FACT_IDS["call.queued"]: lambda s: s._in_queue(),
    _FACT_IDS["call.elapsed"]: lambda s: s.clock(),
    _FACT_IDS["call.groups"]: lambda s: s.center.queue_groups(s.call.call_id)
    if s._in_queue() else (),
    _FACT_IDS["now.time"]: lambda s: _minutes_of_day(_wall(s)),
    _FACT_IDS["now.weekday"]: lambda s: _WEEKDAYS[_wall(s).weekday()],
    _FACT_IDS["now.date"]: lambda s: _wall(s).date().isoformat(),
}

_HANDLERS: Final[dict[type, Callable[[CallSession, Any], Any]]] = {
    fx.Answer: CallSession._on_answer, fx.Hangup: CallSession._on_hangup,
    fx.Play: CallSession._on_play, fx.PlayHot: CallSession._on_play_hot,
    fx.Say: CallSession._on_say, fx.Music: CallSession._on_music, fx.Wait: CallSession._on_wait,
    fx.MenuInput: CallSession._on_menu, fx.CollectInput: CallSession._on_collect,
    fx.Queue: CallSession._on_queue, fx.Requeue: CallSession._on_queue,
    fx.AddGroup: CallSession._on_add_group, fx.RemoveGroup: CallSession._on_remove_group,
    fx.Announce: CallSession._on_announce, fx.OfferCallback: CallSession._on_offer_callback,
    fx.Voicemail: CallSession._on_voicemail, fx.Transfer: CallSession._on_transfer,
    fx.Lookup: CallSession._on_lookup, fx.Command: CallSession._on_command,
    fx.Log: CallSession._on_log, fx.Save: CallSession._on_save,
}
