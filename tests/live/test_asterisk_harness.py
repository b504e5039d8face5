"""Smoke tests proving the live-test harness: a real Asterisk 22 answers ARI, Local channels and
SIP calls reach the Stasis app, the dialplan contexts behave as documented in
asterisk-etc/extensions.conf, and the harness can restart Asterisk with calls in flight.

Each test runs its async body under asyncio.run with a hard overall timeout; every event wait is
bounded too.  Leftover channels/bridges are removed by the conftest after each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest
import websockets

from tests.live.asterisk_harness import ensure_sipp

pytestmark = pytest.mark.asterisk

HERE = Path(__file__).resolve().parent
EVENT_TIMEOUT = 10.0
TEST_TIMEOUT = 60.0


def run(coro, timeout: float = TEST_TIMEOUT):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Events:
    """Collects every event of one ARI websocket; wait() returns the first matching one."""

    def __init__(self, ws):
        self.ws = ws
        self.seen: list[dict] = []
        self._cond = asyncio.Condition()
        self._task = asyncio.create_task(self._reader())

    async def _reader(self):
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                ev = json.loads(raw)
                async with self._cond:
                    self.seen.append(ev)
                    self._cond.notify_all()

    def mark(self) -> int:
        return len(self.seen)

    async def wait(self, etype: str, pred=lambda e: True, timeout: float = EVENT_TIMEOUT, start: int = 0) -> dict:
        deadline = time.monotonic() + timeout
        async with self._cond:
            while True:
                for ev in self.seen[start:]:
                    if ev.get("type") == etype and pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [f"{e.get('type')}:{e.get('channel', {}).get('id', '')}" for e in self.seen[start:]]
                    raise AssertionError(f"no {etype} event within {timeout}s; saw {seen}")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), left)

    def close(self):
        self._task.cancel()


def for_channel(cid: str):
    return lambda e: e.get("channel", {}).get("id") == cid


@contextlib.asynccontextmanager
async def ari_session(live, apps: str | None = None):
    """(http client on /ari, Events) with the app(s) registered before it yields."""
    apps = apps or live.app
    async with httpx.AsyncClient(base_url=live.ari_url, auth=live.auth, timeout=10) as http:
        async with websockets.connect(live.events_url(apps), open_timeout=10, close_timeout=2) as ws:
            events = Events(ws)
            try:
                # the app is registered just after the websocket handshake: wait until ARI knows it
                deadline = time.monotonic() + 5
                for app in apps.split(","):
                    while (await http.get(f"/applications/{app}")).status_code != 200:
                        assert time.monotonic() < deadline, f"app {app} not registered"
                        await asyncio.sleep(0.02)
                yield http, events
            finally:
                events.close()


def ids(tag: str) -> tuple[str, str]:
    u = uuid.uuid4().hex[:8]
    return f"{tag}1-{u}", f"{tag}2-{u}"


# --------------------------------------------------------------------------------------------


def test_ari_answers_with_asterisk_22(asterisk):
    r = httpx.get(f"{asterisk.ari_url}/asterisk/info", auth=asterisk.auth, timeout=5)
    assert r.status_code == 200
    version = r.json()["system"]["version"]
    assert version.startswith("22."), version
    st = asterisk.harness.status()
    assert st["running"] and st["ari"] and st["pid"], st
    # PJSIP is listening where SIPp will call it
    assert "127.0.0.1:5060" in asterisk.harness.cli("pjsip show transports")


def test_originated_local_channel_enters_stasis(asterisk):
    async def body():
        async with ari_session(asterisk) as (http, ev):
            c1, c2 = ids("orig")
            r = await http.post("/channels", params={
                "endpoint": "Local/s@qtest-in", "app": asterisk.app, "appArgs": "caller",
                "channelId": c1, "otherChannelId": c2, "formats": "ulaw"})
            assert r.status_code == 200, r.text
            e2 = await ev.wait("StasisStart", for_channel(c2))  # ;2 ran [qtest-in]
            assert e2["args"] == ["s"]
            assert e2["channel"]["state"] == "Up"
            e1 = await ev.wait("StasisStart", for_channel(c1))  # ;1 answered -> the app
            assert e1["args"] == ["caller"]
            assert (await http.delete(f"/channels/{c1}")).status_code == 204
            await ev.wait("StasisEnd", for_channel(c1))
            await ev.wait("StasisEnd", for_channel(c2))

    run(body())


def test_answer_play_hangup_round_trip(asterisk):
    async def body():
        async with ari_session(asterisk) as (http, ev):
            c1, c2 = ids("ring")
            r = await http.post("/channels", params={
                "endpoint": "Local/s@qtest-ring", "app": asterisk.app, "appArgs": "caller",
                "channelId": c1, "otherChannelId": c2, "formats": "ulaw"})
            assert r.status_code == 200, r.text
            e = await ev.wait("StasisStart", for_channel(c2))
            assert e["args"] == ["ring"]
            assert e["channel"]["state"] != "Up"  # [qtest-ring] leaves answering to the app

            assert (await http.post(f"/channels/{c2}/answer")).status_code == 204
            await ev.wait("ChannelStateChange", lambda e: e["channel"]["id"] == c2 and e["channel"]["state"] == "Up")
            await ev.wait("StasisStart", for_channel(c1))

            pb = f"pb-{c2}"
            r = await http.post(f"/channels/{c2}/play/{pb}", params={"media": "sound:beep"})
            assert r.status_code == 201, r.text
            await ev.wait("PlaybackStarted", lambda e: e["playback"]["id"] == pb)
            done = await ev.wait("PlaybackFinished", lambda e: e["playback"]["id"] == pb)
            assert done["playback"]["state"] == "done"

            assert (await http.delete(f"/channels/{c2}")).status_code == 204
            await ev.wait("StasisEnd", for_channel(c2))
            await ev.wait("StasisEnd", for_channel(c1))  # the Local pair goes down together
            assert (await http.get(f"/channels/{c2}")).status_code == 404

    run(body())


def test_queue_context_passes_dialled_number_and_app(asterisk):
    async def body():
        alt = "qtestalt"
        async with ari_session(asterisk, f"{asterisk.app},{alt}") as (http, ev):
            c1, c2 = ids("queue")
            r = await http.post("/channels", params={
                "endpoint": "Local/5551234@qtest-queue", "app": asterisk.app, "appArgs": "caller",
                "channelId": c1, "otherChannelId": c2, "formats": "ulaw"})
            assert r.status_code == 200, r.text
            e = await ev.wait("StasisStart", for_channel(c2))
            assert e["application"] == asterisk.app
            assert e["args"] == ["5551234"]
            assert e["channel"]["state"] != "Up"  # the runtime answers
            # QTEST_APP (set on the originated ;1, copied to ;2 by chan_local) picks the app
            d1, d2 = ids("queuealt")
            r = await http.post("/channels", params={
                "endpoint": "Local/+4930123@qtest-queue", "app": asterisk.app,
                "channelId": d1, "otherChannelId": d2, "formats": "ulaw"},
                json={"variables": {"QTEST_APP": alt}})
            assert r.status_code == 200, r.text
            e = await ev.wait("StasisStart", for_channel(d2))
            assert e["application"] == alt
            assert e["args"] == ["4930123"]
            for ch in (c2, d2):
                await http.delete(f"/channels/{ch}")
            for ch in (c2, d2):
                await ev.wait("StasisEnd", for_channel(ch))

    run(body())


async def _dial_agent(http, ev, app: str, agent: str, variables: dict, dial_timeout: int):
    """Create Local/<agent>@qtest-agent in the app, dial it; returns (;1 id, start time)."""
    g1, g2 = ids(agent)
    r = await http.post("/channels/create", params={
        "endpoint": f"Local/{agent}@qtest-agent", "app": app, "appArgs": "agent",
        "channelId": g1, "otherChannelId": g2, "formats": "ulaw"}, json={"variables": variables})
    assert r.status_code == 200, r.text
    # /channels/create returns before the channel is in the app: wait for its StasisStart
    await ev.wait("StasisStart", for_channel(g1))
    t0 = time.monotonic()
    r = await http.post(f"/channels/{g1}/dial", params={"timeout": dial_timeout})
    assert r.status_code == 204, r.text
    return g1, t0


def _dial_status(g1: str, status: str):
    return lambda e: e.get("peer", {}).get("id") == g1 and e.get("dialstatus") == status


def test_agent_context_answers_after_delay(asterisk):
    async def body():
        async with ari_session(asterisk) as (http, ev):
            g1, t0 = await _dial_agent(http, ev, asterisk.app, "agent7", {"AGENT_ANSWER_DELAY": "0.6"}, 10)
            await ev.wait("Dial", _dial_status(g1, "RINGING"))
            await ev.wait("Dial", _dial_status(g1, "ANSWER"))
            waited = time.monotonic() - t0
            assert 0.5 <= waited < 5, waited
            ch = (await http.get(f"/channels/{g1}")).json()
            assert ch["state"] == "Up"
            await http.delete(f"/channels/{g1}")
            await ev.wait("StasisEnd", for_channel(g1))

    run(body())


def test_agent_context_no_answer_busy_and_reject(asterisk):
    async def body():
        async with ari_session(asterisk) as (http, ev):
            g1, t0 = await _dial_agent(http, ev, asterisk.app, "agentna", {"AGENT_NOANSWER": "1"}, 1)
            await ev.wait("Dial", _dial_status(g1, "RINGING"))
            # the ARI dial timeout hangs the ringing channel up: there is NO final Dial event
            # with dialstatus NOANSWER/BUSY; the hangup cause tells what happened
            e = await ev.wait("ChannelDestroyed", for_channel(g1), timeout=5)
            # Usually 19 (user alerting, no answer); under load (the whole suite in CI)
            # Asterisk 22 was seen once to report 16 for the same dial timeout. Either
            # way the agent never answered, which is what the runtime relies on.
            assert e["cause"] in (19, 16), e
            assert time.monotonic() - t0 >= 0.9

            b1, _ = await _dial_agent(http, ev, asterisk.app, "agentbusy", {"AGENT_BUSY": "1"}, 10)
            e = await ev.wait("ChannelDestroyed", for_channel(b1))
            assert e["cause"] == 17, e  # user busy

            r1, t0 = await _dial_agent(http, ev, asterisk.app, "agentrej", {"AGENT_REJECT_AFTER": "0.5"}, 10)
            await ev.wait("Dial", _dial_status(r1, "RINGING"))
            e = await ev.wait("ChannelDestroyed", for_channel(r1))
            assert e["cause"] == 21, e  # call rejected
            assert time.monotonic() - t0 >= 0.4

    run(body())


def test_continue_in_dialplan_reaches_fallback(asterisk):
    async def body():
        async with ari_session(asterisk) as (http, ev):
            c1, c2 = ids("fb")
            await http.post("/channels", params={
                "endpoint": "Local/s@qtest-ring", "app": asterisk.app, "channelId": c1,
                "otherChannelId": c2, "formats": "ulaw"})
            await ev.wait("StasisStart", for_channel(c2))
            # stay subscribed to the channel after it leaves the app, to see its UserEvent
            r = await http.post(f"/applications/{asterisk.app}/subscription",
                                params={"eventSource": f"channel:{c2}"})
            assert r.status_code == 200, r.text
            r = await http.post(f"/channels/{c2}/continue",
                                params={"context": "qtest-fallback", "extension": "777", "priority": 1})
            assert r.status_code == 204, r.text
            await ev.wait("StasisEnd", for_channel(c2))
            ue = await ev.wait("ChannelUserevent", lambda e: e["eventname"] == "QTestFallback")
            assert ue["channel"]["id"] == c2
            assert ue["userevent"].get("exten") == "777", ue
            ch = (await http.get(f"/channels/{c2}")).json()
            assert ch["dialplan"]["context"] == "qtest-fallback", ch
            r = await http.get(f"/channels/{c2}/variable", params={"variable": "QTEST_FALLBACK"})
            assert r.status_code == 200 and r.json()["value"] == "1", r.text
            await http.delete(f"/channels/{c2}")

    run(body())


def _free_udp_port(even: bool = False) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not even or (port % 2 == 0 and port < 65000):
            return port
    raise RuntimeError("no free UDP port")


def test_sipp_call_reaches_stasis_over_pjsip(asterisk):
    sipp = ensure_sipp()  # installs Debian's sip-tester if missing; failure = test error

    async def body():
        async with ari_session(asterisk) as (http, ev):
            workdir = tempfile.mkdtemp(prefix="qscript-sipp-")
            cmd = [sipp, "-sf", str(HERE / "sipp" / "uac-dtmf.xml"), "-s", "s",
                   "-i", "127.0.0.1", "-p", str(_free_udp_port()),
                   "-mi", "127.0.0.1", "-mp", str(_free_udp_port(even=True)), "-m", "1", "-nostdin",
                   "-timeout", "30s", "-timeout_error", "-trace_err",
                   f"{asterisk.sip_host}:{asterisk.sip_port}"]
            proc = await asyncio.create_subprocess_exec(*cmd, cwd=workdir, stdin=subprocess.DEVNULL,
                                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                e = await ev.wait("StasisStart", lambda e: e["channel"]["name"].startswith("PJSIP/sipp-"))
                ch = e["channel"]["id"]
                assert e["args"] == ["s"]
                assert e["channel"]["state"] == "Up"

                pb = f"pb-{ch}"
                await http.post(f"/channels/{ch}/play/{pb}", params={"media": "sound:beep"})
                done = await ev.wait("PlaybackFinished", lambda e: e["playback"]["id"] == pb)
                assert done["playback"]["state"] == "done"

                # RFC 4733 DTMF "1" sent by SIPp from its pcap, ~2.5 s after the ACK
                d = await ev.wait("ChannelDtmfReceived", for_channel(ch))
                assert d["digit"] == "1"

                assert (await http.delete(f"/channels/{ch}")).status_code == 204
                # for a PJSIP channel StasisEnd is the terminal event the app can rely on
                await ev.wait("StasisEnd", for_channel(ch))
                rc = await asyncio.wait_for(proc.wait(), 15)  # SIPp answered the BYE and exited
                err = (await proc.stderr.read()).decode(errors="replace")
                assert rc == 0, f"sipp exit code {rc}: {err[-500:]}"
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                shutil.rmtree(workdir, ignore_errors=True)

    run(body())


def test_restart_with_call_in_flight_brings_ari_back(asterisk):
    """Runs last in this module: restart() hangs up everything and ARI comes back working."""
    h = asterisk.harness

    async def place_call(tag):
        async with ari_session(asterisk) as (http, ev):
            c1, c2 = ids(tag)
            r = await http.post("/channels", params={
                "endpoint": "Local/s@qtest-in", "app": asterisk.app, "channelId": c1,
                "otherChannelId": c2, "formats": "ulaw"})
            assert r.status_code == 200, r.text
            await ev.wait("StasisStart", for_channel(c2))
            await ev.wait("StasisStart", for_channel(c1))
            info = (await http.get("/asterisk/info")).json()
            return c1, info["status"]["startup_time"]

    c1, started = run(place_call("pre"))
    pid_before = h.pid()
    t0 = time.monotonic()
    h.restart()
    took = time.monotonic() - t0
    assert took < 30, took
    assert h.pid() not in (None, pid_before)
    r = httpx.get(f"{asterisk.ari_url}/asterisk/info", auth=asterisk.auth, timeout=5)
    assert r.status_code == 200
    assert r.json()["status"]["startup_time"] != started
    chans = httpx.get(f"{asterisk.ari_url}/channels", auth=asterisk.auth, timeout=5).json()
    assert chans == [], chans  # the call in flight did not survive the restart
    run(place_call("post"))  # a new websocket + call work after the restart
