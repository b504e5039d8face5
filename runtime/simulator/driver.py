"""The simulator's driver: simulated callers and agents on a discrete-event clock.

Every telephony action takes simulated time drawn from the traffic model:
prompts take their length, menus the caller's thinking time (or the full
timeout when the caller presses nothing), agents talk for a handle time drawn
from the model. Callers give up after a patience drawn from the model,
counted from the moment they join the queue.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Callable

from mypy_extensions import mypyc_attr

from runtime.core.driver import CallInfo, Done, Driver, Recording
from .events import EventLoop, Timer
from .model import Model


class _Leg:
    """The simulator's view of one caller."""

    __slots__ = ("call", "media", "waiting", "handle_time", "patience", "gone")

    def __init__(self, handle_time: float, patience: float | None, call: CallInfo):
        self.call = call
        self.media: Timer | None = None
        #: Queued and not yet connected: the caller's patience is running. The
        #: abandon event is not cancelled when this clears; it finds it clear.
        self.waiting = False
        self.handle_time = handle_time
        self.patience = patience
        self.gone = False


@mypyc_attr(allow_interpreted_subclasses=True)  # `qscript test` subclasses it
class SimDriver(Driver):
    def __init__(self, loop: EventLoop, model: Model, rng: random.Random):
        self.loop = loop
        self.model = model
        self.rng = rng
        self.legs: dict[str, _Leg] = {}
        self._handle_time = model.handle_time.sampler(rng)
        self._patience = model.patience.sampler(rng) if model.patience else None
        self.mails_sent = 0
        self.transfers = 0
        self.abandon_enabled = True
        # Read for every call: kept here rather than looked up on the model
        # (a plain Python object) each time; the event handlers are bound once.
        self._no_answer_rate = model.no_answer_rate
        self._ring_seconds = model.ring_seconds
        self._abandon_event = self._abandon
        self._hang_up_event = self._agent_hangs_up
        #: Calls whose agent left before their talk ended (transfer, requeue), with when
        #: the hang-ups already posted for those agents fire: they are skipped. (Rare: a
        #: dict on the driver costs the usual hang-up one truth test.)
        self._released: dict[str, list[float]] = {}

    # -- calls entering and leaving
    def new_leg(self, call: CallInfo) -> None:
        patience = self._patience.draw() if self._patience is not None else None
        self.legs[call.call_id] = _Leg(self._handle_time.draw(), patience, call)

    def _leg(self, call: CallInfo) -> _Leg:
        return self.legs[call.call_id]

    def _media(self, call: CallInfo, seconds: float, done: Done, result: Any = None) -> None:
        leg = self._leg(call)
        leg.media = self.loop.call_later(seconds, lambda: done(result))

    # -- time
    def now(self) -> float:
        return self.loop.now

    def wall_time(self) -> dt.datetime:
        return self.model.start + dt.timedelta(seconds=self.loop.now)

    def schedule(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        return self.loop.call_later(delay, action).cancel

    # -- the caller's leg
    runs_blocking_inline = True

    def answer(self, call: CallInfo, done: Done) -> None:
        done(None)  # answering takes no simulated time: answered before this returns

    def hangup(self, call: CallInfo) -> None:
        self._leg_gone(call)

    def _leg_gone(self, call: CallInfo) -> None:
        leg = self.legs.pop(call.call_id, None)
        if leg is None:
            return
        leg.gone = True
        leg.waiting = False
        if leg.media is not None:
            leg.media.cancel()

    def _prompt_seconds(self, media: list[str]) -> float:
        overrides = self.model.prompt_overrides
        total = 0.0
        for item in media:
            name = item.rsplit("/", 1)[-1].split(":", 1)[-1]
            total += overrides.get(name, self.model.prompt_seconds)
        return total

    def play(self, call: CallInfo, media: list[str], done: Done) -> None:
        self._media(call, self._prompt_seconds(media), done)

    def say(self, call: CallInfo, kind: str, value: Any, currency: str, language: str,
            done: Done) -> None:
        self._media(call, self.model.say_seconds, done)

    def wait(self, call: CallInfo, seconds: float, done: Done) -> None:
        self._media(call, seconds, done)

    def music_on_hold(self, call: CallInfo, moh_class: str | None) -> None:
        pass

    def get_key(self, call: CallInfo, prompt: str, media: list[str], timeout: float, done: Done,
                accept_key: str | None = None) -> None:
        heard = self._prompt_seconds(media)
        if accept_key is not None:
            accepted = self.rng.random() < self.model.callback_acceptance
            key = accept_key if accepted else ""
        else:
            key = self._choose_key(prompt)
        delay = heard + (self.model.think_seconds if key else timeout)
        self._media(call, delay, done, key)

    def _choose_key(self, prompt: str) -> str:
        weights = self.model.menus.get(prompt)
        if not weights:
            return "1"
        keys = list(weights)
        key = self.rng.choices(keys, weights=[weights[k] for k in keys])[0]
        return "" if key == "none" else key

    def get_digits(self, call: CallInfo, prompt: str, media: list[str], min_digits: int,
                   max_digits: int, terminator: str, timeout: float, done: Done) -> None:
        behaviour = self.model.digits.get(prompt)
        heard = self._prompt_seconds(media)
        if behaviour is not None and self.rng.random() < behaviour.timeout:
            self._media(call, heard + timeout, done, "")
            return
        if behaviour is not None and behaviour.values:
            digits = self.rng.choice(behaviour.values)
        else:
            count = max(min_digits, min(max_digits, 6))
            digits = "".join(self.rng.choice("0123456789") for _ in range(count))
        self._media(call, heard + self.model.think_seconds + 0.3 * len(digits), done, digits)

    def record(self, call: CallInfo, media: list[str], max_seconds: float, done: Done) -> None:
        seconds = min(max_seconds, self.model.voicemail_seconds)
        recording = Recording(f"voicemail-{call.call_id}", seconds)
        self._media(call, self._prompt_seconds(media) + seconds, done, recording)

    def transfer(self, call: CallInfo, number: str) -> None:
        self.transfers += 1
        self._leg_gone(call)

    def stop_media(self, call: CallInfo) -> None:
        leg = self.legs.get(call.call_id)
        if leg is not None and leg.media is not None:
            leg.media.cancel()
            leg.media = None

    def call_queued(self, call: CallInfo) -> None:
        leg = self.legs.get(call.call_id)
        if leg is None or leg.patience is None or not self.abandon_enabled:
            return
        leg.waiting = True
        self.loop.post_later(leg.patience, self._abandon_event, leg)

    def _abandon(self, leg: _Leg) -> None:
        if not leg.waiting:
            return  # connected (or gone) before patience ran out
        call = leg.call
        if self.center is None:
            return
        session = self.center.session_for(call.call_id)
        if session is None:
            return
        from runtime.core.session import State  # local import: the session module imports drivers' types
        if session.state in (State.QUEUED, State.RINGING):
            self._leg_gone(call)
            session.caller_hung_up()

    # -- agents
    def ring_agent(self, call: CallInfo, agent_id: str, group: str, timeout: float,
                   answered: Callable[[], None], failed: Callable[[str], None]) -> None:
        if self._no_answer_rate and self.rng.random() < self._no_answer_rate:
            self.loop.call_later(timeout, lambda: failed("no answer"))
        elif self._ring_seconds > 0:
            self.loop.call_later(self._ring_seconds, answered)
        else:
            answered()  # no ring time: the agent answers at once

    def connect(self, call: CallInfo, agent_id: str) -> None:
        leg = self.legs.get(call.call_id)
        if leg is None:
            return
        leg.waiting = False
        self.loop.post_later(leg.handle_time, self._hang_up_event, call)

    def release_agent(self, call: CallInfo, agent_id: str) -> None:
        leg = self.legs.get(call.call_id)
        session = self.center.session_for(call.call_id) if self.center is not None else None
        answered = session.record.answered_at if session is not None else None
        if leg is None or answered is None:
            return
        # connect() posted the hang-up at the answer, ``handle_time`` later (the handle
        # time of this agent: a scenario's agents each have their own).
        self._released.setdefault(call.call_id, []).append(answered + leg.handle_time)

    def _agent_hangs_up(self, call: CallInfo) -> None:
        if self.center is None:
            return
        if self._released and self._skip_released(call.call_id):
            return   # the hang-up of an agent who left the call already
        session = self.center.session_for(call.call_id)
        if session is not None:
            session.agent_leg_ended()

    def _skip_released(self, call_id: str) -> bool:
        """Is this hang-up one of an agent who left the call already? (Then forget it.)"""
        due = self._released.get(call_id)
        if not due:
            return False
        now = self.loop.now
        for index, when in enumerate(due):
            if abs(when - now) < 1e-6:
                del due[index]
                if not due:
                    del self._released[call_id]
                return True
        return False

    def call_back(self, call: CallInfo, number: str, answered: Callable[[], None],
                  failed: Callable[[str], None]) -> None:
        # The caller's leg is gone; a new one is made for the callback.
        self.legs[call.call_id] = _Leg(self._handle_time.draw(), None, call)
        self.loop.call_later(self.model.callback_ring_seconds, answered)

    # -- outside effects
    def send_voicemail(self, address: str, recording: Recording, call: CallInfo) -> None:
        self.mails_sent += 1
