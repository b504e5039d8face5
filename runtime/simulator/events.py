"""A minimal discrete-event loop: a heap of timed events and a queue of immediate ones.

Zero-delay work (an answered call resuming its script, say) goes to a FIFO
that is drained before time advances; it costs no heap operation. Timed work
goes to a heap keyed by (time, sequence), so events at the same time run in
the order they were scheduled and a run is reproducible.

Two ways to schedule: :meth:`EventLoop.post_at` / :meth:`EventLoop.post_later`
put a plain ``(function, argument)`` pair on the heap and cannot be
cancelled — the simulator's hot paths use them, and the callee checks
whether the event still matters (an abandon timer for a caller already
connected, say). :meth:`EventLoop.call_at` / :meth:`EventLoop.call_later`
return a :class:`Timer` that can be cancelled; they cost one more object.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Any, Callable, Final


class Timer:
    """A scheduled action; ``cancel()`` makes it a no-op (it stays in the heap)."""

    __slots__ = ("action",)

    def __init__(self, action: Callable[[], None] | None):
        self.action = action

    def cancel(self) -> None:
        self.action = None


def _fire(timer: Timer) -> None:
    action = timer.action
    if action is not None:
        action()


def _call(action: Callable[[], None]) -> None:
    action()


_NEVER: Final = math.inf


class EventLoop:
    def __init__(self, start: float = 0.0):
        self.now = start
        self._heap: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self._ready: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._sequence = 0
        self.events_run = 0
        # Bound once: a module attribute lookup per event showed in profiles.
        self._push = heapq.heappush
        self._source_at = _NEVER
        self._source: Callable[[Any], None] = _call

    # -- plain events: a function and its argument
    def post_at(self, when: float, function: Callable[[Any], None], argument: Any = None) -> None:
        """Run ``function(argument)`` at ``when`` (not cancellable)."""
        self._sequence += 1
        self._push(self._heap, (when, self._sequence, function, argument))

    def post_later(self, delay: float, function: Callable[[Any], None], argument: Any = None) -> None:
        """Run ``function(argument)`` after ``delay`` seconds; at once (FIFO) when ``delay <= 0``."""
        if delay <= 0:
            self._ready.append((function, argument))
        else:
            self._sequence += 1
            self._push(self._heap, (self.now + delay, self._sequence, function, argument))

    # -- cancellable timers
    def call_at(self, when: float, action: Callable[[], None]) -> Timer:
        timer = Timer(action)
        self.post_at(when, _fire, timer)
        return timer

    def call_later(self, delay: float, action: Callable[[], None]) -> Timer:
        timer = Timer(action)
        self.post_later(delay, _fire, timer)
        return timer

    def call_soon(self, action: Callable[[], None]) -> None:
        self._ready.append((_call, action))

    # -- a source: one stream of events that schedules its own next one
    def set_source_next(self, when: float, function: Callable[[Any], None]) -> None:
        """The next event of the loop's source (the arrival process): ``function(None)``
        at ``when``. Kept beside the heap, not in it: every call arrives this
        way, and a heap push and pop per call showed in profiles. At equal
        times, heap events run first."""
        self._source_at = when
        self._source = function

    def run(self, until: float = float("inf")) -> None:
        """Run events until none are left or the next is after ``until``."""
        heap, ready = self._heap, self._ready
        pop, popleft = heapq.heappop, ready.popleft
        events = 0
        try:
            while True:
                while ready:
                    function, argument = popleft()
                    events += 1
                    function(argument)
                source_at = self._source_at
                if heap and heap[0][0] <= source_at:
                    item = heap[0]
                    if item[0] > until:
                        break
                    pop(heap)
                    self.now = item[0]
                    events += 1
                    item[2](item[3])
                elif source_at != _NEVER:
                    if source_at > until:
                        break
                    self._source_at = _NEVER
                    self.now = source_at
                    events += 1
                    self._source(None)
                else:
                    break
        finally:
            self.events_run += events

    @property
    def pending(self) -> int:
        return len(self._heap) + len(self._ready) + (self._source_at != _NEVER)
