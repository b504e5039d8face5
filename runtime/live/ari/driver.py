"""The live driver: the runtime's Driver interface carried out over ARI.

Every method turns into ARI requests through the :class:`~runtime.live.ari.port.AriPort`
and completes when the matching event arrives (PlaybackFinished for a prompt,
ChannelDtmfReceived for a key, RecordingFinished for a message, StasisStart
of an agent's channel for an answered ring). Events are dispatched from
:meth:`AriDriver.on_event`, which the port calls in the event loop one at a
time; handlers do only bookkeeping and start requests as tasks, so an event
is turned into commands in well under a millisecond of Python.

Call ids are the caller's channel id. Agent legs are originated with a
deterministic id (``<call id>-a<n>``) and bridges are named ``qs-<call id>``,
so after a reconnect the runtime can find them again.

Lookups and custom commands, which may block for seconds (a locked database,
a CRM that hangs), never run on the event loop: :meth:`AriDriver.run_blocking`
hands them to a bounded pool of worker threads (one pool for lookups, one for
commands) and resumes the call with the result — or with
:class:`~runtime.core.blocking.WorkTimedOut` when the timeout passes first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import Awaitable, Callable
from zoneinfo import ZoneInfo

from runtime.core.blocking import WorkerPool, WorkTimedOut
from runtime.core.driver import CallInfo, Driver, Recording
from runtime.core.latency import LatencyRecorder
from runtime.live.ari.port import AriError, AriEvent, AriPort

log = logging.getLogger("qscript.ari")

#: The stages of an agent hand-off, from the agent becoming free to the caller
#: bridged with them: (name, from, to). "read" is when the port read the agent
#: channel's StasisStart off the websocket, "handled" when the driver got it.
HANDOFF_STAGES = (
    ("free_to_offered", "free", "offered"),        # the ACD and the session choose and offer
    ("offered_to_sent", "offered", "sent"),        # the originate request waits for the loop
    ("originate_request", "sent", "accepted"),     # Asterisk answers POST /channels
    ("sent_to_answered", "sent", "read"),          # Asterisk dials; the agent's leg answers
    ("sent_to_event", "sent", "created"),          # ... until Asterisk made the StasisStart
    ("event_delivery", "created", "read"),         # ... and until it reached our websocket
    ("event_queued", "read", "handled"),           # the event waits behind others for us
    ("answered_to_bridged", "handled", "bridged"),  # create the bridge, add both channels
    ("free_to_answered", "free", "handled"),       # the hand-off as /metrics "handoff" counts it
    ("free_to_bridged", "free", "bridged"),        # the whole hand-off, as the caller has it
)

#: A hand-off slower than this (seconds) is logged with its stages.
SLOW_HANDOFF = 0.1

#: Seconds a called-back customer's phone rings.
_CALLBACK_RING_SECONDS = 30.0

#: Hangup causes that mean the agent did not take the call.
_CAUSES = {17: "busy", 18: "no answer", 19: "no answer", 21: "rejected", 34: "congestion"}

#: Worker threads for lookups and for custom commands. Work beyond them
#: waits (its timeout counting); a command stuck for ever holds one worker.
LOOKUP_WORKERS = 8
COMMAND_WORKERS = 16


@dataclass
class _Job:
    """Blocking work running for a call (a lookup or a custom command)."""

    future: concurrent.futures.Future
    done: Callable
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Leg:
    """What the driver tracks for one caller channel."""

    call: CallInfo
    playback: str | None = None
    on_playback_done: Callable | None = None
    collector: "_Collector | None" = None
    timer: asyncio.TimerHandle | None = None
    recording: str | None = None
    on_recorded: Callable | None = None
    agent_channel: str | None = None
    bridge: str | None = None
    #: The music on hold class the script wants under everything else (None: no music).
    moh_wanted: str | None = None
    #: Whether Asterisk is playing it now: it stops music on hold for every
    #: playback, so this goes False with each prompt and the music is started
    #: again when the channel falls quiet.
    moh_playing: bool = False
    #: The last media request (play, stop, music, record) sent for this leg:
    #: the next one waits for it, so Asterisk gets them in the order we decided.
    media_task: asyncio.Task | None = None
    gone: bool = False
    #: The stage times of the ring that connected the agent (until the bridge is up).
    handoff: dict | None = None
    #: The call's bridge, created while its first agent's phone rings, so that an
    #: answering agent is connected with one request instead of two.
    bridge_ready: asyncio.Task | None = None
    #: The ring tone played to a callback's agent while the customer's phone
    #: rings (a playback id), stopped when they are bridged.
    agent_ringback: str | None = None
    job: _Job | None = None
    #: The request bridging the caller with their agent, while it is under way: an
    #: agent who passes the call on at once must not be hung up before it is done.
    bridging: asyncio.Task | None = None


@dataclass
class _Collector:
    """Keys being collected: one key (menu) or digits (collect)."""

    done: Callable
    max_digits: int = 1
    terminator: str = ""
    timeout: float = 5.0
    digits: str = ""
    accept_key: str | None = None


@dataclass
class _Ring:
    call: CallInfo
    call_id: str
    agent_id: str
    answered: Callable
    failed: Callable
    timer: asyncio.TimerHandle | None = None
    callback: bool = False
    up: bool = False
    #: When each stage of a hand-off happened (monotonic seconds; see HANDOFF_STAGES).
    times: dict | None = None


class AriDriver(Driver):
    def __init__(self, port: AriPort, *, site=None, loop: asyncio.AbstractEventLoop | None = None,
                 mailer=None, transfer_context: str = "default",
                 callback_endpoint: str = "Local/{number}@default",
                 fallback_context: str | None = None, fallback_extension: str | None = None,
                 fallback_priority: int = 1):
        self.port = port
        self.site = site
        self.loop = loop or asyncio.get_event_loop()
        self.mailer = mailer
        self.center = None
        self.transfer_context = transfer_context
        self.callback_endpoint = callback_endpoint
        self.fallback_context = fallback_context
        self.fallback_extension = fallback_extension  # None: the dialled number
        self.fallback_priority = fallback_priority
        self.legs: dict[str, _Leg] = {}
        self.rings: dict[str, _Ring] = {}          # agent/callback channel id -> ring
        self.agent_calls: dict[str, str] = {}      # connected agent channel -> call id
        self.agent_ids: dict[str, str] = {}        # connected agent channel -> agent id
        self.playbacks: dict[str, str] = {}        # playback id -> caller channel
        self.recordings: dict[str, str] = {}       # recording name -> caller channel
        self.aliases: dict[str, str] = {}          # callback customer channel -> call id
        self._ids = itertools.count(1)
        timezone = getattr(site, "timezone", None) or "Europe/Stockholm"
        self.timezone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        self.latency = LatencyRecorder()
        #: Where the time of an agent hand-off goes, stage by stage (see HANDOFF_STAGES).
        self.handoff_stages = {stage: LatencyRecorder() for stage, _, _ in HANDOFF_STAGES}
        #: Events received, by kind (for /metrics: what Asterisk sends us).
        self.event_counts: dict[str, int] = {}
        self._event_started: float | None = None
        self.tasks: set[asyncio.Task] = set()
        #: Channel variables set on an agent's leg when it is rung (per agent id),
        #: e.g. auto-answer headers for SIP phones.
        self.agent_variables: dict[str, dict[str, str]] = {}
        self.on_new_call: Callable[[CallInfo], None] | None = None
        #: Called when the event connection is (again) up, before resynchronising.
        self.on_connected: Callable[[], None] | None = None
        #: The Stasis application this runtime serves (to recognise its channels).
        self.app_name = getattr(getattr(site, "ari", None), "app", None) or "qscript"
        self.lookup_workers = WorkerPool("lookup", LOOKUP_WORKERS)
        self.command_workers = WorkerPool("command", COMMAND_WORKERS)

    def close(self) -> None:
        """Stop the worker threads (work still waiting for one is cancelled)."""
        self.lookup_workers.close()
        self.command_workers.close()

    # ------------------------------------------------------------ plumbing

    def now(self) -> float:
        return self.loop.time()

    def wall_time(self) -> dt.datetime:
        return dt.datetime.now(self.timezone).replace(tzinfo=None)

    def schedule(self, delay: float, action) -> Callable[[], None]:
        return self.loop.call_later(max(0.0, delay), self._guarded(None, action)).cancel

    def _later(self, delay: float, call_id: str | None, action) -> asyncio.TimerHandle:
        """A timer of one call (a menu's timeout, a wait, a ring): a failure fails that call."""
        return self.loop.call_later(delay, self._guarded(call_id, action))

    def _guarded(self, call_id: str | None, action) -> Callable[[], None]:
        def run() -> None:
            try:
                action()
            except Exception as error:  # noqa: BLE001 - never a caller left in silence
                log.exception("a timer of call %s failed", call_id)
                self._call_failed(call_id, f"internal error in a timer: {error!r}")
        return run

    def _request(self, coroutine, call: CallInfo | None = None, what: str = "") -> asyncio.Task:
        """Send an ARI request without waiting; a failure ends up at the call's session."""
        if self._event_started is not None:
            self.latency.record(time.monotonic() - self._event_started)
            self._event_started = None  # count the first command per event
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(lambda t: self._request_done(t, call, what))
        return task

    def _media_request(self, leg: _Leg, request: Callable[[], Awaitable], call: CallInfo | None,
                       what: str) -> None:
        """A request that changes what the caller hears, sent after the leg's previous one.

        Requests run concurrently over the HTTP pool, so "start music" followed by
        "play" could reach Asterisk the other way round; media requests of one leg
        are therefore chained.
        """
        previous = leg.media_task

        async def after_previous():
            if previous is not None and not previous.done():
                await asyncio.wait([previous])  # its failure is reported by its own task
            await request()
        leg.media_task = self._request(after_previous(), call, what)

    def _request_done(self, task: asyncio.Task, call: CallInfo | None, what: str) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        if isinstance(error, AriError) and error.not_found:
            log.debug("%s: %s (channel gone)", what, error)
            return
        log.warning("ARI request %s failed: %s", what, error)
        if call is not None:
            self._call_failed(call.call_id, f"{what} failed: {error}")

    def _call_failed(self, call_id: str | None, reason: str) -> None:
        """Something went wrong for this call: its session hands it to the fallback.

        If the session itself cannot (its own handling fails too), the driver
        sends the caller to the dialplan fallback, else hangs up: a caller is
        never left in silence in the application.
        """
        if call_id is None or self.center is None:
            return
        session = self.center.session_for(call_id)
        call = session.call if session is not None else None
        if session is not None:
            try:
                session.driver_failed(reason)
            except Exception:  # noqa: BLE001
                log.exception("the fallback of call %s failed", call_id)
                self.center.forget(call_id)
            else:
                if self.center.session_for(call_id) is session or self.legs.get(call_id) is None \
                        or self.legs[call_id].gone:
                    return  # the session handled it (queued to a group, or released the line)
        leg = self.legs.get(call_id)
        call = call or (leg.call if leg is not None else None)
        if call is None or (leg is not None and leg.gone):
            return
        try:
            if not self.fallback(call, reason):
                self.hangup(call)
        except Exception:  # noqa: BLE001 - the last resort must not raise
            log.exception("cannot release call %s", call_id)

    def _leg(self, call: CallInfo) -> _Leg:
        leg = self.legs.get(call.call_id)
        if leg is None:
            leg = self.legs[call.call_id] = _Leg(call)
        return leg

    @staticmethod
    def _channel(call: CallInfo) -> str:
        """The channel the caller is on now: after a callback, the customer's new one.

        (The call keeps its first channel's id as its id; every media action goes
        to this channel instead.)
        """
        return call.extra.get("customer_channel") or call.call_id

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    # ------------------------------------------------------------ events

    def on_event(self, event: AriEvent) -> None:
        """Dispatch one ARI event (called by the port, in order).

        A failure while handling it is that call's failure: the call goes to the
        fallback; other calls and later events are not affected.
        """
        self._event_started = event.received_at
        self.event_counts[event.kind] = self.event_counts.get(event.kind, 0) + 1
        call_id = None
        try:
            handler = _EVENT_HANDLERS.get(event.kind)
            if handler is not None:
                call_id = self._call_of(event)  # before: handlers forget what they finish
                handler(self, event)
        except Exception as error:  # noqa: BLE001 - one bad event must not stop the runtime
            log.exception("handling %s failed", event.kind)
            if call_id is None and event.kind == "StasisStart":
                call_id = event.channel_id  # a new call whose start failed
            self._call_failed(call_id, f"internal error handling {event.kind}: {error!r}")
        finally:
            self._event_started = None

    def _call_of(self, event: AriEvent) -> str | None:
        """The call an event is about (None: no call we know)."""
        channel = event.channel_id or ""
        if channel in self.legs:
            return channel
        if channel in self.aliases:
            return self.aliases[channel]
        ring = self.rings.get(channel)
        if ring is not None:
            return ring.call_id
        if channel in self.agent_calls:
            return self.agent_calls[channel]
        if event.playback_id:
            return self.playbacks.get(event.playback_id)
        if event.recording:
            return self.recordings.get(event.recording)
        return None

    def _on_stasis_start(self, event: AriEvent) -> None:
        channel = event.channel_id
        if channel in self.rings:
            times = self.rings[channel].times
            if times is not None:
                times["read"], times["handled"] = event.received_at, self.now()
                created = _asterisk_time(event)
                if created is not None:
                    times["created"] = created
            self._ring_answered(channel)
            return
        if _is_our_leg(event.args):
            # A leg we originated for a ring that is over (timed out, or the call
            # ended meanwhile): nobody would ever speak to its person.
            self._request(self.port.hangup(channel), None, "hang up a leg no ring waits for")
            return
        dialled = event.args[0] if event.args else event.dialled
        call = CallInfo(channel, event.caller, dialled, arrived_at=self.now(),
                        extra={"channel_name": event.channel_name, "state": event.state})
        self.legs[channel] = _Leg(call)
        if self.on_new_call is not None:
            self.on_new_call(call)
        self.center.incoming_call(call)

    def _on_playback_finished(self, event: AriEvent) -> None:
        leg = self.legs.get(self.playbacks.pop(event.playback_id, ""))
        if leg is not None and leg.playback == event.playback_id:
            leg.playback = None
            done, leg.on_playback_done = leg.on_playback_done, None
            if done is not None:
                done()
            self._resume_music(leg)

    def _on_dtmf(self, event: AriEvent) -> None:
        leg = self.legs.get(self.aliases.get(event.channel_id, event.channel_id))
        if leg is None or leg.collector is None:
            return
        collector = leg.collector
        if leg.playback is not None:  # barge-in: a key stops the prompt
            playback, leg.playback, leg.on_playback_done = leg.playback, None, None
            self.playbacks.pop(playback, None)
            self._media_request(leg, lambda: self.port.stop_playback(playback), None,
                                "stop playback")
        if leg.timer is not None:
            leg.timer.cancel()
            leg.timer = None
        digit = event.digit
        if collector.max_digits == 1 and not collector.terminator:
            self._finish_collect(leg, digit)
            return
        if digit == collector.terminator:
            self._finish_collect(leg, collector.digits)
            return
        collector.digits += digit
        if len(collector.digits) >= collector.max_digits:
            self._finish_collect(leg, collector.digits)
        else:
            leg.timer = self._later(collector.timeout, leg.call.call_id,
                                    lambda: self._finish_collect(leg, collector.digits))

    def _finish_collect(self, leg: _Leg, value: str) -> None:
        collector, leg.collector = leg.collector, None
        if leg.timer is not None:
            leg.timer.cancel()
            leg.timer = None
        if collector is not None:
            collector.done(value)
        self._resume_music(leg)  # a key may have stopped the prompt (barge-in)

    def _on_recording_finished(self, event: AriEvent) -> None:
        leg = self.legs.get(self.recordings.pop(event.recording, ""))
        if leg is not None and leg.recording == event.recording:
            leg.recording = None
            done, leg.on_recorded = leg.on_recorded, None
            if done is not None:
                self._request(self._fetch_recording(leg, event, done), leg.call,
                              "fetch the recording")

    async def _fetch_recording(self, leg: _Leg, event: AriEvent, done) -> None:
        try:
            data = await self.port.stored_recording(event.recording)
        except AriError as error:
            log.warning("cannot fetch recording %s: %s", event.recording, error)
            data = None
        duration = event.duration or _wav_seconds(data)  # 0: learnt after a reconnect
        done(Recording(event.recording, duration, data=data) if data else None)
        self._resume_music(leg)

    def _on_recording_failed(self, event: AriEvent) -> None:
        leg = self.legs.get(self.recordings.pop(event.recording, ""))
        if leg is not None and leg.recording == event.recording:
            leg.recording = None
            done, leg.on_recorded = leg.on_recorded, None
            if done is not None:
                done(None)
            self._resume_music(leg)

    def _on_channel_gone(self, event: AriEvent) -> None:
        channel = self.aliases.pop(event.channel_id, event.channel_id)
        ring = self.rings.get(channel)
        if ring is not None and not ring.up:
            self._ring_failed(channel, _CAUSES.get(event.cause, f"hangup cause {event.cause}"))
            return
        self.rings.pop(channel, None)
        call_id = self.agent_calls.pop(channel, None)
        agent_id = self.agent_ids.pop(channel, None)
        if call_id is not None:
            session = self.center.session_for(call_id)
            if session is None and agent_id is not None:
                self._free_agent_of_ended_call(agent_id, call_id)
            leg = self.legs.get(call_id)
            if leg is not None:
                leg.agent_channel = None
            customer_ringing = next((ch for ch, r in self.rings.items()
                                     if r.callback and r.call_id == call_id), None)
            if customer_ringing is not None:
                # The agent gave up on a callback before the customer answered.
                self._request(self.port.hangup(customer_ringing), None, "cancel the callback")
                self._ring_failed(customer_ringing, "the agent hung up")
                return
            if session is not None:
                session.agent_leg_ended()
            return
        leg = self.legs.get(channel)
        if leg is None or leg.gone:
            return
        leg.gone = True
        self._cancel_pending(leg)
        if leg.agent_channel is not None:
            agent_channel, leg.agent_channel = leg.agent_channel, None
            self.agent_calls.pop(agent_channel, None)
            self.agent_ids.pop(agent_channel, None)  # the session frees the agent
            self._request(self.port.hangup(agent_channel), None, "hang up agent")
        session = self.center.session_for(channel)
        if session is not None:
            session.caller_hung_up()
        self._forget(leg)

    def _free_agent_of_ended_call(self, agent_id: str, call_id: str) -> None:
        """An agent's leg ended after its call's session did (the call failed while
        connected and went to the fallback): the agent must not stay busy for ever."""
        from runtime.acd import AgentState
        try:
            info = self.center.agent_info(agent_id)
        except LookupError:
            return
        if info.state is AgentState.BUSY and info.call_id == call_id:
            log.warning("agent %s freed: call %s ended while they were on it", agent_id, call_id)
            self.center.agent_call_ended(agent_id)

    def _forget(self, leg: _Leg) -> None:
        self.legs.pop(leg.call.call_id, None)
        if leg.agent_channel is not None:
            # The caller leaves (to the dialplan, or hung up by the script) while an
            # agent is on the line: the agent must not stay on a silent line. (Their
            # channel's end still reaches the session, which frees the agent.)
            agent_channel, leg.agent_channel = leg.agent_channel, None
            self._request(self.port.hangup(agent_channel), None, "hang up the agent")
        if leg.bridge is not None or leg.bridge_ready is not None:
            ready, leg.bridge_ready, leg.bridge = leg.bridge_ready, None, None

            async def destroy():
                if ready is not None and not ready.done():
                    await asyncio.wait([ready])  # not before it exists
                await self.port.destroy_bridge(_bridge_name(leg.call))
            self._request(destroy(), None, "destroy bridge")

    def _on_port_connected(self, event: AriEvent) -> None:
        if self.on_connected is not None:
            self.on_connected()
        self._request(self.resynchronise(), None, "resynchronise")

    async def resynchronise(self) -> None:
        """After a (re)connect, make our view and Asterisk's agree.

        Events sent while the connection was down are lost, so:

        * calls whose channels are gone (Asterisk restarted, or they hung up
          while events were lost) end as if the caller hung up; agents who
          hung up meanwhile end their calls, rings that ended count as missed;
        * a ring whose agent (or called-back customer) answered meanwhile is
          answered now;
        * a call waiting for a prompt or a recording that ended meanwhile
          carries on (Asterisk is asked about each one);
        * channels in our Stasis app that no call knows (the runtime itself
          restarted mid-call) are not left in silence: they go to the
          fallback in the dialplan, or, without one, start their script anew;
        * our bridges (``qs-...``) that no call uses any more are destroyed.

        Only what was pending when the connection came back is checked: anything
        started since then gets its events on the new connection.
        """
        legs, rings, agent_legs = set(self.legs), set(self.rings), set(self.agent_calls)
        playbacks, recordings = dict(self.playbacks), dict(self.recordings)
        try:
            listed = await self.port.list_channels()
            bridges = await self.port.list_bridges()
        except AriError as error:
            log.warning("resynchronising after reconnect failed: %s", error)
            return
        channels = {c.get("id"): c for c in listed if c.get("id")}
        self._end_vanished_calls(channels, legs, rings, agent_legs)
        self._answer_rings_answered_meanwhile(channels, rings)
        self._adopt_orphans(listed)
        in_use = {_bridge_name(leg.call) for leg in self.legs.values()
                  if leg.bridge or leg.bridge_ready}
        for bridge in bridges:
            bridge_id = bridge.get("id", "")
            if bridge_id.startswith("qs-") and bridge_id not in in_use:
                self._request(self.port.destroy_bridge(bridge_id), None, "destroy stale bridge")
        await asyncio.gather(*(self._check_playback(playback) for playback in playbacks),
                             *(self._check_recording(name) for name in recordings))

    async def _check_playback(self, playback: str) -> None:
        """A prompt that was playing when the events stopped: did it end meanwhile?"""
        try:
            state = await self.port.playback_state(playback)
        except AriError as error:
            log.warning("cannot ask about playback %s: %s", playback, error)
            return
        if state is None and playback in self.playbacks:  # over, and nobody heard of it
            log.info("playback %s ended while events were lost", playback)
            self.on_event(AriEvent("PlaybackFinished", self.playbacks[playback],
                                   playback_id=playback))

    async def _check_recording(self, name: str) -> None:
        """A voice message being recorded when the events stopped: did it end meanwhile?"""
        try:
            state = await self.port.recording_state(name)
        except AriError as error:
            log.warning("cannot ask about recording %s: %s", name, error)
            return
        if state is None and name in self.recordings:
            log.info("recording %s ended while events were lost", name)
            # Its file tells whether it finished (fetched next) or failed.
            self.on_event(AriEvent("RecordingFinished", self.recordings[name], recording=name))

    def _answer_rings_answered_meanwhile(self, channels: dict[str, dict], rings: set[str]) -> None:
        for channel in rings:
            ring, listed = self.rings.get(channel), channels.get(channel)
            if ring is None or ring.up or listed is None:
                continue
            dialplan = listed.get("dialplan") or {}
            if dialplan.get("app_name") == "Stasis" and \
                    str(dialplan.get("app_data", "")).split(",")[0] == self.app_name:
                log.info("%s answered while events were lost", channel)
                self.on_event(AriEvent("StasisStart", channel,
                                       args=tuple(str(dialplan.get("app_data")).split(",")[1:])))

    def _adopt_orphans(self, listed: list[dict]) -> None:
        known = set(self.legs) | set(self.rings) | set(self.agent_calls) | set(self.aliases)
        for channel in listed:
            channel_id = channel.get("id")
            dialplan = channel.get("dialplan") or {}
            app, *args = str(dialplan.get("app_data", "")).split(",")
            in_our_app = dialplan.get("app_name") == "Stasis" and app == self.app_name
            if not channel_id or channel_id in known or not in_our_app:
                continue
            if _is_our_leg(tuple(args)):
                # An agent or callback leg we originated for a call we no longer have
                # (told by the Stasis arguments we gave it, not by its id).
                self._request(self.port.hangup(channel_id), None, "hang up orphaned leg")
                continue
            call = CallInfo(channel_id, (channel.get("caller") or {}).get("number", ""),
                            (channel.get("dialplan") or {}).get("exten", ""),
                            arrived_at=self.now(), extra={"channel_name": channel.get("name", ""),
                                                          "adopted": True})
            log.warning("call %s was in the app with no session (a restart?): %s", channel_id,
                        "handing it to the fallback" if self.fallback_context else
                        "starting its script again")
            if self.fallback(call, "no session after a restart"):
                continue
            self.legs[channel_id] = _Leg(call)
            self.center.incoming_call(call)

    def _end_vanished_calls(self, channels: dict[str, dict], legs: set[str], rings: set[str],
                            agent_legs: set[str]) -> None:
        """End what was known before the reconnect and whose channel Asterisk no longer has."""
        for call_id in legs:
            leg = self.legs.get(call_id)
            if leg is None or leg.gone or self._awaits_customer(leg):
                continue
            channel = self._channel(leg.call)
            if channel not in channels:
                self.on_event(AriEvent("ChannelDestroyed", channel, cause=16))
        for channel in rings:
            if channel in self.rings and channel not in channels:
                self.on_event(AriEvent("ChannelDestroyed", channel, cause=16))
        for channel in agent_legs:
            if channel in self.agent_calls and channel not in channels:
                self.on_event(AriEvent("ChannelDestroyed", channel, cause=16))

    @staticmethod
    def _awaits_customer(leg: _Leg) -> bool:
        """A callback whose customer has not been reached: the call has no channel of its own."""
        return bool(leg.call.extra.get("callback")) and not leg.call.extra.get("customer_channel")

    # ------------------------------------------------------------ the caller's leg

    def answer(self, call, done) -> None:
        async def answer_then_done():
            await self.port.answer(self._channel(call))
            done(None)
        self._request(answer_then_done(), call, "answer")

    def hangup(self, call) -> None:
        leg = self.legs.get(call.call_id)
        if leg is not None:
            self._cancel_pending(leg)
            leg.gone = True
            self._forget(leg)
        customer = call.extra.get("customer_channel")
        if customer:  # a callback: the customer's channel is the caller's leg now
            self.aliases.pop(customer, None)
            self._request(self.port.hangup(customer), None, "hang up customer")
        self._request(self.port.hangup(call.call_id), None, "hang up")

    def _play(self, call: CallInfo, media: list[str], done, language: str | None = None) -> None:
        leg = self._leg(call)
        if not media:
            self.loop.call_soon(self._guarded(call.call_id, done))
            return
        playback = self._new_id(f"pb-{call.call_id}")
        leg.playback = playback
        leg.on_playback_done = done
        leg.moh_playing = False  # Asterisk stops music on hold for a playback
        self.playbacks[playback] = call.call_id
        self._media_request(leg, lambda: self.port.play(self._channel(call), media, playback,
                                                        language), call, "play")

    def play(self, call, media, done) -> None:
        self._play(call, media, lambda: done(None))

    def say(self, call, kind, value, currency, language, done) -> None:
        self._play(call, say_media(kind, value, currency), lambda: done(None), language or None)

    def wait(self, call, seconds, done) -> None:
        leg = self._leg(call)
        leg.timer = self._later(seconds, call.call_id, lambda: done(None))

    def music_on_hold(self, call, moh_class) -> None:
        """Music under everything else until stopped: it comes back after every prompt."""
        leg = self.legs.get(call.call_id)
        if leg is None or leg.gone:
            return
        if moh_class is None:
            leg.moh_wanted = None
            self._stop_music(leg)
        else:
            if leg.moh_playing and moh_class != leg.moh_wanted:
                leg.moh_playing = False  # another class: start it anew
            leg.moh_wanted = moh_class
            self._resume_music(leg)

    def _resume_music(self, leg: _Leg) -> None:
        """Start the wanted music again if the channel has fallen quiet.

        Called whenever a prompt, a key or a recording has finished (after the
        script was told, so that a prompt it starts at once comes first).
        """
        if leg.moh_wanted is None or leg.moh_playing or leg.gone or leg.bridge is not None:
            return
        if leg.playback is not None or leg.recording is not None or leg.on_recorded is not None:
            return  # something else is heard; the music follows it
        if self.legs.get(leg.call.call_id) is not leg:
            return  # the call has ended meanwhile
        leg.moh_playing = True
        moh_class = None if leg.moh_wanted == "default" else leg.moh_wanted
        self._media_request(leg, lambda: self.port.start_moh(self._channel(leg.call), moh_class),
                            leg.call, "music on hold")

    def _stop_music(self, leg: _Leg) -> None:
        if leg.moh_playing:
            leg.moh_playing = False
            self._media_request(leg, lambda: self.port.stop_moh(self._channel(leg.call)), None,
                                "stop music")

    def get_key(self, call, prompt, media, timeout, done, accept_key=None) -> None:
        self._collect(call, media, _Collector(done, 1, "", timeout, accept_key=accept_key))

    def get_digits(self, call, prompt, media, min_digits, max_digits, terminator, timeout,
                   done) -> None:
        self._collect(call, media, _Collector(done, max_digits, terminator, timeout))

    def _collect(self, call: CallInfo, media: list[str], collector: _Collector) -> None:
        leg = self._leg(call)
        leg.collector = collector

        def start_timeout(_=None):
            if leg.collector is collector:
                leg.timer = self._later(collector.timeout, call.call_id,
                                        lambda: self._finish_collect(leg, collector.digits))
        if media:
            self._play(call, media, start_timeout)
        else:
            start_timeout()

    def record(self, call, media, max_seconds, done) -> None:
        leg = self._leg(call)
        name = f"qs-{call.call_id}-{next(self._ids)}"

        def start_recording():
            leg.recording = name
            leg.on_recorded = done
            self.recordings[name] = call.call_id
            self._stop_music(leg)  # no music under a voice message
            self._media_request(leg, lambda: self.port.record(self._channel(call), name,
                                                              max_seconds), call, "record")
        leg.on_recorded = done  # keeps the music off between the prompt and the recording
        if media:
            self._play(call, media, start_recording)
        else:
            start_recording()

    def transfer(self, call, number) -> None:
        leg = self.legs.get(call.call_id)
        if leg is not None:
            self._cancel_pending(leg)
            leg.gone = True
            self._forget(leg)
        self._request(self.port.continue_in_dialplan(self._channel(call), self.transfer_context,
                                                     number), None, "transfer")

    def stop_media(self, call) -> None:
        leg = self.legs.get(call.call_id)
        if leg is not None:
            self._cancel_pending(leg)

    def _cancel_pending(self, leg: _Leg) -> None:
        if leg.job is not None:
            self._drop_job(leg)
        if leg.playback is not None:
            playback, leg.playback = leg.playback, None
            self.playbacks.pop(playback, None)
            self._media_request(leg, lambda: self.port.stop_playback(playback), None,
                                "stop playback")
        leg.on_playback_done = None
        leg.collector = None
        if leg.timer is not None:
            leg.timer.cancel()
            leg.timer = None
        leg.on_recorded = None
        leg.recording = None

    # ------------------------------------------------------------ blocking work

    def run_blocking(self, call, kind, work, timeout, done) -> None:
        leg = self._leg(call)
        pool = self.lookup_workers if kind == "lookup" else self.command_workers
        if leg.job is not None:
            self._drop_job(leg)   # (a session waits for one thing at a time)
        job = _Job(pool.submit(work), done)
        leg.job = job
        job.timer = self.loop.call_later(timeout, self._job_timed_out, leg, job, timeout)
        job.future.add_done_callback(lambda _: self._from_worker(self._job_finished, leg, job))

    def _from_worker(self, callback, *args) -> None:
        """Run ``callback`` on the event loop (called in a worker thread)."""
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the loop is closed: the runtime stopped, nobody waits any more

    def _job_finished(self, leg: _Leg, job: _Job) -> None:
        if leg.job is not job:
            return  # timed out, or the call hung up: the result is dropped
        leg.job = None
        if job.timer is not None:
            job.timer.cancel()
        if job.future.cancelled():
            return
        error = job.future.exception()
        self._job_done(leg, job, None if error is not None else job.future.result(), error)

    def _job_timed_out(self, leg: _Leg, job: _Job, timeout: float) -> None:
        if leg.job is not job:
            return
        leg.job = None
        job.future.cancel()   # work still waiting for a worker never runs
        log.debug("call %s: blocking work did not finish within %gs", leg.call.call_id, timeout)
        self._job_done(leg, job, None, WorkTimedOut(timeout))

    def _job_done(self, leg: _Leg, job: _Job, result, error) -> None:
        try:
            job.done(result, error)
        except Exception as failure:  # noqa: BLE001 - like an event: that call's failure only
            log.exception("resuming call %s after a lookup or command failed", leg.call.call_id)
            self._call_failed(leg.call.call_id,
                              f"internal error resuming after a lookup or command: {failure!r}")

    def _drop_job(self, leg: _Leg) -> None:
        job, leg.job = leg.job, None
        if job is not None:
            if job.timer is not None:
                job.timer.cancel()
            job.future.cancel()   # not started yet: it never runs

    # ------------------------------------------------------------ agents

    def _endpoint(self, agent_id: str) -> str:
        agent = self.site.agent(agent_id) if self.site is not None else None
        endpoint = getattr(agent, "endpoint", None)
        return endpoint or f"PJSIP/{agent_id}"

    def _agent_variables(self, agent_id: str) -> dict[str, str] | None:
        agent = self.site.agent(agent_id) if self.site is not None else None
        variables = dict(getattr(agent, "variables", None) or {})
        variables.update(self.agent_variables.get(agent_id, {}))
        return variables or None

    def ring_agent(self, call, agent_id, group, timeout, answered, failed) -> None:
        timeout = self._ring_timeout_for(group, timeout)
        channel = f"{call.call_id}-a{next(self._ids)}"
        ring = _Ring(call, call.call_id, agent_id, answered, failed)
        self.rings[channel] = ring
        free_since = getattr(self.center, "_free_since", {}).get(agent_id)
        if free_since is not None:  # a hand-off: the agent just became free for this call
            ring.times = {"free": free_since, "offered": self.now()}
        leg = self.legs.get(call.call_id)
        if leg is not None and not leg.gone and leg.bridge_ready is None and leg.bridge is None:
            leg.bridge_ready = self._request(self.port.create_bridge(_bridge_name(call)), None,
                                             "prepare the bridge")
        # Ring timeout on our side too: Asterisk's originate timeout ends the
        # attempt, but a lost event must not leave the agent ringing forever.
        ring.timer = self._later(timeout + 5.0, call.call_id, lambda: self._ring_timeout(channel))
        self._originate(channel, self.port.originate(self._endpoint(agent_id), channel,
                                                     ["agent", call.call_id], timeout,
                                                     caller_id=call.caller,
                                                     variables=self._agent_variables(agent_id)))

    def _originate(self, channel: str, coroutine) -> None:
        """Dial a ring's channel; a refused originate fails the ring at once."""
        ring = self.rings.get(channel)
        times = ring.times if ring is not None else None

        async def originate():
            if times is not None:
                times["sent"] = self.now()
            try:
                await coroutine
            except AriError as error:
                log.warning("cannot ring %s: %s", channel, error)
                self._ring_failed(channel, f"cannot ring: {error}")
                return
            if times is not None:
                times["accepted"] = self.now()
        self._request(originate(), ring.call if ring is not None else None, "ring")

    def _ring_timeout_for(self, group_name: str, default: float) -> float:
        """The ring timeout of the group the call is offered for (site ``ring_timeout``)."""
        group = self.site.groups.get(group_name) if (self.site is not None and group_name) else None
        return float(getattr(group, "ring_timeout", default) or default)

    def _ring_timeout(self, channel: str) -> None:
        ring = self.rings.get(channel)
        if ring is not None and not ring.up:
            self._request(self.port.hangup(channel), None, "hang up unanswered leg")
            self._ring_failed(channel, "no answer")

    def _ring_failed(self, channel: str, reason: str) -> None:
        """An agent (or a called-back customer) did not answer: tell the session.

        A callback rings the agent first: when the customer then does not
        answer, the agent on the line is released too (not left in silence).
        """
        ring = self.rings.pop(channel, None)
        if ring is None or ring.up:
            return
        if ring.timer is not None:
            ring.timer.cancel()
        if ring.callback:
            leg = self.legs.get(ring.call_id)
            if leg is not None:
                if leg.agent_channel is not None:
                    agent_channel, leg.agent_channel = leg.agent_channel, None
                    self.agent_calls.pop(agent_channel, None)
                    self.agent_ids.pop(agent_channel, None)  # the session frees the agent
                    self._request(self.port.hangup(agent_channel), None, "release the agent")
                leg.gone = True
                self._forget(leg)
        ring.failed(reason)

    def _ring_answered(self, channel: str) -> None:
        ring = self.rings.get(channel)
        if ring is None:
            return
        ring.up = True
        if ring.timer is not None:
            ring.timer.cancel()
        leg = self.legs.get(ring.call_id)
        if ring.callback:
            # The customer answered a callback: their channel is the call leg now.
            self.rings.pop(channel, None)
            if leg is not None:
                leg.gone = False
                leg.call.extra["customer_channel"] = channel
                self.aliases[channel] = ring.call_id
            ring.answered()
            return
        self.rings.pop(channel, None)
        if ring.call.extra.get("callback"):
            # A callback's agent: the caller's first leg is gone by design; the
            # customer is called once the agent is on the line.
            leg = self.legs.get(ring.call_id) or self.legs.setdefault(ring.call_id, _Leg(ring.call))
            leg.gone = False
        elif leg is None or leg.gone:
            self._request(self.port.hangup(channel), None, "hang up stray agent")
            return
        leg.agent_channel = channel
        leg.handoff = ring.times
        self.agent_calls[channel] = ring.call_id
        self.agent_ids[channel] = ring.agent_id
        ring.answered()

    def connect(self, call, agent_id) -> None:
        leg = self._leg(call)
        bridge = _bridge_name(call)
        leg.bridge = bridge
        channels = [self._channel(call)] + ([leg.agent_channel] if leg.agent_channel else [])
        times, leg.handoff = leg.handoff, None
        ready, leg.bridge_ready = leg.bridge_ready, None
        ringback, leg.agent_ringback = leg.agent_ringback, None

        async def bridge_them():
            if ringback is not None:
                await self._stop_quietly(ringback)
            if ready is not None and not ready.done():
                await asyncio.wait([ready])
            if ready is None or ready.cancelled() or ready.exception() is not None:
                await self.port.create_bridge(bridge)  # none made while ringing (a callback)
            await self.port.add_to_bridge(bridge, channels)
            if times is not None:
                times["bridged"] = self.now()
                self._record_handoff(times)
        leg.bridging = self._request(bridge_them(), call, "bridge")

    def release_agent(self, call, agent_id) -> None:
        """Hang up the agent's leg and take the caller out of the bridge (destroying
        it puts them back in the application, where music on hold can play); an
        empty bridge of the same name is made again at once, for the next agent.

        All of it goes through the leg's media chain, after the bridging of this agent
        if that is still under way (hanging up a channel that is being added would
        fail the request, and the call with it): the music the session starts next
        must not reach Asterisk while the caller is still bridged."""
        leg = self.legs.get(call.call_id)
        if leg is None or leg.gone:
            return
        agent_channel, leg.agent_channel = leg.agent_channel, None
        if agent_channel is not None:
            # Forgotten first: its end is not the session's news (it released the agent).
            self.agent_calls.pop(agent_channel, None)
            self.agent_ids.pop(agent_channel, None)
        bridging, leg.bridging = leg.bridging, None
        bridged, leg.bridge = leg.bridge is not None, None
        bridge = _bridge_name(call)

        async def leave():
            if bridging is not None and not bridging.done():
                await asyncio.wait([bridging])  # its failure is reported by its own task
            if agent_channel is not None:
                await self._hang_up_quietly(agent_channel)
            if bridged:
                await self.port.destroy_bridge(bridge)
                await self.port.create_bridge(bridge)
        self._media_request(leg, leave, call, "take the agent off the call")
        if bridged:
            leg.bridge_ready = leg.media_task

    async def _hang_up_quietly(self, channel: str) -> None:
        """Hang up a channel that may have ended already (404 is fine)."""
        try:
            await self.port.hangup(channel)
        except AriError as error:
            if not error.not_found:
                raise

    def _record_handoff(self, times: dict) -> None:
        for stage, start, end in HANDOFF_STAGES:
            if start in times and end in times:
                self.handoff_stages[stage].record(times[end] - times[start])
        total = times["bridged"] - times["free"]
        if total > SLOW_HANDOFF:
            log.warning("slow hand-off: %.0f ms from the agent free to the caller bridged (%s)",
                        total * 1000, ", ".join(
                            f"{stage} {(times[end] - times[start]) * 1000:.1f}"
                            for stage, start, end in HANDOFF_STAGES[:8]
                            if start in times and end in times))

    async def _stop_quietly(self, playback_id: str) -> None:
        """Stop a playback that may have ended already (404 is fine)."""
        try:
            await self.port.stop_playback(playback_id)
        except AriError as error:
            if not error.not_found:
                raise

    def call_back(self, call, number, answered, failed) -> None:
        leg = self.legs.get(call.call_id)
        if leg is not None and leg.agent_channel is not None:
            # The agent is on the line first: they hear the customer's phone
            # ring, not silence, until the customer answers (or does not: then
            # their line is hung up, the tone with it).
            ringback = leg.agent_ringback = f"pb-{leg.agent_channel}-ringback"
            self._request(self.port.play(leg.agent_channel, ["tone:ring"], ringback), None,
                          "ring tone to the agent")
        channel = f"{call.call_id}-cb{next(self._ids)}"
        ring = _Ring(call, call.call_id, "", answered, failed, callback=True)
        self.rings[channel] = ring
        # The caller's first leg is gone; the customer's new channel becomes the call's leg.
        self.legs.setdefault(call.call_id, _Leg(call))
        timeout = _CALLBACK_RING_SECONDS
        ring.timer = self._later(timeout + 5.0, call.call_id, lambda: self._ring_timeout(channel))
        self._originate(channel, self.port.originate(self.callback_endpoint.format(number=number),
                                                     channel, ["callback", call.call_id], timeout,
                                                     caller_id=call.dialled))

    def send_voicemail(self, address, recording, call) -> None:
        if self.mailer is None:
            log.warning("voice message for %s not mailed: no mail settings", address)
            return
        self._request(self.mailer.send_voicemail(address, recording, call), None,
                      "mail the voice message")

    def fallback(self, call, reason) -> bool:
        if not self.fallback_context:
            return False
        leg = self.legs.get(call.call_id)
        if leg is not None:
            self._cancel_pending(leg)
            leg.gone = True
            self._forget(leg)
        extension = self.fallback_extension or call.dialled or "s"
        self._request(self.port.continue_in_dialplan(self._channel(call), self.fallback_context,
                                                     extension, self.fallback_priority),
                      None, "fallback")
        return True


def _asterisk_time(event: AriEvent) -> float | None:
    """When Asterisk made an event (its ``timestamp``), on our monotonic clock."""
    stamp = event.raw.get("timestamp") if event.raw else None
    if not isinstance(stamp, str):
        return None
    try:
        made = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return None
    return made - (time.time() - time.monotonic())


def _bridge_name(call: CallInfo) -> str:
    """A call's bridge is named after it, so that it is found again after a reconnect."""
    return f"qs-{call.call_id}"


def _is_our_leg(args: tuple[str, ...]) -> bool:
    """Stasis arguments of a leg this runtime originated: ("agent" or "callback", call id).

    A caller enters with one argument, the dialled number.
    """
    return len(args) == 2 and args[0] in ("agent", "callback")


def _wav_seconds(data: bytes | None) -> float:
    """The length of a WAV recording (0.0 when it cannot be read)."""
    import io
    import wave
    try:
        with wave.open(io.BytesIO(data or b"")) as audio:
            return audio.getnframes() / float(audio.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError):
        return 0.0


def say_media(kind: str, value, currency: str) -> list[str]:
    """Asterisk media URIs that say a value."""
    if kind == "digits":
        digits = "".join(ch for ch in str(value) if ch.isdigit() or ch in "*#")
        return [f"digits:{digits}"] if digits else []
    if kind == "duration":
        seconds = float(value)
        if math.isinf(seconds):
            return []
        minutes = max(1, math.ceil(seconds / 60))
        return [f"number:{minutes}", "sound:minutes" if minutes != 1 else "sound:minute"]
    number = float(value)
    if kind == "amount":
        whole = int(number)
        cents = int(round((number - whole) * 100))
        media = [f"number:{whole}"]
        if currency:
            media.append(f"sound:currency-{currency.lower()}")
        if cents:
            media += ["sound:and", f"number:{cents}"]
        return media
    if number.is_integer():
        return [f"number:{int(number)}"]
    whole, fraction = str(number).split(".", 1)
    return [f"number:{whole}", "sound:point", f"digits:{fraction}"]


def handled_events() -> frozenset[str]:
    """The ARI event kinds the driver acts on (what Asterisk needs to send it)."""
    return frozenset(kind for kind in _EVENT_HANDLERS if not kind.startswith("Port")) | \
        {"ApplicationReplaced"}  # logged by the adapter: another client took the app


_EVENT_HANDLERS = {
    "StasisStart": AriDriver._on_stasis_start,
    "PlaybackFinished": AriDriver._on_playback_finished,
    "ChannelDtmfReceived": AriDriver._on_dtmf,
    "RecordingFinished": AriDriver._on_recording_finished,
    "RecordingFailed": AriDriver._on_recording_failed,
    "StasisEnd": AriDriver._on_channel_gone,
    "ChannelDestroyed": AriDriver._on_channel_gone,
    "PortConnected": AriDriver._on_port_connected,
}
