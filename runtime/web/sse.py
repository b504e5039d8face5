"""Server-sent events: one long HTTP response per open page, ``data:`` lines of JSON.

Why SSE and not websockets (docs/design.md has the whole argument): the
console's live traffic goes one way, server to page; commands are ordinary
POSTs with a CSRF token, checked like any form. EventSource reconnects by
itself after a dropped connection, works through HTTP proxies and needs no
upgrade handshake or framing code on either side.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

#: A comment line this often keeps proxies and the browser from timing an idle stream out.
KEEP_ALIVE = 15.0
#: What the browser waits before reconnecting after the stream ends (milliseconds).
RETRY_MS = 2000


class EventStream:
    """One page's stream. ``send`` writes an event; a closed page raises ConnectionResetError
    (the handler's loop ends there)."""

    def __init__(self, response: web.StreamResponse):
        self.response = response
        self.sent = 0

    @classmethod
    async def open(cls, request: web.Request) -> "EventStream":
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        stream = cls(response)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        return stream

    async def send(self, data: str, event: str | None = None, event_id: str | None = None) -> None:
        """``data`` is one JSON text (no newlines: json.dumps writes none)."""
        lines = []
        if event:
            lines.append(f"event: {event}")
        if event_id:
            lines.append(f"id: {event_id}")
        lines.append(f"data: {data}")
        await self.response.write(("\n".join(lines) + "\n\n").encode())
        self.sent += 1

    async def send_prepared(self, event: bytes) -> None:
        """An event already in wire form (``data: ...`` and the blank line): one update
        serialised once and sent to many pages (the wallboards' feed)."""
        await self.response.write(event)
        self.sent += 1

    async def keep_alive(self) -> None:
        await self.response.write(b": keep-alive\n\n")


async def wait_or_keep_alive(stream: EventStream, changed: asyncio.Event,
                             timeout: float = KEEP_ALIVE) -> bool:
    """Wait for ``changed``; write a keep-alive comment when nothing came for ``timeout``.
    True when ``changed`` was set (and clears it)."""
    try:
        await asyncio.wait_for(changed.wait(), timeout)
    except asyncio.TimeoutError:
        await stream.keep_alive()
        return False
    changed.clear()
    return True
