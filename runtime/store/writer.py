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
and a skipped replay adds nothing. :func:`rebuild_statistics` recomputes
them, and the agents' (``agent_stats``), from the rows (after a repair by hand,
or to check them; ``qscript report rebuild``).

**Two ways in, the same rows.** The outbox's data goes to rows through
:func:`write_contacts`; :class:`StatisticsWriter` takes a simulated day's facts
straight to rows (:func:`write_facts`, no data in between: half the time in
Python).
A test holds the two equal, value for value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from . import facts as F
from .database import WRITERS, CallRow, WriteOp, _engine_options, _sqlite_pragmas
from .schema import (COUNTERS, MAXIMA, SUMS, AgentEventRow, AgentStatsRow, AgentIntervalRow,
                     EventRow, IntervalStatsRow, QueueSegmentRow, SurveyAnswerRow)
# The layout of the data and the per-row work live in runtime/store/rows.py (compiled);
# their names are part of this module's API too.
from .rows import (_ARRIVED, _CALL_ID, CONTACT_COLUMNS, CONTACT_FIELDS, EVENT_FIELDS,  # noqa: F401
                   INTERVAL_FIELDS, LAYOUT, SEGMENT_FIELDS, SURVEY_FIELDS, ContactRows,
                   GroupSettings, SqliteTime, _check_layout, _empty_figures, activity_data,
                   add_contact_figures, add_interval_figures, add_ring_unanswered,
                   add_segment_figures, call_rows,
                   contact_data, contact_rows, facts_call_rows, facts_contact_rows,
                   facts_interval_rows, interval_figures)
from .rows import AGENT_FIGURES

CALLS = CallRow.__table__                 # type: ignore[attr-defined]
SEGMENTS = QueueSegmentRow.__table__      # type: ignore[attr-defined]
EVENTS = EventRow.__table__               # type: ignore[attr-defined]
AGENT_EVENTS = AgentEventRow.__table__    # type: ignore[attr-defined]
INTERVALS = AgentIntervalRow.__table__    # type: ignore[attr-defined]
SURVEY = SurveyAnswerRow.__table__        # type: ignore[attr-defined]
STATS = IntervalStatsRow.__table__        # type: ignore[attr-defined]
AGENT_STATS = AgentStatsRow.__table__     # type: ignore[attr-defined]



def contact_op(facts: F.ContactFacts, clock: F.WallClock,
               groups: Mapping[str, GroupSettings] | None = None) -> WriteOp:
    """The outbox write of a finished call (kind ``contact``)."""
    return WriteOp("contact", contact_data(facts, clock, groups))


def agent_activity_op(intervals: Iterable[F.AgentInterval] = (), events: Iterable[F.Event] = (),
                      clock: F.WallClock | None = None) -> WriteOp:
    """The outbox write of agent-state intervals and agent events (kind ``agent_activity``)."""
    return WriteOp("agent_activity", activity_data(intervals, events, clock))




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


class _BulkInsert:
    """An INSERT of many rows given as tuples, straight to the driver's executemany.

    SQLAlchemy Core's executemany builds a parameter dict per row through each
    column's type; for the 10+ rows a call makes that was most of the write
    time. The values must be what the driver takes (numbers, text, None; for
    DateTime columns see :class:`~.rows.SqliteTime`).
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

    def run(self, rows: Sequence[Sequence[Any]]) -> None:
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


def _new_ids(connection: Connection, count: int) -> range | None:
    """SQLite: the ids of the contacts just inserted, without reading them back by key.

    SQLite numbers a new row max(id) + 1, and this transaction holds the write lock
    since the INSERT: the n rows just inserted are the ids up to the new maximum, in
    the order given. Checked (the n highest ids are n consecutive numbers); None
    (read them back by key) on another database or if the check fails.
    """
    if connection.dialect.name != "sqlite":
        return None
    last = connection.exec_driver_sql("SELECT max(id) FROM calls").scalar()
    if last is None:
        return None
    found = connection.exec_driver_sql("SELECT count(*) FROM calls WHERE id > ?",
                                       (last - count,)).scalar()
    if found != count:
        return None
    return range(last - count + 1, last + 1)


def write_contacts(connection: Connection, contacts: Sequence[Mapping[str, Any]]) -> int:
    """Insert contacts (data from :func:`contact_data`) with their segments, events and
    survey answers, and add their figures; skip those already written. Returns how many
    were new. Runs in the caller's transaction."""
    if not contacts:
        return 0
    for data in contacts:
        _check_layout(data)
    fresh = _fresh(connection, contacts, [data["contact"][_CALL_ID] for data in contacts],
                   [data["contact"][_ARRIVED] for data in contacts])
    if not fresh:
        return 0
    calls = call_rows(fresh, _time_value(connection))
    ids = _insert_calls(connection, calls)
    _insert_contact_rows(connection, contact_rows(fresh, ids))
    return len(fresh)


def write_facts(connection: Connection, contacts: Sequence[F.ContactFacts], clock: F.WallClock,
                groups: Mapping[str, GroupSettings] | None = None) -> int:
    """:func:`write_contacts` of the facts' :func:`contact_data`, with the rows made straight
    from the facts (the simulator's day: see runtime/store/rows.py). Returns how many
    contacts were new. Runs in the caller's transaction."""
    offset = clock.offset
    records = [facts.record for facts in contacts]
    fresh = _fresh(connection, contacts, [record.call_id for record in records],
                   [record.arrived_at + offset for record in records])
    if not fresh:
        return 0
    calls = facts_call_rows(fresh, clock, groups, _time_value(connection))
    ids = _insert_calls(connection, calls)
    _insert_contact_rows(connection, facts_contact_rows(fresh, calls, ids, clock, groups))
    return len(fresh)


def _fresh(connection: Connection, contacts: Sequence[Any], call_ids: Sequence[str],
           arrivals: Sequence[float]) -> Sequence[Any]:
    """The contacts (their call ids, arrivals in epoch seconds) not in the database yet,
    each once."""
    if not contacts:
        return []
    present = _contacts_between(connection, min(arrivals), max(arrivals))
    if not present and len(set(call_ids)) == len(call_ids):
        return contacts            # none written before, none twice (a simulated day)
    fresh = []
    for contact, call_id, arrived in zip(contacts, call_ids, arrivals):
        key = (call_id, round(arrived, 3))
        if key not in present:
            present[key] = 0           # a call given twice in one batch goes in once
            fresh.append(contact)
    return fresh


def _time_value(connection: Connection) -> Callable[[float | None], Any]:
    """What a DateTime column of ``calls`` takes from epoch seconds on this database."""
    return SqliteTime().text if connection.dialect.name == "sqlite" else _utc


def _insert_calls(connection: Connection, calls: Sequence[Sequence[Any]]) -> Sequence[int]:
    """Insert ``calls`` rows (:func:`~.rows.call_rows`); their ids, in the same order."""
    # The contacts first, then their ids read back (in this transaction, which holds
    # the write lock): children need the ids, and reading them back is much faster
    # than INSERT ... RETURNING.
    _BulkInsert(connection, CALLS, CONTACT_FIELDS[:CONTACT_COLUMNS] + (
        "arrived_at", "queued_at", "answered_at", "ended_at", "slot")).run(calls)
    ids = _new_ids(connection, len(calls))
    if ids is not None:
        return ids
    arrivals = [call[_ARRIVED] for call in calls]
    by_key = _contacts_between(connection, min(arrivals), max(arrivals))
    return [by_key[(call[_CALL_ID], round(call[_ARRIVED], 3))] for call in calls]


def _insert_contact_rows(connection: Connection, rows: ContactRows) -> None:
    _BulkInsert(connection, SEGMENTS, ("contact_id", "seq", "slot") + SEGMENT_FIELDS).run(
        rows.segments)
    _BulkInsert(connection, EVENTS, ("contact_id", "call_id") + EVENT_FIELDS).run(rows.events)
    _BulkInsert(connection, SURVEY, ("contact_id", "call_id") + SURVEY_FIELDS).run(rows.survey)
    _upsert_figures(connection, rows.figures)
    _upsert_agent_figures(connection, rows.agent_figures)


def write_activity(connection: Connection, activity: Mapping[str, Any]) -> None:
    """Insert agent intervals and agent events (data from :func:`activity_data`) and add
    the intervals' figures to ``agent_stats``; rows already written are skipped (and add
    nothing). Runs in the caller's transaction."""
    _check_layout(activity)
    intervals = _new_intervals(connection, activity.get("intervals", ()))
    # ON CONFLICT DO NOTHING as well: the key is also the database's unique index.
    _BulkInsert(connection, INTERVALS, INTERVAL_FIELDS, ignore_duplicates=True).run(intervals)
    _upsert_agent_figures(connection, interval_figures(intervals))
    _BulkInsert(connection, AGENT_EVENTS, EVENT_FIELDS, ignore_duplicates=True).run(
        [tuple(event) for event in activity.get("events", ())])


def _new_intervals(connection: Connection,
                   intervals: Sequence[Sequence[Any]]) -> list[tuple]:
    """The intervals not in the database yet (key: agent, start, state), each once."""
    if not intervals:
        return []
    i = INTERVALS.c
    keys = [(interval[0], interval[3], interval[1]) for interval in intervals]
    low = min(key[1] for key in keys)
    high = max(key[1] for key in keys)
    query = sa.select(i.agent, i.started_ts, i.state).where(i.started_ts >= low,
                                                            i.started_ts <= high)
    seen = {(agent, started, state) for agent, started, state in connection.execute(query)}
    if not seen and len(set(keys)) == len(keys):      # all new (a simulated day): as they are
        return [interval if type(interval) is tuple else tuple(interval)
                for interval in intervals]
    fresh = []
    for interval, key in zip(intervals, keys):
        if key not in seen:
            seen.add(key)
            fresh.append(tuple(interval))     # SQLAlchemy's executemany takes tuples
    return fresh


_AGENT_KEY = ("slot", "agent", "state", "reason", "grp")
_INTERVALS_KEY = "ix_agent_intervals_agent_started"     # the unique (agent, start, state)


def _upsert_agent_figures(connection: Connection,
                          figures: Mapping[tuple[int, str, str, str, str], list[float]]) -> None:
    """Add figures to ``agent_stats`` (an upsert that adds; both databases spell it alike)."""
    if not figures:
        return
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    key = ", ".join(_AGENT_KEY)
    sql = (f"INSERT INTO agent_stats ({key}, {', '.join(AGENT_FIGURES)}) "
           f"VALUES ({', '.join([marker] * (len(_AGENT_KEY) + len(AGENT_FIGURES)))}) "
           f"ON CONFLICT ({key}) DO UPDATE SET "
           + ", ".join(f"{name} = agent_stats.{name} + excluded.{name}" for name in AGENT_FIGURES))
    connection.exec_driver_sql(sql, [(*key_values, values[0], int(values[1]), int(values[2]))
                                     for key_values, values in figures.items()])


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
    # The old figures go first: the writers wait from here (see _lock_for_rebuild).
    _lock_for_rebuild(connection, "interval_stats")
    connection.execute(STATS.delete().where(where_stats))
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
    _upsert_figures(connection, figures)
    return len(figures)


def rebuild_agent_stats(connection: Connection) -> int:
    """Recompute all of ``agent_stats`` from the agent intervals and the ring_no_answer
    events; returns the number of rows written."""
    _lock_for_rebuild(connection, "agent_stats")
    connection.execute(AGENT_STATS.delete())
    figures: dict[tuple[int, str, str, str, str], list[float]] = {}
    i = INTERVALS.c
    for interval in connection.execute(sa.select(i.agent, i.state, i.reason, i.started_ts,
                                                 i.ended_ts, i.call_id, i.grp)
                                       .order_by(i.started_ts, i.id)):
        add_interval_figures(figures, tuple(interval))
    e = EVENTS.c
    for ts, agent, grp in connection.execute(sa.select(e.ts, e.agent, e.grp).where(
            e.kind == F.RING_NO_ANSWER).order_by(e.ts, e.id)):
        add_ring_unanswered(figures, ts, agent, grp)
    _upsert_agent_figures(connection, figures)
    return len(figures)


def rebuild_statistics(connection: Connection) -> tuple[int, int]:
    """Recompute the kept 15-minute figures, ``interval_stats`` and ``agent_stats``, from
    the rows they sum (after a repair by hand, or to check them); returns the rows
    written to each. Runs in the caller's transaction: call it in one of its own."""
    return rebuild_interval_stats(connection), rebuild_agent_stats(connection)


def _lock_for_rebuild(connection: Connection, table: str) -> None:
    """Hold off the writers before the rows are read: a call written meanwhile must be
    either in the rows read or added after the rebuilt figures, never lost between.
    PostgreSQL: lock the figures' table (a writer waits at its upsert, after its rows
    went in unseen); SQLite: the DELETE that follows takes the database's write lock."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")


def _cache_pragma(connection, _record) -> None:
    # A day's rows update the indexes at random places (callers, agents): with
    # SQLite's default 2 MB page cache the same pages are written out again and
    # again. 64 MB holds a busy day's index pages (measured: a quarter faster).
    cursor = connection.cursor()
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _bulk_load_pragmas(connection, _record) -> None:
    # A file this writer creates is written once and is worth nothing if the run
    # dies half-way (it is written again): no fsync, the rollback journal in memory
    # (a failed transaction still rolls back), temporary b-trees (index builds) in
    # memory. Never for a live database, which stays WAL + synchronous=NORMAL.
    cursor = connection.cursor()
    # Pages of 16 KB: fewer pages to split, link and write for the same rows (measured:
    # a tenth of the SQLite time of a busy day). Only a file not yet created takes it.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=MEMORY")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _new_sqlite_file(url: str) -> bool:
    """Whether the URL is an SQLite file that does not exist yet (or is empty)."""
    parsed = sa.engine.make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return False
    path = Path(parsed.database)
    return not path.exists() or path.stat().st_size == 0


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a day is turned into rows.

    A day is millions of new lists and tuples (none in a cycle), and every 700
    allocations the collector runs; its full passes walk every object alive,
    facts included. Measured on 100,000 calls: making the rows took 4.5 s with it,
    1.3 s without.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class StatisticsWriter:
    """Writes facts straight to a database: a simulated day, a test's data set.

    ``target`` is a database URL, a path (an SQLite file) or an Engine. The schema
    is brought up to date first. Each :meth:`write` is one transaction per
    ``batch`` contacts.

    **Bulk load.** An SQLite file that the writer creates (it did not exist) is
    loaded as a file written once: no fsync and the rollback journal in memory
    (:func:`_bulk_load_pragmas`), and the first :meth:`write` fills the tables
    without their secondary indexes and builds these at its end (sorting once is
    cheaper than inserting row by row). The unique keys stay, so replays are
    still skipped. If the process dies during that write, the file is not usable:
    delete it and write again. ``bulk`` forces the choice.
    """

    def __init__(self, target: "str | os.PathLike[str] | Engine", batch: int = 20_000,
                 bulk: bool | None = None):
        from . import migrate

        self._deferred_indexes: list[str] = []
        if isinstance(target, Engine):
            self.engine, self._owned = target, False
            self.bulk = False
        else:
            text = os.fspath(target)
            url = text if "://" in text else f"sqlite:///{text}"
            self.bulk = _new_sqlite_file(url) if bulk is None else bulk and url.startswith("sqlite")
            self.engine = sa.create_engine(url, **_engine_options(url))
            if url.startswith("sqlite"):
                sa.event.listen(self.engine, "connect",
                                _bulk_load_pragmas if self.bulk else _sqlite_pragmas)
                sa.event.listen(self.engine, "connect", _cache_pragma)
            self._owned = True
        self.batch = batch
        migrate.upgrade(self.engine)
        if self.bulk:
            self._drop_secondary_indexes()

    def _drop_secondary_indexes(self) -> None:
        """Bulk load: drop the indexes no write needs; the first write builds them again
        (:meth:`_build_indexes`). The unique keys stay, but for the agent intervals':
        the writer skips the intervals already there itself (:func:`_new_intervals`)."""
        with self.engine.begin() as connection:
            empty = connection.exec_driver_sql("SELECT count(*) FROM calls").scalar() == 0
            if not empty:
                return
            indexes = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND (sql NOT LIKE 'CREATE UNIQUE%' OR name = ?) ORDER BY name",
                (_INTERVALS_KEY,)).all()
            for name, sql in indexes:
                connection.exec_driver_sql(f'DROP INDEX "{name}"')
                self._deferred_indexes.append(sql)

    def _build_indexes(self) -> None:
        if not self._deferred_indexes:
            return
        with self.engine.begin() as connection:
            for sql in self._deferred_indexes:
                connection.exec_driver_sql(sql)
        self._deferred_indexes = []

    def write(self, contacts: Iterable[F.ContactFacts] = (), intervals: Iterable[F.AgentInterval] = (),
              events: Iterable[F.Event] = (), *, clock: F.WallClock,
              groups: Mapping[str, GroupSettings] | None = None) -> int:
        """Write contacts, agent intervals and agent events; returns the contacts that were new.

        One transaction per ``batch`` contacts. (Making the next batch's rows in a second
        thread while this one writes was measured and is slower: the two fight over
        Python's lock row by row. In a second, forked process it costs a third more CPU
        (pickling the rows, the child's copies of the facts' pages): no faster on the
        shared 2-core machine when it was quiet, half again as slow under load.)
        """
        written = 0
        with _collector_paused():
            pending: list[F.ContactFacts] = []
            for facts in contacts:
                pending.append(facts)
                if len(pending) >= self.batch:
                    written += self._write_facts(pending, clock, groups)
                    pending = []
            if pending:
                written += self._write_facts(pending, clock, groups)
            activity = {"v": LAYOUT, "intervals": facts_interval_rows(intervals, clock),
                        "events": activity_data((), events, clock)["events"]}
            if activity["intervals"] or activity["events"]:
                with self.engine.begin() as connection:
                    write_activity(connection, activity)
            self._build_indexes()
        return written

    def write_data(self, contacts: Sequence[Mapping[str, Any]],
                   activity: Mapping[str, Any] | None = None) -> int:
        """Write already converted data (:func:`contact_data`, :func:`activity_data`)."""
        with _collector_paused():
            written = self._write_batch(contacts, activity)
            self._build_indexes()
        return written

    def _write_facts(self, contacts: Sequence[F.ContactFacts], clock: F.WallClock,
                     groups: Mapping[str, GroupSettings] | None) -> int:
        with self.engine.begin() as connection:
            return write_facts(connection, contacts, clock, groups)

    def _write_batch(self, contacts: Sequence[Mapping[str, Any]],
                     activity: Mapping[str, Any] | None = None) -> int:
        with self.engine.begin() as connection:
            written = write_contacts(connection, contacts)
            if activity:
                write_activity(connection, activity)
        return written

    def close(self) -> None:
        self._build_indexes()
        if self._owned:
            self.engine.dispose()
