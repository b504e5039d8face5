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
* ``POST /hot-prompts/{name}`` — body ``{"active": true}``

Agent and hot-prompt changes take effect at once; the answer is 200 once the
change is in the database, 202 ``{"saved": false, "message": ...}`` when it
is applied but not saved yet (the outbox keeps it and retries). A deploy,
rollback or version listing the database cannot serve now is a 503.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
from pathlib import Path

from aiohttp import web

from .acd import AcdError
from .store import StoreUnavailable

log = logging.getLogger("qscript.control")

MAX_BODY = 2_000_000


def state_file(site_path: str | Path) -> Path:
    site = Path(site_path).resolve()
    return site.parent / ".qscript" / f"{site.stem}.control.json"


def write_state(site_path: str | Path, url: str, token: str) -> Path:
    path = state_file(site_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"url": url, "token": token}, handle)
    return path


def resolve_token(site) -> str:
    control = getattr(site, "control", None)
    token = control.token() if control is not None else None
    return token or secrets.token_urlsafe(24)


def build_app(runtime, token: str) -> web.Application:
    @web.middleware
    async def authenticate(request: web.Request, handler):
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

    app = web.Application(middlewares=[authenticate], client_max_size=MAX_BODY)

    async def body(request) -> dict:
        if not request.can_read_body:
            return {}
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    async def status(request):
        return web.json_response(runtime.status())

    async def metrics(request):
        return web.json_response(runtime.metrics())

    async def agent(request):
        data = await body(request)
        action = request.match_info["action"]
        if action not in ("login", "logout", "ready", "pause", "groups"):
            raise web.HTTPNotFound(text=json.dumps({"error": f"unknown action {action}"}),
                                   content_type="application/json")
        groups = _agent_groups(data.get("groups"))
        saving = runtime.agent_action(request.match_info["agent"], action, groups,
                                      str(data.get("reason", "")))
        status, answer = await runtime.saved(saving)  # 200 saved, 202 applied but not saved yet
        return web.json_response(answer, status=status)

    async def deploy(request):
        data = await body(request)
        source = data.get("source")
        if not isinstance(source, str):
            raise ValueError('the body needs "source": the script text')
        result = await runtime.deploy_source(request.match_info["name"], source,
                                             data.get("source_name"), str(data.get("comment", "")))
        return web.json_response(result.__dict__, status=200 if result.ok else 422)

    async def versions(request):
        rows = await runtime.stored_versions(request.match_info["name"])
        return web.json_response([{"version": v.version, "active": v.active,
                                   "created_at": v.created_at.isoformat(),
                                   "source_hash": v.source_hash, "comment": v.comment}
                                  for v in rows])

    async def rollback(request):
        data = await body(request)
        version = data.get("version")
        result = await runtime.rollback(request.match_info["name"],
                                        int(version) if version is not None else None)
        return web.json_response(result.__dict__, status=200 if result.ok else 409)

    async def hot_prompt(request):
        data = await body(request)
        saving = runtime.set_hot_prompt(request.match_info["name"], bool(data.get("active")))
        status, answer = await runtime.saved(saving)
        return web.json_response(answer, status=status)

    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/agents/{agent}/{action}", agent)
    app.router.add_post("/scripts/{name}", deploy)
    app.router.add_get("/scripts/{name}", versions)
    app.router.add_post("/scripts/{name}/rollback", rollback)
    app.router.add_post("/hot-prompts/{name}", hot_prompt)
    return app


def _agent_groups(groups) -> dict[str, int] | None:
    """``groups`` of an agent request: a list of names, or names with penalties."""
    if groups is None:
        return None
    if isinstance(groups, list) and all(isinstance(name, str) for name in groups):
        return {name: 0 for name in groups}
    if isinstance(groups, dict) and all(
            isinstance(penalty, int) and not isinstance(penalty, bool) and penalty >= 0
            for penalty in groups.values()):
        return groups
    raise ValueError('"groups" must be a list of answer group names, or an object of '
                     'names and penalties (whole numbers, 0 or more)')


async def start_control(runtime, host: str, port: int, token: str) -> web.AppRunner:
    runner = web.AppRunner(build_app(runtime, token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
