"""Login, logout and the start page of the console.

The login form carries its own CSRF token before there is a session (a
random value in a short-lived cookie and the same value in the form: a page
elsewhere cannot read the cookie, so it cannot forge the field); this stops a
page elsewhere from logging the browser in as someone else.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from runtime.web.console import PREFIX, SESSION, Console
from runtime.web.security import COOKIE, Role
from runtime.web.users import LoginRefused

LOGIN_COOKIE = "qscript_login"


def add_routes(console: Console) -> None:
    console.get("/", start_page, role=Role.AGENT)
    console.get("/login", login_form, role=None)
    console.post("/login", login, role=None)
    console.post("/logout", logout, role=Role.AGENT)
    console.get("/me", me, role=Role.AGENT)


async def start_page(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    return console.render(request, "start.html")


async def login_form(request: web.Request, *, message: str = "", status: int = 200,
                     name: str = "") -> web.StreamResponse:
    console = Console.of(request)
    token = secrets.token_urlsafe(24)
    response = console.render(request, "login.html", status=status, message=message,
                              login_token=token, name=name,
                              next=_local_target(request.query.get("next", "")))
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="Strict",
                        secure=console.settings.secure_cookies, path=PREFIX + "/login")
    return response


async def login(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, str(form.get("login_token", ""))):
        return await login_form(request, status=403, name=name,
                                message="the login form has expired; try again")
    try:
        user = await console.users.authenticate(name, password, request.remote or "")
    except LoginRefused as refused:
        return await login_form(request, status=401, name=name, message=str(refused))
    token, session = console.sessions.open(user.name, user.role, user.agent_id,
                                           request.remote or "")
    request[SESSION] = session
    console.audit(request, "login", user.name)
    response = web.HTTPFound(_local_target(str(form.get("next", ""))) or PREFIX + "/")
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict",
                        secure=console.settings.secure_cookies, path=PREFIX + "/")
    response.del_cookie(LOGIN_COOKIE, path=PREFIX + "/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    console.audit(request, "logout", request[SESSION].user)
    console.sessions.close(request.cookies.get(COOKIE))
    response = web.HTTPFound(PREFIX + "/login")
    response.del_cookie(COOKIE, path=PREFIX + "/")
    raise response


async def me(request: web.Request) -> web.StreamResponse:
    session = request[SESSION]
    return web.json_response({"name": session.user, "role": session.role.label,
                              "agent_id": session.agent_id, "csrf": session.csrf})


def _local_target(target: str) -> str:
    """Only a path of this console: ``next`` must not send a fresh login elsewhere."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target \
            and not target.startswith(PREFIX + "/login"):
        return target
    return ""
