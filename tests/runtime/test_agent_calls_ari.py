"""An agent's transfer, requeue and callback list on the live runtime, against the ARI fake,
and through the control API (GET /agents/{id}, POST /agents/{id}/transfer|requeue|take-callback).

The same operations run on the simulator in test_agent_calls.py; here we check
what the ARI driver asks of Asterisk: the released agent's leg is hung up, the
caller leaves the bridge and hears music on hold until the next agent is bridged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from runtime.live.control import build_app
from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store.database import Store

from fake_ari import FakeAri

SCRIPT = """inbound:
    answer
    collect customer_no prompt "enter-number" digits 4 timeout 1s
    queue to "support"
"""

SITE = """site: Agent calls
languages: [en]
groups:
  support: {wrap_up: 1s}
  sales: {}
agents:
  - {id: alice, name: Alice Smith, endpoint: PJSIP/alice, groups: [support]}
  - {id: bob, name: Bob, endpoint: PJSIP/bob, groups: [support]}
prompts:
  enter-number: en/enter-number
numbers:
  default: test.qs
"""
TOKEN = "token-for-agent-call-tests"


def make_runtime(tmp_path: Path, fake: FakeAri) -> LiveRuntime:
    (tmp_path / "test.qs").write_text(SCRIPT)
    site = load_site_text(SITE, "site.yaml", tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    return LiveRuntime(site, fake, store, loop=asyncio.get_running_loop())


async def until(condition, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def agent_channels(fake: FakeAri, endpoint: str) -> list[str]:
    return [r[2] for r in fake.requests if r[0] == "originate" and r[1] == endpoint]


async def answered_by_alice(runtime: LiveRuntime, fake: FakeAri, call: str = "c1") -> str:
    """A call that keys in 4711 and is answered by alice (bob paused): alice's channel."""
    runtime.agent_action("alice", "login")
    runtime.agent_action("bob", "login")
    runtime.agent_action("bob", "pause", reason="meeting")
    fake.new_call(call, caller="+4670111")
    await asyncio.sleep(0.05)
    fake.press(call, "4711")
    await until(lambda: runtime.center.agent_info("alice").state.name == "BUSY")
    await until(lambda: call in fake.bridges.get(f"qs-{call}", []))
    return agent_channels(fake, "PJSIP/alice")[0]


def test_a_requeued_call_hears_music_then_another_agent_is_bridged_with_it(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        alice_channel = await answered_by_alice(runtime, fake)
        mark = len(fake.requests)
        runtime.requeue_agent_call("alice")
        await until(lambda: ("start_moh", "c1") in fake.requests[mark:])
        after = fake.requests[mark:]
        assert ("hangup", alice_channel) in after
        # out of the bridge before the music starts; an empty bridge is ready again
        assert after.index(("destroy_bridge", "qs-c1")) < after.index(("start_moh", "c1"))
        assert ("create_bridge", "qs-c1") in after
        assert runtime.center.session_for("c1").state.value == "queued"
        assert runtime.center.agent_info("alice").state.name == "WRAP_UP"
        runtime.agent_action("bob", "ready")
        await until(lambda: agent_channels(fake, "PJSIP/bob"))
        bob_channel = agent_channels(fake, "PJSIP/bob")[0]
        await until(lambda: fake.bridges.get("qs-c1") == ["c1", bob_channel])
        assert ("stop_moh", "c1") in fake.requests[mark:]
        assert runtime.center.agent_info("bob").call_id == "c1"
        view = runtime.agent_view("bob")
        assert view["call"]["caller"] == "+4670111" and view["call"]["digits"] == "4711"
        # alice's hang-up (her channel ended) did not end the call bob is on
        await asyncio.sleep(0.1)
        assert runtime.center.session_for("c1").agent == "bob"
        await until(lambda: runtime.center.agent_info("alice").state.name == "READY")  # wrap-up 1 s
        await runtime.close()
    asyncio.run(scenario())


def test_an_agent_who_requeues_while_being_bridged_is_hung_up_only_after_it(tmp_path):
    async def scenario():
        fake = FakeAri()
        fake.bridge_seconds = 0.3   # Asterisk is slow to bridge
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        runtime.agent_action("alice", "login")
        fake.new_call("c1")
        await asyncio.sleep(0.05)
        fake.press("c1", "4711")
        await until(lambda: runtime.center.agent_info("alice").state.name == "BUSY")
        alice_channel = agent_channels(fake, "PJSIP/alice")[0]
        mark = len(fake.requests)
        runtime.requeue_agent_call("alice")   # while the bridge request is under way
        await until(lambda: ("start_moh", "c1") in fake.requests[mark:])
        kinds = [r[:2] for r in fake.requests]
        assert kinds.index(("add_to_bridge", "qs-c1")) < kinds.index(("hangup", alice_channel))
        session = runtime.center.session_for("c1")
        assert session.state.value == "queued" and session.record.error is None
        await runtime.close()
    asyncio.run(scenario())


def test_a_transfer_to_a_number_continues_the_caller_in_the_dialplan(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        alice_channel = await answered_by_alice(runtime, fake)
        answer = runtime.transfer_agent_call("alice", number="0859000000")
        assert answer == {"ok": True, "call_id": "c1", "to": {"number": "0859000000"}}
        await until(lambda: ("continue", "c1", "default", "0859000000") in fake.requests)
        assert ("hangup", alice_channel) in fake.requests
        assert ("hangup", "c1") not in fake.requests   # the caller goes on, to the number
        assert runtime.center.session_for("c1") is None
        await until(lambda: runtime.store.calls())
        row = runtime.store.calls()[0]
        assert (row.outcome, row.agent) == ("transferred", "alice")
        await runtime.close()
    asyncio.run(scenario())


def test_a_transfer_to_another_agent_rings_them_with_the_caller_on_hold(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        await answered_by_alice(runtime, fake)
        runtime.transfer_agent_call("alice", agent="bob")   # bob is paused: the call waits
        await until(lambda: ("start_moh", "c1") in fake.requests)
        assert runtime.agent_view("alice")["call"] is None
        runtime.agent_action("bob", "ready")
        await until(lambda: runtime.center.agent_info("bob").state.name == "BUSY")
        bob_channel = agent_channels(fake, "PJSIP/bob")[0]
        await until(lambda: fake.bridges.get("qs-c1") == ["c1", bob_channel])
        await runtime.close()
    asyncio.run(scenario())


def test_the_control_api_shows_the_agent_and_passes_their_call_on(tmp_path):
    async def scenario():
        fake = FakeAri()
        runtime = make_runtime(tmp_path, fake)
        await runtime.start()
        client = TestClient(TestServer(build_app(runtime, TOKEN)))
        await client.start_server()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            alice_channel = await answered_by_alice(runtime, fake)
            answer = await client.get("/agents/alice", headers=headers)
            view = await answer.json()
            assert answer.status == 200
            assert (view["name"], view["state"], view["call"]["caller"],
                    view["call"]["digits"]) == ("Alice Smith", "busy", "+4670111", "4711")
            refused = {
                "/agents/alice/transfer": ({"number": "12; rm"}, 400, '"number" must be a number'),
                "/agents/bob/requeue": ({}, 409, 'agent "bob" is not on a call'),
                "/agents/alice/requeue": ({"group": "nosuch"}, 400,
                                          'unknown answer group "nosuch"'),
                "/agents/alice/take-callback": ({}, 400, 'needs "call_id"'),
                "/agents/zed/transfer": ({"number": "1"}, 400, 'unknown agent "zed"'),
            }
            for path, (body, status, message) in refused.items():
                answer = await client.post(path, json=body, headers=headers)
                assert (answer.status, path) == (status, path)
                assert message in (await answer.json())["error"]
            transfer = await client.post("/agents/alice/transfer", json={"number": "2000"},
                                         headers=headers)
            assert transfer.status == 200 and (await transfer.json())["call_id"] == "c1"
            await until(lambda: ("hangup", alice_channel) in fake.requests)
            view = await (await client.get("/agents/alice", headers=headers)).json()
            assert view["call"] is None and view["state"] in ("wrap_up", "ready")
        finally:
            await client.close()
            await runtime.close()
    asyncio.run(scenario())


@pytest.mark.parametrize("number", ["+46701234567", "0859000000", "*21#"])
def test_numbers_an_agent_may_transfer_to(number):
    from runtime.live.control_bodies import check_body
    assert check_body("agent transfer", {"number": number})["number"] == number


@pytest.mark.parametrize("number", ["", "+", "12a", "1" * 41, "12 34", "٣٣"])
def test_numbers_an_agent_may_not_transfer_to(number):
    from runtime.live.control_bodies import BadBody, check_body
    with pytest.raises(BadBody, match='"number" must be a number to dial'):
        check_body("agent transfer", {"number": number})
