"""The wallboards' feed: one snapshot per update, pushed to every open board.

The centre tells the feed of each change (``ContactCenter.watch``); the feed
turns a stream of changes into at most one update a second:

* the first change after a quiet second goes out at once (on the loop's next
  turn, so the burst of changes one event makes is one update);
* later changes within that second are merged into one update at its end.

An update is the live view (:func:`runtime.live.snapshot.build_snapshot`) built
ONCE and serialised ONCE as a server-sent event, the same bytes for every
board; with no board open nothing is built at all, and an idle runtime sends
nothing but a keep-alive comment every :data:`KEEPALIVE` seconds (proxies close
silent connections). A board that falls behind (a slow network) is not queued
up: it has one slot, the newest update replaces an unsent one, and a snapshot
is the whole state, so nothing is lost by skipping.

Besides the events, the figures of the last 15 minutes change by themselves
as calls age out of the window: ``refresh_at`` says when, and the feed takes
that as a change then.

The clock and timers are the event loop's (``time()``, ``call_later()``); the
unit tests give a fake loop with the same two methods.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable, Protocol

from runtime.core.latency import LatencyRecorder

log = logging.getLogger("qscript.board")

#: At most one update per this many seconds.
INTERVAL = 1.0
#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE = 15.0


class Clock(Protocol):
    """What the feed needs of an event loop (asyncio's loop has both)."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any: ...


class BoardFeed:
    def __init__(self, build: Callable[[], dict], clock: Clock, *, interval: float = INTERVAL,
                 refresh_at: Callable[[], float | None] | None = None) -> None:
        self.build = build
        self.clock = clock
        self.interval = interval
        self.refresh_at = refresh_at
        self._subscribers: list[Callable[[bytes], None]] = []
        #: Something changed since the last update was built.
        self._dirty = True
        self._last_sent = -float("inf")
        self._pending: Any = None         # the timer of the next update
        self._refresh: Any = None         # the timer of the figures' own next change
        self._message: bytes | None = None
        self.sequence = 0                 # the id of the last update (SSE ``id:``)
        #: Updates built (one per tick, whatever the number of boards): for tests, metrics.
        self.builds = 0
        #: Seconds the event loop spent on each update (build, serialise, hand to the
        #: boards): the time the calls wait behind it (``/metrics`` "wallboard").
        self.tick_time = LatencyRecorder()

    # ------------------------------------------------------------ changes

    def changed(self) -> None:
        """Something a board shows changed (called inside the change: only note it)."""
        self._dirty = True
        if self._pending is not None or not self._subscribers:
            return
        wait = self._last_sent + self.interval - self.clock.time()
        self._pending = self.clock.call_later(max(0.0, wait), self._tick)

    def _tick(self) -> None:
        self._pending = None
        if not self._subscribers:
            return
        self._last_sent = self.clock.time()
        started = time.perf_counter()
        try:
            self._message = self._serialise(self.build())
        except Exception:  # noqa: BLE001 - a broken view must not stop the runtime
            log.exception("the wallboard snapshot could not be built")
            return
        self._dirty = False
        self.builds += 1
        for deliver in list(self._subscribers):
            deliver(self._message)
        self._arm_refresh()
        self.tick_time.record(time.perf_counter() - started)

    def summary(self) -> dict:
        """For ``/metrics``: boards open, updates built, the loop's time per update."""
        return {"boards": len(self._subscribers), "updates": self.builds,
                "update_ms": self.tick_time.summary()}

    def _serialise(self, snapshot: dict) -> bytes:
        self.sequence += 1
        data = json.dumps(snapshot, separators=(",", ":"), allow_nan=False)
        # No "event:" field: a board's EventSource gets it as a plain message.
        return f"id: {self.sequence}\ndata: {data}\n\n".encode()

    def _arm_refresh(self) -> None:
        """Take the figures' own next change (a call leaving the 15 minutes) as a change."""
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        when = self.refresh_at() if self.refresh_at is not None else None
        if when is not None:
            self._refresh = self.clock.call_later(max(0.0, when - self.clock.time()),
                                                  self._refreshed)

    def _refreshed(self) -> None:
        self._refresh = None
        self.changed()

    # ------------------------------------------------------------ boards

    def subscribe(self, deliver: Callable[[bytes], None]) -> Callable[[], None]:
        """Send ``deliver`` every update, starting with the current state; returns the
        function that stops it. The current state is the last update when nothing
        changed since (no build), else it comes with the next update (at once after a
        quiet second)."""
        self._subscribers.append(deliver)
        if not self._dirty and self._message is not None:
            deliver(self._message)
        else:
            self.changed()
        return lambda: self._unsubscribe(deliver)

    def _unsubscribe(self, deliver: Callable[[bytes], None]) -> None:
        if deliver in self._subscribers:
            self._subscribers.remove(deliver)
        if not self._subscribers:
            self._dirty = True            # nothing is built now: the last update gets old
            for timer in (self._pending, self._refresh):
                if timer is not None:
                    timer.cancel()
            self._pending = self._refresh = None

    @property
    def boards(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """Stop: every board's stream ends (it gets ``b""``)."""
        for deliver in list(self._subscribers):
            deliver(b"")
        for deliver in list(self._subscribers):
            self._unsubscribe(deliver)


class BoardStream:
    """One board's slot: the newest update not sent yet (older ones are dropped)."""

    def __init__(self) -> None:
        self._message: bytes | None = None
        self._ready = asyncio.Event()

    def deliver(self, message: bytes) -> None:
        self._message = message
        self._ready.set()

    async def next(self, timeout: float) -> bytes | None:
        """The next update; None after ``timeout`` seconds without one (send a
        keep-alive); ``b""`` when the feed closed."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            return None
        self._ready.clear()
        message, self._message = self._message, None
        return message


class Stream(Protocol):
    """Where a board's updates go (runtime.web.sse.EventStream)."""

    async def send_prepared(self, event: bytes) -> None: ...

    async def keep_alive(self) -> None: ...


async def stream_updates(feed: BoardFeed, stream: Stream, keepalive: float = KEEPALIVE,
                         still_open: Callable[[], bool] | None = None) -> None:
    """Send the feed's updates to one board, a keep-alive comment when there was none for
    ``keepalive`` seconds, until the feed closes, ``still_open()`` turns false (the
    board's login session ended) or the board goes (ConnectionResetError)."""
    board = BoardStream()
    stop = feed.subscribe(board.deliver)
    try:
        while True:
            message = await board.next(keepalive)
            if message == b"" or (still_open is not None and not still_open()):
                return
            if message is None:
                await stream.keep_alive()
            else:
                await stream.send_prepared(message)
    except ConnectionResetError:   # the board was closed
        return
    finally:
        stop()
