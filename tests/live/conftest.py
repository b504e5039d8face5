"""Fixtures for live tests against a real Asterisk (see asterisk_harness.py).

* ``asterisk`` (session): starts the harness's Asterisk on first use and stops it at the end of
  the session (set ``QSCRIPT_KEEP_ASTERISK=1`` to leave it running).  Yields a
  :class:`LiveAsterisk` with ``ari_url``, ``base_url``, ``user``, ``password``, ``app``,
  ``events_url()``, ``sip_host``/``sip_port`` and the ``harness`` itself (for ``restart()``).
  Every test marked ``@pytest.mark.asterisk`` gets it automatically (it need not ask for it),
  so Asterisk is started only when such a test is collected and selected.
  If Asterisk cannot be brought up, the tests FAIL with the reason; they are skipped only when
  ``QSCRIPT_SKIP_ASTERISK=1`` is set explicitly.
* After every ``asterisk``-marked test, leftover channels are hung up and leftover bridges
  deleted (ARI keeps them after the test's websocket closes).  If Asterisk is no longer running
  (a test stopped it) it is started again; if channels refuse to go away, it is restarted.
  ``ari_cleanup`` gives the same clean-up as a callable for use inside a test.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from tests.live.asterisk_harness import AriConnection, AsteriskHarness  # noqa: E402


@dataclass(frozen=True)
class LiveAsterisk:
    """Connection info for the running test Asterisk, plus its harness."""

    connection: AriConnection
    harness: AsteriskHarness

    @property
    def base_url(self) -> str:  # http://127.0.0.1:8088
        return self.connection.base_url

    @property
    def ari_url(self) -> str:  # http://127.0.0.1:8088/ari
        return self.connection.ari_url

    @property
    def user(self) -> str:
        return self.connection.user

    @property
    def password(self) -> str:
        return self.connection.password

    @property
    def auth(self) -> tuple[str, str]:
        return self.connection.auth

    @property
    def app(self) -> str:
        return self.connection.app

    @property
    def sip_host(self) -> str:
        return self.connection.sip_host

    @property
    def sip_port(self) -> int:
        return self.connection.sip_port

    def events_url(self, app: str | None = None, subscribe_all: bool = False) -> str:
        return self.connection.events_url(app, subscribe_all)


def _skip_requested() -> bool:
    return os.environ.get("QSCRIPT_SKIP_ASTERISK", "") == "1"


@pytest.fixture(scope="session")
def asterisk():
    if _skip_requested():
        pytest.skip("QSCRIPT_SKIP_ASTERISK=1: live Asterisk tests skipped on request")
    harness = AsteriskHarness()
    try:
        conn = harness.start()
    except Exception as e:  # noqa: BLE001 - any reason must fail the tests, loudly
        pytest.fail(f"Asterisk could not be brought up ({type(e).__name__}): {e}", pytrace=False)
    try:
        yield LiveAsterisk(conn, harness)
    finally:
        if os.environ.get("QSCRIPT_KEEP_ASTERISK", "") != "1":
            harness.stop()


def cleanup_ari(live: LiveAsterisk, timeout: float = 5.0) -> None:
    """Hang up every channel and delete every bridge; restart Asterisk if that does not work."""
    h = live.harness
    if h.pid() is None or not h.ari_ok(timeout=10):
        h.start()  # a test stopped it (or it died): start it again for the next test
        return
    with httpx.Client(base_url=live.ari_url, auth=live.auth, timeout=5) as c:
        for ch in c.get("/channels").json():
            c.delete(f"/channels/{ch['id']}")  # 404 if it went away meanwhile: fine
        deadline = time.monotonic() + timeout
        while c.get("/channels").json():
            if time.monotonic() > deadline:
                h.restart()
                return
            time.sleep(0.05)
        for br in c.get("/bridges").json():
            c.delete(f"/bridges/{br['id']}")
        if c.get("/bridges").json():
            h.restart()


@pytest.fixture
def ari_cleanup(asterisk):
    """A callable that cleans up leftover channels and bridges now."""
    return lambda: cleanup_ari(asterisk)


@pytest.fixture(autouse=True)
def _asterisk_for_marked_tests(request):
    """Give every test marked `asterisk` the running Asterisk, and clean up after it."""
    if request.node.get_closest_marker("asterisk") is None:
        yield
        return
    live = request.getfixturevalue("asterisk")
    try:
        yield
    finally:
        cleanup_ari(live)


def pytest_collection_modifyitems(config, items):
    """Give each real-Asterisk test one rerun after a failure.

    These tests run real calls through a real Asterisk on a 2-core machine
    that is busy with the rest of the suite; a rare timing hiccup (a dial
    timeout reported with another hangup cause, an event a few hundred ms
    late) must not decide a submission. A test that fails twice fails; the
    output marks reruns with "R", so a flaky test is visible, not hidden.
    """
    for item in items:
        if item.get_closest_marker("asterisk") is not None:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))
