"""The statistics schema, its migrations and the writer, on real SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from runtime.core.records import CallRecord
from runtime.store import facts as F
from runtime.store.database import Store, WriteOp
from runtime.store.migrate import head_revision
from runtime.store.writer import (StatisticsWriter, agent_activity_op, contact_data, contact_op,
                                  rebuild_interval_stats)
from statistics_support import CLOCK, GROUPS, at, database_url, postgres_database, small_day  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synthetic_day import synthetic_day  # noqa: E402


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table: connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                for table in ("calls", "queue_segments", "events", "agent_events",
                              "agent_intervals", "survey_answers")}


def stats(engine) -> dict[tuple[int, str], dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM interval_stats")).mappings().all()
    return {(row["slot"], row["grp"]): {k: v for k, v in row.items() if k not in ("slot", "grp")}
            for row in rows}


def agent_stats(engine) -> dict[tuple, tuple]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT slot, agent, state, reason, grp, seconds, started, rings_unanswered "
            "FROM agent_stats")).all()
    return {tuple(row[:5]): tuple(row[5:]) for row in rows}


# ------------------------------------------------------------------ migrations


def test_a_new_database_is_migrated_to_exactly_the_models(database_url):
    store = Store(database_url)
    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == head_revision()
            # Every table, column, index and constraint the models declare, no more
            # (types as the database reports them; server defaults aside).
            differences = compare_metadata(context, SQLModel.metadata)
        assert differences == []
    finally:
        store.close()


# The schema of qscript before migrations, as SQLModel's create_all made it.
OLD = sa.MetaData()
sa.Table("script_versions", OLD, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("name", sa.String, nullable=False, index=True),
         sa.Column("version", sa.Integer, nullable=False),
         sa.Column("source", sa.Text, nullable=False),
         sa.Column("bytecode", sa.LargeBinary, nullable=False),
         sa.Column("source_hash", sa.String, nullable=False),
         sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
         sa.Column("active", sa.Boolean, nullable=False, index=True),
         sa.Column("comment", sa.String, nullable=False))
sa.Table("calls", OLD, sa.Column("id", sa.Integer, primary_key=True),
         *[sa.Column(name, sa.String, nullable=False, index=name in ("call_id", "caller", "agent"))
           for name in ("call_id", "caller", "dialled", "script", "script_hash")],
         sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
         *[sa.Column(name, sa.DateTime(timezone=True)) for name in ("queued_at", "answered_at",
                                                                     "ended_at")],
         *[sa.Column(name, sa.String, nullable=False, index=name == "agent")
           for name in ("outcome", "groups", "answered_group", "agent", "language", "digits",
                        "saved", "error")],
         sa.UniqueConstraint("call_id", "arrived_at", name="calls_call_arrival"))
sa.Table("agents", OLD, sa.Column("agent_id", sa.String, primary_key=True),
         sa.Column("logged_in", sa.Boolean, nullable=False),
         sa.Column("ready", sa.Boolean, nullable=False),
         sa.Column("pause_reason", sa.String, nullable=False),
         sa.Column("groups", sa.String, nullable=False),
         sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False))
sa.Table("hot_prompts", OLD, sa.Column("name", sa.String, primary_key=True),
         sa.Column("active", sa.Boolean, nullable=False),
         sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False))


def test_a_database_made_before_migrations_is_upgraded_keeping_its_data(database_url):
    engine = sa.create_engine(database_url)
    OLD.create_all(engine)
    utc = dt.timezone.utc
    arrived = dt.datetime(2026, 5, 4, 10, 0, 7, tzinfo=utc)
    with engine.begin() as connection:
        connection.execute(OLD.tables["script_versions"].insert(), [dict(
            name="support", version=1, source="inbound:\n", bytecode=b"x", source_hash="h",
            created_at=arrived, active=True, comment="")])
        connection.execute(OLD.tables["calls"].insert(), [dict(
            call_id="old1", caller="0701", dialled="5000", script="support", script_hash="h",
            arrived_at=arrived, queued_at=arrived + dt.timedelta(seconds=4),
            answered_at=arrived + dt.timedelta(seconds=16),
            ended_at=arrived + dt.timedelta(seconds=76), outcome="answered",
            groups='["support"]', answered_group="support", agent="alice", language="sv",
            digits="", saved="{}", error="")])
        connection.execute(OLD.tables["agents"].insert(), [dict(
            agent_id="alice", logged_in=True, ready=False, pause_reason="lunch",
            groups='{"support": 0}', updated_at=arrived)])
        connection.execute(OLD.tables["hot_prompts"].insert(), [dict(
            name="outage", active=True, updated_at=arrived)])
    engine.dispose()

    store = Store(database_url)
    try:
        assert [v.name for v in store.active_versions()] == ["support"]
        assert store.hot_prompts() == {"outage": True}
        assert store.agents()[0].pause_reason == "lunch"
        assert store.last_agent("0701", arrived) == "alice"
        (call,) = store.calls()
        # The new columns are computed from the old ones: waited 16 - 4 = 12 s, talked
        # 76 - 16 = 60 s (to the end of the call: the agent's end was not kept then).
        assert (call.arrived_ts, call.wait, call.talk, call.first_group) == \
            (arrived.timestamp(), 12.0, 60.0, "support")
        slot = int(arrived.timestamp() // 900)
        assert call.slot == slot
        figures = stats(store.engine)[(slot, "")]
        assert (figures["offered"], figures["answered"], figures["answered_in_sl"],
                figures["wait_answered"], figures["talk"]) == (1, 1, 1, 12.0, 60.0)
        with store.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == head_revision()
    finally:
        store.close()
    # Opening it again changes nothing.
    again = Store(database_url)
    try:
        assert len(again.calls()) == 1 and len(stats(again.engine)) == 1
    finally:
        again.close()


def test_a_database_from_a_newer_qscript_is_refused(tmp_path):
    from runtime.store.migrate import SchemaError

    url = f"sqlite:///{tmp_path / 'new.db'}"
    Store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="revision 0999, newer than this qscript"):
        Store(url)


# ------------------------------------------------------------------ the writer


def test_a_contact_becomes_its_rows_with_the_times_in_utc(database_url):
    contacts, _, _ = small_day()
    c5 = contacts[4]
    data = contact_data(c5, CLOCK, GROUPS)
    store = Store(database_url)
    try:
        store.apply([WriteOp("contact", json.loads(json.dumps(data)))])   # as from the spool
        (row,) = store.calls()
        t = at(8, 20, 30)
        assert row.arrived_at.replace(tzinfo=dt.timezone.utc) == \
            dt.datetime(2026, 6, 1, 6, 20, 30, tzinfo=dt.timezone.utc)
        # Queued at +5 s, answered at +75 s: waited 70 s; talked 125 - 75 = 50 s. It was
        # answered in sales, so the sales threshold (30 s) is the call's.
        assert (row.wait, row.talk, row.first_group, row.answered_group, row.threshold,
                row.short_abandon, row.script_version) == (70.0, 50.0, "support", "sales", 30.0,
                                                           10.0, 3)
        assert row.arrived_ts == CLOCK.ts(t)
        with store.engine.connect() as connection:
            segments = connection.execute(sa.text(
                "SELECT grp, how, wait, talk, agent, threshold, short_abandon, seq "
                "FROM queue_segments ORDER BY seq")).all()
            events = connection.execute(sa.text("SELECT kind, grp, data FROM events ORDER BY id")).all()
        assert [tuple(s) for s in segments] == [
            ("support", "removed", 60.0, None, "", 20.0, 5.0, 0),
            ("sales", "answered", 10.0, 50.0, "alice", 30.0, 10.0, 1)]
        assert [e.kind for e in events] == ["entered", "overflowed", "removed", "entered",
                                            "answered", "completed"]
        assert json.loads(events[1].data) == {"to": "sales"}
    finally:
        store.close()


def test_a_calls_target_replaces_the_groups_threshold():
    record = CallRecord("t1", "0701", "5000", arrived_at=0.0, queued_at=1.0, answered_at=16.0,
                        ended_at=30.0, outcome="answered", groups=["support"],
                        answered_group="support", agent="alice", target=10.0)
    facts = F.ContactFacts(record, segments=[F.Segment("support", 1.0, 16.0, F.ANSWERED, "alice")])
    data = contact_data(facts, CLOCK, GROUPS)
    assert data["contact"][23] == 10.0 and data["segments"][0][7] == 10.0


def test_an_accepted_callback_is_a_callback_answered_or_not():
    answered = CallRecord("cb1", "0701", "5000", arrived_at=0.0, queued_at=1.0,
                          answered_at=400.0, ended_at=500.0, outcome="answered",
                          groups=["support"], answered_group="support", agent="bob")
    data = contact_data(F.ContactFacts(answered, callback_accepted=True), CLOCK, GROUPS)
    assert (data["contact"][11], data["contact"][22]) == ("callback", True)
    unanswered = CallRecord("cb2", "0701", "5000", arrived_at=0.0, queued_at=1.0, ended_at=50.0,
                            outcome="callback", groups=["support"])
    data = contact_data(F.ContactFacts(unanswered), CLOCK, GROUPS)
    assert (data["contact"][11], data["contact"][22]) == ("callback", False)


def test_replaying_every_write_changes_nothing(database_url):
    contacts, intervals, agent_events = small_day()
    ops = [contact_op(facts, CLOCK, GROUPS) for facts in contacts]
    ops.append(agent_activity_op(intervals, agent_events, CLOCK))
    # The spool holds JSON lines: replay exactly what a restart reads back.
    spooled = [WriteOp.from_line(op.to_line()) for op in ops]
    store = Store(database_url)
    try:
        store.apply(ops)
        once = (counts(store.engine), stats(store.engine), agent_stats(store.engine))
        store.apply(spooled)            # the whole spool again, after an outage
        store.apply(spooled[2:5])       # and part of it a third time
        assert (counts(store.engine), stats(store.engine), agent_stats(store.engine)) == once
        assert once[2]                  # there are agent figures to keep unchanged
        # events: c1 4 + c2 6 + c3 2 + c4 2 + c5 6 + c6 0 + c7 3 + c8 3 = 26
        assert once[0] == {"calls": 8, "queue_segments": 8, "events": 26, "agent_events": 6,
                           "agent_intervals": 20, "survey_answers": 3}
    finally:
        store.close()


def test_the_old_call_write_still_lands_as_a_contact(database_url):
    from runtime.store.database import call_op

    epoch = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.timezone.utc)
    record = CallRecord("old-kind", "0701", "5000", arrived_at=100.0, queued_at=102.0,
                        answered_at=110.0, ended_at=160.0, outcome="answered", agent="alice",
                        groups=["support"], answered_group="support")
    store = Store(database_url)
    try:
        store.apply([call_op(record, epoch, 100.0)])
        store.apply([call_op(record, epoch, 100.0)])
        (row,) = store.calls()
        assert (row.wait, row.talk, row.first_group, row.threshold) == (8.0, 50.0, "support", 20.0)
        (figures,) = stats(store.engine).values()
        assert (figures["offered"], figures["answered"], figures["answered_in_sl"]) == (1, 1, 1)
    finally:
        store.close()


def test_the_bulk_writer_and_the_outbox_writes_make_the_same_rows(tmp_path):
    contacts, intervals, agent_events = small_day()
    bulk = StatisticsWriter(tmp_path / "bulk.db")
    bulk.write(contacts, intervals, agent_events, clock=CLOCK, groups=GROUPS)
    store = Store(f"sqlite:///{tmp_path / 'ops.db'}")
    store.apply([contact_op(facts, CLOCK, GROUPS) for facts in contacts]
                + [agent_activity_op(intervals, agent_events, CLOCK)])

    def dump(engine):
        with engine.connect() as connection:
            return {table: sorted(tuple(row) for row in connection.execute(sa.text(
                f"SELECT * FROM {table}")).all()) for table in (
                "calls", "queue_segments", "events", "agent_events", "agent_intervals",
                "survey_answers", "interval_stats", "agent_stats")}
    try:
        assert dump(bulk.engine) == dump(store.engine)
        assert bulk.write(contacts, intervals, agent_events, clock=CLOCK, groups=GROUPS) == 0
        assert dump(bulk.engine) == dump(store.engine)
    finally:
        bulk.close()
        store.close()


def test_the_datetime_text_of_the_writer_is_what_sqlalchemy_stores():
    """SqliteTime builds the text of a DateTime column itself (several times faster than
    the column type): the same text as SQLAlchemy's SQLite DateTime makes of the datetime,
    rounded as datetime.fromtimestamp rounds (half to even), on every kind of fraction."""
    import random

    from runtime.store.rows import SqliteTime

    from runtime.store.database import CallRow

    dialect = sa.create_engine("sqlite://").dialect
    column = CallRow.__table__.c.arrived_at.type           # type: ignore[attr-defined]
    stored = column.dialect_impl(dialect).bind_processor(dialect)
    rng = random.Random(9)
    base = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc).timestamp()
    moments = [base + rng.uniform(0, 86_400) for _ in range(20_000)]
    moments += [base + k / 128 for k in range(2_000)]          # halves of a microsecond
    moments += [base + 59.9999996, base + 3599.9999995, base - 0.0000004, 0.0, 1.5, -3.25]
    text = SqliteTime().text
    for ts in moments:
        moment = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
        assert text(ts) == stored(moment), ts
    assert text(None) is None


def _odd_contacts() -> list[F.ContactFacts]:
    """Calls that take the less common branches of the rows: a call's own target, an
    accepted callback that was answered, a group without settings, survey answers with
    no time, agent or group of their own, event data that is not plain text, a call
    never queued, a fractional time that rounds half to even (1/128 s)."""
    def record(call_id, **fields):
        return CallRecord(call_id, "0701", "5000", script="support", script_hash="h1",
                          language="sv", **fields)
    return [
        F.ContactFacts(record("o1", arrived_at=at(8, 0, 0.0078125), queued_at=at(8, 0, 1),
                              answered_at=at(8, 0, 16), ended_at=at(8, 1), outcome="answered",
                              groups=["support", "nightly"], answered_group="nightly",
                              agent="alice", target=10.0, saved={"note": 'says "hi"'}),
                       segments=[F.Segment("support", at(8, 0, 1), at(8, 0, 6), F.REMOVED),
                                 F.Segment("nightly", at(8, 0, 6), at(8, 0, 16), F.ANSWERED,
                                           "alice")],
                       events=[F.Event(at(8, 0, 1), F.ENTERED, "support",
                                       data={"position": 1.5, "names": ["a", "b"]}),
                               F.Event(at(8, 0, 6), F.OVERFLOWED, "support", data={}),
                               F.Event(at(8, 0, 10), F.RING_NO_ANSWER, "nightly", "bob",
                                       {"ring": 4}),
                               F.Event(at(8, 0, 16), F.ANSWER, "nightly", "alice", None)],
                       survey=[F.SurveyAnswer("satisfaction", "5"),
                               F.SurveyAnswer("resolved", True, at(8, 0, 59), agent="bob",
                                              group="support"),
                               F.SurveyAnswer("score", float("nan"))],
                       lookup_key="customer-7", script_version=None),
        F.ContactFacts(record("o2", arrived_at=at(8, 3), queued_at=at(8, 3, 2),
                              answered_at=at(8, 9), agent_ended_at=at(8, 12), ended_at=at(8, 13),
                              outcome="answered", groups=["sales"], answered_group="sales",
                              agent="bob", error="boom"),
                       segments=[F.Segment("sales", at(8, 3, 2), at(8, 3, 40), F.CALLBACK)],
                       callback_accepted=True),
        F.ContactFacts(record("o3", arrived_at=at(8, 4), ended_at=None, outcome="failed")),
    ]


def test_the_simulators_rows_from_facts_are_the_rows_of_the_outbox_data(tmp_path):
    """StatisticsWriter.write makes the rows straight from the facts; write_data (and the
    outbox) from contact_data: the same rows, value for value, on a busy synthetic day
    and on calls that take every branch."""
    day = synthetic_day(3000, agents=20, seed=7)
    contacts = day.contacts + _odd_contacts()
    from_facts = StatisticsWriter(tmp_path / "facts.db", batch=700)
    from_data = StatisticsWriter(tmp_path / "data.db", batch=700)

    def dump(engine):
        with engine.connect() as connection:
            return {table: [tuple(row) for row in connection.execute(sa.text(
                f"SELECT * FROM {table} ORDER BY 1, 2, 3"))] for table in (
                "calls", "queue_segments", "events", "agent_events", "agent_intervals",
                "survey_answers", "interval_stats", "agent_stats")}
    try:
        assert from_facts.write(contacts, day.intervals, day.agent_events, clock=day.clock,
                                groups=GROUPS) == len(contacts)
        from runtime.store.writer import activity_data
        data = [contact_data(facts, day.clock, GROUPS) for facts in contacts]
        # In the same transactions (the kept sums are added in the order of the writes).
        assert sum(from_data.write_data(data[first:first + 700])
                   for first in range(0, len(data), 700)) == len(contacts)
        from_data.write_data([], activity_data(day.intervals, day.agent_events, day.clock))
        facts_rows, data_rows = dump(from_facts.engine), dump(from_data.engine)
        for table in facts_rows:
            assert len(facts_rows[table]) == len(data_rows[table]), table
            assert facts_rows[table] == data_rows[table], table
        assert len(facts_rows["survey_answers"]) > 3 and len(facts_rows["agent_stats"]) > 100
    finally:
        from_facts.close()
        from_data.close()


def test_the_kept_figures_are_the_figures_of_the_rows(database_url):
    day = synthetic_day(1500, agents=12, seed=3)
    writer = StatisticsWriter(database_url, batch=400)   # several transactions
    try:
        writer.write(day.contacts, day.intervals, day.agent_events, clock=day.clock, groups=GROUPS)
        kept = stats(writer.engine)
        with writer.engine.begin() as connection:
            rebuild_interval_stats(connection)
        rebuilt = stats(writer.engine)
        assert kept.keys() == rebuilt.keys()
        for key in kept:
            assert kept[key] == pytest.approx(rebuilt[key]), key
        site = [figures for (slot, grp), figures in kept.items() if grp == ""]
        assert sum(figures["offered"] for figures in site) == 1500
    finally:
        writer.close()


def test_the_kept_agent_figures_are_the_figures_of_the_intervals(database_url):
    """agent_stats against the intervals and events themselves, slot by slot; and the
    migration that made the table computes the same from rows already stored."""
    from runtime.store.rows import add_interval_figures, add_ring_unanswered

    day = synthetic_day(800, agents=9, seed=5)
    writer = StatisticsWriter(database_url, batch=300)
    try:
        writer.write(day.contacts, day.intervals[:700], day.agent_events, clock=day.clock)
        writer.write(day.contacts[:50], day.intervals, clock=day.clock)   # partly a replay
        expected: dict = {}
        with writer.engine.connect() as connection:
            for row in connection.execute(sa.text(
                    "SELECT agent, state, reason, started_ts, ended_ts, call_id, grp "
                    "FROM agent_intervals")):
                add_interval_figures(expected, tuple(row))
            for ts, agent, grp in connection.execute(sa.text(
                    "SELECT ts, agent, grp FROM events WHERE kind = 'ring_no_answer'")):
                add_ring_unanswered(expected, ts, agent, grp)
        kept = agent_stats(writer.engine)
        assert kept.keys() == {key for key, values in expected.items()}
        for key, values in expected.items():
            assert kept[key] == pytest.approx((values[0], values[1], values[2])), key
        assert sum(started for _, started, _ in kept.values()) == len(day.intervals)
        # A long pause crosses quarter hours: its seconds are split between them.
        assert any(seconds == pytest.approx(900) for seconds, _, _ in kept.values())

        # Back to 0002 (the table goes) and up again: the backfill finds the same.
        from runtime.store.migrate import _config
        from alembic import command
        with writer.engine.begin() as connection:
            command.downgrade(_config(connection), "0002")
            assert "agent_stats" not in sa.inspect(connection).get_table_names()
            command.upgrade(_config(connection), "head")
        rebuilt = agent_stats(writer.engine)
        assert rebuilt.keys() == kept.keys()
        for key in kept:
            assert rebuilt[key] == pytest.approx(kept[key]), key
    finally:
        writer.close()


def test_rebuilding_gives_back_the_figures_the_writer_kept(database_url):
    """rebuild_statistics (``qscript report rebuild``) on both databases: both kept tables
    recomputed from the rows equal what the writer added up, write by write."""
    from runtime.store.writer import rebuild_statistics

    day = synthetic_day(900, agents=10, seed=6)
    writer = StatisticsWriter(database_url, batch=250)
    try:
        writer.write(day.contacts, day.intervals, day.agent_events, clock=day.clock, groups=GROUPS)
        kept_calls, kept_agents = stats(writer.engine), agent_stats(writer.engine)
        with writer.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM agent_stats WHERE state = 'ready'"))
            connection.execute(sa.text("UPDATE interval_stats SET talk = 0"))
        with writer.engine.begin() as connection:
            assert rebuild_statistics(connection) == (len(kept_calls), len(kept_agents))
        rebuilt_calls, rebuilt_agents = stats(writer.engine), agent_stats(writer.engine)
        assert rebuilt_calls.keys() == kept_calls.keys()
        assert rebuilt_agents.keys() == kept_agents.keys()
        for key in kept_calls:
            assert rebuilt_calls[key] == pytest.approx(kept_calls[key]), key
        for key in kept_agents:
            assert rebuilt_agents[key] == pytest.approx(kept_agents[key]), key
    finally:
        writer.close()


def test_a_new_sqlite_file_is_bulk_loaded_and_ends_with_every_index(tmp_path):
    day = synthetic_day(600, agents=8, seed=2)

    def indexes(engine):
        with engine.connect() as connection:
            return sorted(connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'").all())
    bulk = StatisticsWriter(tmp_path / "new.db")
    durable = StatisticsWriter(tmp_path / "old.db", bulk=False)
    try:
        assert bulk.bulk and not durable.bulk
        with bulk.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 0      # OFF
            assert connection.exec_driver_sql("PRAGMA page_size").scalar() == 16384
        with durable.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        for writer in (bulk, durable):
            assert writer.write(day.contacts, day.intervals, day.agent_events,
                                clock=day.clock, groups=GROUPS) == 600
        assert indexes(bulk.engine) == indexes(durable.engine)
        assert counts(bulk.engine) == counts(durable.engine)
        assert stats(bulk.engine) == stats(durable.engine)
        assert agent_stats(bulk.engine) == agent_stats(durable.engine)
        # A second write to the file (indexes built by now) skips what it holds.
        assert bulk.write(day.contacts, day.intervals, day.agent_events, clock=day.clock) == 0
        assert counts(bulk.engine) == counts(durable.engine)
    finally:
        bulk.close()
        durable.close()
    # An existing file is not bulk-loaded.
    again = StatisticsWriter(tmp_path / "new.db")
    try:
        assert not again.bulk
    finally:
        again.close()
