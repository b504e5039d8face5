"""What one agent sees: their state, their call's screen pop, the callbacks they may take.

Built from the contact centre alone, so the simulator and the live runtime give
the same view (the agent client's page and ``GET /agents/{id}`` show it). Plain
JSON values only: it goes out as is.

The screen pop is the call ringing the agent or connected to them: the number,
the digits the caller keyed in, their menu choice, language, the wait before
the answer, the groups, what the script's lookups found (``lookup "customers"
by caller into customer`` gives ``lookups.customers``) and what it saved
(``save``), and the CRM link filled from them (site ``web.crm_url``, see
runtime.site.crm_url).

Not compiled with mypyc (a view per request, not per call event).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from runtime.acd import AgentState
from runtime.core.session import State
from runtime.site.crm_url import fill_crm_url

if TYPE_CHECKING:
    from runtime.core.center import ContactCenter
    from runtime.core.session import CallSession


def agent_view(center: "ContactCenter", agent_id: str, crm_url: str = "",
               callbacks: list[dict] | None = None) -> dict:
    """The agent's state, their call's screen pop and their callback list.

    ``callbacks``: :func:`all_pending_callbacks`, when the caller has it already (one
    look through the calls serves every open agent page)."""
    try:
        info = center.agent_info(agent_id)
    except LookupError:  # never logged in since the start
        return {"agent": agent_id, "state": "logged_out", "pause_reason": None,
                "pending_pause": None, "ready_in_s": None, "groups": {}, "call": None,
                "callbacks": []}
    now = center.driver.now()
    state = info.state
    view: dict[str, Any] = {
        "agent": agent_id, "state": state.name.lower(),
        "pause_reason": info.pause_reason if state is AgentState.PAUSED else None,
        "pending_pause": info.pending_pause, "ready_in_s": None, "groups": dict(info.groups),
        "call": None, "callbacks": []}
    if state is AgentState.WRAP_UP and info.last_call_end is not None:
        # The ACD makes the agent ready by itself when the wrap-up ends (unless a
        # pause is pending): the page counts down to it.
        ends = info.last_call_end + center.acd.wrap_up_seconds(agent_id)
        view["ready_in_s"] = round(max(0.0, ends - now), 1)
    session = _session_of(center, info)
    if session is not None:
        view["call"] = screen_pop(center, session, agent_id, crm_url)
    if state is not AgentState.LOGGED_OUT:
        view["callbacks"] = pending_callbacks(center, list(info.groups), callbacks)
    return view


def _session_of(center: "ContactCenter", info) -> "CallSession | None":
    if info.call_id is None or info.state not in (AgentState.RINGING, AgentState.BUSY):
        return None
    session = center.session_for(info.call_id)
    if session is None or session.state not in (State.RINGING, State.CONNECTED, State.CALLBACK):
        return None
    return session


def screen_pop(center: "ContactCenter", session: "CallSession", agent_id: str,
               crm_url: str = "") -> dict:
    """What the agent sees of the call ringing them or connected to them."""
    call, record = session.call, session.record
    connected = session.state is State.CONNECTED and session.agent == agent_id
    if connected:
        group = record.answered_group or ""
    else:
        agent_groups = center.agent_info(agent_id).groups
        group = next((g for g in center.queue_groups(call.call_id) if g in agent_groups), "")
    pop: dict[str, Any] = {
        "call_id": call.call_id, "state": "connected" if connected else "ringing",
        "caller": call.caller, "dialled": call.dialled, "digits": session.digits,
        "menu": session.menu_key, "language": session.language, "agent": agent_id,
        "group": group, "groups": list(record.groups), "waited_s": _waited(center, session),
        "callback": session.callback_accepted,
        "lookups": {name: _plain(found) for name, found in (session.lookups or {}).items()},
        "saved": _plain(dict(record.saved))}
    pop["crm_url"] = fill_crm_url(crm_url, pop) if crm_url else None
    return pop


def _waited(center: "ContactCenter", session: "CallSession") -> float:
    """Seconds in the queue before the answer (so far, while it rings)."""
    record = session.record
    if record.queued_at is None:
        return 0.0
    end = record.answered_at if record.answered_at is not None else center.driver.now()
    return round(max(0.0, end - record.queued_at), 1)


def pending_callbacks(center: "ContactCenter", groups: list[str],
                      every: list[dict] | None = None) -> list[dict]:
    """The callbacks waiting in these groups (not ringing anyone), longest waiting first;
    each with the groups of these it waits in."""
    wanted = set(groups)
    if not wanted:
        return []
    found = []
    for item in all_pending_callbacks(center) if every is None else every:
        shared = [g for g in item["groups"] if g in wanted]
        if shared:
            found.append({**item, "groups": shared})
    return found


def all_pending_callbacks(center: "ContactCenter") -> list[dict]:
    """Every callback waiting (not ringing anyone), longest waiting first: one pass
    over the calls in progress."""
    now = center.driver.now()
    acd = center.acd
    found: list[dict[str, Any]] = []
    for session in center.sessions_in_progress():
        call_id = session.call.call_id
        if session.state is not State.CALLBACK or not acd.has_call(call_id):
            continue
        entry = acd.call_info(call_id)
        if entry.ringing_agent is not None:
            continue
        queued = session.record.queued_at
        found.append({"call_id": call_id, "number": session.call.caller,
                      "digits": session.digits, "groups": list(entry.groups),
                      "waited_s": round(now - queued, 1) if queued is not None else 0.0})
    found.sort(key=lambda item: -item["waited_s"])
    return found


def _plain(value: Any) -> Any:
    """A JSON value: scripts' values are text, numbers, booleans and lists of them."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)
