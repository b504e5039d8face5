"""The wallboard over plain HTTP: who may open it, and its event stream.

The browser tests (drawing, colours, timing in a real page) are in
test_wallboard_browser.py.
"""

from __future__ import annotations

import json
from contextlib import closing

import httpx

from test_console_access import client, logged_in


class Events:
    """The events (data or comment) of an open stream, read as they come."""

    def __init__(self, response: httpx.Response):
        self.chunks = response.iter_text()
        self.pending = ""
        self.ready: list[str] = []

    def next(self, count: int) -> list[str]:
        while len(self.ready) < count:
            self.pending += next(self.chunks)
            *done, self.pending = self.pending.split("\n\n")
            self.ready.extend(done)
        taken, self.ready = self.ready[:count], self.ready[count:]
        return taken

    def rest(self) -> str:
        """Everything until the server ends the stream."""
        return self.pending + "".join(self.chunks)


def snapshot_of(event: str) -> dict:
    data = next(line for line in event.splitlines() if line.startswith("data: "))
    return json.loads(data[len("data: "):])


def test_the_wallboard_is_for_supervisors_and_admins(console_server):
    for name in ("sup", "admin"):
        with closing(logged_in(console_server, name)) as session:
            for path in ("/console/wallboard", "/console/wallboard/compact"):
                page = session.get(path)
                assert page.status_code == 200, (name, path)
                assert "board.js" in page.text and 'data-events="/console/wallboard/events"' \
                    in page.text
    with closing(logged_in(console_server, "alice")) as agent:
        assert agent.get("/console/wallboard").status_code == 403
        assert agent.get("/console/wallboard/events",
                         headers={"Accept": "text/event-stream"}).status_code == 403
    with client(console_server) as anonymous:
        assert anonymous.get("/console/wallboard").headers["location"].startswith(
            "/console/login?next=")
        assert anonymous.get("/console/wallboard/events",
                             headers={"Accept": "text/event-stream"}).status_code == 401


def test_the_stream_sends_the_whole_state_at_once_then_each_change(console_server):
    with closing(logged_in(console_server, "sup")) as session:
        with session.stream("GET", "/console/wallboard/events",
                            headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = Events(response)
            retry, first = events.next(2)
            assert retry.startswith("retry: ")
            state = snapshot_of(first)
            assert [g["name"] for g in state["groups"]] == ["support", "sales"]
            assert {a["id"] for a in state["agents"]} == {"alice", "bob"}
            assert state["today"]["offered"] == 0
            console_server.call(lambda: console_server.runtime.agent_action("bob", "login"))
            (second,) = events.next(1)
            bob = next(a for a in snapshot_of(second)["agents"] if a["id"] == "bob")
            assert bob["state"] == "ready" and bob["since"] is not None
            assert first.startswith("id: ") and second.startswith("id: ")
            assert int(second.split("\n")[0][4:]) > int(first.split("\n")[0][4:])


def test_the_stream_ends_when_the_login_session_does(console_server):
    with closing(logged_in(console_server, "sup")) as session:
        with session.stream("GET", "/console/wallboard/events",
                            headers={"Accept": "text/event-stream"}) as response:
            events = Events(response)
            events.next(2)
            console_server.call(lambda: console_server.console.sessions.close_user("sup"))
            console_server.call(lambda: console_server.runtime.agent_action("bob", "login"))
            rest = events.rest()                  # returns once the server ends it
            assert "data:" not in rest, "no update after the session ended"
        assert console_server.call(lambda: console_server.runtime.board.boards) == 0
