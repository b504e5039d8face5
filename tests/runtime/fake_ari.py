"""A scripted, in-process stand-in for Asterisk behind the ARI port (unit tests only).

It answers requests at once and produces the events Asterisk would: a play
finishes after ``play_seconds``, an originated agent channel answers after
``answer_seconds`` (or is destroyed with a cause), a recording finishes after
its maximum length. Tests inject caller events (a new call, DTMF, hangup).
The real Asterisk is exercised by tests/live; this only tests our own logic.
"""

from __future__ import annotations

import asyncio

from runtime.live.ari.port import AriError, AriEvent, AriPort


class FakeAri(AriPort):
    def __init__(self, play_seconds: float = 0.01, answer_seconds: float = 0.01):
        self.play_seconds = play_seconds
        self.answer_seconds = answer_seconds
        self.on_event = None
        self.requests: list[tuple] = []
        self.channels: set[str] = set()
        self.bridges: dict[str, list[str]] = {}
        self.agent_behaviour: dict[str, str] = {}   # endpoint -> "answer" | "busy" | "noanswer"
        self._connected = False
        self.fail_next: str | None = None
        self.playing: set[str] = set()          # playbacks that have not finished
        #: False: events are lost (the event connection is down); requests still work.
        self.delivering = True
        #: Seconds Asterisk takes to add channels to a bridge (0: at once); then adding
        #: a channel that is gone fails, as it does on Asterisk.
        self.bridge_seconds = 0.0

    async def start(self, on_event) -> None:
        self.on_event = on_event
        self._connected = True
        self.emit(AriEvent("PortConnected"))

    async def close(self) -> None:
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def emit(self, event: AriEvent) -> None:
        asyncio.get_running_loop().call_soon(self.deliver, event)

    def deliver(self, event: AriEvent) -> None:
        if event.kind == "PlaybackFinished":
            self.playing.discard(event.playback_id)
        if self.delivering or event.kind.startswith("Port"):
            self.on_event(event)

    def reconnect(self) -> None:
        """The event connection comes back (events sent meanwhile are lost)."""
        self.delivering = True
        self.emit(AriEvent("PortConnected"))

    def _log(self, *request) -> None:
        self.requests.append(request)
        if self.fail_next and request[0] == self.fail_next:
            self.fail_next = None
            raise AriError(f"{request[0]} refused", 500)

    # -- test helpers
    def new_call(self, channel: str, caller: str = "0701234567", dialled: str = "100") -> None:
        self.channels.add(channel)
        self.emit(AriEvent("StasisStart", channel, args=(dialled,), caller=caller, dialled=dialled))

    def press(self, channel: str, digits: str) -> None:
        for digit in digits:
            self.emit(AriEvent("ChannelDtmfReceived", channel, digit=digit))

    def caller_hangs_up(self, channel: str) -> None:
        self.channels.discard(channel)
        self.emit(AriEvent("StasisEnd", channel))

    def agent_hangs_up(self, channel: str) -> None:
        self.channels.discard(channel)
        self.emit(AriEvent("ChannelDestroyed", channel, cause=16))

    # -- the port
    async def answer(self, channel_id):
        self._log("answer", channel_id)

    async def hangup(self, channel_id, reason="normal"):
        self._log("hangup", channel_id)
        if channel_id in self.channels:
            self.channels.discard(channel_id)
            self.emit(AriEvent("StasisEnd", channel_id))

    async def play(self, channel_id, media, playback_id, language=None):
        self._log("play", channel_id, tuple(media), playback_id)
        self.playing.add(playback_id)
        loop = asyncio.get_running_loop()
        loop.call_later(self.play_seconds, lambda: self.deliver(
            AriEvent("PlaybackFinished", channel_id, playback_id=playback_id)))

    async def stop_playback(self, playback_id):
        self._log("stop_playback", playback_id)

    async def start_moh(self, channel_id, moh_class=None):
        self._log("start_moh", channel_id)

    async def stop_moh(self, channel_id):
        self._log("stop_moh", channel_id)

    async def ring(self, channel_id):
        self._log("ring", channel_id)

    async def record(self, channel_id, name, max_seconds, beep=True, terminate_on="#"):
        self._log("record", channel_id, name)
        asyncio.get_running_loop().call_later(0.01, lambda: self.deliver(
            AriEvent("RecordingFinished", channel_id, recording=name, duration=3.0)))

    async def stored_recording(self, name):
        self._log("stored_recording", name)
        return b"RIFF....WAVEfmt "

    async def delete_recording(self, name):
        self._log("delete_recording", name)

    async def originate(self, endpoint, channel_id, app_args, timeout, caller_id="",
                        variables=None, formats="ulaw"):
        self._log("originate", endpoint, channel_id, tuple(app_args))
        behaviour = self.agent_behaviour.get(endpoint, "answer")
        loop = asyncio.get_running_loop()
        if behaviour == "answer":
            self.channels.add(channel_id)
            loop.call_later(self.answer_seconds, lambda: self.deliver(
                AriEvent("StasisStart", channel_id, args=tuple(app_args))))
        else:
            cause = {"busy": 17, "noanswer": 19}[behaviour]
            loop.call_later(self.answer_seconds, lambda: self.deliver(
                AriEvent("ChannelDestroyed", channel_id, cause=cause)))

    async def continue_in_dialplan(self, channel_id, context="", extension="", priority=1):
        self._log("continue", channel_id, context, extension)
        self.channels.discard(channel_id)

    async def set_variable(self, channel_id, name, value):
        self._log("set_variable", channel_id, name, value)

    async def get_variable(self, channel_id, name):
        return ""

    async def create_bridge(self, bridge_id):
        self._log("create_bridge", bridge_id)
        self.bridges.setdefault(bridge_id, [])

    async def add_to_bridge(self, bridge_id, channel_ids):
        if self.bridge_seconds:
            await asyncio.sleep(self.bridge_seconds)
        self._log("add_to_bridge", bridge_id, tuple(channel_ids))
        gone = [c for c in channel_ids if c not in self.channels]
        if gone and self.bridge_seconds:
            raise AriError(f"channel {gone[0]} not found", 422)   # as Asterisk answers
        self.bridges[bridge_id].extend(channel_ids)

    async def destroy_bridge(self, bridge_id):
        self._log("destroy_bridge", bridge_id)
        self.bridges.pop(bridge_id, None)

    async def list_channels(self):
        return [{"id": c} for c in self.channels]

    async def list_bridges(self):
        return [{"id": b} for b in self.bridges]

    async def playback_state(self, playback_id):
        self._log("playback_state", playback_id)
        return "playing" if playback_id in self.playing else None

    async def recording_state(self, name):
        self._log("recording_state", name)
        return None
