"""ARI event JSON to :class:`~runtime.live.ari.port.AriEvent`.

Malformed events (missing ids, unknown types, bad JSON) raise
:class:`_Malformed` in the mapping and are turned into ``None`` by the public
functions, so the adapter logs and skips them instead of dying.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from runtime.live.ari.port import AriEvent
from runtime.live.ari.secrets import _SECRETS

log = logging.getLogger("runtime.live.ari.asyncari_adapter")

PORT_CONNECTED = "PortConnected"
PORT_DISCONNECTED = "PortDisconnected"

#: Every event type of Asterisk 22's ARI (api-docs/events.json, subtypes of Event).
#: Anything else is logged and skipped.
KNOWN_EVENT_TYPES = frozenset({
    "ApplicationMoveFailed", "ApplicationRegistered", "ApplicationReplaced",
    "ApplicationUnregistered", "BridgeAttendedTransfer", "BridgeBlindTransfer",
    "BridgeCreated", "BridgeDestroyed", "BridgeMerged", "BridgeVideoSourceChanged",
    "CallBroadcast", "CallClaimed", "ChannelCallerId", "ChannelConnectedLine",
    "ChannelCreated", "ChannelDestroyed", "ChannelDialplan", "ChannelDtmfReceived",
    "ChannelEnteredBridge", "ChannelHangupRequest", "ChannelHold", "ChannelLeftBridge",
    "ChannelStateChange", "ChannelTalkingFinished", "ChannelTalkingStarted",
    "ChannelToneDetected", "ChannelTransfer", "ChannelUnhold", "ChannelUserevent",
    "ChannelVarset", "ContactStatusChange", "DeviceStateChanged", "Dial",
    "EndpointStateChange", "PeerStatusChange", "PlaybackContinuing", "PlaybackFinished",
    "PlaybackStarted", "RESTResponse", "RecordingFailed", "RecordingFinished",
    "RecordingStarted", "StasisEnd", "StasisStart", "TextMessageReceived",
})

#: Event types that mean nothing without ``channel.id``.
_NEEDS_CHANNEL = frozenset({
    "StasisStart", "StasisEnd", "ChannelCreated", "ChannelDestroyed", "ChannelDtmfReceived",
    "ChannelStateChange", "ChannelHangupRequest", "ChannelDialplan", "ChannelCallerId",
    "ChannelConnectedLine", "ChannelHold", "ChannelUnhold", "ChannelTalkingStarted",
    "ChannelTalkingFinished", "ChannelToneDetected", "ChannelEnteredBridge",
    "ChannelLeftBridge",
})
_NEEDS_BRIDGE = frozenset({
    "ChannelEnteredBridge", "ChannelLeftBridge", "BridgeCreated", "BridgeDestroyed",
    "BridgeMerged",
})
_PLAYBACK = frozenset({"PlaybackStarted", "PlaybackContinuing", "PlaybackFinished"})
_RECORDING = frozenset({"RecordingStarted", "RecordingFinished", "RecordingFailed"})



class _Malformed(ValueError):
    pass


def _field(obj: Any, *path: str, default: Any = "") -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)
        if obj is None:
            return default
    return obj


def _require_id(msg: dict, key: str, id_key: str = "id") -> str:
    obj = msg.get(key)
    if not isinstance(obj, dict):
        raise _Malformed(f"{key} missing")
    value = obj.get(id_key)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{key}.{id_key} missing")
    return value


def _target(uri: Any) -> tuple[str | None, str]:
    """``channel:ID`` -> (ID, ""), ``bridge:ID`` -> (None, ID)."""
    if isinstance(uri, str):
        kind, _, ident = uri.partition(":")
        if kind == "channel" and ident:
            return ident, ""
        if kind == "bridge" and ident:
            return None, ident
    return None, ""


def _num(value: Any, default: float = 0) -> float:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return default


def _snippet(data: Any, limit: int = 200) -> str:
    text = data if isinstance(data, str) else repr(data)
    return _SECRETS(text if len(text) <= limit else text[:limit] + "...")


def event_from_json(msg: Any, received_at: float | None = None) -> AriEvent | None:
    """Map one decoded ARI event to an :class:`AriEvent`; None (and a warning) if malformed.

    Only the fields that identify what the event is about are required (``channel.id``
    for channel events, ``bridge.id``, ``playback.id``, ``recording.name``, ``digit``);
    everything else defaults to empty/0, so e.g. a ChannelDestroyed without ``cause``
    is still delivered (the channel is gone either way).
    """
    try:
        return _map_event(msg, time.monotonic() if received_at is None else received_at)
    except _Malformed as e:
        kind = msg.get("type") if isinstance(msg, dict) else None
        log.warning("skipping malformed ARI event %s (%s): %s", kind, e, _snippet(msg))
        return None
    except Exception as e:  # noqa: BLE001 - never let one event stop the stream
        log.warning("skipping ARI event that could not be mapped (%s: %s): %s",
                    type(e).__name__, _SECRETS(e), _snippet(msg))
        return None


def _map_event(msg: Any, received_at: float) -> AriEvent:
    if not isinstance(msg, dict):
        raise _Malformed("not a JSON object")
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise _Malformed("no type")
    if kind not in KNOWN_EVENT_TYPES:
        raise _Malformed(f"unknown event type {kind!r}")

    channel = msg.get("channel")
    if kind == "Dial":  # the dialled channel is the subject of a Dial event
        channel = msg.get("peer")
        if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
            raise _Malformed("peer.id missing")
    elif kind in _NEEDS_CHANNEL:
        _require_id(msg, "channel")
    if channel is not None and not isinstance(channel, dict):
        raise _Malformed("channel is not an object")
    channel_id = channel.get("id") if channel else None
    if channel_id is not None and not isinstance(channel_id, str):
        raise _Malformed("channel.id is not a string")

    bridge_id = ""
    if kind in _NEEDS_BRIDGE:
        bridge_id = _require_id(msg, "bridge")
    elif isinstance(msg.get("bridge"), dict):
        bridge_id = str(msg["bridge"].get("id") or "")

    args: tuple[str, ...] = ()
    if kind == "StasisStart":
        raw_args = msg.get("args", [])
        if not isinstance(raw_args, list):
            raise _Malformed("args is not a list")
        args = tuple(str(a) for a in raw_args)

    digit = ""
    if kind == "ChannelDtmfReceived":
        digit = msg.get("digit")
        if not isinstance(digit, str) or not digit:
            raise _Malformed("digit missing")

    playback_id = ""
    if kind in _PLAYBACK:
        playback_id = _require_id(msg, "playback")
        target_channel, target_bridge = _target(msg["playback"].get("target_uri"))
        channel_id = channel_id or target_channel
        bridge_id = bridge_id or target_bridge

    recording, duration = "", 0.0
    if kind in _RECORDING:
        recording = _require_id(msg, "recording", "name")
        rec = msg["recording"]
        duration = float(_num(rec.get("duration", rec.get("total_duration")), 0))
        target_channel, target_bridge = _target(rec.get("target_uri"))
        channel_id = channel_id or target_channel
        bridge_id = bridge_id or target_bridge

    cause = 0
    if kind in ("ChannelDestroyed", "ChannelHangupRequest"):
        cause = int(_num(msg.get("cause"), 0))

    return AriEvent(
        kind=kind,
        channel_id=channel_id,
        args=args,
        caller=str(_field(channel, "caller", "number")),
        caller_name=str(_field(channel, "caller", "name")),
        dialled=str(_field(channel, "dialplan", "exten")),
        channel_name=str(_field(channel, "name")),
        state=str(_field(channel, "state")),
        digit=digit,
        playback_id=playback_id,
        recording=recording,
        duration=duration,
        cause=cause,
        bridge_id=bridge_id,
        raw=msg,
        received_at=received_at,
    )


def parse_event(data: str | bytes, received_at: float | None = None) -> AriEvent | None:
    """Decode one websocket text frame; None (and a warning) for bad JSON or a bad event."""
    try:
        if isinstance(data, (bytes, bytearray)):
            data = bytes(data).decode("utf-8")
        msg = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        log.warning("skipping ARI event that is not JSON (%s): %s", type(e).__name__,
                    _snippet(data))
        return None
    return event_from_json(msg, received_at)


