"""Facts to rows, in plain Python: the part of the statistics writer that runs per row.

:func:`contact_data` and :func:`activity_data` turn facts into the positional
JSON-able data the writer takes (see runtime/store/writer.py for the layout and
the rules); :func:`contact_rows` turns a batch of such contacts into the rows of
the tables and the figures they add. Nothing here touches a database. A busy
day is 1.3 million rows and this was half of the time to write it; compiling
it with mypyc was measured and gained nothing (docs/design.md, "Statistics"),
so it stays plain Python — but type-clean, should that change.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol, cast

from . import facts as F

SLOT_SECONDS: Final = 900       # runtime.store.schema.SLOT_SECONDS (not imported: SQLModel)
#: runtime.store.schema.FIGURES, in table order
FIGURES: Final = ("offered", "queued", "answered", "answered_in_sl", "abandoned", "short_abandoned",
                  "answered_elsewhere", "removed", "callback", "callback_answered", "transferred",
                  "voicemail", "hung_up", "failed", "ended", "wait_answered", "wait_abandoned",
                  "talk", "max_wait")


class GroupSettings(Protocol):
    """What the writer reads of a group (runtime.site.model.Group has it)."""

    service_level_threshold: float
    short_abandon_threshold: float



#: The layouts of the rows in the data (version 1). The first CONTACT_COLUMNS fields of
#: a contact are columns of ``calls`` as they are; the times after them become its
#: DateTime columns.
CONTACT_FIELDS = ("call_id", "caller", "dialled", "script", "script_hash", "script_version",
                  "channel", "lookup_key", "language", "digits", "priority", "outcome",
                  "groups", "first_group", "answered_group", "agent", "saved", "error",
                  "arrived_ts", "agent_ended_ts", "wait", "talk", "callback_answered",
                  "threshold", "short_abandon", "queued_ts", "answered_ts", "ended_ts")
CONTACT_COLUMNS = 25
SEGMENT_FIELDS = ("grp", "entered_ts", "left_ts", "how", "wait", "talk", "agent", "threshold",
                  "short_abandon")
EVENT_FIELDS = ("ts", "kind", "grp", "agent", "data")
SURVEY_FIELDS = ("question", "answer", "number", "agent", "grp", "ts")
INTERVAL_FIELDS = ("agent", "state", "reason", "started_ts", "ended_ts", "call_id", "grp")
LAYOUT = 1

_C = {name: index for index, name in enumerate(CONTACT_FIELDS)}
_CALL_ID, _OUTCOME, _ARRIVED, _WAIT, _TALK = (_C["call_id"], _C["outcome"], _C["arrived_ts"],
                                              _C["wait"], _C["talk"])
_CALLBACK_ANSWERED, _THRESHOLD, _SHORT, _QUEUED = (_C["callback_answered"], _C["threshold"],
                                                   _C["short_abandon"], _C["queued_ts"])
_S = {name: index for index, name in enumerate(SEGMENT_FIELDS)}
_S_GRP, _S_ENTERED, _S_HOW, _S_WAIT, _S_TALK, _S_THRESHOLD, _S_SHORT = (
    _S["grp"], _S["entered_ts"], _S["how"], _S["wait"], _S["talk"], _S["threshold"],
    _S["short_abandon"])


def slot_of(ts: float) -> int:
    return int(ts // SLOT_SECONDS)


# ------------------------------------------------------------------ facts -> data


def _thresholds(groups: Mapping[str, GroupSettings] | None, group: str | None,
                target: float | None) -> tuple[float, float]:
    settings = groups.get(group) if groups and group else None
    threshold = float(target) if target is not None else (
        float(settings.service_level_threshold) if settings is not None
        else F.DEFAULT_SERVICE_LEVEL_THRESHOLD)
    short = float(getattr(settings, "short_abandon_threshold", F.DEFAULT_SHORT_ABANDON_THRESHOLD)) \
        if settings is not None else F.DEFAULT_SHORT_ABANDON_THRESHOLD
    return threshold, short


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), default=str)   # made once: it is per event
_PLAIN_TEXT = re.compile(r'[^"\\\x00-\x1f\x7f]*')


_DATA_TEXTS: dict[tuple, str] = {}     # recent data -> its text: events repeat their data a lot


def _data_text(data: Mapping[str, object] | None) -> str:
    """Event data as compact JSON. Most events carry a number or a name or two, and the
    same few over and over: those texts are remembered (or written by hand, three
    times faster than the json module); anything else goes through the json module."""
    if not data:
        return ""
    items = tuple(data.items())
    try:
        # With the values' types: True == 1 == 1.0, but their texts differ. Most data
        # has one item: its key is cheaper to make (and cannot be taken for another's).
        if len(items) == 1:
            only = items[0]
            key: tuple[Any, ...] = (only[0], only[1], type(only[1]))
        else:
            key = (items, tuple(map(type, data.values())))
        text = _DATA_TEXTS.get(key)
    except TypeError:              # an unhashable value (a list): not remembered
        return _COMPACT_JSON.encode(dict(data))
    if text is not None:
        return text
    parts: list[str] = []
    plain = True
    for item in items:
        # Typed as object: keys and values are whatever the caller gave (compiled code
        # would refuse a key that is not a str where a str is declared).
        name: object = item[0]
        value: object = item[1]
        kind = type(value)
        if not isinstance(name, str) or not _PLAIN_TEXT.fullmatch(name):
            plain = False
        elif kind is int or (kind is float and math.isfinite(cast(float, value))):
            parts.append(f'"{name}":{value!r}')
            continue
        elif kind is str and _PLAIN_TEXT.fullmatch(cast(str, value)):
            parts.append(f'"{name}":"{value}"')
            continue
        plain = False
        break
    text = "{" + ",".join(parts) + "}" if plain else _COMPACT_JSON.encode(dict(data))
    if len(_DATA_TEXTS) >= 50_000:
        _DATA_TEXTS.clear()
    _DATA_TEXTS[key] = text
    return text


_LIST_TEXTS: dict[tuple[object, ...], str] = {}   # a site has a few group lists


def _list_text(names: Sequence[object]) -> str:
    key = tuple(names)
    try:
        text = _LIST_TEXTS.get(key)
    except TypeError:                   # an unhashable name
        return json.dumps(list(names), default=str)
    if text is not None:
        return text
    if all(type(name) is str and _PLAIN_TEXT.fullmatch(cast(str, name)) for name in names):
        text = "[" + ",".join(f'"{name}"' for name in names) + "]"
    else:
        text = json.dumps(list(names), default=str)
    if len(_LIST_TEXTS) >= 10_000:
        _LIST_TEXTS.clear()
    _LIST_TEXTS[key] = text
    return text


def _duration(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(max(0.0, end - start), 6)


def contact_data(facts: F.ContactFacts, clock: F.WallClock,
                 groups: Mapping[str, GroupSettings] | None = None) -> dict[str, Any]:
    """A finished call as the data the writer takes (times: UTC epoch seconds)."""
    record = facts.record
    offset = clock.offset
    ts = clock.ts
    # Durations from the driver clock's own readings: small numbers, exact to the
    # millisecond; differences of epoch seconds (~1.8e9) would be off by ~1e-7 and
    # put a call answered in exactly 20 s just outside a 20 s service level.
    answered_at, ended_at = record.answered_at, record.ended_at
    wait = _duration(record.queued_at, answered_at if answered_at is not None else ended_at)
    talk = _duration(answered_at, record.agent_ended_at if record.agent_ended_at is not None
                     else ended_at)
    outcome = record.outcome
    callback_answered = None
    if facts.callback_accepted or outcome == F.CALLBACK:
        outcome, callback_answered = F.CALLBACK, answered_at is not None
    first = record.groups[0] if record.groups else ""
    answered_group = record.answered_group or ""
    agent = record.agent or ""
    target = record.target
    threshold, short = _thresholds(groups, answered_group or first, target)
    segments = []
    for segment in facts.segments:
        group = segment.group
        segment_threshold, segment_short = (threshold, short) if group == (answered_group or first) \
            else _thresholds(groups, group, target)
        how = segment.how
        segments.append([group, segment.entered + offset, segment.left + offset, how,
                         round(max(0.0, segment.left - segment.entered), 6),
                         talk if how == F.ANSWERED else None, segment.agent or "",
                         segment_threshold, segment_short])
    data_text = _data_text
    events = [[event.at + offset, event.kind, event.group, event.agent,
               data_text(event.data) if event.data else ""] for event in facts.events]
    arrived = record.arrived_at + offset
    ended = None if ended_at is None else ended_at + offset
    survey = [[answer.question, str(answer.answer), _number(answer.answer),
               answer.agent if answer.agent is not None else agent,
               answer.group if answer.group is not None else answered_group,
               answer.at + offset if answer.at is not None else (ended or arrived)]
              for answer in facts.survey]
    return {"v": LAYOUT, "contact": [
        record.call_id, record.caller, record.dialled, record.script, record.script_hash,
        facts.script_version, facts.channel, facts.lookup_key, record.language, record.digits,
        record.priority, outcome, _list_text(record.groups), first, answered_group, agent,
        _data_text(record.saved) or "{}", record.error or "", arrived, ts(record.agent_ended_at),
        wait, talk, callback_answered, threshold, short, ts(record.queued_at),
        None if answered_at is None else answered_at + offset,
        ended], "segments": segments, "events": events, "survey": survey}


def activity_data(intervals: Iterable[F.AgentInterval] = (), events: Iterable[F.Event] = (),
                  clock: F.WallClock | None = None) -> dict[str, Any]:
    """Agent-state intervals and agent events as the data the writer takes."""
    if clock is None:
        raise ValueError("activity_data needs the clock the intervals' times are read on")
    offset = clock.offset
    return {
        "v": LAYOUT,
        "intervals": [[i.agent, i.state, i.reason, i.started + offset, i.ended + offset,
                       i.call_id, i.group] for i in intervals],
        "events": [[e.at + offset, e.kind, e.group, e.agent, _data_text(e.data)] for e in events]}



def _check_layout(data: Mapping[str, Any]) -> None:
    if data.get("v") != LAYOUT:
        raise ValueError(f"statistics data of layout {data.get('v')!r}; this qscript reads "
                         f"layout {LAYOUT}")


# ------------------------------------------------------------------ figures


def _empty_figures() -> dict[str, float]:
    return dict.fromkeys(FIGURES, 0)


def add_contact_figures(figures: dict[str, float], outcome: str, queued: bool,
                        wait: float | None, talk: float | None, threshold: float,
                        short_abandon: float, callback_answered: bool | None) -> None:
    """What one contact adds to the site's figures (group ""); docs/reports.md defines them."""
    figures["offered"] += 1
    if queued:
        figures["queued"] += 1
    if outcome == F.ANSWERED:
        figures["answered"] += 1
        if wait is not None and wait <= threshold:
            figures["answered_in_sl"] += 1
        figures["wait_answered"] += wait or 0.0
        figures["talk"] += talk or 0.0
    elif outcome == F.ABANDONED:
        figures["abandoned"] += 1
        if wait is not None and wait < short_abandon:
            figures["short_abandoned"] += 1
        figures["wait_abandoned"] += wait or 0.0
    elif outcome == F.CALLBACK:
        figures["callback"] += 1
        if callback_answered:
            figures["callback_answered"] += 1
            figures["talk"] += talk or 0.0
    elif outcome in ("transferred", "voicemail", "hung_up", "failed"):
        figures[outcome] += 1
    if wait is not None and wait > figures["max_wait"]:
        figures["max_wait"] = wait


def add_segment_figures(figures: dict[str, float], how: str, wait: float, talk: float | None,
                        threshold: float, short_abandon: float) -> None:
    """What one queue segment adds to its group's figures."""
    figures["offered"] += 1
    figures["queued"] += 1
    if how == F.ANSWERED:
        figures["answered"] += 1
        if wait <= threshold:
            figures["answered_in_sl"] += 1
        figures["wait_answered"] += wait
        figures["talk"] += talk or 0.0
    elif how == F.ABANDONED:
        figures["abandoned"] += 1
        if wait < short_abandon:
            figures["short_abandoned"] += 1
        figures["wait_abandoned"] += wait
    else:
        figures[how] += 1
    if wait > figures["max_wait"]:
        figures["max_wait"] = wait



# ------------------------------------------------------------------ data -> rows


class SqliteTime:
    """UTC epoch seconds as the text SQLite keeps for a DateTime column.

    SQLAlchemy's format ("2026-06-01 08:00:04.574211", UTC without the zone: what
    the UTCDateTime type of the models stores and reads back). Building the text
    here is several times faster than going through the type; the text up to the
    minute is remembered (a day has 1,440 of them).
    """

    def __init__(self) -> None:
        self.minutes: dict[int, str] = {}

    def text(self, ts: float | None) -> str | None:
        if ts is None:
            return None
        # Rounded as datetime.fromtimestamp rounds (the fraction, half to even);
        # ts - int(ts) is exact, as math.modf's fraction.
        seconds = int(ts)
        micro = round((ts - seconds) * 1e6)      # an int (round of a float, no digits)
        if micro >= 1_000_000:
            seconds, micro = seconds + 1, micro - 1_000_000
        elif micro < 0:
            seconds, micro = seconds - 1, micro + 1_000_000
        minute = seconds // 60                   # not divmod: a call and a tuple fewer
        prefix = self.minutes.get(minute)
        if prefix is None:
            moment = dt.datetime(1970, 1, 1) + dt.timedelta(minutes=minute)
            prefix = self.minutes[minute] = moment.isoformat(" ")[:17]
        return f"{prefix}{seconds - minute * 60:02d}.{micro:06d}"


class ContactRows:
    """The rows of a batch of contacts (data from :func:`contact_data`) and their figures."""

    def __init__(self) -> None:
        self.segments: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []
        self.survey: list[tuple[Any, ...]] = []
        #: (slot, group) -> figures; group "" is the site
        self.figures: dict[tuple[int, str], dict[str, float]] = {}
        #: (slot, agent, state, reason, group) -> AGENT_FIGURES: the unanswered rings
        self.agent_figures: dict[tuple[int, str, str, str, str], list[float]] = {}


def call_rows(contacts: Sequence[Mapping[str, Any]],
              as_time: Callable[[float | None], Any]) -> list[tuple[Any, ...]]:
    """The ``calls`` rows: the first CONTACT_COLUMNS fields, the four DateTime columns
    (``as_time`` of their epoch seconds: SqliteTime().text, or an aware datetime)
    and the slot."""
    rows: list[tuple[Any, ...]] = []
    for data in contacts:
        contact: list[Any] = data["contact"]
        arrived: float = contact[_ARRIVED]
        rows.append((*contact[:CONTACT_COLUMNS], as_time(arrived), as_time(contact[25]),
                     as_time(contact[26]), as_time(contact[27]), int(arrived // SLOT_SECONDS)))
    return rows


def contact_rows(contacts: Sequence[Mapping[str, Any]], ids: Sequence[int]) -> ContactRows:
    """The segments, events and survey answers of contacts whose ``calls`` ids are
    ``ids`` (in the same order), and the figures they add."""
    result = ContactRows()
    segments, events, survey, figures = result.segments, result.events, result.survey, \
        result.figures
    agent_figures = result.agent_figures
    for contact_id, data in zip(ids, contacts):
        contact: list[Any] = data["contact"]
        call_id: str = contact[_CALL_ID]
        arrived: float = contact[_ARRIVED]
        key = (int(arrived // SLOT_SECONDS), "")
        site = figures.get(key)
        if site is None:
            site = figures[key] = _empty_figures()
        add_contact_figures(site, contact[_OUTCOME], contact[_QUEUED] is not None, contact[_WAIT],
                            contact[_TALK], contact[_THRESHOLD], contact[_SHORT],
                            contact[_CALLBACK_ANSWERED])
        seq = 0
        for segment in data["segments"]:
            slot = int(segment[_S_ENTERED] // SLOT_SECONDS)
            segments.append((contact_id, seq, slot, *segment))
            seq += 1
            key = (slot, segment[_S_GRP])
            group = figures.get(key)
            if group is None:
                group = figures[key] = _empty_figures()
            add_segment_figures(group, segment[_S_HOW], segment[_S_WAIT], segment[_S_TALK],
                                segment[_S_THRESHOLD], segment[_S_SHORT])
        for event in data["events"]:
            events.append((contact_id, call_id, *event))
            if event[1] == "ring_no_answer":     # F.RING_NO_ANSWER
                add_ring_unanswered(agent_figures, event[0], event[3], event[2])
        for answer in data["survey"]:
            survey.append((contact_id, call_id, *answer))
    return result


# ------------------------------------------------------------------ agent figures

#: The figures kept per (slot, agent, state, reason, group) in ``agent_stats``.
AGENT_FIGURES: Final = ("seconds", "started", "rings_unanswered")


def add_interval_figures(figures: dict[tuple[int, str, str, str, str], list[float]],
                         interval: Sequence[Any]) -> None:
    """What one agent interval (a row of :func:`activity_data`) adds to the agent figures:
    its seconds in each 15-minute slot it covers, and one start in the slot it began."""
    agent: str = interval[0]
    state: str = interval[1]
    reason: str = interval[2]
    started: float = interval[3]
    ended: float = interval[4]
    grp: str = interval[6]
    slot = int(started // SLOT_SECONDS)
    key = (slot, agent, state, reason, grp)
    values = figures.get(key)
    if values is None:
        values = figures[key] = [0.0, 0.0, 0.0]
    values[1] += 1
    start = started
    slot_end = float((slot + 1) * SLOT_SECONDS)
    while ended > slot_end:
        values[0] += slot_end - start
        start, slot = slot_end, slot + 1
        slot_end = float((slot + 1) * SLOT_SECONDS)
        values = figures.get((slot, agent, state, reason, grp))
        if values is None:
            values = figures[(slot, agent, state, reason, grp)] = [0.0, 0.0, 0.0]
    values[0] += ended - start


def add_ring_unanswered(figures: dict[tuple[int, str, str, str, str], list[float]], ts: float,
                        agent: str, grp: str) -> None:
    """A ring_no_answer event: counted on the agent's ringing figures of its slot."""
    key = (int(ts // SLOT_SECONDS), agent, F.RINGING, "", grp)
    values = figures.get(key)
    if values is None:
        values = figures[key] = [0.0, 0.0, 0.0]
    values[2] += 1


# ------------------------------------------------------------------ facts -> rows, directly
#
# The simulator's day goes from facts to rows without the JSON-able data in between
# (contact_data, then call_rows and contact_rows): a busy day is 1.3 million rows,
# and making each twice, a list and then a tuple, was a third of the time to write
# it. The rows are the same ones; tests/runtime/test_statistics_writer.py compares
# the two ways on every kind of call.

# Where contact_data's derived values sit in a ``calls`` row of facts_call_rows (the
# first CONTACT_COLUMNS fields are the contact data's).
_ROW_OUTCOME, _ROW_FIRST, _ROW_ANSWERED_GROUP, _ROW_AGENT = (
    _C["outcome"], _C["first_group"], _C["answered_group"], _C["agent"])
_ROW_ARRIVED, _ROW_WAIT, _ROW_TALK, _ROW_CALLBACK_ANSWERED, _ROW_THRESHOLD, _ROW_SHORT = (
    _C["arrived_ts"], _C["wait"], _C["talk"], _C["callback_answered"], _C["threshold"],
    _C["short_abandon"])
_ROW_QUEUED_AT = CONTACT_COLUMNS + 1       # the DateTime text (None: never queued)


def facts_call_rows(contacts: Sequence[F.ContactFacts], clock: F.WallClock,
                    groups: Mapping[str, GroupSettings] | None,
                    as_time: Callable[[float | None], Any]) -> list[tuple[Any, ...]]:
    """The ``calls`` rows of finished calls: what :func:`call_rows` makes of
    :func:`contact_data`'s data, made from the facts."""
    offset = clock.offset
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for facts in contacts:
        record = facts.record
        answered_at, ended_at, agent_ended_at = (record.answered_at, record.ended_at,
                                                 record.agent_ended_at)
        queued_at = record.queued_at
        wait = _duration(queued_at, answered_at if answered_at is not None else ended_at)
        talk = _duration(answered_at, agent_ended_at if agent_ended_at is not None else ended_at)
        outcome = record.outcome
        callback_answered = None
        if facts.callback_accepted or outcome == F.CALLBACK:
            outcome, callback_answered = F.CALLBACK, answered_at is not None
        names = record.groups
        first = names[0] if names else ""
        answered_group = record.answered_group or ""
        threshold, short = _thresholds(groups, answered_group or first, record.target)
        arrived = record.arrived_at + offset
        queued = None if queued_at is None else queued_at + offset
        answered = None if answered_at is None else answered_at + offset
        ended = None if ended_at is None else ended_at + offset
        append((record.call_id, record.caller, record.dialled, record.script, record.script_hash,
                facts.script_version, facts.channel, facts.lookup_key, record.language,
                record.digits, record.priority, outcome, _list_text(names), first,
                answered_group, record.agent or "", _data_text(record.saved) or "{}",
                record.error or "", arrived,
                None if agent_ended_at is None else agent_ended_at + offset,
                wait, talk, callback_answered, threshold, short,
                as_time(arrived), as_time(queued), as_time(answered), as_time(ended),
                int(arrived // SLOT_SECONDS)))
    return rows


def facts_contact_rows(contacts: Sequence[F.ContactFacts], calls: Sequence[Sequence[Any]],
                       ids: Sequence[int], clock: F.WallClock,
                       groups: Mapping[str, GroupSettings] | None) -> ContactRows:
    """What :func:`contact_rows` makes of :func:`contact_data`'s data, made from the facts:
    the segments, events and survey answers of contacts whose ``calls`` rows
    (:func:`facts_call_rows`) are ``calls`` and ids ``ids``, and their figures."""
    offset = clock.offset
    result = ContactRows()
    segments, events, survey, figures = result.segments, result.events, result.survey, \
        result.figures
    agent_figures = result.agent_figures
    add_segment, add_event, data_text = segments.append, events.append, _data_text
    for contact_id, facts, call in zip(ids, contacts, calls):
        call_id = call[0]
        key = (call[-1], "")
        site = figures.get(key)
        if site is None:
            site = figures[key] = _empty_figures()
        wait, talk, threshold, short = call[_ROW_WAIT], call[_ROW_TALK], call[_ROW_THRESHOLD], \
            call[_ROW_SHORT]
        add_contact_figures(site, call[_ROW_OUTCOME], call[_ROW_QUEUED_AT] is not None, wait,
                            talk, threshold, short, call[_ROW_CALLBACK_ANSWERED])
        if facts.segments:
            own = call[_ROW_ANSWERED_GROUP] or call[_ROW_FIRST]
            target = facts.record.target
            seq = 0
            for segment in facts.segments:
                group, how, entered, left = segment.group, segment.how, segment.entered, \
                    segment.left
                segment_threshold, segment_short = (threshold, short) if group == own \
                    else _thresholds(groups, group, target)
                stint = round(max(0.0, left - entered), 6)
                segment_talk = talk if how == F.ANSWERED else None
                entered += offset
                slot = int(entered // SLOT_SECONDS)
                add_segment((contact_id, seq, slot, group, entered, left + offset, how, stint,
                             segment_talk, segment.agent or "", segment_threshold,
                             segment_short))
                seq += 1
                key = (slot, group)
                group_figures = figures.get(key)
                if group_figures is None:
                    group_figures = figures[key] = _empty_figures()
                add_segment_figures(group_figures, how, stint, segment_talk, segment_threshold,
                                    segment_short)
        for event in facts.events:
            data = event.data
            at = event.at + offset
            add_event((contact_id, call_id, at, event.kind, event.group, event.agent,
                       data_text(data) if data else ""))
            if event.kind == "ring_no_answer":     # F.RING_NO_ANSWER
                add_ring_unanswered(agent_figures, at, event.agent, event.group)
        if facts.survey:
            agent, answered_group = call[_ROW_AGENT], call[_ROW_ANSWERED_GROUP]
            ended_at = facts.record.ended_at
            ended = None if ended_at is None else ended_at + offset
            for answer in facts.survey:
                survey.append((contact_id, call_id, answer.question, str(answer.answer),
                               _number(answer.answer),
                               answer.agent if answer.agent is not None else agent,
                               answer.group if answer.group is not None else answered_group,
                               answer.at + offset if answer.at is not None
                               else (ended or call[_ROW_ARRIVED])))
    return result


def facts_interval_rows(intervals: Iterable[F.AgentInterval],
                        clock: F.WallClock) -> list[tuple[Any, ...]]:
    """The ``agent_intervals`` rows (INTERVAL_FIELDS) of :func:`activity_data`, as tuples."""
    offset = clock.offset
    return [(i.agent, i.state, i.reason, i.started + offset, i.ended + offset, i.call_id,
             i.group) for i in intervals]


def interval_figures(intervals: Iterable[Sequence[Any]]
                     ) -> dict[tuple[int, str, str, str, str], list[float]]:
    """What agent intervals (rows of INTERVAL_FIELDS) add to the agent figures:
    :func:`add_interval_figures` of each, with the common case (an interval within one
    slot) done in line: there are a quarter of a million in a busy day."""
    figures: dict[tuple[int, str, str, str, str], list[float]] = {}
    get = figures.get
    for interval in intervals:
        started: float = interval[3]
        ended: float = interval[4]
        slot = int(started // SLOT_SECONDS)
        if ended > float((slot + 1) * SLOT_SECONDS):
            add_interval_figures(figures, interval)
            continue
        key = (slot, interval[0], interval[1], interval[2], interval[6])
        values = get(key)
        if values is None:
            figures[key] = [ended - started, 1.0, 0.0]
        else:
            values[0] += ended - started
            values[1] += 1
    return figures
