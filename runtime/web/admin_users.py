"""Administration of the console's users and the audit log (role admin).

A change of role, agent, activity or password ends the user's open sessions
at once: a deactivated user's wallboard stops, a demoted supervisor logs in
again as what they are now. Passwords are never shown or logged; the audit
entry of a password change says only that it changed.
"""

from __future__ import annotations

import json

from aiohttp import web

from runtime.site.values import NAME_RULE, is_valid_name
from runtime.store import console as tables
from runtime.web.console import Console, current_user
from runtime.web.security import Role


def add_routes(console: Console) -> None:
    console.get("/admin/users", users_page, role=Role.ADMIN)
    console.post("/admin/users", add_user, role=Role.ADMIN)
    console.post("/admin/users/{name}", change_user, role=Role.ADMIN)
    console.get("/admin/audit", audit_page, role=Role.ADMIN)
    console.menu("/admin/users", "Users", Role.ADMIN)
    console.menu("/admin/audit", "Audit log", Role.ADMIN)


async def users_page(request: web.Request, *, message: str = "", error: str = "",
                     status: int = 200, entered: dict | None = None) -> web.StreamResponse:
    """The user list and the add form (``entered``: the add form's values after an error,
    never the password)."""
    console = Console.of(request)
    users = [user.public() for user in await console.users.all()]
    site = console.runtime.site
    return console.render(request, "admin/users.html", status=status, users=users,
                          agents=[agent.id for agent in getattr(site, "agents", ())],
                          roles=[role.label for role in Role], message=message, error=error,
                          entered=entered or {"name": "", "role": "agent", "agent_id": ""})


async def add_user(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    form = await request.post()
    name = str(form.get("name", "")).strip()
    try:
        role = Role.named(str(form.get("role", "")))
        agent_id = _agent(console, role, str(form.get("agent_id", "")).strip())
        if not is_valid_name(name):
            raise ValueError(f'"{name}" is not a valid user name: {NAME_RULE}')
        if await console.users.find(name) is not None:
            raise ValueError(f'the user "{name}" exists already')
        saving = console.users.save(name, str(form.get("password", "")), role, agent_id, True)
    except ValueError as problem:
        return await users_page(request, error=str(problem), status=400, entered={
            "name": name, "role": str(form.get("role", "")),
            "agent_id": str(form.get("agent_id", ""))})
    console.audit(request, "user.add", name, role=role.label, agent=agent_id)
    return await _after(request, saving, f'added the {role.label} "{name}"')


async def change_user(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    name = request.match_info["name"]
    form = await request.post()
    try:
        user = await console.users.find(name)
        if user is None:
            raise LookupError(f'no user "{name}"')
        role = Role.named(str(form.get("role", user.role.label)))
        agent_id = _agent(console, role, str(form.get("agent_id", user.agent_id)).strip())
        active = form.get("active", "on" if user.active else "") == "on"
        password = str(form.get("password", "")) or None
        if name == current_user(request).user and (role < Role.ADMIN or not active):
            raise ValueError("you cannot take your own admin role or login away "
                             "(another admin can)")
        saving = console.users.save(name, password, role, agent_id, active)
    except (ValueError, LookupError) as problem:
        return await users_page(request, error=str(problem.args[0] if problem.args else problem),
                                status=400)
    changed = {key: value for key, value, before in (
        ("role", role.label, user.role.label), ("agent", agent_id, user.agent_id),
        ("active", active, user.active)) if value != before}
    if password:
        changed["password"] = "changed"
    if changed:
        ended = console.sessions.close_user(name) if name != current_user(request).user else 0
        console.audit(request, "user.change", name, sessions_ended=ended, **changed)
    return await _after(request, saving, f'changed "{name}"' if changed else "nothing changed")


async def audit_page(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    user, action = request.query.get("user", "").strip(), request.query.get("action", "").strip()
    store = console.runtime.store
    rows = await console.runtime._in_store(
        lambda: tables.audit_entries(store, 500, user or None, action or None))
    entries = [{"at": row.at, "user": row.user, "role": row.role, "address": row.address,
                "action": row.action, "target": row.target,
                "detail": ", ".join(f"{k}={v}" for k, v in json.loads(row.detail or "{}").items())}
               for row in rows]
    return console.render(request, "admin/audit.html", entries=entries, user_filter=user,
                          action_filter=action)


def _agent(console: Console, role: Role, agent_id: str) -> str:
    if role is Role.AGENT and not agent_id:
        raise ValueError("an agent user acts as a site agent: choose one")
    site = console.runtime.site
    if agent_id and site is not None and site.agent(agent_id) is None:
        raise ValueError(f'unknown agent "{agent_id}"')
    return agent_id


async def _after(request: web.Request, saving, message: str) -> web.StreamResponse:
    status, answer = await Console.of(request).runtime.saved(saving)
    if status != 200:
        message += f" ({answer['message']})"
    return await users_page(request, message=message)
