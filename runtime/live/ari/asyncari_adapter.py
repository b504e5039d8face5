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
import contextlib
import inspect
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Callable

import anyio
import httpx
from asyncari.client import Client as _AsyncariClient
from asyncari import model as _asyncari_model
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from runtime.live.ari.events import (KNOWN_EVENT_TYPES, PORT_CONNECTED, PORT_DISCONNECTED,
                                event_from_json, parse_event)
from runtime.live.ari.http import _PooledHttpClient
from runtime.live.ari.port import AriConfig, AriError, AriEvent, AriPort, EventHandler
from runtime.live.ari.secrets import _SECRETS, _install_log_scrubbing

log = logging.getLogger(__name__)


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
                await self._filter_events()
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

    async def _filter_events(self) -> None:
        """Ask Asterisk for the event kinds in ``wanted_events`` only (all when None).

        Set on every connect: the filter belongs to the application in Asterisk
        and outlives our connection, so a filter left by an earlier process is
        replaced too. An Asterisk without event filters (before 16.3) sends
        everything, which works, at a cost.
        """
        kinds = self.wanted_events
        body = {"allowed": [{"type": kind} for kind in sorted(kinds)]} if kinds else {}
        try:
            await self.request("PUT", f"applications/{self.config.app}/eventFilter",
                               json_body=body)
        except AriError as e:
            log.log(logging.WARNING if kinds else logging.DEBUG,
                    "cannot filter the events of app %s (all are sent): %s", self.config.app, e)

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

    async def playback_state(self, playback_id: str) -> str | None:
        return await self._state_or_none(self._json("playbacks", "get", playbackId=playback_id))

    async def recording_state(self, name: str) -> str | None:
        return await self._state_or_none(self._json("recordings", "getLive", recordingName=name))

    @staticmethod
    async def _state_or_none(request) -> str | None:
        try:
            body = await request
        except AriError as e:
            if e.status == 404:
                return None
            raise
        return str((body or {}).get("state", ""))

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
