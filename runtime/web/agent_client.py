"""The agent client: an agent's own page (role agent).

An agent logs in to the console with a web user linked to a site agent
(``qscript user add NAME --role agent --agent ID``) and works from this page:
log in to the ACD, ready, pause with one of the site's ``web.pause_reasons``,
choose which of their answer groups they take calls from, see the screen pop of
the call ringing them or connected to them (with the link into the CRM, site
``web.crm_url``), pass the call on (transfer to a number, an agent or a group;
requeue it keeping its place) and take a pending callback of their groups.

An agent user acts only on their own linked agent: the agent is never taken
from the request. A supervisor or admin may open the page of any site agent
with ``?agent=ID`` (to help, or to pause someone who left).

The page follows ``GET /console/agent/events``, a server-sent event stream of
the agent's own view (runtime.core.agent_view plus what the page offers),
sent whenever it changes: the centre tells of every change (``center.watch``,
the wallboard's notice too), so a screen pop is on the page on the loop's next
turn after the ring; nothing is looked at while nothing happens (a look every
``SAFETY_SECONDS`` catches what the centre does not announce, e.g. a site change).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import weakref

from aiohttp import web

from runtime.acd import AgentState
from runtime.core.agent_view import all_pending_callbacks
from runtime.live.control_bodies import check_body
from runtime.web.console import Console, Forbidden, current_user, json_body
from runtime.web.security import COOKIE, Role
from runtime.web.sse import KEEP_ALIVE, EventStream

#: How often an open agent page's stream looks for a change nobody announced (seconds).
SAFETY_SECONDS = 2.0
#: How often it checks that its login session is still open (seconds).
SESSION_CHECK_SECONDS = 5.0
#: The ACD actions the page sends, and the control-API body each is checked as.
STATE_ACTIONS = ("login", "logout", "ready", "pause", "groups")
CALL_ACTIONS = ("transfer", "requeue", "take-callback")


def add_routes(console: Console) -> None:
    console.get("/agent", agent_page, role=Role.AGENT)
    console.get("/agent/view", view_json, role=Role.AGENT)
    console.stream("/agent/events", events, role=Role.AGENT)
    for action in STATE_ACTIONS:
        console.post(f"/agent/{action}", _state_handler(action), role=Role.AGENT)
    for action in CALL_ACTIONS:
        console.post(f"/agent/{action}", _call_handler(action), role=Role.AGENT)
    console.menu("/agent", "Agent", Role.AGENT)


class NotYourAgent(Forbidden):
    """The request names an agent the user may not act for (a 403)."""


def agent_of(request: web.Request) -> str:
    """The site agent this request acts for: an agent user's own linked agent; for a
    supervisor or admin the one named by ``?agent=`` (else their own linked one).
    NotYourAgent when there is none or it is someone else's."""
    user = current_user(request)
    asked = request.query.get("agent", "")
    if user.role < Role.SUPERVISOR:
        if not user.agent_id:
            raise NotYourAgent(f'the web user "{user.user}" is not linked to an agent; an '
                               "admin links it (Users page, or qscript user change --agent)")
        if asked and asked != user.agent_id:
            raise NotYourAgent(f'you act for agent "{user.agent_id}" only, not "{asked}"')
        return user.agent_id
    chosen = asked or user.agent_id
    if not chosen:
        raise NotYourAgent("choose the agent whose page to open: /console/agent?agent=ID")
    return chosen


class _Shared:
    """What every open agent page shows alike — the pending callbacks, the agents logged
    in — looked up once for all of them after each change of the centre, not once per
    page: a hundred pages woken by one change must not each walk every call in progress."""

    def __init__(self) -> None:
        self.seen: tuple[int, float] = (-1, -math.inf)
        self.callbacks: list[dict] = []
        self.agents: list[dict] = []

    def fresh(self, runtime) -> "_Shared":
        changes, now = runtime.center.changes, time.monotonic()
        if changes != self.seen[0] or now - self.seen[1] >= SAFETY_SECONDS / 2:
            self.callbacks = all_pending_callbacks(runtime.center)
            self.agents = _logged_in_agents(runtime)
            self.seen = (changes, now)
        return self


_SHARED: "weakref.WeakKeyDictionary[Console, _Shared]" = weakref.WeakKeyDictionary()


def page_view(console: Console, agent_id: str) -> dict:
    """What the page shows: the agent's view and what they may choose from."""
    runtime = console.runtime
    shared = _SHARED.setdefault(console, _Shared()).fresh(runtime)
    view = runtime.agent_view(agent_id, shared.callbacks)
    site = runtime.site
    agent = site.agent(agent_id) if site is not None else None
    view["pause_reasons"] = list(console.settings.pause_reasons)
    view["site_groups"] = list(getattr(agent, "groups", {}) or {})
    view["transfer_groups"] = list(getattr(site, "groups", {}) or {})
    view["transfer_agents"] = [other for other in shared.agents if other["id"] != agent_id]
    return view


def _logged_in_agents(runtime) -> list[dict]:
    """The agents a call may be transferred to: those logged in."""
    found = []
    for agent in getattr(runtime.site, "agents", ()):
        try:
            state = runtime.center.agent_info(agent.id).state
        except LookupError:
            continue
        if state is not AgentState.LOGGED_OUT:
            found.append({"id": agent.id, "name": agent.name or agent.id,
                          "state": state.name.lower()})
    return found


async def agent_page(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    user = current_user(request)
    if user.role >= Role.SUPERVISOR and not request.query.get("agent") and not user.agent_id:
        agents = [{"id": agent.id, "name": agent.name or agent.id}
                  for agent in getattr(console.runtime.site, "agents", ())]
        return console.render(request, "agent/choose.html", agents=agents)
    agent_id = agent_of(request)      # NotYourAgent: a 403 (the console's errors)
    view = page_view(console, agent_id)
    query = f"?agent={agent_id}" if request.query.get("agent") else ""
    return console.render(request, "agent/client.html", view=view, query=query,
                          view_json=json.dumps(view))


async def view_json(request: web.Request) -> web.StreamResponse:
    return web.json_response(page_view(Console.of(request), agent_of(request)))


async def events(request: web.Request, stream: EventStream) -> None:
    """The agent's view whenever it changes, until the page closes or the login ends."""
    console = Console.of(request)
    try:
        agent_id = agent_of(request)
    except NotYourAgent as refused:
        await stream.send(json.dumps({"error": str(refused)}))
        return
    session, cookie = current_user(request), request.cookies.get(COOKIE)
    changed = asyncio.Event()
    stop_watching = console.runtime.center.watch(changed.set)
    try:
        await _follow(console, stream, agent_id, session, cookie, changed)
    finally:
        stop_watching()


async def _follow(console: Console, stream: EventStream, agent_id: str, session, cookie,
                  changed: asyncio.Event) -> None:
    last, last_sent, checked = "", time.monotonic(), time.monotonic()
    while True:
        try:
            view = page_view(console, agent_id)
        except LookupError as gone:  # the agent left the site (a reload without them)
            await stream.send(json.dumps({"error": str(gone.args[0] if gone.args else gone)}))
            return
        key = json.dumps(_without_clocks(view), sort_keys=True)
        now = time.monotonic()
        if key != last:
            await stream.send(json.dumps(view))
            last, last_sent = key, now
        elif now - last_sent > KEEP_ALIVE:
            await stream.keep_alive()
            last_sent = now
        if now - checked > SESSION_CHECK_SECONDS:
            checked = now
            if console.sessions.find(cookie) is not session:
                await stream.send(json.dumps({"error": "your login has ended; log in again"}))
                return
        try:
            await asyncio.wait_for(changed.wait(), SAFETY_SECONDS)
        except asyncio.TimeoutError:
            pass
        changed.clear()


def _without_clocks(view: dict) -> dict:
    """The view without the seconds that change by themselves (a wait, the wrap-up's
    count-down): the page counts those on from the last view it got, so a change of
    them alone is no reason to send."""
    call = view.get("call")
    return {**view, "ready_in_s": None,
            "call": {**call, "waited_s": None} if call else None,
            "callbacks": [{**item, "waited_s": None} for item in view.get("callbacks", ())]}


def _state_handler(action: str):
    async def change(request: web.Request) -> web.StreamResponse:
        console = Console.of(request)
        agent_id = agent_of(request)
        fields = check_body(f"agent {action}", await json_body(request))
        groups = fields.get("groups")
        reason = fields.get("reason") or ""
        if action == "pause":
            reason = _pause_reason(console, reason)
        if groups is not None:
            groups = _chosen_groups(console, agent_id, groups)
        saving = console.runtime.agent_action(agent_id, action, groups, reason)
        detail = {"reason": reason} if action == "pause" else \
            {"groups": list(groups)} if groups else {}
        console.audit(request, f"agent.{action}", agent_id, **detail)
        return await console.saved_answer(saving)
    return change


def _call_handler(action: str):
    async def act(request: web.Request) -> web.StreamResponse:
        console = Console.of(request)
        agent_id = agent_of(request)
        fields = check_body(f"agent {action}", await json_body(request))
        runtime = console.runtime
        if action == "transfer":
            answer = runtime.transfer_agent_call(agent_id, number=fields["number"],
                                                 agent=fields["agent"], group=fields["group"])
        elif action == "requeue":
            answer = runtime.requeue_agent_call(agent_id, fields["group"])
        else:
            answer = runtime.take_callback(agent_id, fields["call_id"])
        console.audit(request, f"agent.{action}", agent_id,
                      **{k: v for k, v in fields.items() if v})
        return web.json_response(answer)
    return act


def _pause_reason(console: Console, reason: str) -> str:
    reasons = console.settings.pause_reasons
    if not reason:
        return reasons[0]
    if reason not in reasons:
        raise ValueError(f'"{reason}" is not a pause reason of this site; choose one of: '
                         + ", ".join(reasons))
    return reason


def _chosen_groups(console: Console, agent_id: str, groups: dict[str, int]) -> dict[str, int]:
    """The groups an agent chose, each one the site gives them, with the site's penalty."""
    site = console.runtime.site
    agent = site.agent(agent_id) if site is not None else None
    allowed = dict(getattr(agent, "groups", {}) or {})
    if not groups:
        raise ValueError("choose at least one answer group")
    for name in groups:
        if name not in allowed:
            raise ValueError(f'agent "{agent_id}" does not answer "{name}" in the site; '
                             "their groups: " + ", ".join(allowed))
    return {name: allowed[name] for name in groups}
