"""The live view of a contact centre: queues, waiting calls, agents, figures.

One builder for everything that shows the live state: ``qscript status`` (the
control API's ``GET /status``, which adds the runtime's own health) and the web
console's wallboard (its feed builds this once per update for every open
board). Built on the event loop from the centre's live state, so it must stay
cheap with thousands of waiting calls: one pass over the calls (not one per
group), their positions computed together (``ContactCenter.queue_positions``),
the figures read from counters (:mod:`runtime.core.situation`), never from the
statistics database.

Times are given twice where a view may want to count on by itself: a call's
``waited_s`` at the snapshot, and ``since``, the wall-clock time (seconds since
the Unix epoch) it started waiting; with the snapshot's ``at`` a browser finds
its clock's offset from the server's and lets the waits tick between updates.
"""

from __future__ import annotations

import time
from typing import Any

from runtime.core.center import ContactCenter
from runtime.core.situation import SITE


def build_snapshot(center: ContactCenter, site: Any = None,
                   to_wall: float | None = None) -> dict[str, Any]:
    """The live view (see the module doc). Every key of ``qscript status`` is here.

    ``to_wall``: seconds from the driver's clock to the Unix epoch's; give the same
    every time (the live runtime's, taken at its start) and a call's ``since`` is the
    same number in every snapshot (by default it is taken now)."""
    now = center.driver.now()
    if to_wall is None:
        to_wall = time.time() - now
    waiting_in, in_script = _calls(center, now, to_wall)
    groups = [_group(center, site, name, now, waiting_in.get(name, []))
              for name in center.group_names()]
    view: dict[str, Any] = {"site": getattr(site, "name", ""), "at": round(now + to_wall, 3),
                            "calls": center.call_count(), "groups": groups,
                            "in_script": in_script,
                            "agents": _agents(center, site, to_wall)}
    situation = center.situation
    if situation is not None:
        view["today"] = situation.today(SITE, now)
        view["last_15_min"] = situation.recent(SITE, now)
    return view


def _calls(center: ContactCenter, now: float, to_wall: float
           ) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The calls waiting in each group (a call in two groups is in both lists), in
    queue order; and the calls in their script, neither queued nor with an agent (a
    new call in its greeting or menu, one sent on to voicemail), oldest first."""
    positions = center.queue_positions()
    waiting_in: dict[str, list[dict[str, Any]]] = {}
    in_script: list[dict[str, Any]] = []
    for session in center.sessions_in_progress():
        call_id = session.call.call_id
        position = positions.get(call_id)
        if position is None:
            if session.record.answered_at is None:
                in_script.append({"call_id": call_id, "caller": session.call.caller,
                                  "digits": session.digits,
                                  "since": round(session.call.arrived_at + to_wall, 3)})
            continue
        queued_at = session.record.queued_at
        since = now if queued_at is None else queued_at
        waiting = {"call_id": call_id, "caller": session.call.caller, "digits": session.digits,
                   "waited_s": round(session._waited(), 1), "since": round(since + to_wall, 3),
                   "position": position, "language": session.language}
        for name in center.queue_groups(call_id):
            waiting_in.setdefault(name, []).append(waiting)
    for calls in waiting_in.values():
        calls.sort(key=_position)
    in_script.sort(key=_since)
    return waiting_in, in_script


def _since(call: dict[str, Any]) -> float:
    return call["since"]


def _position(waiting: dict[str, Any]) -> int:
    return waiting["position"]


def _group(center: ContactCenter, site: Any, name: str, now: float,
           waiting: list[dict[str, Any]]) -> dict[str, Any]:
    config = getattr(site, "groups", {}).get(name) if site is not None else None
    group: dict[str, Any] = {"name": name,
                             "description": getattr(config, "description", "") or ""}
    group.update(center.group_view(name, now))
    group["service_level_target_percent"] = (
        None if config is None else round(100 * config.service_level_target, 3))
    situation = center.situation
    if situation is not None:
        group["today"] = situation.today(name, now)
        group["last_15_min"] = situation.recent(name, now)
    group["waiting"] = waiting
    return group


def _agents(center: ContactCenter, site: Any, to_wall: float) -> list[dict[str, Any]]:
    """The site's agents (logged in or not), each with their state and since when."""
    agents = []
    for agent in getattr(site, "agents", ()):
        info = center.known_agent(agent.id)
        since = center.agent_since(agent.id) if info is not None else None
        agents.append({"id": agent.id, "name": agent.name,
                       "state": info.state.name.lower() if info else "logged_out",
                       "pause_reason": info.pause_reason if info else None,
                       "groups": dict(info.groups) if info else {},
                       "call": info.call_id if info else None,
                       "since": None if since is None else round(since + to_wall, 3)})
    return agents
