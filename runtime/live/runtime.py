"""The live runtime behind ``qscript serve``: ARI, the contact centre, the database.

:class:`LiveRuntime` wires the pieces: the ARI port (asyncari adapter), the
:class:`~runtime.live.ari.driver.AriDriver`, the shared
:class:`~runtime.core.center.ContactCenter`, the :class:`~runtime.store.database.Store`
and the control API (runtime/live/control.py). It owns deployment: scripts are
compiled, stored as numbered versions and activated atomically — calls in
progress keep the program they started with, new calls get the new one.

The database is never touched on the event loop: deploys, rollbacks and
version listings run in a worker thread (a slow or locked database delays
the request, not the calls), and call records, agent states and hot-prompt
states go through the :class:`~runtime.store.outbox.Outbox`, which keeps them
through an outage and writes them when the database is back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import gc
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from qscript.api import check_source, load_source
from qscript.bytecode import BytecodeError, Program, read_program
from qscript.source import Source

from runtime.live.ari.driver import AriDriver, handled_events
from runtime.live.ari.port import AriPort
from runtime.core.center import CallHistory, ProgramTable
from runtime.core.factory import build_center
from runtime.core.latency import LatencyRecorder
from runtime.live.mailer import Mailer
from runtime.live.site_admin import SiteAdmin
from runtime.store.outbox import REJECTED, SAVED, SPOOLED, Outbox
from runtime.store.database import (Store, StoreUnavailable, agent_state_op, describe_error,
                    hot_prompt_op, is_transient)
from runtime.store.facts import WallClock
from runtime.live.board_feed import BoardFeed
from runtime.live.snapshot import BOARD_CALLS, build_snapshot
from runtime.live.statistics import OutboxStatistics
from runtime.live.prompt_uploads import PromptUploads
from runtime.store.prompt_recordings import prompt_recordings

log = logging.getLogger("qscript.live")

_T = TypeVar("_T")

#: How long the control API waits for an agent or hot-prompt change to be
#: saved before it answers 202 "applied, not saved yet".
SAVE_WAIT = 2.0


def default_spool_path(url: str, site) -> Path:
    """Where the outbox spools writes: next to an SQLite file, else next to the site."""
    from sqlalchemy.engine import make_url
    try:
        parsed = make_url(url)
        database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    except Exception:  # noqa: BLE001 - an unusual URL: fall back to the site's folder
        database = None
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        return path.with_name(path.name + ".outbox.jsonl")
    base = Path(getattr(site, "base_dir", None) or ".")
    site_path = getattr(site, "path", None)
    stem = Path(site_path).stem if site_path else "site"
    return base / ".qscript" / f"{stem}.outbox.jsonl"


class ScriptLoadError(Exception):
    """A stored version that this runtime cannot run."""


@dataclass
class DeployResult:
    ok: bool
    name: str
    version: int | None = None
    diagnostics: list[dict] | None = None
    source_hash: str = ""


class LiveRuntime:
    def __init__(self, site, port: AriPort, store: Store, *, loop=None,
                 outbox: Outbox | None = None):
        self.site = site
        self.port = port
        self.store = store
        self.outbox = outbox or Outbox(store, default_spool_path(store.url, site))
        self.save_wait = SAVE_WAIT
        self.loop = loop or asyncio.get_event_loop()
        fallback = getattr(site, "fallback", None)
        dialplan = getattr(fallback, "dialplan", None) if fallback else None
        self.driver = AriDriver(port, site=site, loop=self.loop, mailer=Mailer.from_site(site),
                                fallback_context=getattr(dialplan, "context", None),
                                fallback_extension=getattr(dialplan, "extension", None),
                                fallback_priority=getattr(dialplan, "priority", 1),
                                transfer_context=getattr(getattr(site, "ari", None),
                                                         "transfer_context", None) or "default",
                                callback_endpoint=getattr(getattr(site, "ari", None),
                                                          "callback_endpoint", None)
                                or "Local/{number}@default")
        self.programs = ProgramTable()
        self.history = CallHistory()
        self._epoch = (dt.datetime.now(dt.timezone.utc), self.loop.time())
        #: The statistics go through the outbox as calls end and agents change state;
        #: each finished call is one ``contact`` write (its call-log row included).
        self.statistics = OutboxStatistics(self.outbox, WallClock(*self._epoch),
                                           getattr(site, "groups", None), self.loop)
        self.center = build_center(self.driver, self.programs, site, history=self.history,
                                   statistics=self.statistics)
        port.wanted_events = handled_events()  # Asterisk sends nothing we would skip
        self.center.on_agent_changed = self._save_agent
        #: The wallboards' feed: told of each change by the centre, it builds one
        #: snapshot per update for all open boards (nothing while none is open).
        self.board = BoardFeed(lambda: self.snapshot(BOARD_CALLS), self.loop,
                               refresh_at=self._board_refresh_at)
        self.center.watch(self.board.changed)
        self.versions: dict[str, int] = {}           # script name -> active version
        self._deploying = asyncio.Lock()  # one deploy or rollback at a time: store, then activate
        self.started_at = time.monotonic()
        self._cpu_started = time.process_time()
        self.loop_lag = LatencyRecorder()
        self.gc_pauses = [LatencyRecorder(), LatencyRecorder(), LatencyRecorder()]
        self._gc_started: float | None = None
        self._lag_watch: asyncio.Task | None = None
        self._connected_before = False
        #: Prompt recordings uploaded in the console: written where Asterisk reads them,
        #: played from the next play, saved through the outbox (restored at start).
        self.prompt_uploads = PromptUploads.for_site(site, self.outbox)
        #: Agents, groups and calendars changed in the console: a layer over the site file.
        self.site_admin = SiteAdmin(self)

    # ------------------------------------------------------------ start and stop

    async def start(self) -> None:
        """Write an earlier run's spool, load scripts and state, connect to ARI.

        Needs the database: the active script versions live there. When it is
        down this raises :class:`StoreUnavailable` with a message that says
        so (the spool stays on disk for the next start).
        """
        await asyncio.to_thread(self.outbox.start)
        await self.site_admin.load()  # before the scripts: they may use its groups, calendars
        await self._load_scripts()
        hot, calls, agents = await self._in_store(
            lambda: (self.store.hot_prompts(), self.store.calls(limit=5000), self.store.agents()))
        self._restore_state(hot, calls, agents)
        recordings = await self._in_store(lambda: prompt_recordings(self.store))
        await asyncio.to_thread(self.prompt_uploads.restore, recordings)
        self._watch_pauses()
        self.driver.on_connected = self._freeze_long_lived_objects
        await self.port.start(self.driver.on_event)

    def _freeze_long_lived_objects(self) -> None:
        """Keep the garbage collector off the objects that live as long as the process.

        Modules, the compiled scripts, the site and the ARI client's description of
        Asterisk's API are some 100,000 objects; every full collection walks them
        all, and under load one took 200 ms, stalling every call at once (agent
        hand-offs waited behind it). Frozen, they are never walked again. On a
        reconnect the previous connection's client is garbage: everything is unfrozen
        and collected once (garbage must not be frozen: it would never be freed),
        then what is left is frozen again.
        """
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        if not self._connected_before:  # the start's own collection stalled no call
            self._connected_before = True
            for recorder in self.gc_pauses:
                recorder.clear()

    async def close(self) -> None:
        """Stop taking calls; write the outbox (or spool what the database does not take)."""
        await self.port.close()
        self.board.close()
        if self._lag_watch is not None:
            self._lag_watch.cancel()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        for task in list(self.driver.tasks):
            task.cancel()
        self.driver.close()
        # The agents' states so far, then what is gathered, before the outbox closes.
        if self.center.facts is not None:
            self.center.facts.close()
        self.statistics.flush()
        await asyncio.to_thread(self.outbox.close)

    # ------------------------------------------------------------ pauses (for /metrics)

    def _watch_pauses(self) -> None:
        """Measure how late the event loop runs and how long garbage collections take:
        a stalled loop delays every call at once (see /metrics loop_lag and gc)."""
        gc.callbacks.append(self._on_gc)
        self._lag_watch = self.loop.create_task(self._watch_loop_lag())

    async def _watch_loop_lag(self, interval: float = 0.02) -> None:
        while True:
            started = self.loop.time()
            await asyncio.sleep(interval)
            self.loop_lag.record(max(0.0, self.loop.time() - started - interval))

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            self.gc_pauses[min(int(info.get("generation", 0)), 2)].record(
                time.perf_counter() - self._gc_started)
            self._gc_started = None

    async def _in_store(self, function: Callable[[], _T]) -> _T:
        """Run a database call in a worker thread; an outage is a StoreUnavailable."""
        try:
            return await asyncio.to_thread(function)
        except StoreUnavailable:
            raise
        except Exception as error:
            if is_transient(error):
                raise StoreUnavailable(
                    f"the database is unavailable ({describe_error(error)})") from error
            raise

    def _restore_state(self, hot_prompts: dict[str, bool], calls: list, agents: list) -> None:
        for name, active in hot_prompts.items():
            self.center.set_hot_prompt(name, active)
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
        for row in reversed(calls):
            if row.agent and row.caller and row.ended_at is not None:
                ended = row.ended_at if row.ended_at.tzinfo else row.ended_at.replace(tzinfo=dt.timezone.utc)
                if ended >= since:
                    seconds_ago = (dt.datetime.now(dt.timezone.utc) - ended).total_seconds()
                    self.history.remember(row.caller, row.agent, self.loop.time() - seconds_ago)
        for row in agents:
            if row.logged_in and self._may_log_in(row.agent_id):
                groups = json.loads(row.groups or "{}")
                self.center.agent_login(row.agent_id, groups, ready=row.ready)
                if not row.ready and row.pause_reason:
                    self.center.agent_pause(row.agent_id, row.pause_reason)

    def _may_log_in(self, agent_id: str) -> bool:
        """Not an agent deactivated (in the console) while logged in, before the restart."""
        agent = self.site.agent(agent_id) if self.site is not None else None
        return agent is None or agent.active

    # ------------------------------------------------------------ scripts

    def _script_names(self) -> dict[str, list[str]]:
        """Script name (file stem) -> the dialled numbers it answers."""
        routes: dict[str, list[str]] = {}
        for route in getattr(self.site, "numbers", ()):
            routes.setdefault(Path(route.script).stem, []).append(route.number)
        return routes

    async def _load_scripts(self) -> None:
        """Activate the stored versions; store a first version of scripts never deployed."""
        stored = {v.name: v for v in await self._in_store(self.store.active_versions)}
        for route in getattr(self.site, "numbers", ()):
            name = Path(route.script).stem
            if name in stored:
                continue
            source, unreadable = load_source(route.script)
            if unreadable is not None:  # not UTF-8, binary, too big...: error Q0001, located
                raise RuntimeError("\n".join(d.render(unreadable.source)
                                             for d in unreadable.diagnostics))
            result = await self.deploy_source(name, source.text, str(route.script),
                                              comment="initial version from the site")
            if not result.ok:
                raise RuntimeError(f"{route.script} does not compile; fix it before serving:\n"
                                   + "\n".join(d["message"] for d in result.diagnostics or []))
            stored = {v.name: v for v in await self._in_store(self.store.active_versions)}
        for name, version in stored.items():
            if self.versions.get(name) != version.version:  # not just deployed above
                try:
                    program = await asyncio.to_thread(self._program_of, version)
                except ScriptLoadError as error:
                    raise RuntimeError(f"{error}; deploy a version that compiles (or roll "
                                       "back to one) before serving") from None
                self._activate(name, program, version.version)

    def _program_of(self, version) -> Program:
        """The program of a stored version (run in a worker thread).

        Its bytecode is read and verified; bytecode this runtime refuses (written
        by another version of QScript, or damaged) is compiled again from the
        version's stored source and stored back under the same version number.
        A source that no longer compiles (a check added since) raises
        :class:`ScriptLoadError` with the diagnostics.
        """
        try:
            return read_program(version.bytecode)
        except BytecodeError as refused:
            reason = f"{refused.code}: {refused.message}"
        symbols = self.site.symbols() if self.site is not None else None
        result = check_source(Source(version.source, f"{version.name}.qs"), symbols, compile=True)
        if result.program is None:
            raise ScriptLoadError(
                f"stored version {version.version} of {version.name} cannot run: its bytecode is "
                f"refused ({reason}) and its source no longer compiles:\n"
                + "\n".join(d.render(result.source) for d in result.diagnostics
                            if d.is_error))
        program = result.program
        log.warning("script %s version %d compiled again from its stored source (its bytecode "
                    "was refused: %s)", version.name, version.version, reason)
        try:
            self.store.replace_bytecode(version.name, version.version, program.to_bytes())
        except Exception as error:  # noqa: BLE001 - the program runs; the next start compiles again
            log.warning("could not store the recompiled bytecode of %s version %d: %s",
                        version.name, version.version, describe_error(error))
        return program

    def _activate(self, name: str, program: Program, version: int) -> None:
        for number in self._script_names().get(name, []):
            self.programs.set(number, program)
        self.versions[name] = version
        if self.center.facts is not None:
            self.center.facts.script_versions[program.hash_hex] = version
        log.info("script %s version %d active (%s)", name, version, program.hash_hex[:12])

    async def deploy_source(self, name: str, source_text: str, source_name: str | None = None,
                            comment: str = "") -> DeployResult:
        """Compile and activate a new version; a script with errors is refused.

        Compiling and storing run in a worker thread. Nothing changes unless
        the version is stored: with the database down this raises
        :class:`StoreUnavailable` and the running version stays.
        """
        symbols = self.site.symbols() if self.site is not None else None
        async with self._deploying:
            result = await asyncio.to_thread(
                check_source, Source(source_text, source_name or f"{name}.qs"), symbols,
                compile=True)
            if result.program is None:
                return DeployResult(False, name, diagnostics=[
                    dict(d.to_json(), rendered=d.render(result.source))
                    for d in result.diagnostics])
            program = result.program
            stored = await self._in_store(lambda: self.store.add_version(
                name, source_text, program.to_bytes(), program.hash_hex, comment=comment))
            self._activate(name, program, stored.version)
        notes = [d.to_json() for d in result.diagnostics]
        if name not in self._script_names():
            notes.append({"severity": "warning", "code": "", "message":
                          f'no dialled number in the site routes to "{name}"; this version is '
                          "stored and active but answers no calls",
                          "rendered": f'warning: no dialled number in the site routes to "{name}"'})
        return DeployResult(True, name, stored.version, notes, program.hash_hex)

    async def rollback(self, name: str, version: int | None = None) -> DeployResult:
        """Activate a stored version (by default the one before the active one)."""
        async with self._deploying:
            versions = await self._in_store(lambda: self.store.versions(name))
            if not versions:
                return DeployResult(False, name, diagnostics=[{"message": f"no versions of {name}"}])
            current = self.versions.get(name)
            if version is None:
                earlier = [v for v in versions if current is None or v.version < current]
                if not earlier:
                    return DeployResult(False, name, diagnostics=[
                        {"message": f"version {current} is the first version of {name}"}])
                version = earlier[-1].version
            chosen = version
            row = next((v for v in versions if v.version == chosen), None)
            if row is None:
                return DeployResult(False, name, diagnostics=[{"message": f"no version {version}"}])
            # The program first: a version that cannot run must not become the
            # stored active one while the old one keeps running.
            try:
                program = await asyncio.to_thread(self._program_of, row)
            except ScriptLoadError as error:
                return DeployResult(False, name, diagnostics=[{"message": str(error)}])
            target = await self._in_store(lambda: self.store.activate(name, chosen))
            if target is None:
                return DeployResult(False, name, diagnostics=[{"message": f"no version {version}"}])
            self._activate(name, program, target.version)
            return DeployResult(True, name, target.version, [], target.source_hash)

    async def stored_versions(self, name: str) -> list:
        """The stored versions of a script, oldest first (read in a worker thread)."""
        return await self._in_store(lambda: self.store.versions(name))

    # ------------------------------------------------------------ records and agents

    def agent_action(self, agent_id: str, action: str, groups=None,
                     reason: str = "") -> concurrent.futures.Future[str]:
        """Change an agent's state now; ValueError/LookupError for requests that cannot be done.

        The change is in effect when this returns; saving it is queued in the
        outbox, and the returned future says where it went (see :meth:`saved`).
        """
        center = self.center
        agent = self.site.agent(agent_id) if self.site is not None else None
        if self.site is not None and agent is None:
            raise LookupError(f'unknown agent "{agent_id}"; agents are defined in the site file '
                              "or added in the console")
        if agent is not None and not agent.active and action == "login":
            raise ValueError(f'agent "{agent_id}" is deactivated (in the site file or the '
                             "console)")
        for group in (groups or {}):
            if self.site is not None and group not in self.site.groups:
                raise LookupError(f'unknown answer group "{group}"')
        if action == "login":
            center.agent_login(agent_id, groups or self._site_groups(agent_id))
        elif action == "logout":
            center.agent_logout(agent_id)
        elif action == "ready":
            center.agent_ready(agent_id)
        elif action == "pause":
            center.agent_pause(agent_id, reason or "pause")
        elif action == "groups":
            center.agent_groups(agent_id, dict(groups or {}))
        else:
            raise ValueError(f"unknown agent action {action!r}")
        return self._save_agent(agent_id)

    def _save_agent(self, agent_id: str) -> concurrent.futures.Future[str]:
        """Store an agent's state: after every request, and when the ACD changes it
        itself (a missed ring pauses the agent), so a restart restores it."""
        info = self.center.agent_info(agent_id)
        from runtime.acd import AgentState
        return self.outbox.submit(agent_state_op(
            agent_id, info.state is not AgentState.LOGGED_OUT, info.state is AgentState.READY,
            info.pause_reason or "", dict(info.groups)))

    # ------------------------------------------------------------ the agent's own call (agent client)

    def agent_view(self, agent_id: str, callbacks: list[dict] | None = None) -> dict:
        """An agent's state, their call's screen pop and their callback list
        (runtime.core.agent_view; ``callbacks``: all_pending_callbacks, when known);
        LookupError for an agent the site does not define."""
        from runtime.core.agent_view import agent_view
        agent = self._site_agent(agent_id)
        view = agent_view(self.center, agent_id, self._crm_url(), callbacks)
        view["name"] = getattr(agent, "name", "") or agent_id
        return view

    def transfer_agent_call(self, agent_id: str, *, number: str | None = None,
                            agent: str | None = None, group: str | None = None) -> dict:
        """Pass the agent's call on (ContactCenter.transfer_agent_call)."""
        self._site_agent(agent_id)
        if agent is not None:
            self._site_agent(agent)
        call_id = self.center.transfer_agent_call(agent_id, number=number, agent=agent,
                                                  group=self._site_group(group))
        target = {"number": number} if number is not None else \
            {"agent": agent} if agent is not None else {"group": group}
        return {"ok": True, "call_id": call_id, "to": target}

    def requeue_agent_call(self, agent_id: str, group: str | None = None) -> dict:
        """Put the agent's call back in a queue, keeping its place (ContactCenter)."""
        self._site_agent(agent_id)
        call_id = self.center.requeue_agent_call(agent_id, self._site_group(group))
        return {"ok": True, "call_id": call_id}

    def take_callback(self, agent_id: str, call_id: str) -> dict:
        """The agent takes a pending callback from their list: it rings them now."""
        self._site_agent(agent_id)
        self.center.take_callback(agent_id, call_id)
        return {"ok": True, "call_id": call_id}

    def _site_agent(self, agent_id: str):
        agent = self.site.agent(agent_id) if self.site is not None else None
        if self.site is not None and agent is None:
            raise LookupError(f'unknown agent "{agent_id}"; agents are defined in the site file')
        return agent

    def _site_group(self, group: str | None) -> str | None:
        if group is not None and self.site is not None and group not in self.site.groups:
            raise LookupError(f'unknown answer group "{group}"')
        return group

    def _crm_url(self) -> str:
        """The site's ``web.crm_url`` template (checked when the site loaded; "" for none)."""
        return getattr(getattr(self.site, "web", None), "crm_url", "") or ""

    def _site_groups(self, agent_id: str) -> dict[str, int]:
        agent = self.site.agent(agent_id) if self.site is not None else None
        return dict(agent.groups) if agent is not None else {}

    def set_hot_prompt(self, name: str, active: bool) -> concurrent.futures.Future[str]:
        """Switch a hot prompt now; saving it is queued (the future says where it went)."""
        if self.site is not None and name not in self.site.hot_prompts:
            raise LookupError(f'unknown hot prompt "{name}"')
        self.center.set_hot_prompt(name, active)
        return self.outbox.submit(hot_prompt_op(name, active))

    async def saved(self, saving: concurrent.futures.Future[str]) -> tuple[int, dict[str, Any]]:
        """The control API's answer to a change that is in effect: was it saved?

        200 once the database has it. Otherwise, after ``save_wait`` seconds
        at most, 202: the change is applied (calls are routed by it) but not
        in the database yet; the message says whether it is kept on disk (a
        restart keeps it) or only in memory, and why.
        """
        try:
            outcome = await asyncio.wait_for(_awaitable(saving, self.loop), self.save_wait)
        except asyncio.TimeoutError:
            outcome = "pending"
        if outcome == SAVED:
            return 200, {"ok": True, "applied": True, "saved": True}
        health = self.outbox.health()
        why = (f"the database is unavailable ({health['error']})" if health["error"]
               else f"the database has not confirmed it within {self.save_wait:g}s")
        if outcome == SPOOLED:
            kept = (f"the change is kept on disk in {health['spool']} and will be written "
                    "when the database is back (a restart keeps it)")
        elif outcome == REJECTED:
            kept = f"the database refused it; it is kept in {health['spool']}.rejected"
        elif health["spool_full"]:
            kept = ("the outbox spool is full: the change is held in memory, written when the "
                    "database is back, lost if the runtime stops before")
        else:
            kept = "the change is queued and retried; `qscript status` shows the database"
        return 202, {"applied": True, "saved": False, "kept": outcome,
                     "message": f"applied, but not saved yet: {why}; {kept}"}

    # ------------------------------------------------------------ status

    def status(self) -> dict:
        """What ``qscript status`` shows: the live view (runtime.live.snapshot, the one
        the wallboard shows too) and the runtime's own health."""
        view = self.snapshot()
        view.update({"connected": self.port.connected, "scripts": self.versions,
                     "hot_prompts": dict(self.center.hot_prompts),
                     "database": self.outbox.health()})
        return view

    def snapshot(self, calls_listed: int | None = None) -> dict:
        """The live view of queues, calls, agents and figures (runtime.live.snapshot):
        what the wallboards show (the first ``calls_listed`` calls of each queue), and
        the most of ``qscript status`` (all of them)."""
        wall, loop_time = self._epoch   # one clock offset: a call's "since" never jitters
        return build_snapshot(self.center, self.site, wall.timestamp() - loop_time,
                              calls_listed)

    def _board_refresh_at(self) -> float | None:
        """When the wallboard's figures next change with no event: a call's outcome
        leaves the last 15 minutes (driver clock = the loop's clock)."""
        situation = self.center.situation
        return situation.next_change() if situation is not None else None

    def metrics(self) -> dict:
        elapsed = time.monotonic() - self.started_at
        cpu = time.process_time() - self._cpu_started
        return {"latency": self.driver.latency.summary(), "handoff": self.center.handoff.summary(),
                "handoff_stages": {stage: recorder.summary() for stage, recorder
                                   in self.driver.handoff_stages.items()},
                "loop_lag": self.loop_lag.summary(),
                "wallboard": self.board.summary(),
                "events": dict(sorted(self.driver.event_counts.items())),
                "gc": {f"generation_{n}": recorder.summary()
                       for n, recorder in enumerate(self.gc_pauses)},
                "calls": self.center.call_count(),
                "workers": {"lookups": self.driver.lookup_workers.stats(),
                            "commands": self.driver.command_workers.stats()},
                "cpu_seconds": round(cpu, 3), "uptime_seconds": round(elapsed, 3),
                "cpu_share": round(cpu / elapsed, 4) if elapsed > 0 else None,
                "database": self.outbox.health()}


def _awaitable(saving: concurrent.futures.Future[str],
               loop: asyncio.AbstractEventLoop) -> asyncio.Future[str]:
    """An asyncio future that follows the outbox's future (resolved in its thread).

    Not asyncio.wrap_future: cancelling a wait would cancel the outbox's future,
    and a late result after the loop closed would raise in the writer thread.
    """
    waiter: asyncio.Future[str] = loop.create_future()

    def settle(outcome: str) -> None:
        if not waiter.done():
            waiter.set_result(outcome)

    def done(future: concurrent.futures.Future[str]) -> None:
        if future.cancelled() or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(settle, future.result())
        except RuntimeError:  # the loop closed meanwhile: nobody waits any more
            pass

    saving.add_done_callback(done)
    return waiter

