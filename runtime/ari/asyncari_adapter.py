"""The ARI port implemented with asyncari, supervised and hardened.

What is used of asyncari (0.20.6) and its companions
----------------------------------------------------
* ``asyncari.client.Client`` loads Asterisk's own Swagger description
  (``/ari/api-docs``) through ``asyncswagger11``; every REST call goes through the
  resulting ``asyncswagger11`` operations (``client.swagger.channels.answer(...)``), so
  parameter names are checked against the Asterisk we talk to.
* The event websocket is opened by the same Swagger operation
  (``events.eventWebsocket``) over ``asyncwebsockets``.
* The HTTP client is asyncari's pluggable ``HttpClient`` interface, implemented here
  (:class:`_PooledHttpClient`).

What is replaced, and why (see docs/design.md, "The ARI adapter")
------------------------------------------------------------------
1. asyncari's event dispatch (``Client._run`` / ``process_ws`` / ``EventMessage``) builds
   model objects for every event.  ``DeviceState``, ``Sound`` and ``Mailbox`` set
   ``endpoint =`` instead of ``api =``, so a ``DeviceStateChanged`` event raises
   ``RuntimeError("You need to override .api")`` in the reader and kills the client; an
   unknown event type raises ``AttributeError``, a missing id ``KeyError``, bad JSON
   ``JSONDecodeError``, and a few ``assert``\\ s sit in the dispatch path.  Our reader
   (:func:`_pump`) does nothing but put the raw text and its arrival time on an
   ``asyncio.Queue``; a consumer task parses it (:func:`parse_event`) and calls
   ``on_event``.  asyncari's model classes are never instantiated from events.
2. asyncari's watchdog fails the client when a listener holds an event for more than
   about 1.5 s.  The reader never waits for the consumer, so a slow ``on_event`` only
   delays later events; it cannot break the connection.
3. asyncari does not reconnect, and its reader dies on ``anyio.EndOfStream`` when
   Asterisk goes away.  :meth:`AsyncariAdapter._supervise` runs one connection at a
   time, detects its end (EOF, reset, websocket close, no pong to our pings), emits
   ``PortDisconnected``, reconnects with capped, jittered exponential backoff
   (:class:`Backoff`), builds a fresh ``Client`` (after clearing the class-level
   ``cache``/``active`` of asyncari's model classes) and emits ``PortConnected``.
4. ``asyncswagger11``'s HTTP client closes its ``httpx.AsyncClient`` after any
   transport error and retries on the closed client, so one connection error poisons
   it for good.  :class:`_PooledHttpClient` replaces the ``httpx`` client instead and
   raises :class:`AriError` with status 0.
5. asyncari authenticates with ``?api_key=user:password``, so the password appears in
   every URL, in ``httpx``'s exception texts and its INFO log lines.  We use HTTP Basic
   auth in a header (REST and the websocket upgrade), and every message we build or that
   the libraries involved log is scrubbed (:class:`_SecretScrubber`).
6. The HTTP pool is raised from 3 connections (1 kept alive) to ``pool_size`` (32).

Threading model: everything runs on the caller's asyncio loop (anyio's asyncio
backend for the asyncari parts).  ``on_event`` is called from the adapter's own
consumer task, in order, one at a time; if it returns an awaitable, it is awaited
before the next event is delivered.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import logging
import math
import random
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

import anyio
import aiohttp
import httpx
from asyncari.client import Client as _AsyncariClient
from asyncari import model as _asyncari_model
from asyncswagger11.http_client import HttpClient as _SwaggerHttpClient
from asyncwebsockets import create_websocket
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from runtime.ari.port import AriConfig, AriError, AriEvent, AriPort, EventHandler

log = logging.getLogger(__name__)

PORT_CONNECTED = "PortConnected"
PORT_DISCONNECTED = "PortDisconnected"

#: Every event type of Asterisk 22's ARI (api-docs/events.json, subtypes of Event).
#: Anything else is logged and skipped.
KNOWN_EVENT_TYPES = frozenset({
    "ApplicationMoveFailed", "ApplicationRegistered", "ApplicationReplaced",
    "ApplicationUnregistered", "BridgeAttendedTransfer", "BridgeBlindTransfer",
    "BridgeCreated", "BridgeDestroyed", "BridgeMerged", "BridgeVideoSourceChanged",
    "CallBroadcast", "CallClaimed", "ChannelCallerId", "ChannelConnectedLine",
    "ChannelCreated", "ChannelDestroyed", "ChannelDialplan", "ChannelDtmfReceived",
    "ChannelEnteredBridge", "ChannelHangupRequest", "ChannelHold", "ChannelLeftBridge",
    "ChannelStateChange", "ChannelTalkingFinished", "ChannelTalkingStarted",
    "ChannelToneDetected", "ChannelTransfer", "ChannelUnhold", "ChannelUserevent",
    "ChannelVarset", "ContactStatusChange", "DeviceStateChanged", "Dial",
    "EndpointStateChange", "PeerStatusChange", "PlaybackContinuing", "PlaybackFinished",
    "PlaybackStarted", "RESTResponse", "RecordingFailed", "RecordingFinished",
    "RecordingStarted", "StasisEnd", "StasisStart", "TextMessageReceived",
})

#: Event types that mean nothing without ``channel.id``.
_NEEDS_CHANNEL = frozenset({
    "StasisStart", "StasisEnd", "ChannelCreated", "ChannelDestroyed", "ChannelDtmfReceived",
    "ChannelStateChange", "ChannelHangupRequest", "ChannelDialplan", "ChannelCallerId",
    "ChannelConnectedLine", "ChannelHold", "ChannelUnhold", "ChannelTalkingStarted",
    "ChannelTalkingFinished", "ChannelToneDetected", "ChannelEnteredBridge",
    "ChannelLeftBridge",
})
_NEEDS_BRIDGE = frozenset({
    "ChannelEnteredBridge", "ChannelLeftBridge", "BridgeCreated", "BridgeDestroyed",
    "BridgeMerged",
})
_PLAYBACK = frozenset({"PlaybackStarted", "PlaybackContinuing", "PlaybackFinished"})
_RECORDING = frozenset({"RecordingStarted", "RecordingFinished", "RecordingFailed"})


# ============================================================================ secrets
class _SecretScrubber:
    """Replaces every known secret, in every spelling a library may use, by ``***``.

    Spellings: plain, URL-quoted (``%3A``, ``+``), ``user:password`` and its base64
    (a Basic auth header), JSON- and repr-escaped.  One process-wide instance
    (:data:`_SECRETS`) is shared by all adapters and the logging filter.
    """

    MASK = "***"

    def __init__(self) -> None:
        self._variants: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, user: str, password: str) -> None:
        if not password:
            return
        pair = f"{user}:{password}"
        variants = set()
        for s in (password, pair):
            variants |= {s, urllib.parse.quote(s), urllib.parse.quote(s, safe=""),
                         urllib.parse.quote_plus(s), json.dumps(s)[1:-1], repr(s)[1:-1]}
        variants.add(base64.b64encode(pair.encode()).decode())
        self._variants |= {v for v in variants if v}
        alts = sorted(self._variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in alts))

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: Any) -> str:
        text = text if isinstance(text, str) else str(text)
        if self._pattern is None:
            return text
        return self._pattern.sub(self.MASK, text)


_SECRETS = _SecretScrubber()


class _ScrubFilter(logging.Filter):
    """Scrubs secrets from a record's message, traceback and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS.active:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logger's business
            return True
        clean = _SECRETS(msg)
        if clean != msg:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _SECRETS(record.exc_text)
        if record.stack_info:
            record.stack_info = _SECRETS(record.stack_info)
        return True


#: Loggers that may see a URL, a header or an exception text of ours.  A filter only
#: applies to records created on its own logger, hence the full names.
_SCRUBBED_LOGGERS = (
    __name__, "runtime.ari", "asyncari", "asyncari.client", "asyncari.model",
    "asyncswagger11", "asyncswagger11.client", "asyncswagger11.http_client",
    "asyncswagger11.swagger_model", "asyncswagger11.processors", "httpx",
    "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
    "httpcore.socks", "asyncio",
)
_SCRUB_FILTER = _ScrubFilter()


def _install_log_scrubbing() -> None:
    for name in _SCRUBBED_LOGGERS:
        lg = logging.getLogger(name)
        if _SCRUB_FILTER not in lg.filters:
            lg.addFilter(_SCRUB_FILTER)


# ============================================================================ events
class _Malformed(ValueError):
    pass


def _field(obj: Any, *path: str, default: Any = "") -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)
        if obj is None:
            return default
    return obj


def _require_id(msg: dict, key: str, id_key: str = "id") -> str:
    obj = msg.get(key)
    if not isinstance(obj, dict):
        raise _Malformed(f"{key} missing")
    value = obj.get(id_key)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{key}.{id_key} missing")
    return value


def _target(uri: Any) -> tuple[str | None, str]:
    """``channel:ID`` -> (ID, ""), ``bridge:ID`` -> (None, ID)."""
    if isinstance(uri, str):
        kind, _, ident = uri.partition(":")
        if kind == "channel" and ident:
            return ident, ""
        if kind == "bridge" and ident:
            return None, ident
    return None, ""


def _num(value: Any, default: float = 0) -> float:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return default


def _snippet(data: Any, limit: int = 200) -> str:
    text = data if isinstance(data, str) else repr(data)
    return _SECRETS(text if len(text) <= limit else text[:limit] + "...")


def event_from_json(msg: Any, received_at: float | None = None) -> AriEvent | None:
    """Map one decoded ARI event to an :class:`AriEvent`; None (and a warning) if malformed.

    Only the fields that identify what the event is about are required (``channel.id``
    for channel events, ``bridge.id``, ``playback.id``, ``recording.name``, ``digit``);
    everything else defaults to empty/0, so e.g. a ChannelDestroyed without ``cause``
    is still delivered (the channel is gone either way).
    """
    try:
        return _map_event(msg, time.monotonic() if received_at is None else received_at)
    except _Malformed as e:
        kind = msg.get("type") if isinstance(msg, dict) else None
        log.warning("skipping malformed ARI event %s (%s): %s", kind, e, _snippet(msg))
        return None
    except Exception as e:  # noqa: BLE001 - never let one event stop the stream
        log.warning("skipping ARI event that could not be mapped (%s: %s): %s",
                    type(e).__name__, _SECRETS(e), _snippet(msg))
        return None


def _map_event(msg: Any, received_at: float) -> AriEvent:
    if not isinstance(msg, dict):
        raise _Malformed("not a JSON object")
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise _Malformed("no type")
    if kind not in KNOWN_EVENT_TYPES:
        raise _Malformed(f"unknown event type {kind!r}")

    channel = msg.get("channel")
    if kind == "Dial":  # the dialled channel is the subject of a Dial event
        channel = msg.get("peer")
        if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
            raise _Malformed("peer.id missing")
    elif kind in _NEEDS_CHANNEL:
        _require_id(msg, "channel")
    if channel is not None and not isinstance(channel, dict):
        raise _Malformed("channel is not an object")
    channel_id = channel.get("id") if channel else None
    if channel_id is not None and not isinstance(channel_id, str):
        raise _Malformed("channel.id is not a string")

    bridge_id = ""
    if kind in _NEEDS_BRIDGE:
        bridge_id = _require_id(msg, "bridge")
    elif isinstance(msg.get("bridge"), dict):
        bridge_id = str(msg["bridge"].get("id") or "")

    args: tuple[str, ...] = ()
    if kind == "StasisStart":
        raw_args = msg.get("args", [])
        if not isinstance(raw_args, list):
            raise _Malformed("args is not a list")
        args = tuple(str(a) for a in raw_args)

    digit = ""
    if kind == "ChannelDtmfReceived":
        digit = msg.get("digit")
        if not isinstance(digit, str) or not digit:
            raise _Malformed("digit missing")

    playback_id = ""
    if kind in _PLAYBACK:
        playback_id = _require_id(msg, "playback")
        target_channel, target_bridge = _target(msg["playback"].get("target_uri"))
        channel_id = channel_id or target_channel
        bridge_id = bridge_id or target_bridge

    recording, duration = "", 0.0
    if kind in _RECORDING:
        recording = _require_id(msg, "recording", "name")
        rec = msg["recording"]
        duration = float(_num(rec.get("duration", rec.get("total_duration")), 0))
        target_channel, target_bridge = _target(rec.get("target_uri"))
        channel_id = channel_id or target_channel
        bridge_id = bridge_id or target_bridge

    cause = 0
    if kind in ("ChannelDestroyed", "ChannelHangupRequest"):
        cause = int(_num(msg.get("cause"), 0))

    return AriEvent(
        kind=kind,
        channel_id=channel_id,
        args=args,
        caller=str(_field(channel, "caller", "number")),
        caller_name=str(_field(channel, "caller", "name")),
        dialled=str(_field(channel, "dialplan", "exten")),
        channel_name=str(_field(channel, "name")),
        state=str(_field(channel, "state")),
        digit=digit,
        playback_id=playback_id,
        recording=recording,
        duration=duration,
        cause=cause,
        bridge_id=bridge_id,
        raw=msg,
        received_at=received_at,
    )


def parse_event(data: str | bytes, received_at: float | None = None) -> AriEvent | None:
    """Decode one websocket text frame; None (and a warning) for bad JSON or a bad event."""
    try:
        if isinstance(data, (bytes, bytearray)):
            data = bytes(data).decode("utf-8")
        msg = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        log.warning("skipping ARI event that is not JSON (%s): %s", type(e).__name__,
                    _snippet(data))
        return None
    return event_from_json(msg, received_at)


# ============================================================================ backoff
@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``min(cap, base * factor**attempt)``, shortened by up to ``jitter``.

    The jitter only shortens a delay (a fleet of adapters restarted together spreads
    out, and no delay exceeds ``cap``).  The attempt counter restarts at 0 once a
    connection has stayed up for ``stable_after`` seconds.
    """

    base: float = 0.25
    factor: float = 2.0
    cap: float = 10.0
    jitter: float = 0.25
    stable_after: float = 10.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        exp = min(attempt, 64)  # no float overflow after days of retrying
        d = min(self.cap, self.base * self.factor ** exp)
        return d * (1.0 - self.jitter * rng())

    def schedule(self, n: int, rng: Callable[[], float] = random.random) -> list[float]:
        return [self.delay(i, rng) for i in range(n)]


# ============================================================================ HTTP
class _PooledHttpClient(_SwaggerHttpClient):
    """asyncswagger11's ``HttpClient`` interface over one ``httpx.AsyncClient`` (replaced
    after a connection error), with Basic auth and a real pool."""

    def __init__(self, user: str, password: str, *, pool_size: int = 32,
                 timeout: float = 10.0, connect_timeout: float = 3.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self._auth = httpx.BasicAuth(user, password)
        self._auth_header = ("Authorization",
                             "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        self._pool_size = pool_size
        self._limits = httpx.Limits(max_connections=pool_size,
                                    max_keepalive_connections=pool_size, keepalive_expiry=30)
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._connect_timeout = connect_timeout
        self._transport = transport
        self._retired: list[tuple[float, httpx.AsyncClient]] = []
        self._closing_tasks: set[asyncio.Task] = set()
        self._closed = False
        self.session = self._new_session()
        self.sessions_created = 1

    def _new_session(self):
        """The HTTP client: aiohttp in production, httpx when a test injects a transport.

        Requests to ARI were over half of the live runtime's CPU with httpx
        (its connection pool polls every idle connection on each request, and
        it runs on anyio streams); aiohttp's client on plain asyncio costs a
        fraction of that. Tests inject an ``httpx.MockTransport`` to script
        Asterisk's answers, so that path stays.
        """
        if self._transport is not None:
            return httpx.AsyncClient(headers=[self._auth_header], limits=self._limits,
                                     timeout=self._timeout, transport=self._transport)
        return _AiohttpSession(self._auth_header, self._pool_size, self._timeout.read,
                               self._connect_timeout)

    def reset(self) -> None:
        """Use new connections from now on (after the event connection died: the pooled
        ones may be as dead as it was)."""
        self._replace_session(self.session)

    def _replace_session(self, broken: httpx.AsyncClient) -> None:
        """Start a new httpx client; the old one is closed a little later, so requests that
        other tasks still have in flight on it can finish."""
        if self._closed or broken is not self.session:
            return  # closing, or another task already replaced it
        self.session = self._new_session()
        self.sessions_created += 1
        now = time.monotonic()
        self._retired.append((now, broken))
        old = [s for t, s in self._retired if now - t > 2 * self._timeout.read]
        self._retired = [(t, s) for t, s in self._retired if now - t <= 2 * self._timeout.read]
        for s in old:
            task = asyncio.get_running_loop().create_task(s.aclose())
            self._closing_tasks.add(task)  # asyncio keeps only weak references to tasks
            task.add_done_callback(self._closing_tasks.discard)

    async def close(self) -> None:
        self._closed = True
        sessions = [self.session] + [s for _, s in self._retired]
        self._retired = []
        for s in sessions:
            with contextlib.suppress(Exception):
                await s.aclose()

    async def request(self, method, url, params=None, data=None, headers=None):
        path = urllib.parse.urlsplit(url).path
        if self._closed:
            raise AriError(f"{method} {path}: the ARI adapter is closed", 0)
        session = self.session
        try:
            response = await session.request(method, url, params=params, content=data,
                                             headers=headers)
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout, asyncio.TimeoutError) as e:
            raise AriError(_SECRETS(f"{method} {path}: Asterisk did not answer in time "
                                    f"({type(e).__name__})"), 0) from None
        except (httpx.TransportError, aiohttp.ClientConnectionError) as e:
            self._replace_session(session)
            raise AriError(_SECRETS(f"{method} {path}: no answer from Asterisk "
                                    f"({type(e).__name__}: {e})"), 0) from None
        except (httpx.HTTPError, aiohttp.ClientError) as e:
            raise AriError(_SECRETS(f"{method} {path}: {type(e).__name__}: {e}"), 0) from None
        if response.status_code >= 400:
            raise AriError(_SECRETS(f"{method} {path}: {response.status_code} "
                                    f"{_error_text(response)}"), response.status_code)
        return response

    async def ws_connect(self, url, params=None, headers=None):
        query = urllib.parse.urlencode(params or {})
        full = url + ("?" + query if query else "")
        hdrs = [h for h in (headers or []) if h[0].lower() != "content-type"] + [self._auth_header]
        path = urllib.parse.urlsplit(url).path
        try:
            with anyio.fail_after(self._connect_timeout):
                return await create_websocket(full, headers=hdrs)
        except ConnectionError as e:  # asyncwebsockets: the upgrade was refused
            status = getattr(e.args[1], "status_code", 0) if len(e.args) > 1 else 0
            raise AriError(f"websocket {path}: refused ({status})", status) from None
        except TimeoutError:
            raise AriError(f"websocket {path}: no answer within {self._connect_timeout}s", 0) from None
        except OSError as e:
            raise AriError(_SECRETS(f"websocket {path}: cannot connect ({type(e).__name__}: {e})"),
                           0) from None


class _Response:
    """The parts of an HTTP response the adapter uses (httpx's names), read in full."""

    __slots__ = ("status_code", "content", "reason_phrase")

    def __init__(self, status_code: int, content: bytes, reason_phrase: str):
        self.status_code, self.content, self.reason_phrase = status_code, content, reason_phrase

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class _AiohttpSession:
    """A pooled aiohttp client with httpx's ``request``/``aclose`` surface."""

    def __init__(self, auth_header: tuple[str, str], pool_size: int, read_timeout: float,
                 connect_timeout: float):
        self._headers = {auth_header[0]: auth_header[1]}
        self._connector_args = dict(limit=pool_size, keepalive_timeout=30)
        self._timeout = aiohttp.ClientTimeout(total=None, sock_read=read_timeout,
                                              sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session must be made inside the running loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=self._timeout,
                connector=aiohttp.TCPConnector(**self._connector_args))
        return self._session

    async def request(self, method, url, params=None, content=None, headers=None):
        query = {k: ("true" if v is True else "false" if v is False else str(v))
                 for k, v in (params or {}).items()}
        async with self._client().request(method, url, params=query, data=content,
                                          headers=headers) as response:
            body = await response.read()
            return _Response(response.status, body, response.reason or "")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _error_text(response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except ValueError:
        pass
    return response.reason_phrase or (response.text or "")[:200]


# ============================================================================ asyncari client
def clear_asyncari_model_caches() -> None:
    """Forget asyncari's class-level object caches (``cache``/``active`` of every model class).

    They map ids to objects bound to one ``Client``; a later client that met the same
    id would get the old client's object (``BaseObject.__init__`` asserts on that), and
    ``active`` keeps channels whose StasisEnd was lost in a disconnect alive forever.
    """
    stack = [_asyncari_model.BaseObject]
    seen = set()
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        if "cache" in cls.__dict__:
            cls.cache = None
        if "active" in cls.__dict__:
            cls.active = None


class _SessionClient(_AsyncariClient):
    """asyncari's ``Client`` for one connection: Swagger description, REST operations and
    the event websocket.  Its own reader (``_run``/``process_ws``) is not used."""

    async def open_events(self) -> Any:
        await self._init()  # loads /ari/api-docs, builds the operations
        ws = await self.swagger.events.eventWebsocket(app=",".join(self._apps))
        self.websockets.add(ws)
        return ws

    async def close(self) -> None:
        # asyncari's close() would also close the HTTP client, which outlives this client.
        # Look in __dict__: before _init() has run, Client.__getattr__ recurses forever
        # (websockets -> get_repo -> repositories -> get_repo ...).
        websockets = self.__dict__.get("websockets") or set()
        for ws in list(websockets):
            with contextlib.suppress(Exception):
                await ws.close()
        websockets.clear()

    async def process_ws(self, msg):  # pragma: no cover - never called
        raise RuntimeError("asyncari's event dispatch is not used by the adapter")


async def _ws_send(ws: Any, event: Any) -> None:
    """Send a wsproto event (a Ping/Pong) on an asyncwebsockets connection."""
    data = ws._connection.send(event)
    async with ws._send_lock:
        await ws._sock.send(data)


async def _pump(ws: Any, on_frame: Callable[[str | bytes, float], None],
                on_alive: Callable[[], None] = lambda: None) -> str:
    """Read the websocket until it ends; every data frame goes to ``on_frame`` unparsed.

    Returns why it ended.  Never raises (except cancellation).
    """
    try:
        async for event in ws:
            now = time.monotonic()
            on_alive()
            if isinstance(event, (TextMessage, BytesMessage)):
                on_frame(event.data, now)
            elif isinstance(event, Ping):
                with contextlib.suppress(Exception):
                    await _ws_send(ws, event.response())
            elif isinstance(event, (Pong,)):
                pass
            elif isinstance(event, CloseConnection):
                return f"websocket closed by Asterisk ({event.code})"
        return "websocket closed by Asterisk"
    except anyio.EndOfStream:
        return "connection closed by Asterisk"
    except anyio.get_cancelled_exc_class():
        raise
    except Exception as e:  # noqa: BLE001 - BrokenResource, ClosedResource, OSError, wsproto
        return _SECRETS(f"websocket error ({type(e).__name__}: {e})")


# ============================================================================ the adapter
class AsyncariAdapter(AriPort):
    """:class:`AriPort` on asyncari; see the module docstring.

    Parameters beyond the config (all optional):

    * ``pool_size`` - HTTP connections to Asterisk (asyncari's default is 3).
    * ``request_timeout`` / ``connect_timeout`` - seconds per REST request / per
      connection attempt (TCP connect, Swagger load, websocket upgrade, app registration).
    * ``ping_interval`` / ``ping_timeout`` - a websocket ping is sent after
      ``ping_interval`` s without any frame; no frame within ``ping_timeout`` s after
      it means the connection is dead (half-open TCP) and it is rebuilt.
    * ``backoff`` - the reconnect schedule (:class:`Backoff`).
    * ``slow_handler`` - warn when ``on_event`` takes longer than this (seconds).
    """

    def __init__(self, config: AriConfig, *, pool_size: int = 32,
                 request_timeout: float = 10.0, connect_timeout: float = 10.0,
                 ping_interval: float = 10.0, ping_timeout: float = 5.0,
                 backoff: Backoff | None = None, slow_handler: float = 0.5,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        _SECRETS.add(config.user, config.password)
        _install_log_scrubbing()
        self._base = config.url.rstrip("/") + "/"
        self._pool_size = pool_size
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self.backoff = backoff or Backoff()
        self._slow_handler = slow_handler
        self._http = _PooledHttpClient(config.user, config.password, pool_size=pool_size,
                                       timeout=request_timeout,
                                       connect_timeout=min(connect_timeout, 3.0),
                                       transport=transport)
        self._client: _SessionClient | None = None
        self._ws: Any = None
        self._connected = False
        self._closing = False
        self._on_event: EventHandler | None = None
        self._queue: asyncio.Queue | None = None
        self._consumer: asyncio.Task | None = None
        self._supervisor: asyncio.Task | None = None
        self._first_attempt: asyncio.Event | None = None
        self._connected_event: asyncio.Event | None = None
        self._drop_requested: str | None = None
        self._session_scope: anyio.CancelScope | None = None
        #: warn when more events than this wait for on_event
        self.backlog_warning = 1000
        #: counters for tests and monitoring
        self.stats = {"connects": 0, "disconnects": 0, "failed_attempts": 0, "events": 0,
                      "skipped": 0, "handler_errors": 0}

    def __repr__(self) -> str:
        return f"AsyncariAdapter({self.config!r}, connected={self._connected})"

    # ------------------------------------------------------------------ lifecycle
    async def start(self, on_event: EventHandler) -> None:
        """Start the consumer and the connection supervisor; return after the first
        connection attempt (``connected`` says whether it worked; if not, the supervisor
        keeps trying with backoff and a PortConnected follows when it succeeds)."""
        if self._supervisor is not None:
            raise RuntimeError("AsyncariAdapter.start() called twice")
        self._on_event = on_event
        self._queue = asyncio.Queue()
        self._first_attempt = asyncio.Event()
        self._connected_event = asyncio.Event()
        self._consumer = asyncio.create_task(self._consume(), name="ari-consumer")
        self._supervisor = asyncio.create_task(self._supervise(), name="ari-supervisor")
        await self._first_attempt.wait()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until the event stream is up; False on timeout."""
        if self._connected:
            return True
        if self._connected_event is None:
            raise RuntimeError("not started")
        try:
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return self._connected

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        current = asyncio.current_task()
        tasks = [t for t in (self._supervisor, self._consumer) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._connected = False
        await self._http.close()
        if current is not None and current is self._consumer:
            current.cancel()  # close() called from on_event: stop at the handler's next await

    @property
    def connected(self) -> bool:
        return self._connected

    def drop_connection(self, reason: str = "dropped on request") -> None:
        """Abort the current event connection (the supervisor then reconnects)."""
        self._drop_requested = reason
        if self._session_scope is not None:
            self._session_scope.cancel()

    # ------------------------------------------------------------------ supervision
    async def _supervise(self) -> None:
        attempt = 0
        quiet_after = 3  # log the first failures as warnings, then only every 10th
        while not self._closing:
            up_since, reason = None, "adapter closing"
            try:
                up_since, reason = await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - anything: log, back off, retry
                reason = _SECRETS(f"{type(e).__name__}: {e}")
            finally:
                if self._connected:
                    self._connected = False
                    self._connected_event = asyncio.Event()
                    self.stats["disconnects"] += 1
                    self._emit(PORT_DISCONNECTED, {"reason": reason})
            self._first_attempt.set()
            if self._closing:
                return
            if up_since is not None:
                log.warning("ARI event connection lost after %.1fs: %s; reconnecting",
                            time.monotonic() - up_since, reason)
                self._http.reset()
                if time.monotonic() - up_since >= self.backoff.stable_after:
                    attempt = 0
            else:
                self.stats["failed_attempts"] += 1
                lvl = logging.WARNING if attempt < quiet_after or attempt % 10 == 0 else logging.DEBUG
                log.log(lvl, "ARI connection attempt %d failed: %s", attempt + 1, reason)
            delay = self.backoff.delay(attempt)
            attempt += 1
            await asyncio.sleep(delay)

    async def _session(self) -> tuple[float | None, str]:
        """One connection: build a client, open the websocket, pump until it ends.

        Returns (monotonic time it came up, why it ended); raises if it never came up.
        """
        clear_asyncari_model_caches()
        client = _SessionClient(None, self._base, self.config.app, self._http)
        try:
            with anyio.fail_after(self._connect_timeout):
                ws = await client.open_events()
                await self._wait_registered(client)
            self._client, self._ws = client, ws
            self._drop_requested = None
            self._connected = True
            self.stats["connects"] += 1
            up_since = time.monotonic()
            self._emit(PORT_CONNECTED, {})
            self._connected_event.set()
            self._first_attempt.set()
            log.info("ARI event connection up (app %s)", self.config.app)
            reason = await self._run_ws(ws)
            return up_since, reason
        finally:
            with anyio.CancelScope(shield=True):
                await client.close()
            self._ws = None

    async def _wait_registered(self, client: _SessionClient) -> None:
        """The app is registered just after the websocket upgrade; originate needs it."""
        while True:
            try:
                await client.swagger.applications.get(applicationName=self.config.app)
                return
            except AriError as e:
                if e.status != 404:
                    raise
            await asyncio.sleep(0.01)

    async def _run_ws(self, ws: Any) -> str:
        last_rx = time.monotonic()
        reason = "websocket closed"

        def alive() -> None:
            nonlocal last_rx
            last_rx = time.monotonic()

        async with anyio.create_task_group() as tg:
            self._session_scope = tg.cancel_scope

            async def reader() -> None:
                nonlocal reason
                reason = await _pump(ws, self._on_frame, alive)
                tg.cancel_scope.cancel()

            async def keepalive() -> None:
                nonlocal reason
                while True:
                    idle = time.monotonic() - last_rx
                    if idle < self._ping_interval:
                        await anyio.sleep(self._ping_interval - idle)
                        continue
                    sent = time.monotonic()
                    try:
                        await _ws_send(ws, Ping(b"qscript"))
                    except Exception as e:  # noqa: BLE001
                        reason = _SECRETS(f"cannot send ping ({type(e).__name__}: {e})")
                        tg.cancel_scope.cancel()
                        return
                    await anyio.sleep(self._ping_timeout)
                    if last_rx < sent:
                        reason = f"no answer to a ping within {self._ping_timeout}s"
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(reader)
            if self._ping_interval > 0:
                tg.start_soon(keepalive)
        self._session_scope = None
        if self._drop_requested:
            reason = self._drop_requested
        return reason

    # ------------------------------------------------------------------ delivery
    def _on_frame(self, data: str | bytes, received_at: float) -> None:
        """Called by the reader for every frame: queue it, nothing else."""
        self._queue.put_nowait((data, received_at))

    def _emit(self, kind: str, raw: dict) -> None:
        self._queue.put_nowait(AriEvent(kind=kind, raw=raw))

    async def _consume(self) -> None:
        queue = self._queue
        backlog_warned = 0.0
        while True:
            item = await queue.get()
            if isinstance(item, AriEvent):
                event = item
            else:
                event = parse_event(*item)
                if event is None:
                    self.stats["skipped"] += 1
                    continue
            self.stats["events"] += 1
            if queue.qsize() > self.backlog_warning and time.monotonic() - backlog_warned > 10:
                backlog_warned = time.monotonic()
                log.warning("%d ARI events waiting for on_event (the oldest arrived %.2fs ago)",
                            queue.qsize(), time.monotonic() - event.received_at)
            if event.kind == "ApplicationReplaced":
                log.error("another ARI client registered the app %s: this adapter gets no more "
                          "events until it reconnects", self.config.app)
            t0 = time.monotonic()
            try:
                result = self._on_event(event)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a handler bug must not stop the stream
                self.stats["handler_errors"] += 1
                log.exception("on_event failed for %s (channel %s)", event.kind, event.channel_id)
            spent = time.monotonic() - t0
            if spent > self._slow_handler:
                log.warning("on_event took %.2fs for %s (%d events waiting)", spent,
                            event.kind, queue.qsize())

    # ------------------------------------------------------------------ REST
    async def _op(self, resource: str, operation: str, **params: Any) -> httpx.Response:
        client = self._client
        if client is None:
            raise AriError("ARI not connected yet", 0)
        res = client.swagger.get_resource(resource)
        op = res.get_operation(operation) if res is not None else None
        if op is None:
            raise AriError(f"this Asterisk has no ARI operation {resource}.{operation}", 0)
        return await op(**{k: v for k, v in params.items() if v is not None})

    async def _json(self, resource: str, operation: str, **params: Any) -> Any:
        response = await self._op(resource, operation, **params)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AriError(f"{resource}.{operation}: answer is not JSON", response.status_code) from None

    async def answer(self, channel_id: str) -> None:
        await self._op("channels", "answer", channelId=channel_id)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        if reason.isdigit():
            await self._op("channels", "hangup", channelId=channel_id, reason_code=reason)
        else:
            await self._op("channels", "hangup", channelId=channel_id, reason=reason or None)

    async def play(self, channel_id: str, media: list[str], playback_id: str,
                   language: str | None = None) -> None:
        media = list(media)
        if not media:
            raise ValueError("play needs at least one media URI")
        if any("," in m for m in media):
            raise ValueError(f"a media URI cannot contain a comma: {media!r}")
        # Asterisk takes several media as one comma-separated value (a repeated
        # parameter only keeps the last one); asyncswagger11 joins lists with commas.
        await self._op("channels", "play", channelId=channel_id, media=media,
                       playbackId=playback_id, lang=language)

    async def stop_playback(self, playback_id: str) -> None:
        await self._op("playbacks", "stop", playbackId=playback_id)

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self._op("channels", "startMoh", channelId=channel_id, mohClass=moh_class)

    async def stop_moh(self, channel_id: str) -> None:
        await self._op("channels", "stopMoh", channelId=channel_id)

    async def ring(self, channel_id: str) -> None:
        await self._op("channels", "ring", channelId=channel_id)

    async def record(self, channel_id: str, name: str, max_seconds: float,
                     beep: bool = True, terminate_on: str = "#") -> None:
        await self._op("channels", "record", channelId=channel_id, name=name, format="wav",
                       maxDurationSeconds=max(0, math.ceil(max_seconds)),
                       ifExists="overwrite", beep="true" if beep else "false",
                       terminateOn=terminate_on or "none")

    async def stored_recording(self, name: str) -> bytes:
        response = await self._op("recordings", "getStoredFile", recordingName=name)
        return response.content

    async def delete_recording(self, name: str) -> None:
        await self._op("recordings", "deleteStored", recordingName=name)

    async def originate(self, endpoint: str, channel_id: str, app_args: list[str],
                        timeout: float, caller_id: str = "",
                        variables: dict[str, str] | None = None,
                        formats: str = "ulaw") -> None:
        args = [str(a) for a in app_args]
        if any("," in a for a in args):
            raise ValueError(f"a Stasis argument cannot contain a comma: {args!r}")
        await self._op("channels", "originate", endpoint=endpoint, app=self.config.app,
                       appArgs=",".join(args), channelId=channel_id,
                       timeout=max(1, math.ceil(timeout)), callerId=caller_id or None,
                       formats=formats or "ulaw",
                       variables={str(k): str(v) for k, v in variables.items()} if variables else None)

    async def continue_in_dialplan(self, channel_id: str, context: str = "",
                                   extension: str = "", priority: int = 1) -> None:
        await self._op("channels", "continueInDialplan", channelId=channel_id,
                       context=context or None, extension=extension or None,
                       priority=priority if priority else None)

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self._op("channels", "setChannelVar", channelId=channel_id, variable=name,
                       value=value)

    async def get_variable(self, channel_id: str, name: str) -> str:
        """The variable's value; "" when the channel has no such variable."""
        try:
            body = await self._json("channels", "getChannelVar", channelId=channel_id,
                                    variable=name)
        except AriError as e:
            if e.status == 404 and "variable was not found" in str(e):
                return ""
            raise
        return str((body or {}).get("value", ""))

    # -- bridges
    async def create_bridge(self, bridge_id: str) -> None:
        try:
            await self._op("bridges", "createWithId", bridgeId=bridge_id, type="mixing")
        except AriError as e:
            if e.status != 409:  # "Bridge with id ... already exists": that is the goal
                raise

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        await self._op("bridges", "addChannel", bridgeId=bridge_id, channel=list(channel_ids))

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._op("bridges", "destroy", bridgeId=bridge_id)

    # -- resynchronisation
    async def list_channels(self) -> list[dict]:
        return list(await self._json("channels", "list") or [])

    async def list_bridges(self) -> list[dict]:
        return list(await self._json("bridges", "list") or [])

    # -- extras used by tests and tools (not part of the port)
    async def request(self, method: str, path: str, params: dict | None = None,
                      json_body: Any = None) -> httpx.Response:
        """A raw ARI request (``path`` below /ari), through the adapter's pool and auth."""
        url = self._base + "ari/" + path.lstrip("/")
        data = json.dumps(json_body) if json_body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        return await self._http.request(method, url, params=params, data=data, headers=headers)


__all__ = ["AsyncariAdapter", "Backoff", "KNOWN_EVENT_TYPES", "PORT_CONNECTED",
           "PORT_DISCONNECTED", "clear_asyncari_model_caches", "event_from_json", "parse_event"]
