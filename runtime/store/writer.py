"""Facts in, statistics rows out: the one writer behind the outbox and the simulator.

:func:`contact_data` and :func:`activity_data` turn facts (runtime/store/facts.py,
driver-clock seconds) into plain JSON-able data with UTC epoch seconds;
:func:`write_contacts` and :func:`write_activity` insert such data in bulk on a
connection, in the caller's transaction. The outbox ops (:func:`contact_op`,
:func:`agent_activity_op`, kinds ``contact`` and ``agent_activity``) carry the
data as their JSON; :class:`StatisticsWriter` writes a whole simulated day.

**The data is positional**: a row is a list of values in the order of the
``*_FIELDS`` tuples below (``{"v": 1, "contact": [...], "segments": [[...]],
...}``), so that a row goes to the database as it is, with no dict built or
taken apart on the way: a simulated day is 1.3 million rows. ``v`` is the
layout's version; a new layout gets a new number and this module keeps reading
the old one (spools outlive upgrades).

**Idempotent.** A contact is keyed by its call id and arrival time: a contact
already in the database is skipped with everything that belongs to it (its
segments, events and survey answers went in with it, in one transaction).
Agent intervals are keyed by (agent, start, state) and agent events by
(agent, time, kind); a replayed one is skipped by the database
(``ON CONFLICT DO NOTHING``).

**Aggregates.** Each contact written adds its figures to ``interval_stats``
(group "", by arrival) and each segment to its group's (by entry into the
group), in the same transaction: an upsert that adds the counts and keeps
the larger maximum. So the figures are exact whatever the order of writes,
and a skipped replay adds nothing. :func:`rebuild_interval_stats` recomputes
them from the rows (after a repair by hand, or to check them).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from . import facts as F
from .database import WRITERS, CallRow, WriteOp, _engine_options, _sqlite_pragmas
from .schema import (COUNTERS, FIGURES, MAXIMA, SLOT_SECONDS, SUMS, AgentEventRow, AgentIntervalRow,
                     EventRow, IntervalStatsRow, QueueSegmentRow, SurveyAnswerRow)

CALLS = CallRow.__table__                 # type: ignore[attr-defined]
SEGMENTS = QueueSegmentRow.__table__      # type: ignore[attr-defined]
EVENTS = EventRow.__table__               # type: ignore[attr-defined]
AGENT_EVENTS = AgentEventRow.__table__    # type: ignore[attr-defined]
INTERVALS = AgentIntervalRow.__table__    # type: ignore[attr-defined]
SURVEY = SurveyAnswerRow.__table__        # type: ignore[attr-defined]
STATS = IntervalStatsRow.__table__        # type: ignore[attr-defined]


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
        # With the values' types: True == 1 == 1.0, but their texts differ.
        key = (items, tuple(map(type, data.values())))
        text = _DATA_TEXTS.get(key)
    except TypeError:              # an unhashable value (a list): not remembered
        return _COMPACT_JSON.encode(dict(data))
    if text is not None:
        return text
    parts: list[str] | None = []
    for name, value in items:
        kind = type(value)
        if type(name) is not str or not _PLAIN_TEXT.fullmatch(name):
            parts = None
            break
        if kind is int or (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
            parts.append(f'"{name}":{value!r}')  # type: ignore[union-attr]
        elif kind is str and _PLAIN_TEXT.fullmatch(value):  # type: ignore[arg-type]
            parts.append(f'"{name}":"{value}"')  # type: ignore[union-attr]
        else:
            parts = None
            break
    text = "{" + ",".join(parts) + "}" if parts is not None else _COMPACT_JSON.encode(dict(data))
    if len(_DATA_TEXTS) >= 50_000:
        _DATA_TEXTS.clear()
    _DATA_TEXTS[key] = text
    return text


def _list_text(names: Sequence[str]) -> str:
    if all(type(name) is str and _PLAIN_TEXT.fullmatch(name) for name in names):
        return "[" + ",".join(f'"{name}"' for name in names) + "]"
    return json.dumps(list(names))


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
    ended = ts(ended_at)
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
        wait, talk, callback_answered, threshold, short, ts(record.queued_at), ts(answered_at),
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


def contact_op(facts: F.ContactFacts, clock: F.WallClock,
               groups: Mapping[str, GroupSettings] | None = None) -> WriteOp:
    """The outbox write of a finished call (kind ``contact``)."""
    return WriteOp("contact", contact_data(facts, clock, groups))


def agent_activity_op(intervals: Iterable[F.AgentInterval] = (), events: Iterable[F.Event] = (),
                      clock: F.WallClock | None = None) -> WriteOp:
    """The outbox write of agent-state intervals and agent events (kind ``agent_activity``)."""
    return WriteOp("agent_activity", activity_data(intervals, events, clock))


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


def _upsert_figures(connection: Connection, figures: Mapping[tuple[int, str], dict[str, float]]) -> None:
    if not figures:
        return
    rows = [{"slot": slot, "grp": grp, **values} for (slot, grp), values in figures.items()]
    dialect = connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        statement = insert(STATS)
        new = statement.excluded
        changes: dict[str, Any] = {name: STATS.c[name] + new[name] for name in COUNTERS + SUMS}
        for name in MAXIMA:
            changes[name] = sa.case((new[name] > STATS.c[name], new[name]), else_=STATS.c[name])
        connection.execute(statement.on_conflict_do_update(index_elements=["slot", "grp"],
                                                           set_=changes), rows)
        return
    for row in rows:   # other databases: read, then write (one writer at a time)
        key = (STATS.c.slot == row["slot"]) & (STATS.c.grp == row["grp"])
        old = connection.execute(sa.select(STATS).where(key)).mappings().first()
        if old is None:
            connection.execute(STATS.insert(), [row])
            continue
        merged = {name: old[name] + row[name] for name in COUNTERS + SUMS}
        merged.update({name: max(old[name], row[name]) for name in MAXIMA})
        connection.execute(STATS.update().where(key).values(**merged))


# ------------------------------------------------------------------ writing


def _utc(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def _time_value(dialect: sa.engine.Dialect):
    """How a UTC epoch second is passed to the driver for a DateTime column.

    SQLite stores datetimes as text, in SQLAlchemy's format ("2026-06-01
    08:00:04.574211", UTC without the zone: what the UTCDateTime type of the
    models stores and reads back); building that text directly is 5x faster than
    going through the type. Other databases get an aware datetime.
    """
    if dialect.name == "sqlite":
        days: dict[int, str] = {}

        def as_text(ts: float | None) -> str | None:
            if ts is None:
                return None
            # Rounded as datetime.fromtimestamp rounds (the fraction, half to even).
            fraction, whole = math.modf(ts)
            micro = round(fraction * 1e6)
            seconds = int(whole)
            if micro >= 1_000_000:
                seconds, micro = seconds + 1, micro - 1_000_000
            elif micro < 0:
                seconds, micro = seconds - 1, micro + 1_000_000
            day, seconds = divmod(seconds, 86_400)
            text = days.get(day)
            if text is None:
                text = days[day] = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
            hours, seconds = divmod(seconds, 3600)
            minutes, seconds = divmod(seconds, 60)
            return f"{text} {hours:02d}:{minutes:02d}:{seconds:02d}.{micro:06d}"
        return as_text
    return _utc


class _BulkInsert:
    """An INSERT of many rows given as tuples, straight to the driver's executemany.

    SQLAlchemy Core's executemany builds a parameter dict per row through each
    column's type; for the 10+ rows a call makes that was most of the write
    time. The values must be what the driver takes (numbers, text, None; for
    DateTime columns see :func:`_time_value`).
    """

    def __init__(self, connection: Connection, table: sa.Table, columns: Sequence[str],
                 ignore_duplicates: bool = False):
        dialect = connection.dialect
        self.connection = connection
        quote = dialect.identifier_preparer.quote
        marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
        self.raw = marker is not None and (not ignore_duplicates
                                           or dialect.name in ("sqlite", "postgresql"))
        self.table, self.columns, self.ignore = table, tuple(columns), ignore_duplicates
        self.sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                    f"VALUES ({', '.join([marker or '?'] * len(columns))})"
                    + (" ON CONFLICT DO NOTHING" if ignore_duplicates else ""))

    def run(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.raw:
            self.connection.exec_driver_sql(self.sql, rows)
            return
        statement = self.table.insert()
        if self.ignore:
            statement = statement.prefix_with("IGNORE")       # MySQL's spelling
        self.connection.execute(statement, [dict(zip(self.columns, row)) for row in rows])


def _contacts_between(connection: Connection, low: float, high: float) -> dict[tuple[str, float], int]:
    """(call id, arrival to the ms) -> row id of the contacts that arrived in [low, high]."""
    rows = connection.execute(sa.select(CALLS.c.call_id, CALLS.c.arrived_ts, CALLS.c.id).where(
        CALLS.c.arrived_ts >= low - 1e-3, CALLS.c.arrived_ts <= high + 1e-3))
    return {(call_id, round(arrived, 3)): row_id for call_id, arrived, row_id in rows
            if arrived is not None}


def write_contacts(connection: Connection, contacts: Sequence[Mapping[str, Any]]) -> int:
    """Insert contacts (data from :func:`contact_data`) with their segments, events and
    survey answers, and add their figures; skip those already written. Returns how many
    were new. Runs in the caller's transaction."""
    if not contacts:
        return 0
    for data in contacts:
        _check_layout(data)
    low = min(data["contact"][_ARRIVED] for data in contacts)
    high = max(data["contact"][_ARRIVED] for data in contacts)
    present = _contacts_between(connection, low, high)
    fresh = []
    for data in contacts:
        key = (data["contact"][_CALL_ID], round(data["contact"][_ARRIVED], 3))
        if key not in present:
            present[key] = 0           # a call given twice in one batch goes in once
            fresh.append(data)
    if not fresh:
        return 0
    # The contacts first, then their ids read back by their key (in this transaction,
    # which holds the write lock): children need the ids, and reading them back is
    # much faster than INSERT ... RETURNING.
    as_time = _time_value(connection.dialect)
    rows = []
    for data in fresh:
        contact = data["contact"]
        arrived = contact[_ARRIVED]
        rows.append((*contact[:CONTACT_COLUMNS], as_time(arrived), as_time(contact[25]),
                     as_time(contact[26]), as_time(contact[27]), int(arrived // SLOT_SECONDS)))
    _BulkInsert(connection, CALLS, CONTACT_FIELDS[:CONTACT_COLUMNS] + (
        "arrived_at", "queued_at", "answered_at", "ended_at", "slot")).run(rows)
    ids = _contacts_between(connection, low, high)
    segments: list[tuple] = []
    events: list[tuple] = []
    survey: list[tuple] = []
    figures: dict[tuple[int, str], dict[str, float]] = {}
    for data in fresh:
        contact = data["contact"]
        call_id, arrived = contact[_CALL_ID], contact[_ARRIVED]
        contact_id = ids[(call_id, round(arrived, 3))]
        key = (int(arrived // SLOT_SECONDS), "")
        add_contact_figures(figures.get(key) or figures.setdefault(key, _empty_figures()),
                            contact[_OUTCOME], contact[_QUEUED] is not None, contact[_WAIT],
                            contact[_TALK], contact[_THRESHOLD], contact[_SHORT],
                            contact[_CALLBACK_ANSWERED])
        for seq, segment in enumerate(data["segments"]):
            slot = int(segment[_S_ENTERED] // SLOT_SECONDS)
            segments.append((contact_id, seq, slot, *segment))
            key = (slot, segment[_S_GRP])
            add_segment_figures(figures.get(key) or figures.setdefault(key, _empty_figures()),
                                segment[_S_HOW], segment[_S_WAIT], segment[_S_TALK],
                                segment[_S_THRESHOLD], segment[_S_SHORT])
        events.extend([(contact_id, call_id, *event) for event in data["events"]])
        if data["survey"]:
            survey.extend([(contact_id, call_id, *answer) for answer in data["survey"]])
    _BulkInsert(connection, SEGMENTS, ("contact_id", "seq", "slot") + SEGMENT_FIELDS).run(segments)
    _BulkInsert(connection, EVENTS, ("contact_id", "call_id") + EVENT_FIELDS).run(events)
    _BulkInsert(connection, SURVEY, ("contact_id", "call_id") + SURVEY_FIELDS).run(survey)
    _upsert_figures(connection, figures)
    return len(fresh)


def write_activity(connection: Connection, activity: Mapping[str, Any]) -> None:
    """Insert agent intervals and agent events (data from :func:`activity_data`);
    rows already written are skipped. Runs in the caller's transaction."""
    _check_layout(activity)
    _BulkInsert(connection, INTERVALS, INTERVAL_FIELDS, ignore_duplicates=True).run(
        [tuple(interval) for interval in activity.get("intervals", ())])
    _BulkInsert(connection, AGENT_EVENTS, EVENT_FIELDS, ignore_duplicates=True).run(
        [tuple(event) for event in activity.get("events", ())])


def _write_contact_op(session: Session, data: dict[str, Any]) -> None:
    write_contacts(session.connection(), [data])


def _write_activity_op(session: Session, data: dict[str, Any]) -> None:
    write_activity(session.connection(), data)


def _time_ts(text: str | None) -> float | None:
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def _write_call_op(session: Session, data: dict[str, Any]) -> None:
    """A ``call`` op (before statistics existed; old spools still hold them): a contact
    with no segments or events, with the default thresholds."""
    arrived = _time_ts(data["arrived_at"])
    queued, answered, ended = (_time_ts(data.get("queued_at")), _time_ts(data.get("answered_at")),
                               _time_ts(data.get("ended_at")))
    assert arrived is not None
    until = answered if answered is not None else ended
    groups = json.loads(data.get("groups") or "[]")
    outcome = data.get("outcome", "")
    contact = [
        data["call_id"], data.get("caller", ""), data.get("dialled", ""), data.get("script", ""),
        data.get("script_hash", ""), None, F.VOICE, "", data.get("language", ""),
        data.get("digits", ""), 0, outcome, json.dumps(groups),
        str(groups[0]) if groups else "", data.get("answered_group", ""), data.get("agent", ""),
        data.get("saved", "{}"), data.get("error", ""), arrived, None,
        None if queued is None or until is None else round(max(0.0, until - queued), 6),
        None if answered is None or ended is None else round(max(0.0, ended - answered), 6),
        (answered is not None) if outcome == F.CALLBACK else None,
        F.DEFAULT_SERVICE_LEVEL_THRESHOLD, F.DEFAULT_SHORT_ABANDON_THRESHOLD, queued, answered,
        ended]
    write_contacts(session.connection(), [{"v": LAYOUT, "contact": contact, "segments": [],
                                           "events": [], "survey": []}])


WRITERS["call"] = _write_call_op
WRITERS["contact"] = _write_contact_op
WRITERS["agent_activity"] = _write_activity_op


def rebuild_interval_stats(connection: Connection, slots: tuple[int, int] | None = None) -> int:
    """Recompute ``interval_stats`` from the contacts and segments (all, or the slots
    ``first..last``); returns the number of rows written."""
    where_calls = sa.true() if slots is None else CALLS.c.slot.between(*slots)
    where_stats = sa.true() if slots is None else STATS.c.slot.between(*slots)
    where_segments = sa.true() if slots is None else SEGMENTS.c.slot.between(*slots)
    figures: dict[tuple[int, str], dict[str, float]] = {}
    default_threshold, default_short = (F.DEFAULT_SERVICE_LEVEL_THRESHOLD,
                                        F.DEFAULT_SHORT_ABANDON_THRESHOLD)
    calls = sa.select(CALLS.c.slot, CALLS.c.outcome, CALLS.c.queued_at.is_not(None), CALLS.c.wait,
                      CALLS.c.talk, CALLS.c.threshold, CALLS.c.short_abandon,
                      CALLS.c.callback_answered).where(where_calls)
    for slot, outcome, queued, wait, talk, threshold, short, callback_answered in \
            connection.execute(calls):
        key = (slot, "")
        add_contact_figures(figures.get(key) or figures.setdefault(key, _empty_figures()),
                            outcome, bool(queued), wait, talk,
                            default_threshold if threshold is None else threshold,
                            default_short if short is None else short, callback_answered)
    segments = sa.select(SEGMENTS.c.slot, SEGMENTS.c.grp, SEGMENTS.c.how, SEGMENTS.c.wait,
                         SEGMENTS.c.talk, SEGMENTS.c.threshold,
                         SEGMENTS.c.short_abandon).where(where_segments)
    for slot, grp, how, wait, talk, threshold, short in connection.execute(segments):
        key = (slot, grp)
        add_segment_figures(figures.get(key) or figures.setdefault(key, _empty_figures()),
                            how, wait, talk, threshold, short)
    connection.execute(STATS.delete().where(where_stats))
    _upsert_figures(connection, figures)
    return len(figures)


def _bulk_pragmas(connection, _record) -> None:
    # A day's rows update the indexes at random places (callers, agents): with
    # SQLite's default 2 MB page cache the same pages are written out again and
    # again. 64 MB holds a busy day's index pages (measured: a quarter faster).
    cursor = connection.cursor()
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


class StatisticsWriter:
    """Writes facts straight to a database: a simulated day, a test's data set.

    ``target`` is a database URL, a path (an SQLite file) or an Engine. The schema
    is brought up to date first. Each :meth:`write` is one transaction per
    ``batch`` contacts.
    """

    def __init__(self, target: "str | os.PathLike[str] | Engine", batch: int = 20_000):
        from . import migrate

        if isinstance(target, Engine):
            self.engine, self._owned = target, False
        else:
            text = os.fspath(target)
            url = text if "://" in text else f"sqlite:///{text}"
            self.engine = sa.create_engine(url, **_engine_options(url))
            if url.startswith("sqlite"):
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
                sa.event.listen(self.engine, "connect", _bulk_pragmas)
            self._owned = True
        self.batch = batch
        migrate.upgrade(self.engine)

    def write(self, contacts: Iterable[F.ContactFacts] = (), intervals: Iterable[F.AgentInterval] = (),
              events: Iterable[F.Event] = (), *, clock: F.WallClock,
              groups: Mapping[str, GroupSettings] | None = None) -> int:
        """Write contacts, agent intervals and agent events; returns the contacts that were new.

        One transaction per ``batch`` contacts. (Making the next batch's rows in a second
        thread while this one writes was measured and is slower: the two fight over
        Python's lock row by row.)
        """
        written = 0
        pending: list[dict[str, Any]] = []
        for facts in contacts:
            pending.append(contact_data(facts, clock, groups))
            if len(pending) >= self.batch:
                written += self.write_data(pending)
                pending = []
        if pending:
            written += self.write_data(pending)
        activity = activity_data(intervals, events, clock)
        if activity["intervals"] or activity["events"]:
            with self.engine.begin() as connection:
                write_activity(connection, activity)
        return written

    def write_data(self, contacts: Sequence[Mapping[str, Any]],
                   activity: Mapping[str, Any] | None = None) -> int:
        """Write already converted data (:func:`contact_data`, :func:`activity_data`)."""
        with self.engine.begin() as connection:
            written = write_contacts(connection, contacts)
            if activity:
                write_activity(connection, activity)
        return written

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()
