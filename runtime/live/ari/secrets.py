"""Keeping the ARI password out of error messages and logs.

asyncari puts ``?api_key=user:password`` in every URL, and libraries log URLs
and put them in exception messages. Every message the adapter raises goes
through :data:`_SECRETS`, and a logging filter on the libraries involved masks
the password in any spelling (plain, URL-quoted, ``user:password``, base64).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.parse
from typing import Any

class _SecretScrubber:
    """Replaces every known secret, in every spelling a library may use, by ``***``.

    Spellings: plain, URL-quoted (``%3A``, ``+``), ``user:password`` and its base64
    (a Basic auth header), JSON- and repr-escaped.  One process-wide instance
    (:data:`_SECRETS`) is shared by all adapters and the logging filter.
    """

    MASK = "***"

    def __init__(self) -> None:
        self._variants: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, user: str, password: str) -> None:
        if not password:
            return
        pair = f"{user}:{password}"
        variants = set()
        for s in (password, pair):
            variants |= {s, urllib.parse.quote(s), urllib.parse.quote(s, safe=""),
                         urllib.parse.quote_plus(s), json.dumps(s)[1:-1], repr(s)[1:-1]}
        variants.add(base64.b64encode(pair.encode()).decode())
        self._variants |= {v for v in variants if v}
        alts = sorted(self._variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in alts))

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: Any) -> str:
        text = text if isinstance(text, str) else str(text)
        if self._pattern is None:
            return text
        return self._pattern.sub(self.MASK, text)


_SECRETS = _SecretScrubber()


class _ScrubFilter(logging.Filter):
    """Scrubs secrets from a record's message, traceback and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS.active:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logger's business
            return True
        clean = _SECRETS(msg)
        if clean != msg:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _SECRETS(record.exc_text)
        if record.stack_info:
            record.stack_info = _SECRETS(record.stack_info)
        return True


#: Loggers that may see a URL, a header or an exception text of ours.  A filter only
#: applies to records created on its own logger, hence the full names.
_SCRUBBED_LOGGERS = (
    "runtime.live.ari.asyncari_adapter", "runtime.live.ari.http", "runtime.live.ari.events", "qscript.ari",
    "runtime.live.ari", "aiohttp.client", "aiohttp.internal", "asyncari", "asyncari.client", "asyncari.model",
    "asyncswagger11", "asyncswagger11.client", "asyncswagger11.http_client",
    "asyncswagger11.swagger_model", "asyncswagger11.processors", "httpx",
    "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
    "httpcore.socks", "asyncio",
)
_SCRUB_FILTER = _ScrubFilter()


def _install_log_scrubbing() -> None:
    for name in _SCRUBBED_LOGGERS:
        lg = logging.getLogger(name)
        if _SCRUB_FILTER not in lg.filters:
            lg.addFilter(_SCRUB_FILTER)


