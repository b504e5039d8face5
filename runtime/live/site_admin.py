"""Administration of agents, answer groups and calendars in a running ``qscript serve``.

The site file is the starting point; an administrator's changes (web console,
control API ``PUT/DELETE /site/...``) are a layer over it
(:mod:`runtime.site.changes`), stored in the database (``site_changes``,
through the outbox) and loaded at start after the site file. A change is:

1. checked: the effective site (file + every change) is read again by the site
   file's own readers; a change that does not fit is refused with their
   message (:class:`~runtime.site.SiteError`), and nothing changes;
2. applied at once: the runtime, the driver and the centre use the new site
   (a script's ``is_open("office")`` sees a changed calendar on its next check,
   the driver rings a changed endpoint and uses a changed ring timeout, the
   ACD gets changed group settings, a new agent can log in); a deactivated
   agent who is logged in is logged out when free; a logged-in agent working
   the groups the site gave them gets the changed groups;
3. saved through the outbox: 200 once saved, 202 while the database is away
   (the change is spooled and applies meanwhile), as agent states are.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
from typing import Any

from qscript.api import check_source
from qscript.source import Source

from runtime.acd import AgentState
from runtime.site.changes import KINDS, SiteChange, apply_changes, entry_data, file_entries
from runtime.site.yamlmarks import Location, Problem, SiteError
from runtime.store.site_changes import site_change_op, stored_site_changes

log = logging.getLogger("qscript.site")

#: Who made a change through the control API (console changes name their user).
CONTROL_API = "control API"


class SiteAdmin:
    """The console's layer of site changes in a :class:`~runtime.live.runtime.LiveRuntime`."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        #: The site as the file says, before any change: the base every change is read over.
        self.file_site = runtime.site
        #: The applied changes, latest per (kind, name), in the order they were made.
        self.changes: dict[tuple[str, str], SiteChange] = {}
        #: Stored changes that no longer fit the site file (it changed since), with why.
        self.skipped: list[tuple[SiteChange, str]] = []
        self._changing = asyncio.Lock()  # one change at a time: check, then apply

    # ------------------------------------------------------------ start

    async def load(self) -> None:
        """Apply the stored changes at start (after the outbox wrote its spool).

        A stored change the site file no longer accepts (a group it used was
        taken out of the file) is skipped with an error in the log, not a
        refusal to start: the call centre runs on the rest.
        """
        if self.file_site is None:
            return
        engine = self.runtime.store.engine
        stored = await self.runtime._in_store(lambda: stored_site_changes(engine))
        if not stored:
            return
        try:
            site = await asyncio.to_thread(apply_changes, self.file_site, stored)
            accepted = stored
        except SiteError:
            site, accepted = await asyncio.to_thread(self._fitting, stored)
        self.changes = {(c.kind, c.name): c for c in accepted}
        self._use(site)
        log.info("%d site change(s) from the console applied over the site file", len(accepted))

    def _fitting(self, stored: list[SiteChange]):
        """The site with each stored change that fits, in order; the others skipped."""
        accepted: list[SiteChange] = []
        site = self.file_site
        for change in stored:
            try:
                site = apply_changes(self.file_site, [*accepted, change])
                accepted.append(change)
            except SiteError as error:
                self.skipped.append((change, str(error)))
                log.error("the stored console change of %s %s no longer fits the site file and "
                          "is not applied: %s", change.kind, change.name, error)
        return site, accepted

    # ------------------------------------------------------------ reading

    def entry(self, kind: str, name: str) -> dict[str, Any] | None:
        """An entry as the site file would write it, with the changes (None: there is none)."""
        _check_kind(kind)
        change = self.changes.get((kind, name))
        if change is not None:
            return None if change.entry is None else dict(change.entry)
        return entry_data(self.file_site, kind, name) if self.file_site is not None else None

    def entries(self, kind: str) -> list[dict[str, Any]]:
        """Every entry of a kind, the file's first (in its order), then those added:
        name, entry, origin (file | changed | added | removed), when and by whom."""
        _check_kind(kind)
        in_file = file_entries(self.file_site, kind) if self.file_site is not None else {}
        names = list(in_file) + [n for (k, n) in self.changes if k == kind and n not in in_file]
        listed = []
        for name in names:
            change = self.changes.get((kind, name))
            origin = "file" if change is None else "removed" if change.entry is None \
                else "changed" if name in in_file else "added"
            listed.append({"name": name, "entry": self.entry(kind, name), "origin": origin,
                           "changed_at": change.changed_at.isoformat() if change else None,
                           "changed_by": change.changed_by if change else None})
        return listed

    # ------------------------------------------------------------ changing

    async def put(self, kind: str, name: str, entry: dict[str, Any],
                  by: str = CONTROL_API) -> concurrent.futures.Future[str]:
        """Add or replace an entry; SiteError (nothing changed) if the site does not accept it."""
        _check_kind(kind)
        if kind == "agent":
            given = entry.get("id")
            if given is not None and given != name:
                raise ValueError(f'the entry\'s id "{given}" is not the agent "{name}" it is '
                                 "stored for; leave id out or give the same")
            entry = {"id": name, **{k: v for k, v in entry.items() if k != "id"}}
        return await self._change(SiteChange(kind, name, entry, _now(), by))

    async def remove(self, kind: str, name: str,
                     by: str = CONTROL_API) -> concurrent.futures.Future[str]:
        """Remove a group or calendar; deactivate an agent (their statistics keep the id)."""
        current = self.entry(kind, name)
        if current is None:
            raise LookupError(f'no {kind} "{name}" in the site')
        if kind == "agent":
            return await self._change(SiteChange(kind, name, {**current, "active": False},
                                                 _now(), by))
        return await self._change(SiteChange(kind, name, None, _now(), by))

    async def _change(self, change: SiteChange) -> concurrent.futures.Future[str]:
        if self.file_site is None:
            raise LookupError("this runtime runs without a site file; there is nothing to change")
        async with self._changing:
            candidate = dict(self.changes)
            candidate.pop((change.kind, change.name), None)  # the change goes last (newest)
            candidate[(change.kind, change.name)] = change
            # Off the event loop: reading calendars asks the holidays library.
            site = await asyncio.to_thread(apply_changes, self.file_site, candidate.values())
            if change.entry is None:  # a group or calendar removed: do the scripts need it?
                await asyncio.to_thread(self._check_scripts, site, change)
            self.changes = candidate
            self._use(site)
        log.info("site change by %s: %s %s %s", change.changed_by, change.kind, change.name,
                 "removed" if change.entry is None else "set")
        return self.runtime.outbox.submit(site_change_op(change))

    def _check_scripts(self, site, change: SiteChange) -> None:
        """Refuse removing a group or calendar an active script names: the checker's
        errors for each script against the changed site, located in the script."""
        symbols = site.symbols()
        problems: list[Problem] = []
        seen: set[str] = set()
        for _number, program in self.runtime.programs.items():
            if program.hash_hex in seen or not program.source_text:
                continue
            seen.add(program.hash_hex)
            result = check_source(Source(program.source_text, program.source_name), symbols)
            problems.extend(
                Problem(Location(d.source_name, d.span.line, d.span.column),
                        f"the active script uses the {change.kind} \"{change.name}\": {d.message}",
                        f"change the script first (deploy a version without it), then remove "
                        f"the {change.kind}")
                for d in result.diagnostics if d.is_error)
        if problems:
            raise SiteError(problems)

    # ------------------------------------------------------------ applying

    def _use(self, site) -> None:
        """Make ``site`` the one the runtime works with, and bring live state in line."""
        runtime = self.runtime
        old = runtime.site
        runtime.site = site
        runtime.driver.site = site          # endpoints, agent variables, ring timeouts
        runtime.center.site = site          # calendars, agent wrap-up at login
        runtime.statistics.groups = site.groups   # thresholds recorded with each call
        for name, group in site.groups.items():
            if old is None or old.groups.get(name) != group:
                runtime.center.define_group(name, float(group.service_level_threshold),
                                            float(group.wrap_up))
        for agent in site.agents:
            before = old.agent(agent.id) if old is not None else None
            if before != agent:
                self._agent_changed(before, agent)

    def _agent_changed(self, before, agent) -> None:
        """A logged-in agent's entry changed: log them out (deactivated, when free), give
        them the new groups (if they worked the site's), and the new wrap-up."""
        runtime, center = self.runtime, self.runtime.center
        try:
            info = center.agent_info(agent.id)
        except LookupError:
            return  # never logged in: the next login reads the new entry
        if info.state is AgentState.LOGGED_OUT:
            return
        if not agent.active:
            center.agent_logout_when_free(agent.id, lambda: runtime._save_agent(agent.id))
            runtime._save_agent(agent.id)  # logged out now, or pausing until the call is over
            return
        old_groups = dict(before.groups) if before is not None else None
        if old_groups is not None and dict(info.groups) == old_groups \
                and dict(agent.groups) != old_groups:
            center.agent_groups(agent.id, dict(agent.groups))
            runtime._save_agent(agent.id)
        if before is None or before.wrap_up != agent.wrap_up:
            center.set_agent_wrap_up(agent.id, agent.wrap_up)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f'unknown kind "{kind}"; kinds: {", ".join(KINDS)}')


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
