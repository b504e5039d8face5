"""The live runtime behind ``qscript serve``: ARI, the contact centre, the database.

:class:`LiveRuntime` wires the pieces: the ARI port (asyncari adapter), the
:class:`~runtime.ari.driver.AriDriver`, the shared
:class:`~runtime.center.ContactCenter`, the :class:`~runtime.store.Store`
and the control API (runtime/control.py). It owns deployment: scripts are
compiled, stored as numbered versions and activated atomically — calls in
progress keep the program they started with, new calls get the new one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from qscript.api import check_source
from qscript.bytecode import Program, read_program
from qscript.source import Source

from .ari.driver import AriDriver
from .ari.port import AriPort
from .center import CallHistory, ContactCenter, ProgramTable
from .latency import LatencyRecorder
from .mailer import Mailer
from .records import CallRecord
from .store import Store

log = logging.getLogger("qscript.live")


@dataclass
class DeployResult:
    ok: bool
    name: str
    version: int | None = None
    diagnostics: list[dict] | None = None
    source_hash: str = ""


class LiveRuntime:
    def __init__(self, site, port: AriPort, store: Store, *, loop=None):
        self.site = site
        self.port = port
        self.store = store
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
        self.center = ContactCenter(self.driver, self.programs, site=site, history=self.history,
                                    on_record=self._record,
                                    fallback_group=getattr(fallback, "group", None))
        self.driver.center = self.center
        self.center.on_agent_changed = self._save_agent
        if getattr(site, "commands", None):
            self.center.commands = site.commands
        self.versions: dict[str, int] = {}           # script name -> active version
        self._epoch = (dt.datetime.now(dt.timezone.utc), self.loop.time())
        self.started_at = time.monotonic()
        self._cpu_started = time.process_time()
        self.loop_lag = LatencyRecorder()
        self.gc_pauses = [LatencyRecorder(), LatencyRecorder(), LatencyRecorder()]
        self._gc_started: float | None = None
        self._lag_watch: asyncio.Task | None = None

    # ------------------------------------------------------------ start and stop

    async def start(self) -> None:
        self._load_scripts()
        self._restore_state()
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

    async def close(self) -> None:
        await self.port.close()
        if self._lag_watch is not None:
            self._lag_watch.cancel()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        for task in list(self.driver.tasks):
            task.cancel()

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

    def _restore_state(self) -> None:
        for name, active in self.store.hot_prompts().items():
            self.center.set_hot_prompt(name, active)
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
        for row in reversed(self.store.calls(limit=5000)):
            if row.agent and row.caller and row.ended_at is not None:
                ended = row.ended_at if row.ended_at.tzinfo else row.ended_at.replace(tzinfo=dt.timezone.utc)
                if ended >= since:
                    seconds_ago = (dt.datetime.now(dt.timezone.utc) - ended).total_seconds()
                    self.history.remember(row.caller, row.agent, self.loop.time() - seconds_ago)
        import json
        for row in self.store.agents():
            if row.logged_in:
                groups = json.loads(row.groups or "{}")
                self.center.agent_login(row.agent_id, groups, ready=row.ready)
                if not row.ready and row.pause_reason:
                    self.center.agent_pause(row.agent_id, row.pause_reason)

    # ------------------------------------------------------------ scripts

    def _script_names(self) -> dict[str, list[str]]:
        """Script name (file stem) -> the dialled numbers it answers."""
        routes: dict[str, list[str]] = {}
        for route in getattr(self.site, "numbers", ()):
            routes.setdefault(Path(route.script).stem, []).append(route.number)
        return routes

    def _load_scripts(self) -> None:
        """Activate the stored versions; store a first version of scripts never deployed."""
        stored = {v.name: v for v in self.store.active_versions()}
        for route in getattr(self.site, "numbers", ()):
            name = Path(route.script).stem
            if name in stored:
                continue
            result = self.deploy_source(name, Path(route.script).read_text(encoding="utf-8"),
                                        str(route.script), comment="initial version from the site")
            if not result.ok:
                raise RuntimeError(f"{route.script} does not compile; fix it before serving:\n"
                                   + "\n".join(d["message"] for d in result.diagnostics or []))
            stored = {v.name: v for v in self.store.active_versions()}
        for name, version in stored.items():
            if self.versions.get(name) != version.version:  # not just deployed above
                self._activate(name, read_program(version.bytecode), version.version)

    def _activate(self, name: str, program: Program, version: int) -> None:
        for number in self._script_names().get(name, []):
            self.programs.set(number, program)
        self.versions[name] = version
        log.info("script %s version %d active (%s)", name, version, program.hash_hex[:12])

    def deploy_source(self, name: str, source_text: str, source_name: str | None = None,
                      comment: str = "") -> DeployResult:
        """Compile and activate a new version; a script with errors is refused."""
        symbols = self.site.symbols() if self.site is not None else None
        result = check_source(Source(source_text, source_name or f"{name}.qs"), symbols, compile=True)
        if result.program is None:
            return DeployResult(False, name, diagnostics=[
                dict(d.to_json(), rendered=d.render(result.source)) for d in result.diagnostics])
        program = result.program
        stored = self.store.add_version(name, source_text, program.to_bytes(), program.hash_hex,
                                        comment=comment)
        self._activate(name, program, stored.version)
        notes = [d.to_json() for d in result.diagnostics]
        if name not in self._script_names():
            notes.append({"severity": "warning", "code": "", "message":
                          f'no dialled number in the site routes to "{name}"; this version is '
                          "stored and active but answers no calls",
                          "rendered": f'warning: no dialled number in the site routes to "{name}"'})
        return DeployResult(True, name, stored.version, notes, program.hash_hex)

    def rollback(self, name: str, version: int | None = None) -> DeployResult:
        versions = self.store.versions(name)
        if not versions:
            return DeployResult(False, name, diagnostics=[{"message": f"no versions of {name}"}])
        current = self.versions.get(name)
        if version is None:
            earlier = [v for v in versions if current is None or v.version < current]
            if not earlier:
                return DeployResult(False, name, diagnostics=[
                    {"message": f"version {current} is the first version of {name}"}])
            version = earlier[-1].version
        target = self.store.activate(name, version)
        if target is None:
            return DeployResult(False, name, diagnostics=[{"message": f"no version {version}"}])
        self._activate(name, read_program(target.bytecode), target.version)
        return DeployResult(True, name, target.version, [], target.source_hash)

    # ------------------------------------------------------------ records and agents

    def _record(self, record: CallRecord) -> None:
        epoch, mono = self._epoch
        task = self.loop.create_task(asyncio.to_thread(self.store.add_call, record, epoch, mono))
        self.driver.tasks.add(task)
        task.add_done_callback(self.driver.tasks.discard)

    def agent_action(self, agent_id: str, action: str, groups=None, reason: str = "") -> None:
        """Change an agent's state; ValueError/LookupError for requests that cannot be done."""
        center = self.center
        agent = self.site.agent(agent_id) if self.site is not None else None
        if self.site is not None and agent is None:
            raise LookupError(f'unknown agent "{agent_id}"; agents are defined in the site file')
        if agent is not None and not agent.active and action == "login":
            raise ValueError(f'agent "{agent_id}" is deactivated in the site file')
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
            center.dispatch(center.acd.set_groups(agent_id, groups or {}, self.driver.now()))
        else:
            raise ValueError(f"unknown agent action {action!r}")
        self._save_agent(agent_id)

    def _save_agent(self, agent_id: str) -> None:
        """Store an agent's state: after every request, and when the ACD changes it
        itself (a missed ring pauses the agent), so a restart restores it."""
        info = self.center.acd.agent_info(agent_id)
        from .acd import AgentState
        self.loop.create_task(asyncio.to_thread(
            self.store.save_agent, agent_id, info.state is not AgentState.LOGGED_OUT,
            info.state is AgentState.READY, info.pause_reason or "", dict(info.groups)))

    def _site_groups(self, agent_id: str) -> dict[str, int]:
        agent = self.site.agent(agent_id) if self.site is not None else None
        return dict(agent.groups) if agent is not None else {}

    def set_hot_prompt(self, name: str, active: bool) -> None:
        if self.site is not None and name not in self.site.hot_prompts:
            raise LookupError(f'unknown hot prompt "{name}"')
        self.center.set_hot_prompt(name, active)
        self.loop.create_task(asyncio.to_thread(self.store.save_hot_prompt, name, active))

    # ------------------------------------------------------------ status

    def status(self) -> dict:
        acd, now = self.center.acd, self.driver.now()
        groups = []
        for name in acd.group_names:
            waiting = []
            for session in self.center.sessions.values():
                if acd.has_call(session.call.call_id) and \
                        name in acd.call_info(session.call.call_id).groups:
                    waiting.append({"call_id": session.call.call_id, "caller": session.call.caller,
                                    "digits": session.digits, "waited_s": round(session._waited(), 1),
                                    "position": acd.position(session.call.call_id),
                                    "language": session.language})
            groups.append({"name": name, "calls_waiting": acd.calls_waiting(name),
                           "agents_logged_in": acd.agents_logged_in(name),
                           "agents_ready": acd.agents_ready(name),
                           "agents_busy": acd.agents_busy(name),
                           "oldest_wait_s": round(acd.oldest_wait(name, now), 1),
                           "service_level_percent": acd.service_level(name), "waiting": waiting})
        agents = []
        for agent in getattr(self.site, "agents", ()):
            info = acd.agent_info(agent.id) if _known(acd, agent.id) else None
            agents.append({"id": agent.id, "name": agent.name,
                           "state": info.state.name.lower() if info else "logged_out",
                           "pause_reason": info.pause_reason if info else None,
                           "groups": dict(info.groups) if info else {},
                           "call": info.call_id if info else None})
        return {"site": getattr(self.site, "name", ""), "connected": self.port.connected,
                "calls": len(self.center.sessions), "groups": groups, "agents": agents,
                "scripts": self.versions, "hot_prompts": dict(self.center.hot_prompts)}

    def metrics(self) -> dict:
        elapsed = time.monotonic() - self.started_at
        cpu = time.process_time() - self._cpu_started
        return {"latency": self.driver.latency.summary(), "handoff": self.center.handoff.summary(),
                "handoff_stages": {stage: recorder.summary() for stage, recorder
                                   in self.driver.handoff_stages.items()},
                "loop_lag": self.loop_lag.summary(),
                "gc": {f"generation_{n}": recorder.summary()
                       for n, recorder in enumerate(self.gc_pauses)},
                "calls": len(self.center.sessions),
                "cpu_seconds": round(cpu, 3), "uptime_seconds": round(elapsed, 3),
                "cpu_share": round(cpu / elapsed, 4) if elapsed > 0 else None}


def _known(acd, agent_id: str) -> bool:
    try:
        acd.agent_info(agent_id)
        return True
    except LookupError:
        return False
