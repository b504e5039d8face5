"""Simulated callers for live tests: Local channels driven over ARI.

A call is originated as ``Local/<number>@qtest-queue``: its ``;2`` half runs
the dialplan into the runtime's Stasis app (the call under test), its ``;1``
half is answered into a separate app, ``qtest-caller``, that this helper
owns — from there it presses keys (DTMF crosses the Local channel) and hangs
up, like a person on a phone.
"""

from __future__ import annotations

import array
import asyncio
import io
import itertools
import json
import math
import wave
from dataclasses import dataclass

import httpx
import websockets

CALLER_APP = "qtest-caller"


class Callers:
    def __init__(self, live):
        self.live = live
        self.http = httpx.AsyncClient(base_url=live.ari_url, auth=live.auth, timeout=10)
        self.events: asyncio.Queue = asyncio.Queue()
        self.up: dict[str, asyncio.Event] = {}
        self.gone: dict[str, asyncio.Event] = {}
        self._task = None
        self._ws = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> "Callers":
        self._ws = await websockets.connect(self.live.events_url(CALLER_APP))
        self._task = asyncio.create_task(self._read())
        for _ in range(50):  # the app is registered just after the handshake
            if (await self.http.get(f"/applications/{CALLER_APP}")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        try:
            await self._ws.close()
        except Exception:  # noqa: BLE001 - the websocket may have died with Asterisk
            pass
        await self.http.aclose()

    async def _read(self) -> None:
        try:
            await self._read_events()
        except websockets.ConnectionClosed:
            pass  # Asterisk restarted or the test ended

    async def _read_events(self) -> None:
        async for message in self._ws:
            event = json.loads(message)
            channel = (event.get("channel") or {}).get("id")
            if event.get("type") == "StasisStart" and channel in self.up:
                self.up[channel].set()
            if event.get("type") in ("StasisEnd", "ChannelDestroyed") and channel in self.gone:
                self.gone[channel].set()
            await self.events.put(event)

    async def call(self, number: str = "5000", caller: str = "0701234567",
                   variables: dict | None = None, channel: str | None = None) -> str:
        """Start a call to ``number``; returns the caller-side (;1) channel id.

        The runtime sees the other half, ``<channel>;2``."""
        channel = channel or f"caller-{next(self._ids)}-{id(self) % 10000}"
        self.up[channel] = asyncio.Event()
        self.gone[channel] = asyncio.Event()
        response = await self.http.post("/channels", params={
            "endpoint": f"Local/{number}@qtest-queue", "app": CALLER_APP, "channelId": channel,
            "callerId": f"\"Caller\" <{caller}>", "formats": "ulaw", "timeout": 30},
            json={"variables": variables or {}})
        response.raise_for_status()
        return channel

    async def answered(self, channel: str, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.up[channel].wait(), timeout)

    async def press(self, channel: str, digits: str) -> None:
        response = await self.http.post(f"/channels/{channel}/dtmf",
                                        params={"dtmf": digits, "between": 150, "duration": 100})
        response.raise_for_status()

    async def hang_up(self, channel: str) -> None:
        await self.http.delete(f"/channels/{channel}")

    async def ended(self, channel: str, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.gone[channel].wait(), timeout)

    async def channel(self, channel_id: str) -> dict | None:
        response = await self.http.get(f"/channels/{channel_id}")
        return response.json() if response.status_code == 200 else None

    async def in_dialplan(self, channel_id: str, context: str, timeout: float = 5.0) -> dict:
        """The channel once it is in ``context`` (the runtime handed it back to the dialplan).

        A call's record is written when the runtime sends the request, not when
        Asterisk has carried it out: poll."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            data = await self.channel(channel_id)
            if data is not None and data["dialplan"]["context"] == context:
                return data
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{channel_id} is not in {context} after {timeout}s: "
                                     f"{data and data['dialplan']}")
            await asyncio.sleep(0.05)

    async def listen(self, channel_id: str, seconds: float) -> "Heard":
        """What ``channel_id`` is sent (what its person hears) during the next ``seconds``.

        A snoop channel (``spy=out``) on the channel joins this helper's app and is
        recorded: a snoop produces audio at the real rate, silence as zero samples,
        so a caller left in silence shows as silent windows. Works on any channel
        (the runtime's caller or customer leg), in Stasis or in the dialplan.
        """
        number = next(self._ids)
        snoop, name = f"snoop-{number}-{id(self) % 10000}", f"listen-{number}-{id(self) % 10000}"
        self.up[snoop] = asyncio.Event()
        response = await self.http.post(f"/channels/{channel_id}/snoop",
                                        params={"spy": "out", "app": CALLER_APP, "snoopId": snoop})
        response.raise_for_status()
        try:
            await asyncio.wait_for(self.up[snoop].wait(), 5)
            response = await self.http.post(f"/channels/{snoop}/record", params={
                "name": name, "format": "wav", "ifExists": "overwrite", "beep": "false"})
            response.raise_for_status()
            await asyncio.sleep(seconds)
            await self.http.post(f"/recordings/live/{name}/stop")
            for _ in range(100):  # the file is complete once the live recording is gone
                if (await self.http.get(f"/recordings/live/{name}")).status_code == 404:
                    break
                await asyncio.sleep(0.05)
            response = await self.http.get(f"/recordings/stored/{name}/file")
            response.raise_for_status()
            await self.http.delete(f"/recordings/stored/{name}")
            return Heard.from_wav(response.content)
        finally:
            await self.http.delete(f"/channels/{snoop}")


@dataclass
class Heard:
    """Audio heard, as RMS levels of consecutive 100 ms windows."""

    levels: list[float]
    #: A window quieter than this is silence (the snoop fills silence with zero
    #: samples; music on hold fading in is already above 5).
    threshold: float = 2.0
    window: float = 0.1

    @classmethod
    def from_wav(cls, data: bytes) -> "Heard":
        with wave.open(io.BytesIO(data)) as audio:
            rate, frames = audio.getframerate(), audio.getnframes()
            samples = array.array("h", audio.readframes(frames))
        step = max(1, int(rate * cls.window))
        levels = []
        for start in range(0, len(samples) - step + 1, step):
            chunk = samples[start:start + step]
            levels.append(math.sqrt(sum(x * x for x in chunk) / len(chunk)))
        return cls(levels)

    @property
    def seconds(self) -> float:
        return len(self.levels) * self.window

    @property
    def silent_seconds(self) -> float:
        return sum(1 for level in self.levels if level < self.threshold) * self.window

    @property
    def longest_silence(self) -> float:
        longest = run = 0
        for level in self.levels:
            run = run + 1 if level < self.threshold else 0
            longest = max(longest, run)
        return round(longest * self.window, 1)

    def __str__(self) -> str:
        return (f"{self.seconds:.1f}s heard, {self.silent_seconds:.1f}s silent, longest silence "
                f"{self.longest_silence:.1f}s: " + " ".join(str(int(v)) for v in self.levels))


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = ""):
    """Poll ``predicate`` until it returns something truthy (then return it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(interval)
