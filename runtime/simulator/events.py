"""A minimal discrete-event loop: a heap of timed events and a queue of immediate ones.

Zero-delay work (an answered call resuming its script, say) goes to a FIFO
that is drained before time advances; it costs no heap operation. Timed work
goes to a heap keyed by (time, sequence), so events at the same time run in
the order they were scheduled and a run is reproducible.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Callable


class Timer:
    """A scheduled action; ``cancel()`` makes it a no-op (it stays in the heap)."""

    __slots__ = ("action",)

    def __init__(self, action: Callable[[], None]):
        self.action = action

    def cancel(self) -> None:
        self.action = None


class EventLoop:
    def __init__(self, start: float = 0.0):
        self.now = start
        self._heap: list[tuple[float, int, Timer]] = []
        self._ready: deque[Callable[[], None]] = deque()
        self._sequence = 0
        self.events_run = 0

    def call_at(self, when: float, action: Callable[[], None]) -> Timer:
        timer = Timer(action)
        self._sequence += 1
        heapq.heappush(self._heap, (when, self._sequence, timer))
        return timer

    def call_later(self, delay: float, action: Callable[[], None]) -> Timer:
        if delay <= 0:
            timer = Timer(action)
            self._ready.append(lambda: timer.action and timer.action())
            return timer
        return self.call_at(self.now + delay, action)

    def call_soon(self, action: Callable[[], None]) -> None:
        self._ready.append(action)

    def run(self, until: float = float("inf")) -> None:
        """Run events until none are left or the next is after ``until``."""
        heap, ready = self._heap, self._ready
        pop, popleft = heapq.heappop, ready.popleft
        count = 0
        while True:
            while ready:
                popleft()()
                count += 1
            if not heap:
                break
            when, _, timer = heap[0]
            if when > until:
                break
            pop(heap)
            action = timer.action
            if action is not None:
                self.now = when
                action()
                count += 1
        self.events_run += count

    @property
    def pending(self) -> int:
        return len(self._heap) + len(self._ready)
