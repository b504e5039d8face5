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


#: The most calls a wallboard's snapshot lists per group (and in their script): a
#: board shows a screenful; the counts and the oldest wait cover the rest.
BOARD_CALLS = 50


def build_snapshot(center: ContactCenter, site: Any = None, to_wall: float | None = None,
                   calls_listed: int | None = None) -> dict[str, Any]:
    """The live view (see the module doc). Every key of ``qscript status`` is here.

    ``to_wall``: seconds from the driver's clock to the Unix epoch's; give the same
    every time (the live runtime's, taken at its start) and a call's ``since`` is the
    same number in every snapshot (by default it is taken now). ``calls_listed``: list
    only the first so many waiting calls of each group (by position) and calls in
    their script (the oldest); None: all (``qscript status``)."""
    now = center.driver.now()
    if to_wall is None:
        to_wall = time.time() - now
    waiting_in, unlisted, in_script = _calls(center, now, to_wall, calls_listed)
    groups = [_group(center, site, name, now, to_wall, waiting_in.get(name, []),
                     unlisted.get(name, 0))
              for name in center.group_names()
              # a group removed at run time stays in the ACD; shown while calls wait in it
              if site is None or name in site.groups or name in waiting_in]
    view: dict[str, Any] = {"site": getattr(site, "name", ""), "at": round(now + to_wall, 3),
                            "calls": center.call_count(), "groups": groups,
                            "in_script": in_script,
                            "agents": _agents(center, site, to_wall)}
    situation = center.situation
    if situation is not None:
        view["today"] = situation.today(SITE, now)
        view["last_15_min"] = situation.recent(SITE, now)
    return view


def _calls(center: ContactCenter, now: float, to_wall: float, limit: int | None
           ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int], list[dict[str, Any]]]:
    """The calls waiting in each group (a call in two groups is in both lists), in
    queue order, with how many of each group's are not listed; and the calls in their
    script, neither queued nor with an agent (a new call in its greeting or menu, one
    sent on to voicemail), oldest first. The first ``limit`` of each list (None: all):
    only those are described."""
    positions = center.queue_positions()
    queued: dict[str, list[tuple[int, Any]]] = {}
    arriving: list[tuple[float, Any]] = []
    for session in center.sessions_in_progress():
        position = positions.get(session.call.call_id)
        if position is not None:
            for name in center.queue_groups(session.call.call_id):
                queued.setdefault(name, []).append((position, session))
        elif session.record.answered_at is None:
            arriving.append((session.call.arrived_at, session))
    described: dict[str, dict[str, Any]] = {}   # a call in two groups is described once
    waiting_in: dict[str, list[dict[str, Any]]] = {}
    unlisted: dict[str, int] = {}
    for name, calls in queued.items():
        calls.sort(key=_first)
        waiting_in[name] = [_waiting(session, position, now, to_wall, described)
                            for position, session in calls[:limit]]
        unlisted[name] = len(calls) - len(waiting_in[name])
    arriving.sort(key=_first)
    in_script = [{"call_id": session.call.call_id, "caller": session.call.caller,
                  "digits": session.digits, "since": round(arrived + to_wall, 3)}
                 for arrived, session in arriving[:limit]]
    return waiting_in, unlisted, in_script


def _first(item: tuple) -> Any:
    return item[0]


def _waiting(session: Any, position: int, now: float, to_wall: float,
             described: dict[str, dict[str, Any]]) -> dict[str, Any]:
    call_id = session.call.call_id
    waiting = described.get(call_id)
    if waiting is None:
        queued_at = session.record.queued_at
        since = now if queued_at is None else queued_at
        waiting = described[call_id] = {
            "call_id": call_id, "caller": session.call.caller, "digits": session.digits,
            "waited_s": round(session._waited(), 1), "since": round(since + to_wall, 3),
            "position": position, "language": session.language}
    return waiting


def _group(center: ContactCenter, site: Any, name: str, now: float, to_wall: float,
           waiting: list[dict[str, Any]], unlisted: int) -> dict[str, Any]:
    config = getattr(site, "groups", {}).get(name) if site is not None else None
    group: dict[str, Any] = {"name": name,
                             "description": getattr(config, "description", "") or ""}
    group.update(center.group_view(name, now))
    # When the longest-waiting call began to wait (it may be past the calls listed).
    group["oldest_since"] = (round(now - center.oldest_wait(name, now) + to_wall, 3)
                             if group["calls_waiting"] else None)
    group["service_level_target_percent"] = (
        None if config is None else round(100 * config.service_level_target, 3))
    situation = center.situation
    if situation is not None:
        group["today"] = situation.today(name, now)
        group["last_15_min"] = situation.recent(name, now)
    group["waiting"] = waiting
    group["waiting_not_listed"] = unlisted
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
