"""The wallboards' feed: at most one update a second, built once for all boards.

The feed's timing runs on a fake clock (the two methods of the event loop it
uses), so the tests say exactly when each update goes out.
"""

from __future__ import annotations

import asyncio
import json

from runtime.live.board_feed import BoardFeed, BoardStream, stream_updates


class FakeClock:
    """``time()`` and ``call_later()`` of an event loop, on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[list] = []     # [when, callback, cancelled]

    def time(self) -> float:
        return self.now

    def call_later(self, delay, callback):
        timer = _Timer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        """Move the clock on, running the timers that fall due, in time order."""
        end = self.now + seconds
        while True:
            due = [t for t in self.timers if not t.cancelled and t.when <= end]
            if not due:
                break
            timer = min(due, key=lambda t: t.when)
            self.timers.remove(timer)
            self.now = max(self.now, timer.when)
            timer.callback()
        self.now = end

    def pending(self) -> list[float]:
        return sorted(t.when for t in self.timers if not t.cancelled)


class _Timer:
    def __init__(self, when, callback):
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self):
        self.cancelled = True


class Board:
    """A subscriber that notes when each update reached it."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.updates: list[tuple[float, dict]] = []

    def deliver(self, message: bytes) -> None:
        data = message.decode().split("data: ", 1)[1]
        self.updates.append((self.clock.now, json.loads(data)))

    def times(self) -> list[float]:
        return [round(when - 1000.0, 6) for when, _ in self.updates]


def make_feed(clock, refresh_at=None):
    state = {"n": 0}

    def build():
        return {"n": state["n"]}
    return BoardFeed(build, clock, refresh_at=refresh_at), state


def test_first_change_after_a_quiet_second_goes_out_at_once_later_ones_merge_at_its_end():
    clock = FakeClock()
    feed, state = make_feed(clock)
    board = Board(clock)
    feed.subscribe(board.deliver)
    clock.advance(0)                     # the first state, at once
    assert board.times() == [0.0]
    clock.advance(5)                     # quiet
    state["n"] = 1
    feed.changed()
    clock.advance(0)
    assert board.times() == [0.0, 5.0], "a change after a quiet second goes out at once"
    for step in (0.2, 0.3, 0.3):         # three changes within the next second
        clock.advance(step)
        state["n"] += 1
        feed.changed()
    clock.advance(0.1)
    assert board.times() == [0.0, 5.0], "changes within the second wait for its end"
    clock.advance(0.2)
    assert board.times() == [0.0, 5.0, 6.0]
    assert board.updates[-1][1] == {"n": 4}, "the merged update shows the latest state"
    clock.advance(10)
    assert board.times() == [0.0, 5.0, 6.0], "no change, no update"


def test_a_steady_stream_of_changes_makes_one_update_a_second():
    clock = FakeClock()
    feed, state = make_feed(clock)
    board = Board(clock)
    feed.subscribe(board.deliver)
    for _ in range(100):                 # a change every 50 ms for 5 s
        clock.advance(0.05)
        state["n"] += 1
        feed.changed()
    clock.advance(1)
    times = board.times()
    assert times[0] == 0.0
    gaps = [round(b - a, 6) for a, b in zip(times, times[1:])]
    assert gaps and all(gap >= 1.0 for gap in gaps), gaps
    assert len(times) == 6               # 0, then 1, 2, 3, 4, 5
    assert board.updates[-1][1] == {"n": 100}


def test_the_snapshot_is_built_and_serialised_once_per_update_for_all_boards():
    clock = FakeClock()
    feed, state = make_feed(clock)
    messages = []
    for _ in range(100):
        feed.subscribe(messages.append)
    clock.advance(0)
    assert feed.builds == 1 and len(messages) == 100
    assert all(message is messages[0] for message in messages), "the same bytes for all"
    state["n"] = 7
    feed.changed()
    clock.advance(1)
    assert feed.builds == 2 and len(messages) == 200
    first = messages[100].decode()
    assert first.startswith("id: 2\ndata: {") and first.endswith("\n\n")


def test_no_board_open_nothing_is_built_and_an_idle_feed_sends_nothing():
    clock = FakeClock()
    feed, state = make_feed(clock)
    for _ in range(50):
        feed.changed()
        clock.advance(0.1)
    assert feed.builds == 0 and clock.pending() == []
    board = Board(clock)
    stop = feed.subscribe(board.deliver)
    clock.advance(0)
    assert board.times() == [5.0]
    clock.advance(60)
    assert len(board.updates) == 1 and clock.pending() == [], "idle: no timer, no update"
    stop()
    feed.changed()
    assert clock.pending() == [] and feed.boards == 0


def test_a_new_board_gets_the_last_update_without_a_build_when_nothing_changed():
    clock = FakeClock()
    feed, _ = make_feed(clock)
    first, second = Board(clock), Board(clock)
    feed.subscribe(first.deliver)
    clock.advance(3)
    feed.subscribe(second.deliver)
    assert second.times() == [3.0] and feed.builds == 1


def test_figures_that_age_out_of_the_window_are_an_update_by_themselves():
    clock = FakeClock()
    expiry = {"at": 1000.0 + 900}
    feed, _ = make_feed(clock, refresh_at=lambda: expiry["at"])
    board = Board(clock)
    feed.subscribe(board.deliver)
    clock.advance(0)
    expiry["at"] = None                  # after that one, the window is empty
    clock.advance(899)
    assert board.times() == [0.0]
    clock.advance(2)
    assert board.times() == [0.0, 900.0]
    clock.advance(3600)
    assert board.times() == [0.0, 900.0]


def test_a_failing_build_is_logged_and_the_feed_goes_on(caplog):
    clock = FakeClock()
    calls = {"n": 0}

    def build():
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("broken")
        return {"ok": True}
    feed = BoardFeed(build, clock)
    board = Board(clock)
    feed.subscribe(board.deliver)
    clock.advance(0)
    assert board.updates == [] and "could not be built" in caplog.text
    feed.changed()
    clock.advance(1)
    assert [data for _, data in board.updates] == [{"ok": True}]


def test_a_slow_board_gets_only_the_newest_update():
    async def scenario():
        stream = BoardStream()
        stream.deliver(b"one")
        stream.deliver(b"two")
        assert await stream.next(1) == b"two"
        assert await stream.next(0.01) is None     # nothing new: time for a keep-alive
    asyncio.run(scenario())


class Written:
    """A board's stream that keeps what was sent (runtime.web.sse.EventStream's methods)."""

    def __init__(self, gone: bool = False):
        self.sent: list[bytes] = []
        self.gone = gone

    async def send_prepared(self, event: bytes) -> None:
        if self.gone:
            raise ConnectionResetError("the board was closed")
        self.sent.append(event)

    async def keep_alive(self) -> None:
        await self.send_prepared(b": keep-alive\n\n")


def test_the_stream_sends_updates_and_keep_alives_and_ends_when_the_feed_closes():
    async def scenario():
        loop = asyncio.get_running_loop()
        feed = BoardFeed(lambda: {"a": 1}, loop)
        written = Written()
        task = asyncio.create_task(stream_updates(feed, written, keepalive=0.05))
        await asyncio.sleep(0.13)
        assert written.sent[0] == b'id: 1\ndata: {"a":1}\n\n'
        assert written.sent[1:] and all(w == b": keep-alive\n\n" for w in written.sent[1:])
        feed.close()
        await asyncio.wait_for(task, 1)
        assert feed.boards == 0

        await asyncio.wait_for(stream_updates(feed, Written(gone=True)), 1)
        assert feed.boards == 0, "a board that went away is no longer fed"
    asyncio.run(scenario())


def test_the_stream_ends_when_the_boards_login_session_ends():
    async def scenario():
        loop = asyncio.get_running_loop()
        feed = BoardFeed(lambda: {"a": 1}, loop)
        session = {"open": True}
        written = Written()
        task = asyncio.create_task(stream_updates(feed, written, keepalive=0.05,
                                                  still_open=lambda: session["open"]))
        await asyncio.sleep(0.08)
        session["open"] = False
        await asyncio.wait_for(task, 1)
        assert written.sent and feed.boards == 0
    asyncio.run(scenario())
