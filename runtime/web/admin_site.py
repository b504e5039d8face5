"""Administration pages: agents, answer groups and calendars (role admin).

``/console/admin/agents``, ``/console/admin/groups``, ``/console/admin/calendars``:
a list of the entries (from the site file, changed or added in the console)
with their live state, and an edit form for each. A saved form is one site
change (runtime/live/site_admin.py): checked by the site file's readers —
a bad value shows their message on the form, and nothing changes — applied
at once, stored through the outbox and kept over a restart. Every change is
in the audit log.

Plain HTML forms (POST with the CSRF field): no script is needed to edit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from runtime.acd import AgentState
from runtime.site.changes import problems_of
from runtime.site.sections import HOURS_KEYS
from runtime.site.values import NAME_RULE, is_valid_name
from runtime.site.yamlmarks import SiteError
from runtime.web.admin_site_forms import (GROUP_DEFAULTS, GROUP_FIELDS, agent_entry, agent_form,
                                          calendar_entry, calendar_form, group_entry, group_form)
from runtime.web.console import Console, current_user
from runtime.web.security import Role

#: kind -> (the URL's plural, the audit's and the templates' word)
PLURAL = {"agent": "agents", "group": "groups", "calendar": "calendars"}


def add_routes(console: Console) -> None:
    for kind, plural in PLURAL.items():
        console.get(f"/admin/{plural}", _list_page(kind), role=Role.ADMIN)
        console.post(f"/admin/{plural}", _add(kind), role=Role.ADMIN)
        console.get(f"/admin/{plural}/{{name}}", _edit_page(kind), role=Role.ADMIN)
        console.post(f"/admin/{plural}/{{name}}", _save(kind), role=Role.ADMIN)
        console.post(f"/admin/{plural}/{{name}}/remove", _remove(kind), role=Role.ADMIN)
    console.menu("/admin/agents", "Agents", Role.ADMIN)
    console.menu("/admin/groups", "Groups", Role.ADMIN)
    console.menu("/admin/calendars", "Calendars", Role.ADMIN)


# ------------------------------------------------------------------ the pages


def _list_page(kind: str):
    async def page(request: web.Request) -> web.StreamResponse:
        console = Console.of(request)
        admin = console.runtime.site_admin
        rows = [dict(entry, live=_live(console.runtime, kind, entry["name"]))
                for entry in admin.entries(kind)]
        return console.render(request, f"admin/{PLURAL[kind]}.html", rows=rows,
                              notice=_notice(request), name=None, values=_values(kind, None),
                              problems=[], new_name="", **_form_context(console, kind, None))
    return page


def _edit_page(kind: str):
    async def page(request: web.Request) -> web.StreamResponse:
        console = Console.of(request)
        name = _name(request)
        entry = console.runtime.site_admin.entry(kind, name)
        if entry is None:
            return _missing(request, kind, name)
        return _render_form(request, kind, name, _values(kind, entry), [])
    return page


def _add(kind: str):
    """The list page's "add" form: the new entry's name, then its fields."""
    async def add(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name = str(form.get("new_name", "")).strip()
        console = Console.of(request)
        problem = None
        if not is_valid_name(name):
            problem = {"message": f'"{name}" is not a valid {kind} name' if name
                       else f"give the new {kind} a name", "help": NAME_RULE}
        elif console.runtime.site_admin.entry(kind, name) is not None:
            problem = {"message": f'there is already a {kind} "{name}"',
                       "help": "choose another name, or edit that one from the list"}
        if problem is not None:
            sent = _entry(kind, form, console.runtime, None)
            return _render_form(request, kind, None, _values(kind, sent), [problem],
                                status=422, new_name=name)
        return await _store(request, kind, name, form, None, f"{kind}.add")
    return add


def _save(kind: str):
    async def save(request: web.Request) -> web.StreamResponse:
        name = _name(request)
        current = Console.of(request).runtime.site_admin.entry(kind, name)
        if current is None:
            return _missing(request, kind, name)
        return await _store(request, kind, name, await request.post(), current, f"{kind}.change")
    return save


def _remove(kind: str):
    """Deactivate an agent (kept for the statistics); remove a group or calendar."""
    async def remove(request: web.Request) -> web.StreamResponse:
        console = Console.of(request)
        name = _name(request)
        current = console.runtime.site_admin.entry(kind, name)
        if current is None:
            return _missing(request, kind, name)
        try:
            saving = await console.runtime.site_admin.remove(kind, name,
                                                             by=current_user(request).user)
        except SiteError as error:
            return _render_form(request, kind, name, _values(kind, current), problems_of(error),
                                status=422)
        action = "agent.deactivate" if kind == "agent" else f"{kind}.remove"
        console.audit(request, action, name)
        return await _done(request, kind, name, saving)
    return remove


async def _store(request: web.Request, kind: str, name: str, form, current, action: str):
    console = Console.of(request)
    runtime = console.runtime
    entry = _entry(kind, form, runtime, current)
    try:
        saving = await runtime.site_admin.put(kind, name, entry, by=current_user(request).user)
    except SiteError as error:  # shown again as sent, with the readers' problems
        return _render_form(request, kind, name if current is not None else None,
                            _values(kind, entry), problems_of(error), status=422,
                            new_name=name)
    changed = sorted(key for key in set(entry) | set(current or {})
                     if (current or {}).get(key) != entry.get(key))
    console.audit(request, action, name, fields=",".join(changed))
    return await _done(request, kind, name, saving)


async def _done(request: web.Request, kind: str, name: str, saving) -> web.StreamResponse:
    """Back to the list, saying whether the change is saved or only applied (202)."""
    status, _answer = await Console.of(request).runtime.saved(saving)
    state = "saved" if status == 200 else "pending"
    raise web.HTTPSeeOther(f"/console/admin/{PLURAL[kind]}?{state}={name}")


# ------------------------------------------------------------------ forms


def _render_form(request, kind: str, name: str | None, values: dict, problems: list,
                 status: int = 200, new_name: str = "") -> web.StreamResponse:
    """The edit form (``name``), or the add form (``name`` None) after a refusal."""
    console = Console.of(request)
    return console.render(request, f"admin/{kind}_form.html", status=status, name=name,
                          values=values, problems=problems, new_name=new_name,
                          **_form_context(console, kind, name))


def _form_context(console: Console, kind: str, name: str | None) -> dict[str, Any]:
    site = console.runtime.site
    context: dict[str, Any] = {"kind": kind, "plural": PLURAL[kind]}
    if kind == "agent":
        context["site_groups"] = list(site.groups)
    elif kind == "group":
        context["group_fields"] = GROUP_FIELDS
        context["group_defaults"] = GROUP_DEFAULTS
    else:
        context["hours_keys"] = HOURS_KEYS
    return context


def _values(kind: str, entry) -> dict[str, Any]:
    """The form's values for an entry (None: an empty form)."""
    if kind == "agent":
        return agent_form(entry)
    if kind == "group":
        return group_form(entry)
    return calendar_form(entry)


def _entry(kind: str, form, runtime, current) -> dict[str, Any]:
    if kind == "agent":
        return agent_entry(form, list(runtime.site.groups), current)
    if kind == "group":
        return group_entry(form)
    return calendar_entry(form, _int(form.get("deviation_rows"), 0))


def _int(text, default: int) -> int:
    try:
        return max(0, min(200, int(str(text))))
    except (TypeError, ValueError):
        return default


def _missing(request: web.Request, kind: str, name: str) -> web.StreamResponse:
    return Console.of(request).refuse(request, 404, f'there is no {kind} "{name}" in the site '
                                      f"(the list shows them: /console/admin/{PLURAL[kind]})")


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not is_valid_name(name):
        raise ValueError(f'"{name}" is not a valid name: {NAME_RULE}')  # a 400 page
    return name


def _notice(request: web.Request) -> dict[str, str] | None:
    for state in ("saved", "pending"):
        name = request.query.get(state)
        if name and is_valid_name(name):
            return {"state": state, "name": name}
    return None


# ------------------------------------------------------------------ live state


def _live(runtime, kind: str, name: str) -> dict[str, Any]:
    """What the list shows beside an entry: an agent's state, a calendar's hours today."""
    site = runtime.site
    if kind == "agent":
        agent = site.agent(name)
        try:
            info = runtime.center.agent_info(name)
            state = info.state.name.lower() if info.state is not AgentState.LOGGED_OUT \
                else "logged out"
        except LookupError:
            state = "logged out"
        return {"active": agent is not None and agent.active, "state": state,
                "groups": dict(agent.groups) if agent is not None else {}}
    if kind == "group":
        group = site.groups.get(name)
        center = runtime.center
        figures = center.group_view(name, runtime.driver.now()) if center.has_group(name) \
            else {"agents_logged_in": 0, "calls_waiting": 0}
        return {"exists": group is not None, "logged_in": figures["agents_logged_in"],
                "waiting": figures["calls_waiting"]}
    calendar = site.calendars.get(name)
    if calendar is None:
        return {"exists": False}
    now = dt.datetime.now(calendar.timezone)
    hours = calendar.hours_on(now.date())
    return {"exists": True, "open": calendar.is_open(now),
            "today": ", ".join(str(r) for r in hours) or "closed",
            "holiday": calendar.holiday_name(now.date())}
