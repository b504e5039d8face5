"""Every command that reads a file, given something that is not a readable file of its kind.

A FIFO nobody writes to, ``/dev/zero``, a directory, a missing file, a file
larger than the limit for its kind, or one the user may not read: each is
refused before reading, with exit 1 and a message that says what the path
is, and none hangs (each command runs under an alarm) or prints a traceback.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from qscript import cli

SCRIPT = 'inbound:\n    answer\n    queue to "main"\n'
SITE = "site: t\ngroups:\n  main: {}\n"
MODEL = ("start: '2026-12-07T08:00:00'\nduration: 10m\narrivals: {rate_per_hour: 60}\n"
         "handle_time: {distribution: exponential, mean: 60s}\n"
         "agents: [{count: 2, groups: [main]}]\n")
SCENARIOS = ("script: good.qs\nsite: site.yaml\nscenarios:\n  - name: one\n"
             "    calls: [{caller: '1'}]\n    agents: [{id: a, groups: [main]}]\n"
             "    expect: [{answered: true}]\n")
CLIENT = ["--url", "http://127.0.0.1:9", "--token", "x"]


class Hung(Exception):
    pass


def run(*args: str):
    """Run the CLI in-process, failing the test (not hanging it) after 10 seconds."""
    def alarm(signum, frame):
        raise Hung(f"qscript {' '.join(args)} did not finish within 10 s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(10)
    try:
        result = CliRunner().invoke(cli.main, list(args))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    if isinstance(result.exception, Hung):
        raise result.exception
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.qs").write_text(SCRIPT)
    (tmp_path / "site.yaml").write_text(SITE)
    (tmp_path / "model.yaml").write_text(MODEL)
    return tmp_path


#: Where the bad path goes, for each command that reads files; BAD is replaced by it.
COMMANDS = {
    "check": ["check", "BAD"],
    "check --site": ["check", "--site", "BAD", "good.qs"],
    "compile": ["compile", "BAD"],
    "disasm": ["disasm", "BAD"],
    "disasm .qsc": ["disasm", "BAD.qsc"],
    "fmt": ["fmt", "BAD"],
    "simulate": ["simulate", "BAD", "--model", "model.yaml"],
    "simulate --model": ["simulate", "good.qs", "--model", "BAD"],
    "simulate --site": ["simulate", "good.qs", "--model", "model.yaml", "--site", "BAD"],
    "test": ["test", "BAD"],
    "serve --site": ["serve", "--site", "BAD"],
    "deploy": ["deploy", "BAD", *CLIENT],
    "watch": ["watch", "BAD", *CLIENT],
}


def _limit_for(command: str) -> int:
    from qscript.cli import MAX_BYTECODE_BYTES
    from qscript.source import MAX_SOURCE_BYTES
    from runtime.site.yamlmarks import MAX_SITE_BYTES
    if command == "disasm .qsc":
        return MAX_BYTECODE_BYTES
    if command in ("check --site", "simulate --model", "simulate --site", "test", "serve --site"):
        return MAX_SITE_BYTES
    return MAX_SOURCE_BYTES


def _make(kind: str, path: Path, command: str) -> str:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "huge":
        with open(path, "wb") as handle:  # sparse: no disk space used
            handle.truncate(_limit_for(command) + 1)
    elif kind == "device":
        return "/dev/zero"
    return str(path)


EXPECTED = {"fifo": "is a named pipe (FIFO)", "device": "is a device",
            "directory": "is a directory", "missing": "no such file", "huge": "limited to"}


@pytest.mark.parametrize("kind", list(EXPECTED))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_path_that_is_not_a_readable_file_is_refused(files, command, kind):
    name = "bad.qsc" if command == "disasm .qsc" else "bad"
    bad = _make(kind, files / name, command)
    args = [bad if a in ("BAD", "BAD.qsc") else a for a in COMMANDS[command]]
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert EXPECTED[kind] in result.output, result.output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_the_user_may_not_read_is_refused(files, command, monkeypatch):
    """(The tests may run as root, who reads anything: the refusal is simulated.)"""
    name = "bad.qsc" if command == "disasm .qsc" else "bad"
    (files / name).write_text(SCRIPT)
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if Path(os.fsdecode(path)).name == name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(os, "open", refuse)
    args = [str(files / name) if a in ("BAD", "BAD.qsc") else a for a in COMMANDS[command]]
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "Permission denied" in result.output, result.output


# ------------------------------------------------------------------ option values


@pytest.mark.parametrize("args", [
    ["status", "--watch", "-1"], ["status", "--watch", "0"], ["status", "--watch", "nan"],
    ["status", "--watch", "inf"], ["status", "--watch", "1e308"],
    ["watch", "good.qs", "--interval", "-1"], ["watch", "good.qs", "--interval", "0"],
    ["watch", "good.qs", "--interval", "nan"],
    ["rollback", "main", "--version", "0"], ["rollback", "main", "--version", "-3"],
    ["simulate", "good.qs", "--model", "model.yaml", "--replications", "0"],
])
def test_out_of_range_option_values_are_usage_errors(files, args):
    result = run(*args, *(CLIENT if args[0] in ("status", "watch", "rollback") else []))
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output


# ------------------------------------------------------------------ Ctrl-C and odd tokens


def _ctrl_c_as_in_a_terminal():
    # A test run started in the background of a non-interactive shell (`pytest &`)
    # has SIGINT ignored, and a child inherits that: give the command the terminal's.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_while_the_cli_is_still_loading_is_not_a_traceback():
    """Loading click, rich and the compiler takes a moment (long on a busy machine):
    a Ctrl-C then is 'interrupted' and 130 too. The interrupt is made to arrive
    exactly while qscript.cli is imported, so the test does not depend on timing."""
    import subprocess
    import sys
    program = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'qscript.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from qscript.entry import run\n"
        "run()\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 130, result
    assert result.stderr.strip() == "interrupted" and result.stdout == ""


def test_ctrl_c_during_simulate_stops_cleanly_with_130(tmp_path):
    import subprocess
    import sys
    import time
    (tmp_path / "x.qs").write_text(SCRIPT)
    (tmp_path / "m.yaml").write_text(
        "start: '2026-12-07T08:00:00'\nduration: 24h\narrivals: {rate_per_hour: 20000}\n"
        "handle_time: {distribution: exponential, mean: 180s}\n"
        "agents: [{count: 1000, groups: [main]}]\n")
    process = subprocess.Popen([sys.executable, "-m", "qscript", "simulate", "x.qs", "--model",
                                "m.yaml", "--replications", "50"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_ctrl_c_as_in_a_terminal)
    time.sleep(2.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err and "Aborted" not in err
    assert out == ""


@pytest.mark.parametrize("token", ["tök", "a\nb", "a b", ""])
def test_a_token_that_cannot_be_sent_is_a_usage_error(token):
    result = run("status", "--url", "http://127.0.0.1:9", "--token", token)
    assert result.exit_code == 2, result.output
    assert "token" in result.output


@pytest.mark.parametrize("content, message", [
    ("", "the {kind} is empty"), ("- a\n- b\n", "the {kind} must be a mapping of keys"),
    ("\x00\x01", "this is a binary file")])
@pytest.mark.parametrize("command, kind", [("simulate --model", "traffic model"),
                                           ("test", "scenario file"),
                                           ("check --site", "site file")])
def test_empty_or_odd_yaml_files_are_named_by_their_kind(files, command, kind, content, message):
    (files / "bad").write_text(content)
    result = run(*[str(files / "bad") if a == "BAD" else a for a in COMMANDS[command]])
    assert result.exit_code == 1
    assert message.format(kind=kind) in result.output, result.output
    if kind != "site file":
        assert "site file" not in result.output and "site:, groups:" not in result.output
