"""The database goes away under a running runtime: nothing is lost, nothing is written twice.

Real databases, real outages: an SQLite file held locked by another
connection for longer than the runtime's 5 s busy timeout, and a private
PostgreSQL server (tests/runtime/private_postgres.py; the machine's shared
PostgreSQL is never stopped) stopped at once mid-run and started again. The
runtime takes calls from the in-process ARI fake and agent and hot-prompt
changes through its control API while that happens; afterwards every call
record, agent state and hot-prompt state must be in the database exactly
once, and the control API must have said which changes were not saved yet.

A slow store (every call takes 2 s) must not delay the handling of a call:
all database work is off the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sqlite3
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from runtime.live.control import build_app
from runtime.live.runtime import LiveRuntime
from runtime.store.outbox import Outbox, OutboxSettings
from runtime.site import load_site_text
from runtime.store.database import Store, StoreUnavailable

from fake_ari import FakeAri
from private_postgres import private_postgres

SITE = """site: Outage test
languages: [en]
groups:
  support: {}
agents:
  - {id: alice, name: Alice, endpoint: PJSIP/alice, groups: [support]}
  - {id: bob, name: Bob, endpoint: PJSIP/bob, groups: [support]}
prompts:
  outage-msg: beep
hot_prompts:
  outage: {prompt: outage-msg}
numbers:
  default: main.qs
"""
SCRIPT = "inbound:\n    answer\n    hangup\n"
TOKEN = "outage-test-token"

#: Retry quickly: the logic is the same at 0.05 s as at 0.5 s, the test is shorter.
FAST = OutboxSettings(retry_first=0.05, retry_max=0.3)


def load_site(tmp_path: Path):
    (tmp_path / "main.qs").write_text(SCRIPT)
    return load_site_text(SITE, str(tmp_path / "site.yaml"), tmp_path)


class Running:
    """A started LiveRuntime on the ARI fake, with its control API in the same loop."""

    def __init__(self, tmp_path: Path, store: Store, settings: OutboxSettings | None = None,
                 spool: Path | None = None):
        self.site = load_site(tmp_path)
        self.store = store
        self.settings = settings
        self.spool = spool or tmp_path / "outbox.jsonl"
        self.records: list = []
        self.fake = FakeAri()

    async def __aenter__(self) -> "Running":
        outbox = Outbox(self.store, self.spool, self.settings or FAST)
        self.runtime = LiveRuntime(self.site, self.fake, self.store,
                                   loop=asyncio.get_running_loop(), outbox=outbox)
        previous = self.runtime.center.on_record
        self.runtime.center.on_record = lambda r: (self.records.append(r),
                                                   previous(r) if previous is not None else None)
        await self.runtime.start()
        self.client = TestClient(TestServer(build_app(self.runtime, TOKEN)))
        await self.client.start_server()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.close()
        await self.runtime.close()

    async def post(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        response = await self.client.post(path, json=body or {},
                                          headers={"Authorization": f"Bearer {TOKEN}"})
        return response.status, await response.json()

    async def get(self, path: str) -> tuple[int, object]:
        response = await self.client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        return response.status, await response.json()

    async def call(self, number: int) -> str:
        channel = f"call-{number}"
        self.fake.new_call(channel, caller=f"0700{number:06d}")
        return channel

    def database(self) -> dict:
        return self.runtime.status()["database"]


async def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def rows_by_call(store_url: str) -> collections.Counter:
    reader = Store(store_url)
    try:
        return collections.Counter((row.call_id, row.arrived_at) for row in reader.calls(limit=100_000))
    finally:
        reader.close()


def assert_exactly_once(records: list, store_url: str) -> None:
    counts = rows_by_call(store_url)
    by_id = collections.Counter(call_id for call_id, _ in counts.elements())
    missing = [r.call_id for r in records if by_id[r.call_id] == 0]
    twice = {call_id: n for call_id, n in by_id.items() if n > 1}
    assert not missing, f"{len(missing)} of {len(records)} call records lost: {missing[:5]}"
    assert not twice, f"call records written more than once: {twice}"
    assert len(by_id) == len(records)


def stored_agents(store_url: str) -> dict:
    reader = Store(store_url)
    try:
        return {row.agent_id: (row.logged_in, row.ready, row.pause_reason)
                for row in reader.agents()}
    finally:
        reader.close()


def stored_hot_prompts(store_url: str) -> dict:
    reader = Store(store_url)
    try:
        return reader.hot_prompts()
    finally:
        reader.close()


def agent_state(runtime: LiveRuntime, agent_id: str) -> tuple:
    from runtime.acd import AgentState
    info = runtime.center.acd.agent_info(agent_id)
    return (info.state is not AgentState.LOGGED_OUT, info.state is AgentState.READY,
            info.pause_reason or "")


# ------------------------------------------------------------------ SQLite


def test_sqlite_locked_longer_than_the_busy_timeout_loses_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"

    async def scenario():
        async with Running(tmp_path, Store(url)) as running:
            status, answer = await running.post("/agents/alice/login")
            assert (status, answer.get("saved")) == (200, True)
            await running.call(1)
            await wait_until(lambda: running.records, 5, "the first call to end")
            await wait_until(lambda: running.database()["unsaved"] == 0, 5, "the first save")

            blocker = sqlite3.connect(tmp_path / "q.db", isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")          # another process writing, for 7 s
            locked_at = time.monotonic()
            for number in range(2, 6):
                await running.call(number)
            status, answer = await running.post("/agents/alice/pause", {"reason": "lunch"})
            assert status == 202 and answer["saved"] is False and answer["applied"] is True, answer
            assert "not saved yet" in answer["message"]
            assert agent_state(running.runtime, "alice") == (True, False, "lunch")  # in effect
            status, answer = await running.post("/hot-prompts/outage", {"active": True})
            assert status == 202 and answer["saved"] is False, answer
            await wait_until(lambda: len(running.records) == 5, 5, "the calls during the lock")
            database = await wait_until(lambda: (lambda d: d["state"] == "down"
                                                 and d["spooled"] >= 6 and d)(
                running.database()), 10, "the outbox to report the database down")
            assert "locked" in database["error"] and database["unsaved"] >= 6
            metrics = running.runtime.metrics()
            assert metrics["database"]["state"] == "down"
            await asyncio.sleep(max(0.0, 7 - (time.monotonic() - locked_at)))
            blocker.rollback()
            blocker.close()

            await wait_until(lambda: running.database()["state"] == "ok"
                             and running.database()["unsaved"] == 0, 15,
                             "the outbox to write everything once the lock is gone")
            status, answer = await running.post("/agents/alice/ready")
            assert (status, answer.get("saved")) == (200, True)
            records = list(running.records)
        assert_exactly_once(records, url)
        assert stored_agents(url)["alice"] == (True, True, "")
        assert stored_hot_prompts(url) == {"outage": True}
        assert not (tmp_path / "outbox.jsonl").exists() or \
            (tmp_path / "outbox.jsonl").stat().st_size == 0

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_writes_are_idempotent_when_replayed(tmp_path):
    """A batch committed just before the connection dropped is written again: no duplicate."""
    from runtime.core.records import CallRecord
    from runtime.store.database import agent_state_op, call_op, hot_prompt_op
    import datetime as dt

    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    epoch = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.timezone.utc)
    ops = [call_op(CallRecord("c1", "0701", "100", arrived_at=5.0, ended_at=9.0,
                              outcome="hung_up"), epoch, 0.0),
           call_op(CallRecord("c1", "0701", "100", arrived_at=50.0, ended_at=59.0,
                              outcome="hung_up"), epoch, 0.0),   # the same channel, again later
           agent_state_op("alice", True, False, "lunch", {"support": 0}),
           hot_prompt_op("outage", True)]
    replayed = [type(op).from_line(op.to_line()) for op in ops]   # as read back from the spool
    store.apply(ops)
    store.apply(replayed)
    rows = store.calls()
    assert sorted((r.call_id, r.arrived_at.second) for r in rows) == [("c1", 5), ("c1", 50)]
    assert [(a.agent_id, a.pause_reason) for a in store.agents()] == [("alice", "lunch")]
    assert store.hot_prompts() == {"outage": True}


def test_a_spool_left_by_a_crash_after_the_commit_is_replayed_once(tmp_path):
    """The runtime died after writing the spool's first batch but before emptying the spool."""
    from runtime.core.records import CallRecord
    from runtime.store.database import call_op
    import datetime as dt

    url = f"sqlite:///{tmp_path / 'q.db'}"
    epoch = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.timezone.utc)
    ops = [call_op(CallRecord(f"c{n}", "0701", "100", arrived_at=float(n), ended_at=n + 1.0,
                              outcome="hung_up"), epoch, 0.0) for n in range(10)]
    store = Store(url)
    store.apply(ops[:6])                                  # written, then the crash
    spool = tmp_path / "outbox.jsonl"
    spool.write_text("".join(op.to_line() for op in ops))  # ... before the spool was emptied
    outbox = Outbox(store, spool, FAST)
    outbox.start()
    outbox.close()
    assert sorted(r.call_id for r in store.calls()) == sorted(f"c{n}" for n in range(10))
    assert spool.stat().st_size == 0


def test_a_torn_last_line_of_the_spool_is_kept_aside_not_replayed(tmp_path):
    from runtime.store.database import hot_prompt_op

    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    spool = tmp_path / "outbox.jsonl"
    spool.write_text(hot_prompt_op("outage", True).to_line() + '{"kind": "hot_pro')
    outbox = Outbox(store, spool, FAST)
    outbox.start()
    outbox.close()
    assert store.hot_prompts() == {"outage": True}
    (kept,) = [json.loads(line) for line in
               (tmp_path / "outbox.jsonl.rejected").read_text().splitlines()]
    assert kept == {"error": "incomplete line", "line": '{"kind": "hot_pro'}
    assert spool.stat().st_size == 0


def test_a_full_spool_holds_writes_in_memory_and_says_so(tmp_path, caplog):
    """At the spool's size bound nothing is dropped: writes wait in memory, loudly."""
    from runtime.store.database import hot_prompt_op

    class Down(Store):
        down = True

        def apply(self, ops):
            if self.down:
                import sqlalchemy.exc
                raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("server closed"))
            return super().apply(ops)

    store = Down(f"sqlite:///{tmp_path / 'q.db'}")
    ops = [hot_prompt_op(f"p{n}", n % 2 == 0) for n in range(8)]
    bound = sum(len(op.to_line()) for op in ops[:3])         # room for three
    outbox = Outbox(store, tmp_path / "outbox.jsonl",
                    OutboxSettings(retry_first=0.05, retry_max=0.1, spool_max_bytes=bound))
    outbox.start()
    futures = [outbox.submit(op) for op in ops]
    deadline = time.monotonic() + 5
    while outbox.health()["spooled"] < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    health = outbox.health()
    assert health["spool_full"] and health["spooled"] == 3 and health["unsaved"] == 8
    assert [f.result(0) for f in futures[:3]] == ["spooled"] * 3
    assert not any(f.done() for f in futures[3:])          # held in memory, not claimed saved
    assert any("spool" in r.getMessage() and "full" in r.getMessage()
               for r in caplog.records if r.levelname == "ERROR")
    store.down = False
    assert [f.result(5) for f in futures[3:]] == ["saved"] * 5
    outbox.close()
    assert store.hot_prompts() == {f"p{n}": n % 2 == 0 for n in range(8)}
    assert outbox.health()["unsaved"] == 0


def test_close_spools_what_it_cannot_write(tmp_path):
    from runtime.store.database import hot_prompt_op
    import sqlalchemy.exc

    class Down(Store):
        def apply(self, ops):
            raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("connection refused"))

    spool = tmp_path / "outbox.jsonl"
    outbox = Outbox(Down(f"sqlite:///{tmp_path / 'q.db'}"), spool, FAST)
    outbox.start()
    for n in range(3):
        outbox.submit(hot_prompt_op(f"p{n}", True))
    outbox.close()
    assert len(spool.read_text().splitlines()) == 3
    again = Outbox(Store(f"sqlite:///{tmp_path / 'q.db'}"), spool, FAST)
    again.start()
    again.close()
    assert again.store.hot_prompts() == {"p0": True, "p1": True, "p2": True}


# ------------------------------------------------------------------ PostgreSQL, stopped mid-run


@pytest.fixture
def postgres():
    yield from private_postgres()


async def _traffic(running: Running, stop: asyncio.Event, changes: list) -> None:
    """A call every 30 ms; an agent or hot-prompt change every 5th call."""
    number = 0
    actions = [("alice", "pause", "coffee"), ("alice", "ready", ""), ("bob", "login", ""),
               ("bob", "pause", "meeting"), ("bob", "logout", ""), ("alice", "pause", "lunch")]
    while not stop.is_set():
        number += 1
        await running.call(number)
        if number % 5 == 0:
            agent, action, reason = actions[(number // 5) % len(actions)]
            status, answer = await running.post(f"/agents/{agent}/{action}", {"reason": reason})
            assert status in (200, 202), answer
            changes.append((agent, action, status))
            status, answer = await running.post("/hot-prompts/outage",
                                                {"active": number % 10 == 0})
            assert status in (200, 202), answer
            changes.append(("outage", number % 10 == 0, status))
        await asyncio.sleep(0.03)


def test_postgres_stopped_mid_run_every_write_arrives_exactly_once(tmp_path, postgres):
    async def scenario():
        async with Running(tmp_path, Store(postgres.url)) as running:
            assert (await running.post("/agents/alice/login"))[0] == 200
            stop, changes = asyncio.Event(), []
            traffic = asyncio.create_task(_traffic(running, stop, changes))
            await asyncio.sleep(1.0)
            await asyncio.to_thread(postgres.stop)
            await wait_until(lambda: running.database()["state"] == "down", 10,
                             "the outbox to notice the outage")
            await asyncio.sleep(3.0)                     # the outage (40 s in production)
            during = running.database()
            assert during["spooled"] > 10, during
            await asyncio.to_thread(postgres.start)
            await asyncio.sleep(1.0)
            stop.set()
            await traffic
            await wait_until(lambda: len(running.records) >= sum(
                1 for r in running.fake.requests if r[0] == "answer"), 10, "every call to end")
            await wait_until(lambda: running.database()["state"] == "ok"
                             and running.database()["unsaved"] == 0, 20,
                             "the outbox to catch up")
            assert any(status == 202 for *_, status in changes), "no change was made during the outage"
            assert any(status == 200 for *_, status in changes)
            records = list(running.records)
            agents = {a: agent_state(running.runtime, a) for a in ("alice", "bob")}
            hot = dict(running.runtime.center.hot_prompts)
        # About 160 calls on a quiet machine, fewer on a loaded one: enough, either way,
        # to have calls ending before, during and after the outage.
        assert len(records) > 50
        assert_exactly_once(records, postgres.url)
        assert stored_agents(postgres.url) == agents
        assert stored_hot_prompts(postgres.url) == hot

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_a_restart_while_postgres_is_down_replays_the_spool_at_start(tmp_path, postgres):
    spool = tmp_path / "outbox.jsonl"

    async def first_run():
        async with Running(tmp_path, Store(postgres.url), spool=spool) as running:
            assert (await running.post("/agents/alice/login"))[0] == 200
            await asyncio.to_thread(postgres.stop)
            for number in range(1, 21):
                await running.call(number)
            status, answer = await running.post("/agents/alice/pause", {"reason": "outage"})
            assert status == 202 and "kept on disk" in answer["message"], answer
            await running.post("/hot-prompts/outage", {"active": True})
            await wait_until(lambda: len(running.records) == 20, 10, "the calls to end")
            return list(running.records)

    records = asyncio.run(asyncio.wait_for(first_run(), 60))
    kinds = collections.Counter(json.loads(line)["kind"] for line in spool.read_text().splitlines())
    # closed: everything is on disk (the calls with their statistics, alice's pause, the
    # hot prompt, and alice's states and pause as statistics, gathered in one write or more)
    assert (kinds["contact"], kinds["agent_state"], kinds["hot_prompt"]) == (20, 1, 1), kinds
    # ... and the audit entries of the two changes made through the control API
    assert kinds["audit"] == 2, kinds
    assert kinds["agent_activity"] >= 1 and sum(kinds.values()) == 24 + kinds["agent_activity"]

    with pytest.raises(Exception) as refused:              # still down: serve cannot start
        Store(postgres.url)
    assert "connection" in str(refused.value).lower()

    postgres.start()

    async def second_run():
        async with Running(tmp_path, Store(postgres.url), spool=spool) as running:
            # The spool was written before the state was read back: alice is paused again.
            assert agent_state(running.runtime, "alice") == (True, False, "outage")
            assert running.runtime.center.hot_prompts["outage"] is True
            # The spool is written; restoring alice's pause makes statistics of its own
            # (an agent-activity write, a moment later): wait for it rather than race it.
            await wait_until(lambda: running.database()["unsaved"] == 0, 10,
                             "the restored state's own writes")

    asyncio.run(asyncio.wait_for(second_run(), 60))
    assert_exactly_once(records, postgres.url)
    assert stored_agents(postgres.url)["alice"] == (True, False, "outage")
    assert spool.stat().st_size == 0


def test_start_with_the_database_down_says_so_and_keeps_the_spool(tmp_path, postgres):
    from runtime.store.database import hot_prompt_op

    spool = tmp_path / "outbox.jsonl"
    store = Store(postgres.url)
    spool.write_text(hot_prompt_op("outage", True).to_line())
    postgres.stop()
    outbox = Outbox(store, spool, FAST)
    with pytest.raises(StoreUnavailable) as refused:
        outbox.start()
    message = str(refused.value)
    assert "database is unavailable" in message and str(spool) in message and "1 write" in message
    assert len(spool.read_text().splitlines()) == 1
    store.close()


# ------------------------------------------------------------------ a slow store


class SlowStore(Store):
    """Every database call takes ``delay`` seconds once ``slow`` is set."""

    slow = False
    delay = 2.0

    def _wait(self):
        if self.slow:
            time.sleep(self.delay)

    def add_version(self, *args, **kwargs):
        self._wait()
        return super().add_version(*args, **kwargs)

    def activate(self, *args, **kwargs):
        self._wait()
        return super().activate(*args, **kwargs)

    def versions(self, *args, **kwargs):
        self._wait()
        return super().versions(*args, **kwargs)

    def active_versions(self, *args, **kwargs):
        self._wait()
        return super().active_versions(*args, **kwargs)

    def apply(self, *args, **kwargs):
        self._wait()
        return super().apply(*args, **kwargs)


SLOW_REQUESTS = {
    "deploy": ("POST", "/scripts/main", {"source": SCRIPT.replace("hangup", "play \"outage-msg\"\n    hangup")}),
    "versions": ("GET", "/scripts/main", None),
    "rollback": ("POST", "/scripts/main/rollback", {"version": 1}),
    "agent": ("POST", "/agents/alice/login", {}),
    "hot prompt": ("POST", "/hot-prompts/outage", {"active": True}),
}


@pytest.mark.parametrize("request_name", list(SLOW_REQUESTS))
def test_a_slow_store_does_not_delay_a_call(tmp_path, request_name):
    method, path, body = SLOW_REQUESTS[request_name]

    async def scenario():
        store = SlowStore(f"sqlite:///{tmp_path / 'q.db'}")
        async with Running(tmp_path, store) as running:
            running.runtime.save_wait = 5.0
            if request_name == "rollback":
                assert (await running.post("/scripts/main", SLOW_REQUESTS["deploy"][2]))[0] == 200
            store.slow = True
            started = time.monotonic()
            headers = {"Authorization": f"Bearer {TOKEN}"}
            pending = asyncio.create_task(running.client.request(method, path, json=body,
                                                                 headers=headers))
            await asyncio.sleep(0.2)                    # the request is in the store by now
            assert not pending.done()
            event_at = time.monotonic()
            await running.call(1)
            answered = await wait_until(lambda: ("answer", "call-1") in running.fake.requests
                                        and time.monotonic(), 5, "the call to be answered")
            assert answered - event_at < 0.3, \
                f"{request_name}: the call waited {answered - event_at:.2f}s for the store"
            response = await pending
            assert response.status == 200, await response.text()
            assert time.monotonic() - started >= store.delay   # it did wait for the store
            store.slow = False

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_the_loop_stays_responsive_during_a_slow_deploy(tmp_path):
    async def scenario():
        store = SlowStore(f"sqlite:///{tmp_path / 'q.db'}")
        async with Running(tmp_path, store) as running:
            store.slow = True
            lags = []

            async def ticker():
                while True:
                    before = time.monotonic()
                    await asyncio.sleep(0.01)
                    lags.append(time.monotonic() - before - 0.01)

            tick = asyncio.create_task(ticker())
            result = await running.runtime.deploy_source("main", SCRIPT)
            tick.cancel()
            assert result.ok and result.version == 2
            assert len(lags) > 50 and max(lags) < 0.2, f"the loop stalled {max(lags):.2f}s"

    asyncio.run(asyncio.wait_for(scenario(), 30))


# ------------------------------------------------------------------ what the CLI shows


def test_the_cli_says_what_is_not_saved_while_sqlite_is_locked(tmp_path):
    from test_control_api import Server, cli as run_cli

    def cli(server, *args):
        result = run_cli(server, *args)
        result.text = " ".join(result.output.split())      # the console wraps long lines
        return result

    with Server(tmp_path) as server:
        assert cli(server, "agent", "login", "alice").exit_code == 0
        blocker = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            result = cli(server, "agent", "pause", "alice", "--reason", "lunch")
            assert result.exit_code == 0, result.output        # in effect: not a failure
            assert "pause applied, but not saved yet" in result.text
            script = tmp_path / "main.qs"
            script.write_text('inbound:\n    answer\n    queue to "sales"\n')
            result = cli(server, "deploy", str(script))
            assert result.exit_code == 1
            assert "not deployed" in result.text and "database is locked" in result.text
            assert "running version stays" in result.text
            assert server.call(lambda: server.runtime.versions["main"]) == 1
            deadline = time.monotonic() + 10
            while "down" not in (output := cli(server, "status").text):
                assert time.monotonic() < deadline, output
                time.sleep(0.2)
            assert "database: down" in output and "write(s) waiting" in output
        finally:
            blocker.rollback()
            blocker.close()
        deadline = time.monotonic() + 15
        while "database: ok" not in (output := cli(server, "status").text):
            assert time.monotonic() < deadline, output
            time.sleep(0.2)
        rows = server.call(lambda: server.runtime.store.agents())
        assert [(r.agent_id, r.pause_reason) for r in rows] == [("alice", "lunch")]


def test_a_deploy_does_not_queue_behind_the_outbox_on_a_locked_sqlite(tmp_path):
    """A deploy waits for SQLite's lock (5 s), not also for the outbox's 5 s try before it:
    10 s in all was the CLI's whole timeout ("cannot reach the runtime")."""
    from test_control_api import Server, cli as run_cli

    with Server(tmp_path) as server:
        blocker = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            server.call(lambda: server.runtime.set_hot_prompt("outage", True))  # the writer waits
            time.sleep(0.5)
            script = tmp_path / "main.qs"
            script.write_text('inbound:\n    answer\n    queue to "sales"\n')
            started = time.monotonic()
            result = run_cli(server, "deploy", str(script))
            text = " ".join(result.output.split())
            assert result.exit_code == 1
            assert "database is locked" in text and "running version stays" in text, text
            assert 4.5 < time.monotonic() - started < 7.5, time.monotonic() - started
        finally:
            blocker.rollback()
            blocker.close()


def test_an_unreadable_spool_line_then_an_outage_does_not_lose_the_place(tmp_path):
    """A bad line is set aside; if the write after it fails, the retry reads the same lines."""
    from runtime.store.database import hot_prompt_op
    import sqlalchemy.exc

    class FlakyOnce(Store):
        failures = 1

        def apply(self, ops):
            if self.failures:
                self.failures -= 1
                raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("server closed"))
            return super().apply(ops)

    store = FlakyOnce(f"sqlite:///{tmp_path / 'q.db'}")
    spool = tmp_path / "outbox.jsonl"
    spool.write_text(hot_prompt_op("first", True).to_line() + "not json at all\n"
                     + hot_prompt_op("second", True).to_line())
    outbox = Outbox(store, spool, FAST)
    with pytest.raises(StoreUnavailable):
        outbox.start()                                    # the first try fails
    again = Outbox(store, spool, FAST)                    # as at the next start
    again.start()
    again.close()
    assert store.hot_prompts() == {"first": True, "second": True}
    rejected = (tmp_path / "outbox.jsonl.rejected").read_text().splitlines()
    assert [json.loads(line)["line"] for line in rejected] == ["not json at all"]


def test_a_failed_write_reads_the_same_spool_lines_again(tmp_path):
    """Reading past an unreadable line, then not advancing (the write failed), loses nothing."""
    from runtime.store.outbox import Spool
    from runtime.store.database import hot_prompt_op

    path = tmp_path / "outbox.jsonl"
    path.write_text(hot_prompt_op("a", True).to_line() + "garbage\n"
                    + hot_prompt_op("b", False).to_line())
    spool = Spool(path, 1 << 20)
    first = spool.read(200)
    again = spool.read(200)                              # the write of `first` failed
    assert [op.data["name"] for op in again.ops] == ["a", "b"] and again.ops == first.ops
    assert again.used == first.used == path.stat().st_size and again.lines == 3
    assert not (tmp_path / "outbox.jsonl.rejected").exists()   # not before it is passed
    spool.advance(again)
    assert spool.count == 0 and path.stat().st_size == 0
    rejected = (tmp_path / "outbox.jsonl.rejected").read_text().splitlines()
    assert [json.loads(line)["line"] for line in rejected] == ["garbage"]


def test_the_writer_carries_on_after_an_unexpected_error(tmp_path, caplog):
    from runtime.store.database import hot_prompt_op
    import sqlalchemy.exc

    class DownOnce(Store):
        down = True

        def apply(self, ops):
            if self.down:
                self.down = False
                raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("server closed"))
            return super().apply(ops)

    outbox = Outbox(DownOnce(f"sqlite:///{tmp_path / 'q.db'}"), tmp_path / "outbox.jsonl", FAST)
    real_append = outbox.spool.append
    broken = {"once": True}

    def append(lines, force=False):
        if broken.pop("once", False):
            raise RuntimeError("a bug")
        return real_append(lines, force)

    outbox.spool.append = append
    outbox.start()
    first = outbox.submit(hot_prompt_op("first", True))
    assert first.result(5) == "spooled"        # the bug hit the first try; the rescue kept it
    later = outbox.submit(hot_prompt_op("later", True))
    assert later.result(5) in ("saved", "spooled")
    deadline = time.monotonic() + 5
    while outbox.health()["unsaved"] and time.monotonic() < deadline:
        time.sleep(0.02)
    outbox.close()
    assert outbox.store.hot_prompts() == {"first": True, "later": True}
    assert any("the writer failed" in r.getMessage() for r in caplog.records)


def test_serve_with_the_database_down_says_what_waits_in_the_spool(tmp_path, postgres):
    from click.testing import CliRunner

    from qscript.cli import main
    from runtime.store.database import hot_prompt_op

    load_site(tmp_path)
    (tmp_path / "site.yaml").write_text(SITE)
    spool = tmp_path / ".qscript" / "site.outbox.jsonl"
    spool.parent.mkdir()
    spool.write_text(hot_prompt_op("outage", True).to_line() * 3)
    postgres.stop()
    result = CliRunner().invoke(main, ["serve", "--site", str(tmp_path / "site.yaml"),
                                       "--database", postgres.url])
    text = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "cannot open the database" in text and "Connection refused" in text
    # (the console wraps long lines, paths too: compare without the spaces)
    assert f"3write(s)madewhileitwasunavailablearekeptin{spool}" in "".join(text.split())
    assert len(spool.read_text().splitlines()) == 3
