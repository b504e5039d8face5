"""The ``/console/`` sub-application and the :class:`Console` page modules register on.

Requests pass, in order: the server's IP allow/deny lists (for the control API
too: :func:`address_filter`), then here the security headers, the login
session (a cookie, :mod:`runtime.web.security`), the route's role, the CSRF
token of a state-changing request, and the error answers — the same mapping
as the control API: ValueError/LookupError 400, AcdError 409,
StoreUnavailable 503, anything else 500 (logged, never shown with a
traceback).

A page module registers its routes with :meth:`Console.get`, :meth:`Console.post`
and :meth:`Console.stream`, each with the lowest :class:`Role` allowed, and
adds itself to the menu with :meth:`Console.menu`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from runtime.acd import AcdError
from runtime.site.web import WebConfig
from runtime.store.console import audit_op
from runtime.store.database import StoreUnavailable
from runtime.web import render
from runtime.web.security import COOKIE, CSRF_FIELD, CSRF_HEADER, LoginSession, Role, SessionTable
from runtime.web.sse import EventStream
from runtime.web.users import UserDirectory

log = logging.getLogger("qscript.console")

PREFIX = "/console"
#: The page modules, each with ``add_routes(console)``; the start page and login first.
PAGE_MODULES = (
    "runtime.web.auth_pages",
    # in menu order: the day's work first, then administration
    "runtime.web.board",
    "runtime.web.agent_client",
    "runtime.web.admin_content",
    "runtime.web.admin_site",
    "runtime.web.admin_users",
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StreamHandler = Callable[[web.Request, EventStream], Awaitable[None]]

#: No inline scripts or styles, nothing from elsewhere: an injected tag can do nothing.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; "
                           "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Forbidden(Exception):
    """A request the user's login may not make (a 403 with this message), raised by a
    page where the route's role alone does not decide (an agent asking for another's page)."""


class Console:
    """What a page handler reaches: the runtime, the users, the sessions, rendering."""

    def __init__(self, runtime, settings: WebConfig | None = None):
        self.runtime = runtime
        self.settings = settings or getattr(getattr(runtime, "site", None), "web", None) \
            or WebConfig()
        self.users = UserDirectory(runtime)
        self.sessions = SessionTable(self.settings.session_timeout)
        self.templates = render.environment()
        self.navigation: list[tuple[str, str, Role]] = []
        #: Tasks of open streams, ended when the server stops (an open stream would
        #: otherwise hold the shutdown until the browser goes away).
        self.streams: set[asyncio.Task] = set()
        self.app = web.Application(middlewares=[_security_headers, self._errors, self._session])
        self.app[CONSOLE_KEY] = self
        self.app.router.add_static("/static/", render.STATIC, append_version=True)
        self.app.on_startup.append(self._load_users)
        self.app.on_shutdown.append(self._end_streams)
        for name in PAGE_MODULES:
            importlib.import_module(name).add_routes(self)

    @staticmethod
    def of(request: web.Request) -> "Console":
        return request.config_dict[CONSOLE_KEY]

    # -- registering routes

    def get(self, path: str, handler: Handler, *, role: Role | None) -> None:
        """A page or JSON read; ``role`` None: open to anyone (the login page)."""
        self.app.router.add_get(path, self._guarded(handler, role))

    def post(self, path: str, handler: Handler, *, role: Role | None) -> None:
        """A change: the CSRF token is checked before ``handler`` runs."""
        self.app.router.add_post(path, self._guarded(handler, role))

    def put(self, path: str, handler: Handler, *, role: Role) -> None:
        self.app.router.add_put(path, self._guarded(handler, role))

    def delete(self, path: str, handler: Handler, *, role: Role) -> None:
        self.app.router.add_delete(path, self._guarded(handler, role))

    def stream(self, path: str, handler: StreamHandler, *, role: Role) -> None:
        """A server-sent event stream: ``handler(request, stream)`` sends until the page
        closes (ConnectionResetError), the session ends or the server stops."""
        async def open_stream(request: web.Request) -> web.StreamResponse:
            stream = await EventStream.open(request)
            task = asyncio.current_task()
            if task is not None:
                self.streams.add(task)
            try:
                await handler(request, stream)
            except (ConnectionResetError, asyncio.CancelledError):
                pass  # the page went away, or the server stops: nothing to answer
            finally:
                if task is not None:
                    self.streams.discard(task)
            return stream.response
        self.app.router.add_get(path, self._guarded(open_stream, role))

    def menu(self, path: str, label: str, role: Role) -> None:
        """Show a part of the console in the menu of users with ``role`` or higher."""
        self.navigation.append((path, label, role))

    def _guarded(self, handler: Handler, role: Role | None) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            session: LoginSession | None = request.get(SESSION)
            if role is not None:
                if session is None:
                    return _login_needed(request)
                if session.role < role:
                    return self.refuse(request, 403, f"this page is for the {role.label} role "
                                       f"and above; you are logged in as {session.role.label}")
            if request.method not in _SAFE_METHODS and session is not None:
                supplied: object = request.headers.get(CSRF_HEADER)
                if supplied is None and request.content_type in (
                        "application/x-www-form-urlencoded", "multipart/form-data"):
                    supplied = (await request.post()).get(CSRF_FIELD)
                if not session.csrf_matches(supplied if isinstance(supplied, str) else None):
                    return self.refuse(request, 403, "the form has expired or did not come "
                                       "from this console (CSRF token missing or wrong); "
                                       "reload the page and try again")
            return await handler(request)
        return guarded

    # -- answering

    def render(self, request: web.Request, template: str, *, status: int = 200,
               **context: Any) -> web.Response:
        session: LoginSession | None = request.get(SESSION)
        page = self.templates.get_template(template).render(
            user=_public_user(session), csrf_token=session.csrf if session else "",
            csrf_field=render.csrf_field(session.csrf) if session else "",
            nav=[(PREFIX + path, label) for path, label, role in self.navigation
                 if session is not None and session.role >= role],
            site=getattr(getattr(self.runtime, "site", None), "name", ""),
            current=request.path, **context)
        return web.Response(text=page, status=status, content_type="text/html",
                            charset="utf-8")

    def refuse(self, request: web.Request, status: int, message: str) -> web.Response:
        """An error answer in the form the request wants: JSON for scripts, a page for people."""
        if _wants_json(request):
            return web.json_response({"error": message}, status=status)
        return self.render(request, "error.html", status=status, message=message,
                           code=status)

    def audit(self, request: web.Request, action: str, target: str = "", **detail: Any):
        """Log a change made in the console (through the outbox). Never pass a secret."""
        session: LoginSession | None = request.get(SESSION)
        return self.runtime.outbox.submit(audit_op(
            session.user if session else "", session.role.label if session else "",
            request.remote or "", action, target, detail))

    async def saved_answer(self, saving) -> web.Response:
        """The JSON answer to a change that is in effect: 200 saved, 202 not yet (see
        LiveRuntime.saved)."""
        status, answer = await self.runtime.saved(saving)
        return web.json_response(answer, status=status)

    # -- middlewares

    @web.middleware
    async def _session(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        session = self.sessions.find(request.cookies.get(COOKIE))
        if session is not None:
            request[SESSION] = session
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as error:
            if error.status >= 400 and not error.text:
                return self.refuse(request, error.status, error.reason)
            raise
        except Forbidden as error:
            return self.refuse(request, 403, str(error))
        except StoreUnavailable as error:
            return self.refuse(request, 503, str(error))
        except (ValueError, LookupError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            return self.refuse(request, 400, str(message))
        except AcdError as error:
            return self.refuse(request, 409, str(error))
        except Exception:  # noqa: BLE001 - the console must answer, never crash
            log.exception("console %s %s failed", request.method, request.path)
            return self.refuse(request, 500, "internal error (logged on the server)")

    async def _load_users(self, _app: web.Application) -> None:
        if await self.users.load() and not self.users.known_names():
            site = getattr(getattr(self.runtime, "site", None), "path", None) or "SITE"
            log.warning("the web console has no users yet: add the first admin with "
                        "`qscript user add NAME --role admin --site %s`", site)

    async def _end_streams(self, _app: web.Application) -> None:
        for task in list(self.streams):
            task.cancel()


CONSOLE_KEY = web.AppKey("console", Console)
#: The login session of a request (set by the session middleware when the cookie is valid).
SESSION = web.RequestKey("session", LoginSession)


def current_user(request: web.Request) -> LoginSession:
    """The logged-in user of a request to a route with a role (``.user``, ``.role``,
    ``.agent_id``)."""
    return request[SESSION]


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith(PREFIX + "/static/"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def address_filter(settings: Callable[[], WebConfig]):
    """The server-wide middleware of the allow/deny lists (console and control API).

    ``settings`` is read per request, so a changed site is followed.
    """
    @web.middleware
    async def admit(request: web.Request, handler: Handler) -> web.StreamResponse:
        address = request.remote or ""
        if not settings().admits(address):
            log.warning("refused a request from %s (web.allow / web.deny)", address)
            return web.json_response({"error": f"{address} may not use this server "
                                      "(web.allow / web.deny in the site file)"}, status=403)
        return await handler(request)
    return admit


def mount(app: web.Application, runtime) -> Console:
    """Add the console under /console/ of the control server; / leads to it."""
    console = Console(runtime)
    app.add_subapp(PREFIX + "/", console.app)

    async def start(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")
    app.router.add_get("/", start)
    return console


def _login_needed(request: web.Request) -> web.StreamResponse:
    if _wants_json(request) or request.method != "GET":
        return web.json_response({"error": "log in first"}, status=401)
    from urllib.parse import quote
    raise web.HTTPFound(f"{PREFIX}/login?next={quote(request.path_qs, safe='')}")


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return ("application/json" in accept or "text/event-stream" in accept
            or request.content_type == "application/json")


def _public_user(session: LoginSession | None) -> dict | None:
    if session is None:
        return None
    return {"name": session.user, "role": session.role.label, "agent_id": session.agent_id}


async def json_body(request: web.Request) -> dict:
    """The request's JSON object body; ValueError (a 400) saying where it went wrong."""
    text = await request.text()
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"the body is not JSON: {error.msg} at line {error.lineno} "
                         f"column {error.colno}") from None
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value
