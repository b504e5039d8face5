"""The driver interface: everything that touches a call's media or signalling.

The VM and the call session never talk to telephony directly. A driver carries
out the telephony side of effects on one call leg at a time. Two drivers
implement it: the discrete-event simulator (:mod:`runtime.simulator`) and the
live Asterisk ARI runtime (:mod:`runtime.live.ari`). Because both implement the
same interface and share the session logic and the ACD, the same compiled
script behaves the same in simulation and live — tests compare the two.

Conventions:

* Methods that take time on the call take a ``done`` callback, called once
  with the result when the action completes. They must not call ``done``
  synchronously from inside the method (schedule it instead), so that the
  session's state is consistent when it resumes. Two are the exception,
  for a driver where they take no time (the simulator: see "Simulator
  speed" in docs/design.md): ``answer`` may call ``done`` before it
  returns, and ``ring_agent`` may call ``answered``; the session is ready
  for both.
* :meth:`Driver.stop_media` interrupts whatever is in progress on the call
  (a prompt, a wait, input collection); the pending ``done`` is then never
  called.
* Events that come from the outside — the caller hanging up, an agent's leg
  ending — are reported to the session by calling its ``caller_hung_up`` and
  ``agent_leg_ended`` methods.
* Work that may block — a customer lookup, a custom command — goes through
  :meth:`Driver.run_blocking`: the live driver runs it in a worker thread
  with a timeout, so one slow lookup never holds up the other calls; the
  simulator runs it at once (``runs_blocking_inline``).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from mypy_extensions import mypyc_attr

if TYPE_CHECKING:
    from runtime.core.center import ContactCenter

Done = Callable[[Any], None]


class CallInfo:
    """What is known about a call when it arrives.

    (An explicit ``__init__``, not a dataclass: see :class:`runtime.core.records.CallRecord`.)
    """

    def __init__(self, call_id: str, caller: str, dialled: str, language: str = "",
                 arrived_at: float = 0.0, extra: dict | None = None) -> None:
        self.call_id = call_id
        self.caller = caller
        self.dialled = dialled
        self.language = language
        self.arrived_at = arrived_at
        self._extra = extra

    @property
    def extra(self) -> dict:
        """Driver-specific data (an ARI channel id, a simulated caller's behaviour).

        Made on first use: most simulated calls never need one."""
        if self._extra is None:
            self._extra = {}
        return self._extra

    def __repr__(self) -> str:
        return f"CallInfo({self.call_id!r}, {self.caller!r}, {self.dialled!r})"


@dataclass(frozen=True)
class Recording:
    """A recorded voice message."""

    name: str
    duration: float
    path: str | None = None      # a file on disk, when the driver has one
    data: bytes | None = None    # or the audio itself
    format: str = "wav"


# Compiled with mypyc (see setup.py), yet subclassed by the ARI driver and by
# test doubles, which are plain Python classes.
@mypyc_attr(allow_interpreted_subclasses=True)
class Driver(ABC):
    """Telephony for calls: implemented by the simulator and the ARI runtime."""

    #: The contact centre this driver reports calls' outside events to (the
    #: caller hanging up, an agent's leg ending); set by
    #: :func:`runtime.core.factory.build_center`.
    center: "ContactCenter | None" = None

    # -- time
    @abstractmethod
    def now(self) -> float:
        """Seconds on the driver's clock (simulated or monotonic)."""

    @abstractmethod
    def wall_time(self) -> dt.datetime:
        """The current local date and time (a naive datetime in the site's time zone)."""

    @abstractmethod
    def schedule(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        """Run ``action`` after ``delay`` seconds; returns a function that cancels it."""

    # -- the caller's leg
    #: Blocking work runs at once with this driver (the simulator: no
    #: simulated time passes while a lookup or command runs, and runs stay
    #: deterministic): the session calls it directly, never ``run_blocking``.
    runs_blocking_inline: bool = False

    @abstractmethod
    def answer(self, call: CallInfo, done: Done) -> None:
        """Answer the caller's leg; done(None) when answered, possibly before
        this returns (when answering takes no time)."""

    @abstractmethod
    def hangup(self, call: CallInfo) -> None: ...

    @abstractmethod
    def play(self, call: CallInfo, media: list[str], done: Done) -> None:
        """Play media (already resolved for the call's language) one after another."""

    @abstractmethod
    def say(self, call: CallInfo, kind: str, value: Any, currency: str, language: str,
            done: Done) -> None:
        """Say a number, an amount, digits or a duration in the language."""

    @abstractmethod
    def wait(self, call: CallInfo, seconds: float, done: Done) -> None: ...

    @abstractmethod
    def music_on_hold(self, call: CallInfo, moh_class: str | None) -> None:
        """Start music on hold (``None`` stops it). Returns at once."""

    @abstractmethod
    def get_key(self, call: CallInfo, prompt: str, media: list[str], timeout: float, done: Done,
                accept_key: str | None = None) -> None:
        """Play media, then wait up to ``timeout`` for one key; done(key or "").

        ``prompt`` is the prompt's name in the script (the simulator picks the
        caller's behaviour by it). ``accept_key`` is set when the question is a
        callback offer: the key that accepts it.
        """

    @abstractmethod
    def get_digits(self, call: CallInfo, prompt: str, media: list[str], min_digits: int,
                   max_digits: int, terminator: str, timeout: float, done: Done) -> None:
        """Play media, collect digits; done(digits or "" on timeout)."""

    @abstractmethod
    def record(self, call: CallInfo, media: list[str], max_seconds: float, done: Done) -> None:
        """Play media, record a message; done(Recording or None)."""

    def call_queued(self, call: CallInfo) -> None:
        """The call started waiting in the queue (the simulator starts the caller's patience)."""

    @abstractmethod
    def transfer(self, call: CallInfo, number: str) -> None:
        """Send the caller to an external number; the session ends."""

    @abstractmethod
    def stop_media(self, call: CallInfo) -> None:
        """Interrupt the action in progress on the call; its ``done`` is never called."""

    # -- agents
    @abstractmethod
    def ring_agent(self, call: CallInfo, agent_id: str, group: str, timeout: float,
                   answered: Callable[[], None], failed: Callable[[str], None]) -> None:
        """Ring an agent for this call, offered to them for ``group``; then
        answered() or failed(reason).

        Unlike ``done`` callbacks, ``answered`` may be called before this
        returns, when the agent answers without ringing (the simulator with
        no ring time): the session is ready for it.
        """

    @abstractmethod
    def connect(self, call: CallInfo, agent_id: str) -> None:
        """Bridge the caller with the agent who answered."""

    def release_agent(self, call: CallInfo, agent_id: str) -> None:
        """The connected agent leaves the call (they transferred or requeued it): end
        their leg, keep the caller's, out of the bridge, for the session to go on
        with (music on hold, the queue, a transfer). The agent's leg ending is not
        reported to the session (``agent_leg_ended``): it ended the agent's part itself.

        Not abstract, so that test doubles need not implement it; both drivers do.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot release an agent's leg")

    @abstractmethod
    def call_back(self, call: CallInfo, number: str, answered: Callable[[], None],
                  failed: Callable[[str], None]) -> None:
        """Call a customer back (for a callback whose turn came)."""

    # -- outside effects
    @abstractmethod
    def send_voicemail(self, address: str, recording: Recording, call: CallInfo) -> None:
        """Mail a voice message to an address."""

    # -- blocking work
    def run_blocking(self, call: CallInfo, kind: str, work: Callable[[], Any], timeout: float,
                     done: Callable[[Any, BaseException | None], None]) -> None:
        """Run ``work`` — a lookup or a custom command, which may block — for a call.

        ``kind`` is ``"lookup"`` or ``"command"`` (the live driver keeps a pool
        of workers for each, so stuck commands cannot starve lookups). Then
        ``done(result, None)``, or ``done(None, error)`` when ``work`` raised,
        or ``done(None, WorkTimedOut)`` (:mod:`runtime.core.blocking`) when it had
        not finished ``timeout`` seconds after this call; a late result is
        then dropped. Like :meth:`stop_media` for media, stopping the call's
        media drops the result, and work that has not started yet never runs.

        This default runs the work at once and reports it on the next turn of
        the driver's clock; the live driver runs it in a worker thread.
        """
        try:
            result = work()
        except Exception as error:  # noqa: BLE001 - handed to the session
            failure: BaseException = error  # (`error` is unbound after the except block)
            self.schedule(0.0, lambda: done(None, failure))
            return
        self.schedule(0.0, lambda: done(result, None))

    def fallback(self, call: CallInfo, reason: str) -> bool:
        """Hand a call the script cannot handle to the driver's last resort.

        Returns True when the driver took it (e.g. continued in the Asterisk
        dialplan). The default takes nothing: the session then queues the
        call to the site's fallback group.
        """
        return False
