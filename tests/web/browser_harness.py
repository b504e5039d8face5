"""Debian's Chromium for the browser tests, installed by the test setup when missing.

Playwright for Python drives it through ``executable_path`` (no browser
download: the machines have no access to Playwright's CDN). On a fresh
machine the first browser test installs the ``chromium`` package with
apt-get (as root, as CI runs); elsewhere it says what to install. A missing
browser fails the browser tests, it never skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import fcntl

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
_LOCK = Path("/tmp/qscript-chromium-install.lock")


class BrowserUnavailable(RuntimeError):
    pass


def chromium_path() -> str:
    """The Chromium executable, installing Debian's package first if there is none."""
    found = _find()
    if found:
        return found
    with open(_LOCK, "w") as lock:  # one install at a time on the machine (parallel runs)
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _find()
        if found:
            return found
        _install()
    found = _find()
    if not found:
        raise BrowserUnavailable("chromium is still missing after installing the package")
    return found


def _find() -> str | None:
    explicit = os.environ.get("QSCRIPT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((path for path in CANDIDATES if Path(path).is_file()), None)


def _install() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BrowserUnavailable("the browser tests need Debian's chromium: run "
                                 "`sudo apt-get install chromium` (or set QSCRIPT_CHROMIUM)")
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                    ["apt-get", "update"],
                    ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        result = subprocess.run(command, env=environment, capture_output=True, text=True,
                                timeout=900)
        if result.returncode == 0 and command[1] == "install":
            return
    raise BrowserUnavailable("apt-get could not install chromium:\n" + result.stderr[-2000:])
