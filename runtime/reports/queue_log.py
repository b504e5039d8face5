"""The event log as Asterisk's ``queue_log``, for tools that read it (QueueMetrics, ...).

One line per event: ``epoch|callid|queuename|agent|event|data1|data2|...``
(app_queue's layout; see docs/reports.md for the mapping):

=================  =========================================================
ENTERQUEUE         ``|url|callerid|position`` (url is empty)
CONNECT            ``|holdtime|bridged channel|ringtime``
COMPLETECALLER /   ``|holdtime|calltime|origposition`` (who hung up first)
COMPLETEAGENT
ABANDON            ``|position|origposition|waittime``
EXITWITHKEY        ``|key|position|origposition|waittime``: the caller left the
                   queue with a key (a callback or a voice message chosen by key)
EXITWITHTIMEOUT    ``|position|origposition|waittime``: the script took the call
                   out of the queue (removed from the group, answered in another
                   group, a transfer or a voice message without a key)
RINGNOANSWER       ``|ringtime`` in milliseconds
TRANSFER           ``|extension|context|holdtime|calltime|origposition``
ADDMEMBER /        an agent logged in to / out of a group
REMOVEMEMBER
PAUSE / UNPAUSE    ``|reason``, once per group of the agent
=================  =========================================================

Times are whole seconds, as Asterisk writes them. A call queued in several
groups at once (QScript allows that, app_queue does not) leaves the others
with EXITWITHTIMEOUT when one answers, so that each queue sees the call end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store import facts as F
from ..store.writer import AGENT_EVENTS, CALLS, EVENTS
from .selection import Selection


def _data(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _field(value: Any) -> str:
    # A field must not hold the separator or a line break.
    return str(value).replace("|", "/").replace("\n", " ").replace("\r", " ")


class _Call:
    __slots__ = ("caller", "entered", "positions", "open", "connected", "hold")

    def __init__(self, caller: str):
        self.caller = caller
        self.entered: dict[str, float] = {}       # group -> when it joined
        self.positions: dict[str, int] = {}       # group -> position when it joined
        self.open: list[str] = []                 # groups it waits in, in order
        self.connected: tuple[str, float] | None = None   # (group, when)
        self.hold = 0


def queue_log_lines(connection: Connection, selection: Selection,
                    agent_prefix: str = "Agent/") -> Iterator[str]:
    """The queue_log lines of the selection's period, in time order."""
    e, a, c = EVENTS.c, AGENT_EVENTS.c, CALLS.c
    low, high = selection.start_ts, selection.end_ts
    call_events = sa.select(e.ts, e.id, e.call_id, e.kind, e.grp, e.agent, e.data, c.caller) \
        .select_from(EVENTS.join(CALLS, CALLS.c.id == e.contact_id)) \
        .where(e.ts >= low, e.ts < high).order_by(e.ts, e.id)
    agent_events = sa.select(a.ts, a.id, a.kind, a.grp, a.agent, a.data) \
        .where(a.ts >= low, a.ts < high).order_by(a.ts, a.id)
    calls: dict[str, _Call] = {}
    member_groups: dict[str, list[str]] = {}
    agent_rows = iter(connection.execute(agent_events).all())
    pending = next(agent_rows, None)

    def agent_lines(row) -> Iterator[str]:
        epoch, kind, group, agent = int(row.ts), row.kind, row.grp, row.agent
        member = _field(agent_prefix + agent)
        data = _data(row.data)
        if kind == F.LOGIN:
            groups = [str(g) for g in data.get("groups", [])] or ([group] if group else [])
            member_groups[agent] = groups
            for queue in groups or ["NONE"]:
                yield f"{epoch}|NONE|{_field(queue)}|{member}|ADDMEMBER|"
        elif kind == F.LOGOUT:
            for queue in member_groups.pop(agent, None) or ([group] if group else ["NONE"]):
                yield f"{epoch}|NONE|{_field(queue)}|{member}|REMOVEMEMBER|"
        elif kind in (F.PAUSE, F.UNPAUSE):
            reason = _field(data.get("reason", "")) if kind == F.PAUSE else ""
            for queue in member_groups.get(agent) or ([group] if group else ["NONE"]):
                yield f"{epoch}|NONE|{_field(queue)}|{member}|{kind.upper()}|{reason}"

    for row in connection.execute(call_events):
        while pending is not None and (pending.ts, 0) <= (row.ts, 1):
            yield from agent_lines(pending)
            pending = next(agent_rows, None)
        call = calls.get(row.call_id)
        if call is None:
            call = calls[row.call_id] = _Call(row.caller)
        yield from _call_lines(row, call, agent_prefix)
        if not call.open and call.connected is None and row.kind in (F.ABANDON, F.COMPLETED):
            del calls[row.call_id]
    while pending is not None:
        yield from agent_lines(pending)
        pending = next(agent_rows, None)


def _call_lines(row, call: _Call, agent_prefix: str) -> Iterator[str]:
    epoch, kind, group = int(row.ts), row.kind, row.grp or "NONE"
    callid = _field(row.call_id)
    head = f"{epoch}|{callid}"
    member = _field(agent_prefix + row.agent) if row.agent else "NONE"
    data = _data(row.data)

    def waited(queue: str) -> int:
        return int(row.ts - call.entered.get(queue, row.ts))

    def exit_line(queue: str, key: str | None = None) -> str:
        position = call.positions.get(queue, 1)
        if key:
            return (f"{head}|{_field(queue)}|NONE|EXITWITHKEY|{_field(key)}|{position}|"
                    f"{position}|{waited(queue)}")
        return f"{head}|{_field(queue)}|NONE|EXITWITHTIMEOUT|{position}|{position}|{waited(queue)}"

    def leave(queue: str) -> None:
        if queue in call.open:
            call.open.remove(queue)

    if kind == F.ENTERED:
        position = int(data.get("position", 1) or 1)
        call.entered[group], call.positions[group] = row.ts, position
        if group not in call.open:
            call.open.append(group)
        yield f"{head}|{_field(group)}|NONE|ENTERQUEUE||{_field(call.caller)}|{position}"
    elif kind == F.ANSWER:
        call.hold = waited(group)
        call.connected = (group, row.ts)
        ring = int(round(float(data.get("ring", 0) or 0)))
        yield f"{head}|{_field(group)}|{member}|CONNECT|{call.hold}|{_field(data.get('channel', ''))}|{ring}"
        leave(group)
        for other in list(call.open):       # queued there too: the call leaves it now
            yield exit_line(other)
            leave(other)
    elif kind == F.COMPLETED and call.connected is not None:
        queue, since = call.connected
        event = "COMPLETEAGENT" if data.get("by") == "agent" else "COMPLETECALLER"
        yield (f"{head}|{_field(queue)}|{member}|{event}|{call.hold}|{int(row.ts - since)}|"
               f"{call.positions.get(queue, 1)}")
        call.connected = None
    elif kind == F.ABANDON:
        for queue in list(call.open) or [group]:
            position = int(data.get("position", call.positions.get(queue, 1)) or 1)
            yield (f"{head}|{_field(queue)}|NONE|ABANDON|{position}|{call.positions.get(queue, 1)}|"
                   f"{waited(queue)}")
            leave(queue)
    elif kind == F.RING_NO_ANSWER:
        milliseconds = int(round(float(data.get("ring", 0) or 0) * 1000))
        yield f"{head}|{_field(group)}|{member}|RINGNOANSWER|{milliseconds}"
    elif kind == F.TRANSFER:
        if call.connected is not None:
            queue, since = call.connected
            yield (f"{head}|{_field(queue)}|{member}|TRANSFER|{_field(data.get('to', ''))}|"
                   f"{_field(data.get('context', ''))}|{call.hold}|{int(row.ts - since)}|"
                   f"{call.positions.get(queue, 1)}")
            call.connected = None
        for queue in list(call.open):
            yield exit_line(queue)
            leave(queue)
    elif kind in (F.CALLBACK_TAKEN, F.VOICEMAIL_LEFT):
        key = data.get("key")
        for queue in list(call.open):
            yield exit_line(queue, str(key) if key not in (None, "") else None)
            leave(queue)
    elif kind == F.LEFT_GROUP and group in call.open:
        yield exit_line(group)
        leave(group)
