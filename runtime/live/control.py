"""The control API of a running ``qscript serve``: agents, status, deploys.

A small JSON-over-HTTP API, bound to the loopback interface by default and
protected by a bearer token (``Authorization: Bearer <token>``). The token
comes from the environment variable named in the site (``control.token_env``,
default ``QSCRIPT_CONTROL_TOKEN``) or is generated at start; either way
``qscript serve`` writes the URL and token to ``.qscript/<site>.control.json`` next
to the site file (readable by its owner only), where the CLI finds them.

Routes:

* ``GET  /status`` — groups, waiting calls (with digits), agents and states
* ``GET  /metrics`` — event-to-command latency, CPU
* ``POST /agents/{id}/{login|logout|ready|pause|groups}`` — body
  ``{"groups": {...}}`` or ``{"reason": "lunch"}``
* ``POST /scripts/{name}`` — body ``{"source": "..."}``: compile, store and
  activate; 422 with diagnostics when it does not compile
* ``GET  /scripts/{name}`` — the stored versions
* ``POST /scripts/{name}/rollback`` — body ``{"version": N}`` (optional)
* ``POST /scripts/{name}/check`` — body ``{"source": "..."}``: the diagnostics
  (line, col, code, hint) without deploying (runtime/live/script_check.py)
* ``POST /hot-prompts/{name}`` — body ``{"active": true}``

Names in paths follow the site's name rule and bodies their route's schema
(:mod:`runtime.live.control_bodies`); both are checked before the runtime is
asked to do anything, and a request that does not fit is a 400.

Agent and hot-prompt changes take effect at once; the answer is 200 once the
change is in the database, 202 ``{"saved": false, "message": ...}`` when it
is applied but not saved yet (the outbox keeps it and retries). A deploy,
rollback or version listing the database cannot serve now is a 503.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
from pathlib import Path

from aiohttp import web

from qscript.source import MAX_SOURCE_BYTES

from runtime.acd import AcdError
from runtime.live.control_bodies import check_body, parse_body
from runtime.live.script_check import check_payload
from runtime.site.values import NAME_RULE, is_valid_name
from runtime.site.web import WebConfig
from runtime.store.console import audit_op
from runtime.store.database import StoreUnavailable
from runtime.web.console import PREFIX as CONSOLE_PREFIX, address_filter, mount as mount_console

log = logging.getLogger("qscript.control")

#: The largest request body: a script of MAX_SOURCE_BYTES as JSON, where every
#: character may be written as a \uXXXX escape.
MAX_BODY = 6 * MAX_SOURCE_BYTES + 100_000
AGENT_ACTIONS = ("login", "logout", "ready", "pause", "groups")
#: Who the audit log names for a change made with the control token.
CONTROL_API_USER = "control-api"


def state_file(site_path: str | Path) -> Path:
    site = Path(site_path).resolve()
    return site.parent / ".qscript" / f"{site.stem}.control.json"


def write_state(site_path: str | Path, url: str, token: str) -> Path:
    """Write the URL and token for the clients, readable by the owner only.

    The file is written under a fresh name and renamed into place, so it is
    created 0600 whatever mode an earlier one had, and a symlink at its path
    is replaced, never followed (O_NOFOLLOW, O_EXCL on the temporary file).
    """
    path = state_file(site_path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask allowed
            json.dump({"url": url, "token": token}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return path


def resolve_token(site) -> str:
    control = getattr(site, "control", None)
    token = control.token() if control is not None else None
    return token or secrets.token_urlsafe(24)


def build_app(runtime, token: str, *, console: bool = True) -> web.Application:
    """The control API (bearer token) and, under /console/, the web console (logins)."""
    @web.middleware
    async def authenticate(request: web.Request, handler):
        if request.path == "/" or request.path.startswith(CONSOLE_PREFIX + "/"):
            return await handler(request)  # the console has its own logins (runtime.web)
        supplied = request.headers.get("Authorization", "")
        expected = f"Bearer {token}"
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except StoreUnavailable as error:  # nothing changed (a deploy), or try again later
            return web.json_response({"error": str(error)}, status=503)
        except (ValueError, LookupError) as error:
            # KeyError's str() adds quotes around its message; show the message itself.
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            return web.json_response({"error": str(message)}, status=400)
        except AcdError as error:  # e.g. changing groups of a logged-out agent
            return web.json_response({"error": str(error)}, status=409)
        except Exception as error:  # noqa: BLE001 - the API must answer, never crash
            log.exception("control API %s %s failed", request.method, request.path)
            return web.json_response({"error": f"internal error: {error}"}, status=500)

    site_web = getattr(getattr(runtime, "site", None), "web", None) or WebConfig()
    app = web.Application(middlewares=[address_filter(lambda: site_web), authenticate],
                          client_max_size=MAX_BODY)

    async def body(request, route: str) -> dict:
        """The route's body fields, checked (control_bodies); ValueError -> 400."""
        try:
            raw = await request.read() if request.can_read_body else b""
        except web.HTTPRequestEntityTooLarge:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_BODY, actual_size=request.content_length or 0,
                text=json.dumps({"error": f"the body is too large: at most {MAX_BODY:,} bytes"}),
                content_type="application/json") from None
        return check_body(route, parse_body(raw))

    def audit(request, action: str, target: str, **detail) -> None:
        """Log a change made through the API (the audit log, through the outbox)."""
        runtime.outbox.submit(audit_op(CONTROL_API_USER, "token", request.remote or "", action,
                                       target, detail))

    async def status(request):
        return web.json_response(runtime.status())

    async def metrics(request):
        return web.json_response(runtime.metrics())

    async def agent(request):
        agent_id = _path_name(request, "agent", "agent id")
        action = request.match_info["action"]
        if action not in AGENT_ACTIONS:
            raise web.HTTPNotFound(text=json.dumps({"error": f"unknown action {action}"}),
                                   content_type="application/json")
        fields = await body(request, f"agent {action}")
        saving = runtime.agent_action(agent_id, action, fields.get("groups"),
                                      fields.get("reason") or "")
        audit(request, f"agent.{action}", agent_id, **{k: v for k, v in fields.items() if v})
        status, answer = await runtime.saved(saving)  # 200 saved, 202 applied but not saved yet
        return web.json_response(answer, status=status)

    async def deploy(request):
        name = _path_name(request, "name", "script name")
        fields = await body(request, "deploy")
        result = await runtime.deploy_source(name, fields["source"], fields["source_name"],
                                             fields["comment"] or "")
        if result.ok:
            audit(request, "script.deploy", name, version=result.version,
                  source_hash=result.source_hash, comment=fields["comment"] or "")
        return web.json_response(result.__dict__, status=200 if result.ok else 422)

    async def versions(request):
        rows = await runtime.stored_versions(_path_name(request, "name", "script name"))
        return web.json_response([{"version": v.version, "active": v.active,
                                   "created_at": v.created_at.isoformat(),
                                   "source_hash": v.source_hash, "comment": v.comment}
                                  for v in rows])

    async def rollback(request):
        name = _path_name(request, "name", "script name")
        fields = await body(request, "rollback")
        result = await runtime.rollback(name, fields["version"])
        if result.ok:
            audit(request, "script.rollback", name, version=result.version)
        return web.json_response(result.__dict__, status=200 if result.ok else 409)

    async def check(request):
        name = _path_name(request, "name", "script name")
        fields = await body(request, "check")
        return web.json_response(await asyncio.to_thread(
            check_payload, fields["source"], name, runtime.site))

    async def hot_prompt(request):
        name = _path_name(request, "name", "hot prompt name")
        fields = await body(request, "hot prompt")
        saving = runtime.set_hot_prompt(name, fields["active"])
        audit(request, "hot_prompt.on" if fields["active"] else "hot_prompt.off", name)
        status, answer = await runtime.saved(saving)
        return web.json_response(answer, status=status)

    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/agents/{agent}/{action}", agent)
    app.router.add_post("/scripts/{name}", deploy)
    app.router.add_get("/scripts/{name}", versions)
    app.router.add_post("/scripts/{name}/rollback", rollback)
    app.router.add_post("/scripts/{name}/check", check)
    app.router.add_post("/hot-prompts/{name}", hot_prompt)
    if console:
        mount_console(app, runtime)
    return app


def _path_name(request: web.Request, key: str, kind: str) -> str:
    """A name from the URL path (decoded), checked against the name rule; ValueError if not."""
    name = request.match_info[key]
    if not is_valid_name(name):
        shown = name if len(name) <= 120 else name[:120] + "..."
        raise ValueError(f'invalid {kind} "{shown}": {NAME_RULE}')
    return name


async def start_control(runtime, host: str, port: int, token: str) -> web.AppRunner:
    runner = web.AppRunner(build_app(runtime, token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
