"""The agent client over plain HTTP: who may act for which agent, what the actions accept.

The browser tests of the same page are in test_agent_client_browser.py.
"""

from __future__ import annotations

import json

import httpx

from test_console_access import csrf_of, logged_in


def post(session: httpx.Client, path: str, body: dict) -> httpx.Response:
    return session.post(path, json=body, headers={"X-CSRF-Token": csrf_of(session),
                                                  "Accept": "application/json"})


def test_an_agent_user_acts_only_on_their_own_agent(console_server):
    alice = logged_in(console_server, "alice")
    view = alice.get("/console/agent/view").json()
    assert (view["agent"], view["name"], view["state"]) == ("alice", "Alice Andersson",
                                                             "logged_out")
    assert view["pause_reasons"] == ["lunch", "meeting", "training"]
    refused = alice.get("/console/agent/view?agent=bob", headers={"Accept": "application/json"})
    assert refused.status_code == 403
    assert refused.json()["error"] == 'you act for agent "alice" only, not "bob"'
    answer = post(alice, "/console/agent/login?agent=bob", {"groups": ["support"]})
    assert answer.status_code == 403
    assert console_server.call(lambda: console_server.runtime.agent_view("bob"))["state"] == \
        "logged_out"
    # a supervisor may open any agent's page
    sup = logged_in(console_server, "sup")
    assert sup.get("/console/agent/view?agent=bob").json()["agent"] == "bob"
    without = sup.get("/console/agent/view", headers={"Accept": "application/json"})
    assert without.status_code == 403 and "?agent=ID" in without.json()["error"]
    choice = sup.get("/console/agent")  # the page lets them choose one
    assert choice.status_code == 200 and 'href="/console/agent?agent=bob"' in choice.text


def test_pause_reasons_and_groups_are_the_sites(console_server):
    alice = logged_in(console_server, "alice")
    answer = post(alice, "/console/agent/login", {"groups": ["sales"]})
    assert answer.status_code == 400
    assert answer.json()["error"] == \
        'agent "alice" does not answer "sales" in the site; their groups: support'
    assert post(alice, "/console/agent/login", {"groups": ["support"]}).status_code == 200
    answer = post(alice, "/console/agent/pause", {"reason": "nap"})
    assert answer.status_code == 400
    assert answer.json()["error"] == \
        '"nap" is not a pause reason of this site; choose one of: lunch, meeting, training'
    assert post(alice, "/console/agent/pause", {"reason": "lunch"}).status_code == 200
    view = alice.get("/console/agent/view").json()
    assert (view["state"], view["pause_reason"]) == ("paused", "lunch")
    answer = post(alice, "/console/agent/transfer", {"number": "123"})
    assert answer.status_code == 409 and "not on a call" in answer.json()["error"]
    answer = post(alice, "/console/agent/transfer", {"number": "12", "group": "sales"})
    assert answer.status_code == 400
    no_csrf = alice.post("/console/agent/ready", json={}, headers={"Accept": "application/json"})
    assert no_csrf.status_code == 403


def test_the_event_stream_sends_the_agents_view_when_it_changes(console_server):
    alice = logged_in(console_server, "alice")
    views = []

    with alice.stream("GET", "/console/agent/events",
                      headers={"Accept": "text/event-stream"}) as stream:
        lines = stream.iter_lines()

        def next_view():
            for line in lines:
                if line.startswith("data: "):
                    return json.loads(line[len("data: "):])
            raise AssertionError("the stream ended")
        views.append(next_view())
        console_server.call(lambda: console_server.runtime.agent_action("alice", "login"))
        views.append(next_view())
    assert [v["state"] for v in views] == ["logged_out", "ready"]
    assert views[1]["groups"] == {"support": 0}


def test_a_stream_for_another_agent_is_refused(console_server):
    alice = logged_in(console_server, "alice")
    answer = alice.get("/console/agent/events?agent=bob", headers={"Accept": "text/event-stream"})
    assert answer.status_code == 200
    assert 'you act for agent \\"alice\\" only' in answer.text  # and it ends: nothing of bob's
