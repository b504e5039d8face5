"""The wallboard (role supervisor): queues, waiting calls, agents and the day's figures, live.

Three routes:

* ``GET /console/wallboard`` — the full board;
* ``GET /console/wallboard/compact`` — one line per queue (a small screen, a TV corner);
* ``GET /console/wallboard/events`` — the server-sent events both pages read.

The pages are empty frames: static/board.js draws them from the stream, whose
every update is the whole live view (runtime/live/snapshot.py), built once for
all open boards by the runtime's feed (runtime/live/board_feed.py) and sent at
most once a second, only when something changed. The stream ends when the
board's login session does (logged out, deactivated, timed out), so a board
on a wall does not outlive its user's rights; an open board counts as use of
its session (a wall display is looked at, not clicked).
"""

from __future__ import annotations

from aiohttp import web

from runtime.live.board_feed import stream_updates
from runtime.web.console import PREFIX, Console
from runtime.web.security import COOKIE, Role
from runtime.web.sse import KEEP_ALIVE, EventStream


def add_routes(console: Console) -> None:
    console.get("/wallboard", wallboard, role=Role.SUPERVISOR)
    console.get("/wallboard/compact", compact, role=Role.SUPERVISOR)
    console.stream("/wallboard/events", events, role=Role.SUPERVISOR)
    console.menu("/wallboard", "Wallboard", Role.SUPERVISOR)


EVENTS_URL = f"{PREFIX}/wallboard/events"
WALLBOARD_URL = f"{PREFIX}/wallboard"
COMPACT_URL = f"{PREFIX}/wallboard/compact"


async def wallboard(request: web.Request) -> web.StreamResponse:
    return Console.of(request).render(request, "board/wallboard.html", events_url=EVENTS_URL,
                                      wallboard_url=WALLBOARD_URL, compact_url=COMPACT_URL)


async def compact(request: web.Request) -> web.StreamResponse:
    return Console.of(request).render(request, "board/compact.html", events_url=EVENTS_URL,
                                      wallboard_url=WALLBOARD_URL, compact_url=COMPACT_URL)


async def events(request: web.Request, stream: EventStream) -> None:
    console = Console.of(request)
    token = request.cookies.get(COOKIE)

    def still_open() -> bool:
        return console.sessions.find(token) is not None
    await stream_updates(console.runtime.board, stream, KEEP_ALIVE, still_open)
