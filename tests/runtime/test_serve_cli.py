"""``qscript serve`` as a process: where the control API listens, the state file, secrets.

Asterisk is not needed: the site's ARI URL points at a closed port, and
``serve`` starts anyway (it keeps trying to connect), which is enough to see
the control API come up, the "serving" line and the state file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.live.control import state_file, write_state

SCRIPT = 'inbound:\n    answer\n    queue to "support"\n'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def site(tmp_path) -> Path:
    (tmp_path / "main.qs").write_text(SCRIPT)
    path = tmp_path / "site.yaml"
    path.write_text("site: Serve test\ngroups:\n  support: {}\nnumbers:\n  default: main.qs\n"
                    f"ari: {{url: 'http://127.0.0.1:{_free_port()}', user: qscript}}\n")
    return path


class Serving:
    """A ``qscript serve`` process; ``lines`` is its standard error so far."""

    def __init__(self, *args: str):
        env = dict(os.environ, QSCRIPT_ARI_PASSWORD="hunter2-secret", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen([sys.executable, "-m", "qscript", "serve", *args],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True, env=env)
        self.lines: list[str] = []

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed; got:\n" + "".join(self.lines))

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        rest = self.process.communicate(timeout=20)[1]
        self.lines.append(rest)
        return "".join(self.lines)


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on ``port`` (Linux /proc/net)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def test_control_with_only_a_port_listens_on_loopback(site):
    port = _free_port()
    serving = Serving("--site", str(site), "--control", f":{port}")
    try:
        line = serving.wait_for("serving")
        assert f"control API http://127.0.0.1:{port}" in line
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
    finally:
        output = serving.stop()
    assert "hunter2-secret" not in output


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "192.0.2.7", "example.com"])
def test_a_non_loopback_control_address_needs_the_explicit_flag(site, host):
    result = subprocess.run([sys.executable, "-m", "qscript", "serve", "--site", str(site),
                             "--control", f"{host}:{_free_port()}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result.stderr
    assert "not a loopback address" in result.stderr
    assert "--allow-remote-control" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_non_loopback_site_control_address_needs_the_explicit_flag(site):
    site.write_text(site.read_text() + f"control: {{listen: '0.0.0.0:{_free_port()}'}}\n")
    result = subprocess.run([sys.executable, "-m", "qscript", "serve", "--site", str(site)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--allow-remote-control" in result.stderr


def test_the_explicit_flag_listens_everywhere_and_warns(site):
    port = _free_port()
    serving = Serving("--site", str(site), "--control", f"0.0.0.0:{port}",
                      "--allow-remote-control")
    try:
        serving.wait_for("serving")
        assert _listening_addresses(port) == {"00000000"}
    finally:
        output = serving.stop()
    assert "warning" in output.lower() and "other machines" in output


@pytest.mark.parametrize("value, message", [("127.0.0.1:99999", "out of range"),
                                            ("127.0.0.1", "is not host:port"),
                                            ("127.0.0.1:http", "is not host:port")])
def test_a_bad_control_address_is_a_usage_error(site, value, message):
    result = subprocess.run([sys.executable, "-m", "qscript", "serve", "--site", str(site),
                             "--control", value], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_ari_url_with_a_password_is_refused_without_showing_it(site):
    result = subprocess.run([sys.executable, "-m", "qscript", "serve", "--site", str(site),
                             "--ari-url", "http://qscript:hunter2@127.0.0.1:8088"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "http://qscript:***@127.0.0.1:8088" in result.stderr
    assert "QSCRIPT_ARI_PASSWORD" in result.stderr


def test_serve_writes_the_state_file_for_its_owner_only(site):
    state = state_file(site)
    state.parent.mkdir()
    state.write_text("{}")
    state.chmod(0o644)
    port = _free_port()
    serving = Serving("--site", str(site), "--control", f"127.0.0.1:{port}")
    try:
        serving.wait_for("serving")
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        assert json.loads(state.read_text())["url"] == f"http://127.0.0.1:{port}"
    finally:
        serving.stop()


# ------------------------------------------------------------------ the state file itself


def test_write_state_makes_an_existing_file_0600(tmp_path):
    site = tmp_path / "site.yaml"
    state = state_file(site)
    state.parent.mkdir()
    state.write_text("old")
    state.chmod(0o644)
    assert write_state(site, "http://127.0.0.1:1", "tok") == state
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert json.loads(state.read_text()) == {"url": "http://127.0.0.1:1", "token": "tok"}


def test_write_state_does_not_follow_a_symlink(tmp_path):
    site = tmp_path / "site.yaml"
    state = state_file(site)
    state.parent.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch")
    victim.chmod(0o644)
    state.symlink_to(victim)
    write_state(site, "http://127.0.0.1:1", "tok")
    assert victim.read_text() == "do not touch"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert not state.is_symlink()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert sorted(p.name for p in state.parent.iterdir()) == [state.name]


def test_write_state_creates_a_private_directory(tmp_path):
    site = tmp_path / "site.yaml"
    write_state(site, "http://127.0.0.1:1", "tok")
    assert stat.S_IMODE(state_file(site).parent.stat().st_mode) == 0o700


def test_serve_that_cannot_write_its_state_file_says_so(site):
    (site.parent / ".qscript").write_text("a file where the directory should be")
    result = subprocess.run([sys.executable, "-m", "qscript", "serve", "--site", str(site),
                             "--control", f"127.0.0.1:{_free_port()}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "cannot write the control state file" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_control_token_that_cannot_be_sent_is_refused_at_start(site):
    env = dict(os.environ, QSCRIPT_CONTROL_TOKEN="tök en")
    result = subprocess.run([sys.executable, "-m", "qscript", "serve", "--site", str(site),
                             "--control", f"127.0.0.1:{_free_port()}"],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 2, result.stderr
    assert "printable ASCII" in result.stderr and "tök" not in result.stderr


def test_a_site_script_that_is_not_utf8_stops_the_start_with_its_location(site):
    (site.parent / "main.qs").write_bytes(b'inbound:\n    play "\xff"\n')
    result = subprocess.run([sys.executable, "-m", "qscript", "serve", "--site", str(site),
                             "--control", f"127.0.0.1:{_free_port()}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert f"{site.parent / 'main.qs'}: error[Q0001]: the file is not valid UTF-8" \
        in result.stderr
