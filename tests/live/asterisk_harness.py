"""A real Asterisk 22 for QScript's live tests, brought up by the project itself.

Debian 12 (the CI/dev machine) has no ``asterisk`` package; Debian sid does, but it needs a
newer libc.  So Asterisk runs inside a ``debootstrap --variant=minbase sid`` chroot that
shares the host's network namespace (127.0.0.1 is the same on both sides).  Nothing needs to
be mounted in it.  Everything here needs root (chroot, apt-get).

Endpoints (fixed; the files in ``tests/live/asterisk-etc/`` define them):

* ARI  ``http://127.0.0.1:8088/ari``  user ``qtest`` password ``qtest``; events at
  ``ws://127.0.0.1:8088/ari/events?app=qtest&api_key=qtest:qtest``.
* PJSIP UDP ``127.0.0.1:5060``: endpoint ``sipp``, no auth, matched by source IP 127.0.0.1,
  context ``qtest-in``, ulaw/alaw, RFC 4733 DTMF; RTP 10000-10999.
* Dialplan contexts: see the comment block at the top of ``asterisk-etc/extensions.conf``
  (qtest-in, qtest-ring, qtest-wait, qtest-queue, qtest-agent, qtest-fallback).

Where things live
-----------------
* chroot: ``$QSCRIPT_ASTROOT`` or ``/var/tmp/qscript-astroot``.  ``<astroot>/.qscript-astroot-complete``
  marks a finished chroot (it is reused as is).  A build/unpack happens in ``<astroot>.partial``
  and is renamed into place only when complete.  ``<astroot>.lock`` serialises installs,
  starts and stops across processes.
* ``tests/live/asterisk-etc/*.conf`` are copied into ``<astroot>/etc/asterisk/`` on every start.
* console log: ``<astroot>/var/log/asterisk/console.log`` (previous run: ``console.log.1``);
  PID file: ``<astroot>/run/qscript-asterisk.pid``.

How the chroot is made (``ensure_installed``), first match wins
  1. the marker file exists                          -> reuse (no work)
  2. a snapshot tarball: ``$QSCRIPT_ASTERISK_TARBALL``, else ``<repo>/../shared/asterisk/*.tar.zst``
     (CI has a read-only copy of shared/ there)      -> unpack it (host needs ``zstd``; it is
     apt-get installed if missing).  No network needed.
  3. otherwise ``debootstrap --variant=minbase sid`` from the Debian mirror in the host's apt
     configuration (``$DEBIAN_MIRROR`` overrides), then apt-get install asterisk
     asterisk-modules asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm inside it, with
     Check-Valid-Until/Check-Date off, no recommends, no docs.  Needs Debian's registry.
  ``python -m tests.live.asterisk_harness install --debootstrap`` forces 3 (for a fresh build
  when the snapshot gets old), ``pack FILE`` writes a new snapshot.

What a CI script must call (from the repository root, as root)
--------------------------------------------------------------
::

    python -m tests.live.asterisk_harness start   # install/unpack if needed, start, wait for ARI
    python -m pytest tests/live -m asterisk        # the `asterisk` fixture reuses the running one
    python -m tests.live.asterisk_harness stop     # optional: the fixture stops it at session end

The explicit ``start`` is optional too (the pytest fixture starts it when a test marked
``asterisk`` is collected), but running it first gives a clearer log and separates install time
from test time.  ``httpx`` must be importable (it is a test dependency); nothing else beyond the
standard library is needed.  ``python -m tests.live.asterisk_harness status`` exits 0 only when
it is running and ARI answers.  Other commands: ``restart``, ``install [--debootstrap]``,
``pack FILE``, ``destroy``.

Measured on the 2-core dev machine (Asterisk 22.10.1 snapshot, 106 MB .tar.zst -> 325 MB,
10k files), other work running on the machine at the same time:

* fresh machine, chroot absent, from the snapshot: unpack 2-10 s (disk-bound; 4-10 s after a
  ``sync``), then the first start 0.7-1.7 s: ``start`` returns after 5-11 s in total;
* warm start (chroot present, Asterisk stopped): 0.5-1.3 s until ARI answers and the core is
  fully booted (0.7-1.7 s for the whole ``python -m ... start`` command);
* ``restart()`` (``core stop now`` ~0.4 s + start ~0.6 s): 1.0-1.2 s;
* no snapshot, debootstrap + apt-get in the chroot from Debian's mirror: 94 s (with the host's
  apt-get update and debootstrap install);  ``pack``: 19 s.

The SIPp smoke test calls ``ensure_sipp()``, which apt-get installs Debian's ``sip-tester``
(binary ``sipp``) when it is missing (about 5 s with the apt-get update); a CI script may
install it up front instead: ``apt-get install -y --no-install-recommends sip-tester``.

Environment (all optional): QSCRIPT_ASTROOT, QSCRIPT_ASTERISK_TARBALL, DEBIAN_MIRROR,
QSCRIPT_ASTERISK_START_TIMEOUT (seconds, default 60).  Read by tests/live/conftest.py:
QSCRIPT_SKIP_ASTERISK=1 (skip the ``asterisk`` tests instead of failing when Asterisk cannot
be brought up), QSCRIPT_KEEP_ASTERISK=1 (leave it running after the pytest session).

One Asterisk per machine (fixed ports): the fixture and its per-test clean-up (which hangs up
ALL channels) assume one pytest process at a time; do not run the ``asterisk`` tests under
pytest-xdist.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

log = logging.getLogger("qscript.tests.asterisk")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CONF_DIR = HERE / "asterisk-etc"

DEFAULT_ASTROOT = "/var/tmp/qscript-astroot"
ARI_HOST = "127.0.0.1"
ARI_PORT = 8088
SIP_PORT = 5060
ARI_USER = "qtest"
ARI_PASSWORD = "qtest"
ARI_APP = "qtest"

SUITE = "sid"
PACKAGES = [
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en-gsm",
    "asterisk-moh-opsound-gsm",
]
MARKER = ".qscript-astroot-complete"
PIDFILE_REL = "run/qscript-asterisk.pid"
CONSOLE_LOG_REL = "var/log/asterisk/console.log"
ASTERISK_BIN = "/usr/sbin/asterisk"

APT_CONF = """\
Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
Acquire::Languages "none";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Dpkg::Use-Pty "false";
"""
DPKG_NODOC = """\
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
"""
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}


class HarnessError(RuntimeError):
    """Asterisk could not be installed, started or stopped; the message says why."""


@dataclass(frozen=True)
class AriConnection:
    """How a test talks to the harness's Asterisk."""

    base_url: str  # http://127.0.0.1:8088  (what asyncari.connect() wants)
    ari_url: str  # http://127.0.0.1:8088/ari
    user: str
    password: str
    app: str
    sip_host: str = ARI_HOST
    sip_port: int = SIP_PORT

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)

    def events_url(self, app: str | None = None, subscribe_all: bool = False) -> str:
        ws = self.base_url.replace("http", "ws", 1)
        url = f"{ws}/ari/events?app={app or self.app}&api_key={self.user}:{self.password}"
        return url + ("&subscribeAll=true" if subscribe_all else "")


def _run(cmd: list[str], *, timeout: float | None = None, check: bool = True,
         env: dict[str, str] | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    log.debug("run: %s", " ".join(cmd))
    try:
        cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=capture, text=True,
                            timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"{' '.join(cmd)!r} timed out after {timeout}s") from e
    if check and cp.returncode != 0:
        out = ((cp.stdout or "") + (cp.stderr or "")).strip()[-2000:]
        raise HarnessError(f"{' '.join(cmd)!r} failed with exit code {cp.returncode}: {out}")
    return cp


def _retry(n: int, fn, *args, **kw):
    for i in range(1, n + 1):
        try:
            return fn(*args, **kw)
        except HarnessError as e:
            if i == n:
                raise
            log.warning("attempt %d/%d failed: %s", i, n, e)
            time.sleep(3 * i)


_apt_updated = False


def apt_install(*packages: str) -> None:
    """apt-get install on the host (apt-get update first, once per process)."""
    global _apt_updated
    if os.geteuid() != 0:
        raise HarnessError(f"need root to apt-get install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    if not _apt_updated:
        log.info("apt-get update")
        _retry(3, _run, ["apt-get", *lock, "update", "-qq"], timeout=600, env=env)
        _apt_updated = True
    log.info("apt-get install %s", " ".join(packages))
    _retry(3, _run, ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends",
                     *packages], timeout=900, env=env)


def ensure_host_tool(command: str, package: str | None = None) -> str:
    path = shutil.which(command)
    if path:
        return path
    apt_install(package or command)
    path = shutil.which(command)
    if not path:
        raise HarnessError(f"{command} still missing after apt-get install {package or command}")
    return path


def ensure_sipp() -> str:
    """Path of the ``sipp`` binary (Debian package ``sip-tester``), installed if missing."""
    path = ensure_host_tool("sipp", "sip-tester")
    if not Path("/usr/share/sip-tester/dtmf_2833_1.pcap").exists():
        raise HarnessError("sip-tester installed but /usr/share/sip-tester/dtmf_2833_1.pcap missing")
    return path


def debian_mirror() -> str:
    """The Debian mirror this host's apt uses (sources.list, *.list and deb822 *.sources)."""
    if os.environ.get("DEBIAN_MIRROR"):
        return os.environ["DEBIAN_MIRROR"].rstrip("/")
    codename = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                codename = line.split("=", 1)[1].strip().strip('"')
    uris: list[tuple[str, str]] = []
    with contextlib.suppress(Exception):
        out = _run(["apt-get", "--print-uris", "update"], timeout=60, check=False).stdout
        uris = re.findall(r"^'([^']*)/dists/([^/']*)/(?:In)?Release'", out, re.M)
    for uri, suite in uris:
        if suite == codename and "security" not in uri:
            return uri.rstrip("/")
    for uri, _ in uris:
        if re.search(r"/debian/?$", uri):
            return uri.rstrip("/")
    cands: list[str] = []
    for f in ["/etc/apt/sources.list", *glob.glob("/etc/apt/sources.list.d/*.list")]:
        with contextlib.suppress(OSError):
            for line in Path(f).read_text().splitlines():
                line = re.sub(r"\[[^]]*\]", "", line).split()
                if len(line) >= 2 and line[0] == "deb":
                    cands.append(line[1])
    for f in glob.glob("/etc/apt/sources.list.d/*.sources"):
        with contextlib.suppress(OSError):
            for line in Path(f).read_text().splitlines():
                if line.lower().startswith("uris:"):
                    cands.extend(line.split()[1:])
    for c in cands:
        if re.search(r"/debian/?$", c):
            return c.rstrip("/")
    raise HarnessError("could not find a Debian mirror in the apt sources (set DEBIAN_MIRROR)")


def find_tarball() -> Path | None:
    """Snapshot of a finished chroot: $QSCRIPT_ASTERISK_TARBALL, else ../shared/asterisk/*.tar.zst."""
    env = os.environ.get("QSCRIPT_ASTERISK_TARBALL")
    if env:
        p = Path(env)
        if not p.is_file():
            raise HarnessError(f"QSCRIPT_ASTERISK_TARBALL={env} does not exist")
        return p
    found = sorted(glob.glob(str(REPO.parent / "shared" / "asterisk" / "*.tar.zst")))
    return Path(found[-1]) if found else None


def _proc_stat_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


class AsteriskHarness:
    """Install, start, stop and query the test Asterisk in its chroot.

    All methods are idempotent and safe to call from several processes (a lock file
    serialises them).  Errors raise :class:`HarnessError` with the reason (and, for start
    failures, the tail of the console log).
    """

    def __init__(self, astroot: str | os.PathLike | None = None, conf_dir: str | os.PathLike | None = None,
                 start_timeout: float | None = None):
        root = os.path.realpath(astroot or os.environ.get("QSCRIPT_ASTROOT") or DEFAULT_ASTROOT)
        if root in ("/", "/tmp", "/var", "/var/tmp", "/usr", "/etc", "/root", "/home") or root.count("/") < 2:
            raise HarnessError(f"refusing astroot={root}")
        self.root = Path(root)
        self.conf_dir = Path(conf_dir) if conf_dir else CONF_DIR
        self.start_timeout = float(start_timeout or os.environ.get("QSCRIPT_ASTERISK_START_TIMEOUT") or 60)
        self.pidfile = self.root / PIDFILE_REL
        self.console_log = self.root / CONSOLE_LOG_REL
        self.marker = self.root / MARKER
        self.partial = Path(str(self.root) + ".partial")
        self.lockfile = Path(str(self.root) + ".lock")
        self.base_url = f"http://{ARI_HOST}:{ARI_PORT}"
        self.connection = AriConnection(self.base_url, self.base_url + "/ari", ARI_USER, ARI_PASSWORD, ARI_APP)
        self._proc: subprocess.Popen | None = None
        self._lock_depth = 0
        self._lock_fd: int | None = None
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock_depth == 0:
            self.lockfile.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lockfile, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            deadline = time.monotonic() + 1800
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        os.close(fd)
                        raise HarnessError(f"timed out waiting for {self.lockfile}") from None
                    time.sleep(0.1)
            self._lock_fd = fd
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # ------------------------------------------------------------ installation
    def is_installed(self) -> bool:
        return self.marker.is_file() and (self.root / ASTERISK_BIN.lstrip("/")).exists()

    def ensure_installed(self, method: str = "auto") -> None:
        """Make sure a complete chroot exists: reuse, else unpack the snapshot, else debootstrap.

        ``method``: "auto" (as described), "tarball" (fail if there is none) or "debootstrap"
        (ignore any snapshot; only used when no complete chroot exists).
        """
        if os.geteuid() != 0:
            raise HarnessError("the Asterisk harness needs root (chroot, apt-get)")
        if self.is_installed():
            self._ensure_dirs(self.root)
            return
        with self._locked():
            if self.is_installed():
                return
            t0 = time.monotonic()
            if self.root.exists():
                self._adopt_or_wipe()
                if self.is_installed():
                    return
            self._wipe(self.partial)
            tarball = find_tarball() if method in ("auto", "tarball") else None
            if method == "tarball" and tarball is None:
                raise HarnessError("no Asterisk snapshot tarball found "
                                   "(QSCRIPT_ASTERISK_TARBALL or ../shared/asterisk)")
            try:
                if tarball is not None:
                    self._unpack(tarball, self.partial)
                    source = f"tarball {tarball}"
                else:
                    self._debootstrap(self.partial)
                    source = "debootstrap " + SUITE
                version = self._check_binary(self.partial)
                self._ensure_dirs(self.partial)
                pkgs = _run(["chroot", str(self.partial), "dpkg-query", "-W", "-f=${Package} ${Version}\\n",
                             *PACKAGES], timeout=60, check=False, env=CHROOT_ENV).stdout
                (self.partial / MARKER).write_text(f"{version}\nsource: {source}\n{pkgs}")
                os.rename(self.partial, self.root)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._wipe(self.partial)
                raise
            self.timings["install"] = time.monotonic() - t0
            log.info("chroot ready at %s in %.1fs (%s, %s)", self.root, self.timings["install"], version, source)

    def _adopt_or_wipe(self) -> None:
        """An existing root without our marker: adopt a finished recipe chroot, else remove it."""
        recipe_done = self.root / ".asterisk-recipe-done"
        if recipe_done.is_file() and (self.root / ASTERISK_BIN.lstrip("/")).exists():
            with contextlib.suppress(HarnessError):
                version = self._check_binary(self.root)
                self._ensure_dirs(self.root)
                self.marker.write_text(f"{version}\nsource: adopted recipe chroot\n")
                log.info("adopted existing chroot %s (%s)", self.root, version)
                return
        known = [".debootstrap-done", ".asterisk-recipe-done", "usr/sbin/asterisk", "etc/debian_version"]
        if any((self.root / k).exists() for k in known) or not any(self.root.iterdir()):
            self.stop()  # a leftover asterisk may still run in it
            log.warning("removing incomplete chroot %s", self.root)
            self._wipe(self.root)
        else:
            raise HarnessError(f"{self.root} exists and does not look like an Asterisk chroot; remove it "
                               "or set QSCRIPT_ASTROOT elsewhere")

    def _wipe(self, path: Path) -> None:
        if not path.exists() and not path.is_symlink():
            return
        real = os.path.realpath(path)
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f]
        inside = [m for m in mounts if m == real or m.startswith(real + "/")]
        if inside:
            raise HarnessError(f"refusing to delete {path}: mounted inside it: {inside}")
        shutil.rmtree(path)

    def _unpack(self, tarball: Path, dest: Path) -> None:
        log.info("unpacking %s into %s", tarball, dest)
        dest.mkdir(parents=True)
        tar = ["tar", "-C", str(dest), "--numeric-owner", "-xpf"]
        if tarball.name.endswith(".zst"):
            zstd = ensure_host_tool("zstd")
            with subprocess.Popen([zstd, "-dcq", str(tarball)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) as dec:
                cp = subprocess.run([*tar, "-"], stdin=dec.stdout, capture_output=True, text=True, timeout=900)
                dec.stdout.close()
                derr = dec.stderr.read().decode(errors="replace")
                drc = dec.wait(timeout=60)
            if drc != 0 or cp.returncode != 0:
                raise HarnessError(f"could not unpack {tarball}: zstd rc={drc} {derr.strip()[-500:]}; "
                                   f"tar rc={cp.returncode} {cp.stderr.strip()[-500:]}")
        else:
            _run([*tar, str(tarball)], timeout=900)

    def _debootstrap(self, dest: Path) -> None:
        ensure_host_tool("debootstrap")
        mirror = debian_mirror()
        log.info("debootstrap --variant=minbase %s %s %s", SUITE, dest, mirror)
        logfile = Path(str(self.root) + ".debootstrap.log")
        for attempt in range(1, 4):
            with open(logfile, "w") as lf:
                rc = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(dest), mirror],
                                    stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                    timeout=1800).returncode
            if rc == 0:
                break
            tail = "".join(logfile.read_text(errors="replace").splitlines(True)[-10:])
            log.warning("debootstrap attempt %d failed:\n%s", attempt, tail)
            self._wipe(dest)
            if attempt == 3:
                raise HarnessError(f"debootstrap failed 3 times; last lines of {logfile}:\n{tail}")
            time.sleep(3 * attempt)
        # never start services; tolerate sid's Valid-Until in the past and clock skew;
        # no recommends; no docs/man pages/locales
        policy = dest / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (dest / "etc/apt/apt.conf.d/99qscript-asterisk").write_text(APT_CONF)
        (dest / "etc/dpkg/dpkg.cfg.d/01-qscript-nodoc").write_text(DPKG_NODOC)
        (dest / "etc/apt/sources.list").write_text(f"deb {mirror} {SUITE} main\n")
        env = dict(CHROOT_ENV, DEBIAN_FRONTEND="noninteractive")
        ch = ["chroot", str(dest)]
        _retry(3, _run, [*ch, "apt-get", "update", "-qq"], timeout=600, env=env)
        _run([*ch, "dpkg", "--configure", "-a"], timeout=600, env=env)
        _retry(3, _run, [*ch, "apt-get", "install", "-y", "-q", *PACKAGES], timeout=1800, env=env)
        _run([*ch, "apt-get", "clean"], timeout=120, env=env)

    def _check_binary(self, root: Path) -> str:
        out = _run(["chroot", str(root), ASTERISK_BIN, "-V"], timeout=30, env=CHROOT_ENV).stdout.strip()
        if not out.startswith("Asterisk "):
            raise HarnessError(f"unexpected 'asterisk -V' output: {out!r}")
        return out

    @staticmethod
    def _ensure_dirs(root: Path) -> None:
        # Debian does not create the ARI stored-recordings dir (spooldir/recording); the
        # snapshot tarball leaves out var/log/asterisk/*, including cdr_csv's directory
        for d in ("run/asterisk", "var/log/asterisk/cdr-csv", "var/log/asterisk/cdr-custom",
                  "var/spool/asterisk/recording"):
            (root / d).mkdir(parents=True, exist_ok=True)

    def pack(self, out: str | os.PathLike) -> Path:
        """Write a snapshot tarball (.tar.zst) of the finished chroot, for QSCRIPT_ASTERISK_TARBALL."""
        self.ensure_installed()
        self.stop()
        out = Path(out).resolve()
        zstd = ensure_host_tool("zstd")
        excludes = ["./proc/*", "./var/lib/apt/lists/*", "./var/cache/apt/*", "./run/asterisk",
                    "./" + PIDFILE_REL, "./var/log/asterisk/*", "./var/spool/asterisk/recording/*", "./" + MARKER]
        tar = ["tar", "-C", str(self.root), *[f"--exclude={e}" for e in excludes], "-cf", "-", "."]
        with open(out, "wb") as f, subprocess.Popen(tar, stdout=subprocess.PIPE) as t:
            rc = subprocess.run([zstd, "-q", "-T0", "-10"], stdin=t.stdout, stdout=f).returncode
            t.stdout.close()
            if t.wait() != 0 or rc != 0:
                raise HarnessError(f"packing {self.root} into {out} failed")
        return out

    def destroy(self) -> None:
        """Stop Asterisk and delete the chroot."""
        with self._locked():
            self.stop()
            self._wipe(self.partial)
            self._wipe(self.root)
            Path(str(self.root) + ".debootstrap.log").unlink(missing_ok=True)

    # --------------------------------------------------------------- processes
    def _is_ours(self, pid: int, daemon_only: bool = True) -> bool:
        """True if pid is a live (non-zombie) asterisk whose root is our chroot."""
        try:
            if os.readlink(f"/proc/{pid}/root") != str(self.root):
                return False
            if Path(f"/proc/{pid}/comm").read_text().strip() != "asterisk":
                return False
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        if _proc_stat_state(pid) in (None, "Z", "X"):
            return False
        return not daemon_only or b"-f" in argv

    def _reap(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    def pid(self) -> int | None:
        """PID of our running Asterisk (verified via /proc/PID/root and comm), else None."""
        self._reap()
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            if self._is_ours(pid):
                return pid
        return None

    def _leftover_pids(self) -> list[int]:
        """Asterisk daemons running in our chroot (e.g. from a run whose PID file is gone)."""
        pids = []
        for d in os.listdir("/proc"):
            if d.isdigit() and self._is_ours(int(d)):
                pids.append(int(d))
        return pids

    @staticmethod
    def _foreign_asterisks() -> list[str]:
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            with contextlib.suppress(OSError):
                if Path(f"/proc/{d}/comm").read_text().strip() == "asterisk":
                    out.append(f"pid {d} root {os.readlink(f'/proc/{d}/root')}")
        return out

    def ari_ok(self, timeout: float = 2.0) -> bool:
        try:
            r = httpx.get(f"{self.connection.ari_url}/asterisk/info", auth=self.connection.auth, timeout=timeout)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def _wait_ari(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while True:
            if self.ari_ok(timeout=max(0.5, min(5.0, end - time.monotonic()))):
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.1)

    def ari_info(self) -> dict:
        r = httpx.get(f"{self.connection.ari_url}/asterisk/info", auth=self.connection.auth, timeout=5)
        r.raise_for_status()
        return r.json()

    def cli(self, command: str, timeout: float = 15) -> str:
        """Run an Asterisk CLI command (asterisk -rx) inside the chroot; returns its output."""
        return _run(["chroot", str(self.root), ASTERISK_BIN, "-rx", command], timeout=timeout,
                    env=CHROOT_ENV).stdout

    def console_tail(self, lines: int = 40) -> str:
        try:
            return "".join(self.console_log.read_text(errors="replace").splitlines(True)[-lines:])
        except OSError as e:
            return f"(no console log: {e})"

    @staticmethod
    def _port_free(kind: int, port: int) -> bool:
        s = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ARI_HOST, port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def start(self) -> AriConnection:
        """Start Asterisk (idempotent) and wait until ARI answers and the core is fully booted."""
        self.ensure_installed()
        with self._locked():
            pid = self.pid()
            if pid is not None:
                if self._wait_ari(10):  # a heavily loaded Asterisk may answer slowly
                    log.info("Asterisk already running (pid %s)", pid)
                    return self.connection
                log.warning("pid %s alive but ARI not answering; restarting it", pid)
                self.stop()
            for left in self._leftover_pids():
                log.warning("stopping leftover Asterisk pid %s in %s", left, self.root)
                self._stop_pid(left)
            self.pidfile.unlink(missing_ok=True)
            if self.ari_ok(timeout=1):
                raise HarnessError(f"something else already answers ARI at {self.base_url} "
                                   f"(asterisk processes: {self._foreign_asterisks() or 'none'})")
            busy = [f"tcp {ARI_PORT}"] if not self._port_free(socket.SOCK_STREAM, ARI_PORT) else []
            if not self._port_free(socket.SOCK_DGRAM, SIP_PORT):
                busy.append(f"udp {SIP_PORT}")
            if busy:
                raise HarnessError(f"ports in use on {ARI_HOST}: {', '.join(busy)} "
                                   f"(asterisk processes: {self._foreign_asterisks() or 'none'})")
            self._sync_conf()
            return self._launch()

    def _sync_conf(self) -> None:
        confs = sorted(self.conf_dir.glob("*.conf"))
        if not confs:
            raise HarnessError(f"no *.conf in {self.conf_dir}")
        etc = self.root / "etc/asterisk"
        for c in confs:
            dst = etc / c.name
            shutil.copyfile(c, dst)
            dst.chmod(0o644)
        # users.conf is deprecated; its mere presence logs a WARNING at every start
        if not (self.conf_dir / "users.conf").exists():
            (etc / "users.conf").unlink(missing_ok=True)
        self._ensure_dirs(self.root)
        (self.root / "run/asterisk/asterisk.ctl").unlink(missing_ok=True)

    def _launch(self) -> AriConnection:
        if self.console_log.exists():
            os.replace(self.console_log, str(self.console_log) + ".1")
        t0 = time.monotonic()
        with open(self.console_log, "wb") as logf:
            # own session (setsid), every inherited fd above 2 closed (close_fds), console to the
            # log; chroot execs asterisk, so the PID is Asterisk's own.
            self._proc = subprocess.Popen(
                ["chroot", str(self.root), ASTERISK_BIN, "-f", "-n", "-q"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                close_fds=True, start_new_session=True, env=CHROOT_ENV)
        pid = self._proc.pid
        self.pidfile.write_text(f"{pid}\n")
        deadline = t0 + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._proc = None
                self.pidfile.unlink(missing_ok=True)
                raise HarnessError(f"Asterisk exited during startup (rc={rc}); console log "
                                   f"{self.console_log}:\n{self.console_tail()}")
            if self.ari_ok(timeout=1):
                break
            if time.monotonic() > deadline:
                tail = self.console_tail()
                with contextlib.suppress(Exception):
                    self.stop()
                raise HarnessError(f"ARI did not answer at {self.base_url} within {self.start_timeout:.0f}s; "
                                   f"console log {self.console_log}:\n{tail}")
            time.sleep(0.05)
        t_ari = time.monotonic() - t0
        try:
            self.cli("core waitfullybooted", timeout=max(5.0, deadline - time.monotonic()))
        except HarnessError as e:
            tail = self.console_tail()
            with contextlib.suppress(Exception):
                self.stop()
            raise HarnessError(f"Asterisk did not finish booting: {e}; console log:\n{tail}") from e
        self.timings["start"] = time.monotonic() - t0
        log.info("Asterisk up (pid %s): ARI after %.2fs, fully booted after %.2fs",
                 pid, t_ari, self.timings["start"])
        return self.connection

    def _stop_pid(self, pid: int) -> None:
        """core stop now, then SIGTERM, then SIGKILL, to this verified PID only."""
        def alive() -> bool:
            self._reap()
            return self._is_ours(pid, daemon_only=False)

        def wait(seconds: float) -> bool:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if not alive():
                    return True
                time.sleep(0.05)
            return not alive()

        if not alive():
            return
        try:
            self.cli("core stop now", timeout=5)
            cli_ok = True
        except HarnessError as e:  # hung or not answering its control socket
            log.warning("'core stop now' failed: %s", e)
            cli_ok = False
        if cli_ok and wait(10):
            return
        for sig, secs in ((signal.SIGTERM, 3), (signal.SIGKILL, 2)):
            if not alive():
                return
            log.warning("sending %s to Asterisk pid %s", sig.name, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)  # in case it was stopped
                os.kill(pid, sig)
            if wait(secs):
                return
        raise HarnessError(f"Asterisk pid {pid} did not exit")

    def stop(self) -> None:
        """Stop our Asterisk (idempotent). Only PIDs verified to be asterisk in our chroot are signalled."""
        with self._locked():
            t0 = time.monotonic()
            pids = {p for p in [self.pid()] if p is not None} | set(self._leftover_pids())
            for pid in sorted(pids):
                self._stop_pid(pid)
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=1)
                self._proc = None
            self.pidfile.unlink(missing_ok=True)
            if pids:
                self.timings["stop"] = time.monotonic() - t0
                log.info("Asterisk stopped (pid %s) in %.2fs", ",".join(map(str, sorted(pids))), self.timings["stop"])

    def restart(self) -> AriConnection:
        """Stop (hanging up every call in flight) and start again; returns when ARI answers."""
        with self._locked():
            t0 = time.monotonic()
            self.stop()
            conn = self.start()
            self.timings["restart"] = time.monotonic() - t0
            return conn

    def status(self) -> dict:
        pid = self.pid()
        st: dict = {"astroot": str(self.root), "installed": self.is_installed(), "pid": pid,
                    "running": pid is not None, "ari": False, "version": None, "console_log": str(self.console_log)}
        if pid is not None and self.ari_ok():
            st["ari"] = True
            with contextlib.suppress(Exception):
                st["version"] = self.ari_info()["system"]["version"]
        return st


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.live.asterisk_harness",
                                 description="Real Asterisk for QScript's live tests (chroot of Debian sid).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("start", help="install if needed, start, wait for ARI (idempotent)")
    sub.add_parser("stop", help="stop it (idempotent)")
    sub.add_parser("restart", help="stop + start")
    sub.add_parser("status", help="exit 0 if running and ARI answers")
    p = sub.add_parser("install", help="make sure the chroot exists (no start)")
    p.add_argument("--debootstrap", action="store_true", help="build with debootstrap, ignoring snapshots")
    p = sub.add_parser("pack", help="write a snapshot tarball of the chroot")
    p.add_argument("file")
    sub.add_parser("destroy", help="stop and delete the chroot")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[asterisk-harness %(asctime)s] %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    h = AsteriskHarness()
    t0 = time.monotonic()
    try:
        if args.cmd == "start":
            c = h.start()
            print(f"Asterisk running: ARI {c.ari_url} user {c.user} password {c.password} app {c.app}; "
                  f"PJSIP udp {c.sip_host}:{c.sip_port}; log {h.console_log}")
        elif args.cmd == "stop":
            h.stop()
        elif args.cmd == "restart":
            h.restart()
        elif args.cmd == "status":
            st = h.status()
            print(" ".join(f"{k}={v}" for k, v in st.items()))
            return 0 if st["ari"] else 1
        elif args.cmd == "install":
            h.ensure_installed("debootstrap" if args.debootstrap else "auto")
            print(h.marker.read_text().strip())
        elif args.cmd == "pack":
            print(h.pack(args.file))
        elif args.cmd == "destroy":
            h.destroy()
    except HarnessError as e:
        log.error("%s", e)
        return 1
    timings = " ".join(f"{k}={v:.2f}s" for k, v in h.timings.items())
    log.info("%s done in %.2fs%s", args.cmd, time.monotonic() - t0, f" ({timings})" if timings else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
