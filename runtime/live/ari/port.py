"""The ARI port: what the live runtime needs from Asterisk, as an interface we own.

The runtime core never sees an ARI client library. It receives
:class:`AriEvent` objects (plain data, already parsed) and calls the
coroutines of :class:`AriPort`. An adapter implements the port with a
concrete client (asyncari, see asyncari_adapter.py); tests can implement it
with a fake. Keeping the library behind this seam means its defects are
handled in one place and it can be replaced without touching call logic.

Event kinds (``AriEvent.kind``) are ARI's event type names —
``StasisStart``, ``StasisEnd``, ``ChannelDtmfReceived``, ``PlaybackFinished``,
``ChannelStateChange``, ``ChannelHangupRequest``, ``ChannelDestroyed``,
``RecordingFinished``, ``RecordingFailed``, ``ChannelEnteredBridge``,
``ChannelLeftBridge`` — plus two of the port's own: ``PortConnected`` (the
event stream is up: first connect or after a reconnect) and
``PortDisconnected`` (it dropped; the adapter is reconnecting).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable


@dataclass(frozen=True)
class AriConfig:
    url: str = "http://127.0.0.1:8088"   # base URL, without /ari
    user: str = "qtest"
    password: str = ""
    app: str = "qtest"

    def __repr__(self) -> str:  # never show the password in logs or tracebacks
        return f"AriConfig(url={self.url!r}, user={self.user!r}, app={self.app!r})"


@dataclass(frozen=True)
class AriEvent:
    kind: str
    channel_id: str | None = None
    #: StasisStart: the Stasis() arguments; PlaybackFinished: playback id in target.
    args: tuple[str, ...] = ()
    caller: str = ""                  # channel.caller.number
    caller_name: str = ""
    dialled: str = ""                 # channel.dialplan.exten
    channel_name: str = ""            # e.g. PJSIP/sipp-00000001
    state: str = ""                   # channel.state: Up, Ring, Ringing, ...
    digit: str = ""                   # ChannelDtmfReceived
    playback_id: str = ""             # Playback*
    recording: str = ""               # Recording*: its name
    duration: float = 0.0             # RecordingFinished: seconds
    cause: int = 0                    # hangup cause (16 normal, 17 busy, 19 no answer, 21 rejected)
    bridge_id: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    received_at: float = field(default_factory=time.monotonic, compare=False)


class AriError(Exception):
    """An ARI request failed. ``status`` is the HTTP status (0: no answer at all).

    Messages never contain the ARI password.
    """

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status

    @property
    def not_found(self) -> bool:
        """The channel/bridge/playback is gone (404), or not in Stasis any more (409/422).

        ``POST /bridges/{id}/addChannel`` answers 400 "Channel not found" when a
        caller hung up a moment before: that is a vanished channel too.
        """
        if self.status in (404, 409, 422):
            return True
        return self.status == 400 and "not found" in str(self).lower()


EventHandler = Callable[[AriEvent], Any]


class AriPort(ABC):
    """Asterisk, as the live runtime sees it."""

    #: The event kinds the consumer handles (None: all). An adapter may ask
    #: Asterisk to send only these: most of what Asterisk sends about a channel
    #: in the app (ChannelVarset, ChannelDialplan, ...) is of no use to the
    #: runtime, and every event costs Asterisk and us work on the way.
    wanted_events: frozenset[str] | None = None

    @abstractmethod
    async def start(self, on_event: EventHandler) -> None:
        """Connect and deliver every event to ``on_event`` (called in the event loop,
        in order, one at a time; it must not block). Keeps reconnecting with
        backoff until :meth:`close`, sending PortDisconnected/PortConnected."""

    @abstractmethod
    async def close(self) -> None: ...

    @property
    @abstractmethod
    def connected(self) -> bool: ...

    # -- channels
    @abstractmethod
    async def answer(self, channel_id: str) -> None: ...

    @abstractmethod
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...

    @abstractmethod
    async def play(self, channel_id: str, media: list[str], playback_id: str,
                   language: str | None = None) -> None:
        """Start playing media (``sound:...``, ``digits:123``, ``number:42``, ``tone:ring``)."""

    @abstractmethod
    async def stop_playback(self, playback_id: str) -> None: ...

    @abstractmethod
    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None: ...

    @abstractmethod
    async def stop_moh(self, channel_id: str) -> None: ...

    @abstractmethod
    async def ring(self, channel_id: str) -> None:
        """Indicate ringing to the caller (before answer)."""

    @abstractmethod
    async def record(self, channel_id: str, name: str, max_seconds: float,
                     beep: bool = True, terminate_on: str = "#") -> None:
        """Record the channel to stored recording ``name`` (wav); RecordingFinished follows."""

    @abstractmethod
    async def stored_recording(self, name: str) -> bytes:
        """The audio of a stored recording."""

    @abstractmethod
    async def delete_recording(self, name: str) -> None: ...

    @abstractmethod
    async def originate(self, endpoint: str, channel_id: str, app_args: list[str],
                        timeout: float, caller_id: str = "",
                        variables: dict[str, str] | None = None,
                        formats: str = "ulaw") -> None:
        """Dial ``endpoint`` into this app (StasisStart with ``app_args`` when it answers)."""

    @abstractmethod
    async def continue_in_dialplan(self, channel_id: str, context: str = "",
                                   extension: str = "", priority: int = 1) -> None: ...

    @abstractmethod
    async def set_variable(self, channel_id: str, name: str, value: str) -> None: ...

    @abstractmethod
    async def get_variable(self, channel_id: str, name: str) -> str: ...

    # -- bridges
    @abstractmethod
    async def create_bridge(self, bridge_id: str) -> None:
        """Create a mixing bridge with this id (idempotent)."""

    @abstractmethod
    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None: ...

    @abstractmethod
    async def destroy_bridge(self, bridge_id: str) -> None: ...

    # -- resynchronisation after a reconnect
    @abstractmethod
    async def list_channels(self) -> list[dict]:
        """Channels Asterisk has now (ARI Channel JSON objects)."""

    @abstractmethod
    async def list_bridges(self) -> list[dict]: ...

    @abstractmethod
    async def playback_state(self, playback_id: str) -> str | None:
        """A playback's state (``queued``, ``playing``, ...); None once it is over."""

    @abstractmethod
    async def recording_state(self, name: str) -> str | None:
        """A live recording's state (``recording``, ``paused``, ...); None once it is over."""


Awaitable  # re-exported for adapters' type hints
