"""Unit tests of the asyncari ARI adapter that need no Asterisk: JSON -> AriEvent mapping,
malformed events, password scrubbing, the HTTP client's recovery, the reconnect schedule,
asyncari's class caches, the reader and the consumer.  The live tests are in
tests/live/test_ari_adapter.py."""

from __future__ import annotations

import asyncio
import json
import logging
import types

import anyio
import httpx
import pytest
from hypothesis import given, settings, strategies as st
from wsproto.events import CloseConnection, Ping, TextMessage

from runtime.live.ari import asyncari_adapter as aa
from runtime.live.ari import secrets as secrets_module
from runtime.live.ari.asyncari_adapter import AsyncariAdapter, Backoff, _pump, clear_asyncari_model_caches
from runtime.live.ari.events import event_from_json, parse_event
from runtime.live.ari.http import _PooledHttpClient
from runtime.live.ari.port import AriConfig, AriError, AriEvent

PASSWORD = "Zebra/Quokka:7731 ü&"   # distinctive, and changed by every kind of quoting
USER = "qscript-unit"


def chan(cid="c1", state="Up", number="5551234", name="Alice", exten="5000"):
    return {"id": cid, "name": f"Local/{exten}@qtest-queue-00000001;1", "state": state,
            "caller": {"name": name, "number": number}, "connected": {"name": "", "number": ""},
            "dialplan": {"context": "qtest-queue", "exten": exten, "priority": 2}}


# ------------------------------------------------------------------------------ mapping
def test_stasis_start_maps_channel_fields_and_args():
    ev = event_from_json({"type": "StasisStart", "args": ["5000", "x"], "channel": chan(),
                          "application": "qtest"}, received_at=12.5)
    assert ev == AriEvent("StasisStart", "c1", ("5000", "x"), caller="5551234", caller_name="Alice",
                          dialled="5000", channel_name="Local/5000@qtest-queue-00000001;1",
                          state="Up")
    assert ev.received_at == 12.5 and ev.raw["application"] == "qtest"


def test_stasis_start_without_args_and_caller():
    c = chan()
    del c["caller"], c["dialplan"]
    ev = event_from_json({"type": "StasisStart", "channel": c})
    assert ev.args == () and ev.caller == "" and ev.dialled == ""


def test_dtmf_playback_recording_destroyed():
    assert event_from_json({"type": "ChannelDtmfReceived", "digit": "#", "duration_ms": 100,
                            "channel": chan()}).digit == "#"
    pb = event_from_json({"type": "PlaybackFinished", "playback": {
        "id": "pb1", "media_uri": "sound:beep", "target_uri": "channel:c7", "state": "done"}})
    assert (pb.kind, pb.playback_id, pb.channel_id, pb.bridge_id) == ("PlaybackFinished", "pb1", "c7", "")
    pb = event_from_json({"type": "PlaybackStarted", "playback": {"id": "pb2", "target_uri": "bridge:b1"}})
    assert (pb.channel_id, pb.bridge_id) == (None, "b1")
    rec = event_from_json({"type": "RecordingFinished", "recording": {
        "name": "msg1", "format": "wav", "state": "done", "target_uri": "channel:c1",
        "duration": 3, "talking_duration": 2}})
    assert (rec.recording, rec.duration, rec.channel_id) == ("msg1", 3.0, "c1")
    failed = event_from_json({"type": "RecordingFailed", "recording": {"name": "msg2", "cause": "x"}})
    assert (failed.recording, failed.duration, failed.channel_id) == ("msg2", 0.0, None)
    gone = event_from_json({"type": "ChannelDestroyed", "cause": 17, "cause_txt": "User busy",
                            "channel": chan()})
    assert gone.cause == 17
    assert event_from_json({"type": "ChannelHangupRequest", "channel": chan()}).cause == 0
    # a ChannelDestroyed without its cause still says the channel is gone
    assert event_from_json({"type": "ChannelDestroyed", "channel": chan()}).cause == 0


def test_bridge_dial_state_and_port_independent_kinds():
    ev = event_from_json({"type": "ChannelEnteredBridge", "bridge": {"id": "b1"}, "channel": chan()})
    assert (ev.bridge_id, ev.channel_id) == ("b1", "c1")
    dial = event_from_json({"type": "Dial", "dialstatus": "ANSWER", "peer": chan("agent1"),
                            "caller": chan("c1")})
    assert dial.channel_id == "agent1"  # the dialled channel is the subject
    st_ = event_from_json({"type": "ChannelStateChange", "channel": chan(state="Ringing")})
    assert st_.state == "Ringing"
    dev = event_from_json({"type": "DeviceStateChanged",
                           "device_state": {"name": "Stasis:x", "state": "BUSY"}})
    assert dev.kind == "DeviceStateChanged" and dev.channel_id is None
    assert event_from_json({"type": "ChannelVarset", "variable": "G", "value": "1"}).channel_id is None


@pytest.mark.parametrize("payload, why", [
    ("{not json", "not JSON"),
    (b"\xff\xfe\x00", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"channel": {}}', "no type"),
    ('{"type": 42}', "no type"),
    ('{"type": "NoSuchEvent", "channel": {"id": "c1"}}', "unknown event type"),
    ('{"type": "StasisStart", "args": []}', "channel missing"),
    ('{"type": "StasisStart", "channel": "c1"}', "channel missing"),
    ('{"type": "StasisStart", "channel": {"name": "x"}}', "channel.id missing"),
    ('{"type": "StasisStart", "channel": {"id": 5}}', "channel.id missing"),
    ('{"type": "StasisStart", "channel": {"id": "c1"}, "args": "5000"}', "args is not a list"),
    ('{"type": "ChannelDtmfReceived", "channel": {"id": "c1"}}', "digit missing"),
    ('{"type": "PlaybackFinished"}', "playback missing"),
    ('{"type": "PlaybackFinished", "playback": {"id": ""}}', "playback.id missing"),
    ('{"type": "RecordingFinished", "recording": {"format": "wav"}}', "recording.name missing"),
    ('{"type": "ChannelEnteredBridge", "channel": {"id": "c1"}}', "bridge missing"),
    ('{"type": "Dial", "caller": {"id": "c1"}}', "peer.id missing"),
    ('{"type": "ChannelVarset", "channel": [1]}', "channel is not an object"),
])
def test_malformed_events_are_skipped_with_a_warning(payload, why, caplog):
    caplog.set_level(logging.WARNING, logger=aa.__name__)
    assert parse_event(payload) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert why in warnings[0].getMessage()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(aa.KNOWN_EVENT_TYPES) + ["Bogus"])},
    optional={k: json_values for k in ("channel", "args", "digit", "playback", "recording",
                                       "bridge", "peer", "cause")})


@settings(max_examples=300, deadline=None)
@given(st.one_of(event_like, json_values))
def test_mapping_never_raises(msg):
    logging.getLogger(aa.__name__).disabled = True
    try:
        ev = event_from_json(msg)
        assert ev is None or isinstance(ev, AriEvent)
        assert parse_event(json.dumps(msg)) == ev
    finally:
        logging.getLogger(aa.__name__).disabled = False


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | st.binary(max_size=40))
def test_parse_never_raises_on_garbage(data):
    logging.getLogger(aa.__name__).disabled = True
    try:
        assert parse_event(data) is None or isinstance(parse_event(data), AriEvent)
    finally:
        logging.getLogger(aa.__name__).disabled = False


def test_stock_asyncari_dies_on_device_state_event():
    """Canary for defect 1: asyncari 0.20.6's EventMessage cannot build a DeviceState.
    (If this starts failing after an upgrade, the defect is fixed upstream.)"""
    from asyncari.client import EventMessage
    from asyncari.model import CLASS_MAP
    fake = types.SimpleNamespace(
        event_models={"DeviceStateChanged": {"properties": {"device_state": {"type": "DeviceState"}}}},
        class_map=dict(CLASS_MAP), swagger=types.SimpleNamespace())
    with pytest.raises(RuntimeError, match="override .api"):
        EventMessage(fake, {"type": "DeviceStateChanged", "device_state": {"name": "Stasis:x", "state": "BUSY"}})
    clear_asyncari_model_caches()


# ------------------------------------------------------------------------------ scrubbing
def _scrubber():
    s = secrets_module._SecretScrubber()
    s.add(USER, PASSWORD)
    return s


@pytest.mark.parametrize("leak", [
    PASSWORD,
    f"{USER}:{PASSWORD}",
    "api_key=" + __import__("urllib.parse").parse.quote(f"{USER}:{PASSWORD}", safe=""),
    "api_key=" + __import__("urllib.parse").parse.quote_plus(f"{USER}:{PASSWORD}"),
    "Authorization: Basic " + __import__("base64").b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    json.dumps({"password": PASSWORD}),
    repr({"password": PASSWORD}),
])
def test_scrubber_masks_every_spelling(leak):
    out = _scrubber()(f"GET http://h/ari/x?{leak}&y=1 failed")
    assert PASSWORD not in out and "Quokka" not in out, out
    assert "***" in out


def test_config_and_adapter_repr_hide_the_password():
    cfg = AriConfig("http://127.0.0.1:1", USER, PASSWORD, "qtest")
    adapter = AsyncariAdapter(cfg)
    assert "Quokka" not in repr(cfg) and "Quokka" not in repr(adapter) and "Quokka" not in str(cfg)


def _mock_http(handler) -> _PooledHttpClient:
    return _PooledHttpClient(USER, PASSWORD, pool_size=4, timeout=2,
                             transport=httpx.MockTransport(handler))


def test_errors_and_logs_never_contain_the_password(caplog):
    """HTTP errors whose body, URL or transport error text carry the password."""
    caplog.set_level(logging.DEBUG)
    AsyncariAdapter(AriConfig("http://127.0.0.1:1", USER, PASSWORD))  # registers the secret

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Basic ")   # never in the URL
        assert "Quokka" not in str(request.url)
        if request.url.path.endswith("/boom"):
            raise httpx.ConnectError(f"cannot reach {request.url}?api_key={USER}:{PASSWORD}")
        return httpx.Response(404, json={"message": f"Channel {PASSWORD} not found"})

    async def body():
        http = _mock_http(handler)
        errors = []
        for path in ("/ari/channels/x/answer", "/ari/boom"):
            with pytest.raises(AriError) as info:
                await http.request("POST", "http://127.0.0.1:8088" + path, params={"a": "b"})
            errors.append(info.value)
        await http.close()
        return errors

    not_found, no_answer = asyncio.run(body())
    assert not_found.status == 404 and not_found.not_found
    assert no_answer.status == 0 and not no_answer.not_found
    aa.log.warning("logged: %s / %r", PASSWORD, {"k": PASSWORD})
    logging.getLogger("httpx").info("HTTP Request: GET http://h/?api_key=%s:%s", USER, PASSWORD)
    try:
        raise RuntimeError(f"traceback text {PASSWORD}")
    except RuntimeError:
        aa.log.exception("with a traceback")
    for err in (not_found, no_answer):
        assert "Quokka" not in str(err) and "Quokka" not in repr(err)
    assert "Quokka" not in caplog.text
    for record in caplog.records:
        assert "Quokka" not in record.getMessage()
    assert "***" in caplog.text


# ------------------------------------------------------------------------------ HTTP client
def test_http_client_recovers_after_a_connection_error():
    calls = {"n": 0}

    def handler(request):
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, json=[])

    async def body():
        http = _mock_http(handler)
        first = http.session
        with pytest.raises(AriError) as info:
            await http.request("GET", "http://127.0.0.1:8088/ari/channels")
        assert info.value.status == 0
        assert http.session is not first and http.sessions_created == 2
        ok = await http.request("GET", "http://127.0.0.1:8088/ari/channels")
        assert ok.json() == []
        await http.close()

    asyncio.run(body())


def test_stock_asyncswagger_client_is_poisoned_by_one_error():
    """Canary for defect 4: after one transport error asyncswagger11 closes its httpx client
    and every later request fails."""
    from asyncswagger11.http_client import AsynchronousHttpClient
    calls = {"n": 0}

    def handler(request):
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, json=[])

    async def body():
        stock = AsynchronousHttpClient()
        await stock.session.aclose()
        stock.session = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        with pytest.raises(RuntimeError, match="closed"):
            await stock.request("GET", "http://127.0.0.1:8088/ari/channels")
        with pytest.raises(RuntimeError, match="closed"):
            await stock.request("GET", "http://127.0.0.1:8088/ari/channels")

    asyncio.run(body())


def test_pool_is_raised():
    async def check():
        http = _PooledHttpClient(USER, PASSWORD)
        client = http.session._client()  # the production (aiohttp) session
        assert client.connector.limit == 32
        await http.close()
    asyncio.run(check())


# ------------------------------------------------------------------------------ backoff
def test_backoff_schedule_is_exponential_capped_and_jittered():
    b = Backoff(base=0.25, factor=2, cap=10, jitter=0.25)
    assert b.schedule(8, rng=lambda: 0.0) == [0.25, 0.5, 1, 2, 4, 8, 10, 10]
    assert b.schedule(3, rng=lambda: 1.0) == [0.1875, 0.375, 0.75]
    delays = b.schedule(200)
    assert all(0.75 * min(10, 0.25 * 2 ** i) <= d <= min(10, 0.25 * 2 ** i)
               for i, d in enumerate(delays))
    assert len(set(b.schedule(20))) > 10  # jittered
    assert b.delay(10_000) <= 10  # no overflow after days of retrying


# ------------------------------------------------------------------------------ asyncari caches
def test_clearing_asyncari_caches_lets_a_new_client_reuse_ids():
    from asyncari.model import Channel

    def fake_client():
        return types.SimpleNamespace(swagger=types.SimpleNamespace(channels=object()))

    clear_asyncari_model_caches()
    old, new = fake_client(), fake_client()
    ch = Channel(old, id="c1")
    Channel.active.add(ch)
    with pytest.raises(AssertionError):  # the stale object of the old client comes back
        Channel(new, id="c1")
    clear_asyncari_model_caches()
    assert Channel(new, id="c1").client is new
    assert not Channel.active
    clear_asyncari_model_caches()


# ------------------------------------------------------------------------------ reader, consumer
class FakeWs:
    def __init__(self, items, end=None):
        self.items, self.end, self.sent = items, end, []

    async def __aiter__(self):
        for item in self.items:
            yield item
        if self.end is not None:
            raise self.end


def test_pump_passes_frames_unparsed_and_survives_the_end():
    async def body():
        frames = []
        ws = FakeWs([TextMessage("not json"), TextMessage('{"type": "StasisEnd"}')],
                    end=anyio.EndOfStream())
        reason = await _pump(ws, lambda data, t: frames.append(data))
        assert frames == ["not json", '{"type": "StasisEnd"}']
        assert reason == "connection closed by Asterisk"
        reason = await _pump(FakeWs([CloseConnection(1000, "bye")]), frames.append)
        assert "closed by Asterisk (1000)" in reason
        reason = await _pump(FakeWs([], end=anyio.BrokenResourceError()), frames.append)
        assert reason.startswith("websocket error (BrokenResourceError")

    asyncio.run(body())


def test_pump_answers_pings():
    async def body():
        ws = FakeWs([Ping(b"x")])
        sent = []

        async def fake_send(w, event):
            sent.append(event)

        real, aa._ws_send = aa._ws_send, fake_send
        try:
            await _pump(ws, lambda *a: None)
        finally:
            aa._ws_send = real
        assert sent and sent[0].payload == b"x"

    asyncio.run(body())


def _frame(kind, cid, **extra):
    return json.dumps({"type": kind, "channel": chan(cid), **extra})


def test_consumer_delivers_in_order_skips_bad_events_and_survives_handler_errors(caplog):
    caplog.set_level(logging.WARNING, logger=aa.__name__)

    async def body():
        adapter = AsyncariAdapter(AriConfig(password=PASSWORD), slow_handler=0.05)
        adapter._queue = asyncio.Queue()
        seen = []

        async def handler(ev):
            seen.append(ev.channel_id)
            if ev.channel_id == "c2":
                raise ValueError("handler bug")
            if ev.channel_id == "c3":
                await asyncio.sleep(0.1)  # slow: later events wait, nothing breaks

        adapter._on_event = handler
        consumer = asyncio.create_task(adapter._consume())
        for i, data in enumerate([_frame("StasisStart", "c1"), "{bad", _frame("StasisStart", "c2"),
                                  _frame("StasisStart", "c3"), '{"type": "Nope"}',
                                  _frame("StasisEnd", "c4")]):
            adapter._on_frame(data, float(i))
        for _ in range(100):
            if len(seen) == 4:
                break
            await asyncio.sleep(0.01)
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await adapter._http.close()
        return seen, adapter.stats

    seen, stats = asyncio.run(body())
    assert seen == ["c1", "c2", "c3", "c4"]
    assert stats["skipped"] == 2 and stats["handler_errors"] == 1 and stats["events"] == 4
    text = caplog.text
    assert "handler bug" in text and "on_event took" in text


def test_arguments_with_commas_are_refused():
    async def body():
        adapter = AsyncariAdapter(AriConfig(password=PASSWORD))
        with pytest.raises(ValueError):
            await adapter.play("c1", ["sound:a,b"], "p1")
        with pytest.raises(ValueError):
            await adapter.originate("Local/1@x", "c1", ["a,b"], 10)
        with pytest.raises(AriError) as info:  # not connected yet: status 0
            await adapter.answer("c1")
        assert info.value.status == 0
        await adapter.close()

    asyncio.run(body())


def test_session_client_closes_cleanly_before_it_was_initialised():
    """asyncari's Client.__getattr__ recurses forever when _init() has not run; closing a
    client whose Swagger load failed must not trip over that."""
    async def body():
        http = _PooledHttpClient(USER, PASSWORD)
        client = aa._SessionClient(None, "http://127.0.0.1:1/", "qtest", http)
        await client.close()
        await http.close()

    asyncio.run(body())
