"""The persistent store on real databases: SQLite (the default) and PostgreSQL.

PostgreSQL runs on 127.0.0.1:5432 on development and CI machines (database
"test"); each test uses its own schema so runs do not see each other.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy

from runtime.records import CallRecord
from runtime.store.database import Store

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_store():
    schema = f"qs_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    return Store(url), engine, schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield Store(f"sqlite:///{tmp_path / 'q.db'}")
        return
    store, engine, schema = _postgres_store()
    try:
        yield store
    finally:
        store.close()
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def test_versions_are_numbered_and_one_is_active(store):
    first = store.add_version("support", "inbound:\n", b"one", "h1")
    second = store.add_version("support", "inbound:\n    answer\n", b"two", "h2")
    assert (first.version, second.version) == (1, 2)
    assert [v.name for v in store.active_versions()] == ["support"]
    assert store.active_versions()[0].bytecode == b"two"
    assert store.activate("support", 1).bytecode == b"one"
    assert [(v.version, v.active) for v in store.versions("support")] == [(1, True), (2, False)]
    assert store.activate("support", 9) is None


def test_call_records_survive_and_give_the_previous_agent(store):
    epoch = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.timezone.utc)
    record = CallRecord("c1", "0701234567", "5000", arrived_at=100.0, queued_at=102.0,
                        answered_at=110.0, ended_at=160.0, outcome="answered", agent="alice",
                        groups=["support"], saved={"survey.q1": "5"})
    store.add_call(record, epoch, 100.0)
    rows = store.calls()
    assert rows[0].agent == "alice" and rows[0].outcome == "answered"
    assert rows[0].answered_at.replace(tzinfo=dt.timezone.utc) == epoch + dt.timedelta(seconds=10)
    assert store.last_agent("0701234567", epoch) == "alice"
    assert store.last_agent("0701234567", epoch + dt.timedelta(hours=1)) is None
    assert store.last_agent("", epoch) is None


def test_agent_states_and_hot_prompts_are_kept(store):
    store.save_agent("alice", True, False, "lunch", {"support": 0})
    store.save_agent("alice", True, True, "", {"support": 0, "sales": 1})
    (row,) = store.agents()
    assert row.logged_in and row.ready and row.pause_reason == ""
    store.save_hot_prompt("outage", True)
    store.save_hot_prompt("outage", False)
    assert store.hot_prompts() == {"outage": False}


def test_a_second_store_on_the_same_database_sees_the_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    first = Store(url)
    first.add_version("support", "inbound:\n", b"x", "h")
    first.close()
    again = Store(url)
    assert again.active_versions()[0].name == "support"
