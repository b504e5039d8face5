"""Agents, answer groups and calendars changed at run time: a layer over the site file.

The changes are read by the site file's own readers (runtime/site/changes.py),
applied to a running LiveRuntime against the in-process ARI fake
(runtime/live/site_admin.py), stored through the outbox in ``site_changes``
(migration 0006) and restored at the next start; the control API's
``/site/...`` routes reach them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import sqlalchemy.exc
from alembic import command

from runtime.acd import AgentState
from runtime.live.runtime import LiveRuntime
from runtime.site import SiteError, load_site_text
from runtime.site.changes import SiteChange, apply_changes, entry_data
from runtime.store import migrate
from runtime.store.database import Store
from runtime.store.outbox import Outbox, OutboxSettings
from runtime.store.site_changes import site_change_op, stored_site_changes

from fake_ari import FakeAri
from test_control_api import TOKEN, Server

SITE = """site: Admin test
languages: [en]
groups:
  support: {wrap_up: 0s}
  sales:
agents:
  - {id: alice, name: Alice, endpoint: PJSIP/alice, groups: [support]}
calendars:
  office:
    hours: {daily: closed}
    holidays: none
numbers:
  default: main.qs
fallback: {group: sales}
"""
#: Queues while the office calendar is open, hangs up while it is closed.
SCRIPT = """inbound:
    answer
    if not is_open("office"):
        hangup
    queue to "support"
"""
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)


def site_of(tmp_path: Path):
    (tmp_path / "main.qs").write_text(SCRIPT)
    return load_site_text(SITE, "site.yaml", tmp_path)


def change(kind: str, name: str, entry) -> SiteChange:
    return SiteChange(kind, name, entry, NOW, "tester")


# ------------------------------------------------------------------ the readers


def test_a_bad_change_gets_the_message_the_same_mistake_gets_in_the_site_file(tmp_path):
    site = site_of(tmp_path)
    with pytest.raises(SiteError) as refused:
        apply_changes(site, [change("agent", "bob", {"id": "bob", "endpoint": "bob",
                                                     "groups": ["suport"]})])
    in_file = SITE.replace("agents:\n", "agents:\n  - {id: bob, endpoint: bob, groups: [suport]}\n")
    with pytest.raises(SiteError) as from_file:
        load_site_text(in_file, "site.yaml", tmp_path)
    assert [(p.message, p.hint) for p in refused.value.problems] == \
        [(p.message, p.hint) for p in from_file.value.problems]
    assert {p.location.file for p in refused.value.problems} == {"agent bob (console change)"}
    assert 'unknown group "suport"' in str(refused.value) and 'did you mean "support"' \
        in str(refused.value)


def test_removing_a_group_is_refused_where_the_file_still_names_it(tmp_path):
    site = site_of(tmp_path)
    with pytest.raises(SiteError) as refused:
        apply_changes(site, [change("group", "sales", None)])
    (problem,) = refused.value.problems
    assert str(problem.location) == "site.yaml:14:19"   # fallback: {group: sales}
    assert problem.message == 'fallback.group: unknown group "sales"'
    removed = apply_changes(site, [change("agent", "alice", {"id": "alice", "groups": ["sales"]}),
                                   change("group", "support", None)])
    assert list(removed.groups) == ["sales"] and removed.agent("alice").groups == {"sales": 0}


def test_a_calendar_change_replaces_its_hours_and_deviations(tmp_path):
    site = site_of(tmp_path)
    changed = apply_changes(site, [change("calendar", "office", {
        "hours": {"weekdays": "08:00-17:00"}, "holidays": "none",
        "deviations": [{"date": "2026-12-24", "hours": "08:00-12:00", "note": "Christmas Eve"}]})])
    office = changed.calendar("office")
    assert office.is_open(dt.datetime(2026, 12, 3, 9, 0))           # a Thursday
    assert not office.is_open(dt.datetime(2026, 12, 24, 13, 0))     # the deviation
    assert not site.calendar("office").is_open(dt.datetime(2026, 12, 3, 9, 0))  # file untouched
    with pytest.raises(SiteError, match='"25:00" is not a time of day'):
        apply_changes(site, [change("calendar", "office", {"hours": {"daily": "08:00-25:00"}})])


def test_the_file_entries_read_back_as_the_file_wrote_them(tmp_path):
    site = site_of(tmp_path)
    assert entry_data(site, "agent", "alice") == {"id": "alice", "name": "Alice",
                                                  "endpoint": "PJSIP/alice", "groups": ["support"]}
    assert entry_data(site, "group", "sales") == {}
    assert entry_data(site, "calendar", "office") == {"hours": {"daily": "closed"},
                                                      "holidays": "none"}
    assert entry_data(site, "agent", "nobody") is None


# ------------------------------------------------------------------ the store


def test_a_stored_change_is_idempotent_and_an_older_one_never_wins(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    newer = SiteChange("group", "vip", {"wrap_up": "5s"}, NOW, "admin")
    older = SiteChange("group", "vip", {"wrap_up": "1s"}, NOW - dt.timedelta(minutes=1), "admin")
    store.apply([site_change_op(newer)])
    store.apply([site_change_op(newer), site_change_op(older)])
    (stored,) = stored_site_changes(store.engine)
    assert (stored.entry, stored.changed_at, stored.changed_by) == ({"wrap_up": "5s"}, NOW, "admin")
    store.apply([site_change_op(SiteChange("group", "vip", None, NOW + dt.timedelta(1), "x"))])
    assert stored_site_changes(store.engine)[0].deleted
    store.close()


def test_migration_0006_adds_site_changes_to_a_database_at_0003(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        command.upgrade(migrate._config(connection), "0003")
        connection.execute(sa.text("INSERT INTO hot_prompts (name, active, updated_at) "
                                   "VALUES ('outage', 1, '2026-01-01 00:00:00')"))
    assert "site_changes" not in sa.inspect(engine).get_table_names()
    store = Store(url)  # upgrades to the newest revision
    assert "site_changes" in sa.inspect(store.engine).get_table_names()
    assert store.hot_prompts() == {"outage": True}
    with store.engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.head_revision()
    store.apply([site_change_op(change("agent", "bob", {"id": "bob"}))])
    assert [c.name for c in stored_site_changes(store.engine)] == ["bob"]
    with store.engine.begin() as connection:   # and back down
        command.downgrade(migrate._config(connection), "0003")
    assert "site_changes" not in sa.inspect(store.engine).get_table_names()
    store.close()
    engine.dispose()


# ------------------------------------------------------------------ a running runtime


async def settle_until(condition, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    assert condition()


def runtime_on(tmp_path: Path, fake: FakeAri, store: Store | None = None,
               outbox_settings: OutboxSettings | None = None) -> LiveRuntime:
    store = store or Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    outbox = Outbox(store, tmp_path / "outbox.jsonl", outbox_settings or OutboxSettings())
    return LiveRuntime(site_of(tmp_path), fake, store, loop=asyncio.get_running_loop(),
                       outbox=outbox)


def originated(fake: FakeAri) -> list[str]:
    """The endpoints the runtime rang, in order."""
    return [r[1] for r in fake.requests if r[0] == "originate"]


def state(runtime: LiveRuntime, agent_id: str) -> AgentState:
    return runtime.center.agent_info(agent_id).state


def test_an_added_agent_can_log_in_and_take_a_call_at_once(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = runtime_on(tmp_path, fake)
        await runtime.start()
        with pytest.raises(LookupError, match='unknown agent "bob"'):
            runtime.agent_action("bob", "login")
        await runtime.site_admin.put("calendar", "office", {"hours": {"daily": "00:00-24:00"}})
        saving = await runtime.site_admin.put("agent", "bob", {
            "name": "Bob", "endpoint": "PJSIP/bob", "groups": ["support"]}, by="admin")
        assert await runtime.saved(saving) == (200, {"ok": True, "applied": True, "saved": True})
        runtime.agent_action("bob", "login")
        fake.new_call("c1")
        await settle_until(lambda: "qs-c1" in fake.bridges and len(fake.bridges["qs-c1"]) == 2)
        assert originated(fake)[-1] == "PJSIP/bob"
        assert state(runtime, "bob") is AgentState.BUSY
        assert runtime.status()["agents"][-1]["id"] == "bob"
        await runtime.close()
    asyncio.run(scenario())


def test_a_deactivated_agent_is_logged_out_when_their_call_is_over(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = runtime_on(tmp_path, fake)
        await runtime.start()
        await runtime.site_admin.put("calendar", "office", {"hours": {"daily": "00:00-24:00"}})
        runtime.agent_action("alice", "login")
        fake.new_call("c1")
        await settle_until(lambda: state(runtime, "alice") is AgentState.BUSY)
        await runtime.site_admin.remove("agent", "alice")        # deactivates
        assert runtime.site.agent("alice").active is False
        assert state(runtime, "alice") is AgentState.BUSY          # the call goes on
        fake.agent_hangs_up([r[2] for r in fake.requests if r[0] == "originate"][0])
        await settle_until(lambda: state(runtime, "alice") is AgentState.LOGGED_OUT)
        with pytest.raises(ValueError, match="deactivated"):
            runtime.agent_action("alice", "login")
        await settle_until(lambda: runtime.outbox.health()["unsaved"] == 0)
        assert {r.agent_id: r.logged_in for r in runtime.store.agents()} == {"alice": False}
        await runtime.close()
    asyncio.run(scenario())


def test_a_free_agent_is_logged_out_at_once_and_new_groups_reach_logged_in_agents(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = runtime_on(tmp_path, fake)
        await runtime.start()
        runtime.agent_action("alice", "login")
        await runtime.site_admin.put("agent", "alice", {"endpoint": "PJSIP/alice",
                                                        "groups": {"support": 0, "sales": 2},
                                                        "wrap_up": "7s"})
        info = runtime.center.agent_info("alice")
        assert dict(info.groups) == {"support": 0, "sales": 2}
        await runtime.site_admin.put("group", "support", {"wrap_up": "30s",
                                                          "service_level_threshold": "40s"})
        assert runtime.center.acd._groups["support"].config.wrap_up == 30
        await runtime.site_admin.put("agent", "alice", {"active": False})
        assert state(runtime, "alice") is AgentState.LOGGED_OUT
        await runtime.close()
    asyncio.run(scenario())


def test_a_changed_calendar_changes_what_the_next_call_sees(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = runtime_on(tmp_path, fake)
        await runtime.start()
        runtime.agent_action("alice", "login")
        fake.new_call("closed-call")
        await settle_until(lambda: ("hangup", "closed-call") in fake.requests)
        assert originated(fake) == []                       # closed: not queued
        await runtime.site_admin.put("calendar", "office", {"hours": {"daily": "00:00-24:00"},
                                                            "holidays": "none"})
        fake.new_call("open-call")
        await settle_until(lambda: originated(fake) == ["PJSIP/alice"])
        await runtime.close()
    asyncio.run(scenario())


def test_a_refused_change_changes_nothing(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = runtime_on(tmp_path, fake)
        await runtime.start()
        before = runtime.site
        with pytest.raises(SiteError, match='unknown group "nosuch"'):
            await runtime.site_admin.put("agent", "bob", {"groups": ["nosuch"]})
        with pytest.raises(ValueError, match='id "carol" is not the agent "bob"'):
            await runtime.site_admin.put("agent", "bob", {"id": "carol"})
        assert runtime.site is before and runtime.site_admin.changes == {}
        await settle_until(lambda: runtime.outbox.health()["unsaved"] == 0)
        assert stored_site_changes(runtime.store.engine) == []
        await runtime.close()
    asyncio.run(scenario())


def test_a_calendar_or_group_an_active_script_uses_cannot_be_removed(tmp_path):
    async def scenario():
        runtime = runtime_on(tmp_path, FakeAri())
        await runtime.start()
        with pytest.raises(SiteError) as refused:
            await runtime.site_admin.remove("calendar", "office")
        (problem,) = refused.value.problems
        assert problem.location.file.endswith("main.qs") and problem.location.line == 3
        assert 'the active script uses the calendar "office"' in problem.message
        assert "office" in runtime.site.calendars
        await runtime.site_admin.put("group", "vip", {})
        assert "vip" in [group["name"] for group in runtime.status()["groups"]]
        await runtime.site_admin.remove("group", "vip")       # no script names it
        assert "vip" not in runtime.site.groups
        # the status view and the wallboard no longer show it (nothing waits in it)
        assert "vip" not in [group["name"] for group in runtime.status()["groups"]]
        await runtime.close()
    asyncio.run(scenario())


def test_a_restart_restores_the_changes_even_those_made_while_the_database_was_down(tmp_path):
    class Down(Store):
        def apply(self, ops):
            raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("connection refused"))

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"

    async def first_run():
        runtime = runtime_on(tmp_path, FakeAri())
        await runtime.start()
        await runtime.saved(await runtime.site_admin.put("agent", "bob", {"groups": ["sales"]}))
        await runtime.close()

    async def run_while_down():
        runtime = runtime_on(tmp_path, FakeAri(), Down(url),
                             OutboxSettings(retry_first=0.05, retry_max=0.2))
        runtime.save_wait = 0.5
        await runtime.start()
        status, answer = await runtime.saved(
            await runtime.site_admin.put("calendar", "office", {"hours": {"daily": "00:00-24:00"}}))
        assert (status, answer["kept"]) == (202, "spooled")
        assert runtime.site.calendar("office").is_open(dt.datetime(2026, 12, 3, 3, 0))  # applied
        await runtime.close()

    async def after_restart():
        runtime = runtime_on(tmp_path, FakeAri())
        await runtime.start()
        assert runtime.site.agent("bob").groups == {"sales": 0}
        assert runtime.site.calendar("office").is_open(dt.datetime(2026, 12, 3, 3, 0))
        origins = {e["name"]: e["origin"] for e in runtime.site_admin.entries("calendar")}
        assert origins == {"office": "changed"}
        runtime.agent_action("bob", "login")
        await runtime.close()

    asyncio.run(first_run())
    asyncio.run(run_while_down())
    asyncio.run(after_restart())


def test_an_agent_deactivated_during_a_call_is_not_logged_in_again_by_a_restart(tmp_path):
    async def first_run():
        fake = FakeAri()
        runtime = runtime_on(tmp_path, fake)
        await runtime.start()
        await runtime.site_admin.put("calendar", "office", {"hours": {"daily": "00:00-24:00"}})
        runtime.agent_action("alice", "login")
        fake.new_call("c1")
        await settle_until(lambda: state(runtime, "alice") is AgentState.BUSY)
        await runtime.site_admin.remove("agent", "alice")
        await runtime.close()          # stopped before her call was over

    async def after_restart():
        runtime = runtime_on(tmp_path, FakeAri())
        await runtime.start()
        stored = {row.agent_id: row.logged_in for row in runtime.store.agents()}
        assert stored == {"alice": True}   # what was stored: logged in, leaving
        with pytest.raises(LookupError):   # ... but not logged in again
            runtime.center.agent_info("alice")
        await runtime.close()

    asyncio.run(first_run())
    asyncio.run(after_restart())


def test_a_stored_change_the_site_file_no_longer_accepts_is_skipped_at_start(tmp_path):
    async def scenario():
        store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
        store.apply([site_change_op(change("agent", "bob", {"id": "bob", "groups": ["gone"]})),
                     site_change_op(change("group", "vip", {}))])
        runtime = runtime_on(tmp_path, FakeAri(), store)
        await runtime.start()
        assert "vip" in runtime.site.groups and runtime.site.agent("bob") is None
        ((skipped, why),) = runtime.site_admin.skipped
        assert skipped.name == "bob" and 'unknown group "gone"' in why
        await runtime.close()
    asyncio.run(scenario())


# ------------------------------------------------------------------ the control API


@pytest.fixture
def server(tmp_path):
    with Server(tmp_path) as running:
        yield running


def api(server, method: str, path: str, body=None) -> httpx.Response:
    return httpx.request(method, server.url + path, json=body,
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def test_the_control_api_adds_changes_lists_and_removes_entries(server):
    answer = api(server, "PUT", "/site/agents/carol",
                 {"entry": {"name": "Carol", "endpoint": "PJSIP/carol", "groups": ["sales"]}})
    assert (answer.status_code, answer.json()["saved"]) == (200, True)
    assert api(server, "POST", "/agents/carol/login").status_code == 200
    listed = {e["name"]: e["origin"] for e in api(server, "GET", "/site/agents").json()}
    assert listed == {"alice": "file", "bob": "file", "carol": "added"}
    assert api(server, "GET", "/site/agents/carol").json()["entry"]["groups"] == ["sales"]
    assert api(server, "PUT", "/site/groups/vip", {"entry": {"wrap_up": "5s"}}).status_code == 200
    assert api(server, "DELETE", "/site/groups/vip").status_code == 200
    assert api(server, "GET", "/site/groups/vip").status_code == 400
    assert api(server, "DELETE", "/site/agents/carol").status_code == 200
    status = server.call(lambda: server.runtime.status())
    carol = next(a for a in status["agents"] if a["id"] == "carol")
    assert carol["state"] == "logged_out"


def test_the_control_api_refuses_a_bad_entry_with_the_readers_problems(server):
    answer = api(server, "PUT", "/site/groups/vip", {"entry": {"wrap_up": "ten seconds"}})
    assert answer.status_code == 422
    (problem,) = answer.json()["problems"]
    assert problem["message"] == 'groups.vip.wrap_up: "ten seconds" is not a duration'
    assert problem["where"].startswith("group vip (console change):")
    answer = api(server, "PUT", "/site/groups/vip", {"entry": ["not", "an", "object"]})
    assert answer.status_code == 400 and '"entry" must be an object' in answer.json()["error"]
    answer = api(server, "PUT", "/site/groups/vip", {"entry": {}, "extra": 1})
    assert answer.status_code == 400 and 'unknown field "extra"' in answer.json()["error"]
    assert api(server, "PUT", "/site/queues/vip", {"entry": {}}).status_code == 404
    assert api(server, "PUT", "/site/groups/a%20b", {"entry": {}}).status_code == 400
    assert api(server, "DELETE", "/site/calendars/nosuch").status_code == 400
