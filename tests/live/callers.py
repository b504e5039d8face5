"""Simulated callers for live tests: Local channels driven over ARI.

A call is originated as ``Local/<number>@qtest-queue``: its ``;2`` half runs
the dialplan into the runtime's Stasis app (the call under test), its ``;1``
half is answered into a separate app, ``qtest-caller``, that this helper
owns — from there it presses keys (DTMF crosses the Local channel) and hangs
up, like a person on a phone.
"""

from __future__ import annotations

import asyncio
import itertools
import json

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
                   variables: dict | None = None) -> str:
        """Start a call to ``number``; returns the caller-side (;1) channel id."""
        channel = f"caller-{next(self._ids)}-{id(self) % 10000}"
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
