"""HTTP to Asterisk's ARI: a pooled client with the asyncswagger11 interface.

Production requests go through aiohttp's client; tests that script Asterisk's
answers inject an ``httpx.MockTransport`` (see ``_PooledHttpClient``). After a
connection error the client is replaced (asyncari's own client stays broken
after one), and every error message is scrubbed of the password.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import urllib.parse

import aiohttp
import anyio
import httpx
from asyncswagger11.http_client import HttpClient as _SwaggerHttpClient
from asyncwebsockets import create_websocket

from runtime.live.ari.port import AriError
from runtime.live.ari.secrets import _SECRETS

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


