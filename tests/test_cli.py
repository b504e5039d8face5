"""The ``qscript`` command line, through click's CliRunner.

Exit codes (qscript/cli.py): 0 success (warnings allowed), 1 errors in the
input or a refused file, 2 usage errors, 123 an internal error caught by the
console entry point ``qscript.cli.run``. Whatever the input, no command
prints a Python traceback.
"""

from __future__ import annotations

import json
import struct
import sys

import pytest
from click.testing import CliRunner

from qscript import cli
from qscript.bytecode import FORMAT_VERSION

OK_SCRIPT = 'inbound:\n    answer\n    queue to "support"\n'
WARNING_SCRIPT = 'inbound:\n    hangup\n    play "never"\n'
ERROR_SCRIPT = 'inbound:\n    wait 30\n    goto nowhere\n'
JSON_KEYS = {"file", "line", "column", "end_line", "end_column", "severity", "code", "message",
             "help", "notes"}


def invoke(*args: str):
    result = CliRunner().invoke(cli.main, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


@pytest.fixture
def scripts(tmp_path):
    def write(name: str, content: str | bytes):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)
    return write


# ------------------------------------------------------------------ check


def test_check_ok_exits_0(scripts):
    result = invoke("check", scripts("ok.qs", OK_SCRIPT))
    assert result.exit_code == 0
    assert "ok: 1 script checked" in result.output


def test_check_warnings_exit_0_and_strict_exits_1(scripts):
    path = scripts("warn.qs", WARNING_SCRIPT)
    result = invoke("check", path)
    assert result.exit_code == 0
    assert "warning[Q4001]" in result.output
    assert invoke("check", "--strict", path).exit_code == 1


def test_check_errors_exit_1_with_rendered_diagnostics(scripts):
    path = scripts("bad.qs", ERROR_SCRIPT)
    result = invoke("check", path)
    assert result.exit_code == 1
    assert f"{path}:2:10: error[Q2001]: wait needs a duration" in result.output
    assert "2 |     wait 30" in result.output
    assert "^^" in result.output
    assert "= help: durations need a unit" in result.output
    assert "error[Q1002]" in result.output
    assert "2 errors, 0 warnings in 1 file" in result.output


def test_check_several_files_exits_1_if_any_has_errors(scripts):
    result = invoke("check", scripts("a.qs", OK_SCRIPT), scripts("b.qs", ERROR_SCRIPT))
    assert result.exit_code == 1
    assert "in 2 files" in result.output


@pytest.mark.parametrize("args", [["check"], ["check", "--bogus", "x.qs"], ["compile"],
                                  ["disasm"], ["nosuchcommand"], ["check", "--format", "xml",
                                                                  "x.qs"]])
def test_usage_errors_exit_2(args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Usage:" in result.output


def test_help_and_version():
    assert invoke("--help").exit_code == 0
    result = invoke("--version")
    assert result.exit_code == 0 and "qscript" in result.output


def test_json_format_is_valid_json_with_the_documented_keys(scripts):
    result = invoke("check", "--format", "json", scripts("bad.qs", ERROR_SCRIPT))
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert isinstance(payload, list) and len(payload) == 2
    for entry in payload:
        assert set(entry) == JSON_KEYS
        assert entry["severity"] in ("error", "warning")
        assert entry["code"].startswith("Q")
    assert payload[0]["line"] == 2 and payload[0]["column"] == 10
    assert payload[0]["end_column"] == 12 and payload[0]["code"] == "Q2001"


def test_json_format_of_a_clean_script_is_an_empty_list(scripts):
    result = invoke("check", "--format", "json", scripts("ok.qs", OK_SCRIPT))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


# ------------------------------------------------------------------ unreadable input


@pytest.mark.parametrize("content, message", [
    (b"\x00\x01\x02binary", "binary file"),
    (b'inbound:\n    play "\xff\xfe"\n', "not valid UTF-8"),
    (b"inbound:\n    hangup\n" + b"#" * 6_000_000, "limited to 5,000,000 bytes"),
])
def test_unreadable_scripts_are_q0001(scripts, content, message):
    result = invoke("check", scripts("x.qs", content))
    assert result.exit_code == 1
    assert "error[Q0001]" in result.output
    assert message in result.output


def test_empty_file_is_checked_not_refused(scripts):
    result = invoke("check", scripts("empty.qs", b""))
    assert result.exit_code == 1
    assert "error[Q0106]" in result.output


def test_utf8_bom_is_accepted(scripts):
    assert invoke("check", scripts("bom.qs", b"\xef\xbb\xbf" + OK_SCRIPT.encode())).exit_code == 0


def test_directory_is_q0001(tmp_path):
    for command in ("check", "compile"):
        result = invoke(command, str(tmp_path))
        assert result.exit_code == 1
        assert "error[Q0001]" in result.output and "is a directory" in result.output


def test_nonexistent_path_is_q0001(tmp_path):
    result = invoke("check", str(tmp_path / "missing.qs"))
    assert result.exit_code == 1
    assert "error[Q0001]: no such file" in result.output


def test_unreadable_file_in_json_format(scripts):
    result = invoke("check", "--format", "json", scripts("bin.qs", b"\x00"))
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)
    assert entry["code"] == "Q0001" and entry["line"] == 0


def test_control_characters_do_not_reach_the_terminal(scripts, monkeypatch):
    text = 'inbound:\n    play "\x1b[31mred" $\n'
    result = invoke("check", scripts("esc.qs", text))
    assert result.exit_code == 1
    assert "error[Q0100]" in result.output
    assert "\x1b" not in result.output
    # The excerpt keeps its layout: the escape is one replacement character.
    assert '2 |     play "\ufffd[31mred" $' in result.output
    # ... and the message names the character readably.
    result = invoke("check", scripts("esc2.qs", "inbound:\n    play \x1b\n"))
    assert "unexpected character U+001B" in result.output and "\x1b" not in result.output


# ------------------------------------------------------------------ compile and disasm


def test_compile_writes_qsc_and_disasm_reads_it(scripts, tmp_path):
    path = scripts("ok.qs", OK_SCRIPT)
    result = invoke("compile", path)
    assert result.exit_code == 0
    qsc = tmp_path / "ok.qsc"
    assert qsc.read_bytes()[:4] == b"QSBC"
    shown = invoke("disasm", str(qsc))
    assert shown.exit_code == 0
    assert "ANSWER" in shown.output and "QUEUE" in shown.output
    assert '2 |     answer' in shown.output
    # Disassembling the source gives the same listing.
    assert invoke("disasm", path).output == shown.output


def test_compile_to_an_explicit_output(scripts, tmp_path):
    target = tmp_path / "out" / "x.qsc"
    target.parent.mkdir()
    assert invoke("compile", scripts("ok.qs", OK_SCRIPT), "-o", str(target)).exit_code == 0
    assert target.exists()


def test_compile_into_a_missing_directory_exits_1(scripts, tmp_path):
    result = invoke("compile", scripts("ok.qs", OK_SCRIPT), "-o", str(tmp_path / "no" / "x.qsc"))
    assert result.exit_code == 1
    assert "cannot write" in result.output


def test_compile_with_errors_exits_1_and_writes_nothing(scripts, tmp_path):
    result = invoke("compile", scripts("bad.qs", ERROR_SCRIPT))
    assert result.exit_code == 1
    assert not (tmp_path / "bad.qsc").exists()


def test_compile_with_warnings_writes_the_file(scripts, tmp_path):
    assert invoke("compile", scripts("warn.qs", WARNING_SCRIPT)).exit_code == 0
    assert (tmp_path / "warn.qsc").exists()


def test_disasm_of_another_format_version_exits_1_with_the_message(scripts, tmp_path):
    assert invoke("compile", scripts("ok.qs", OK_SCRIPT)).exit_code == 0
    qsc = tmp_path / "ok.qsc"
    data = bytearray(qsc.read_bytes())
    data[4:6] = struct.pack("<H", FORMAT_VERSION + 1)
    qsc.write_bytes(bytes(data))
    result = invoke("disasm", str(qsc))
    assert result.exit_code == 1
    assert "error[Q5002]" in result.output
    assert f"version {FORMAT_VERSION + 1}" in result.output
    assert f"version {FORMAT_VERSION}" in result.output


@pytest.mark.parametrize("content, code", [(b"QSBC\x01\x00", "Q5003"), (b"", "Q5001"),
                                           (b"not bytecode at all", "Q5001")])
def test_disasm_of_a_broken_qsc_exits_1(scripts, content, code):
    result = invoke("disasm", scripts("broken.qsc", content))
    assert result.exit_code == 1
    assert f"error[{code}]" in result.output


def test_disasm_of_a_script_with_errors_exits_1(scripts):
    result = invoke("disasm", scripts("bad.qs", ERROR_SCRIPT))
    assert result.exit_code == 1
    assert "error[Q2001]" in result.output


def test_disasm_of_missing_file_and_directory_exit_1(tmp_path):
    assert invoke("disasm", str(tmp_path / "none.qsc")).exit_code == 1
    assert invoke("disasm", str(tmp_path)).exit_code == 1


# ------------------------------------------------------------------ explain


def test_explain_a_code():
    result = invoke("explain", "Q1003")
    assert result.exit_code == 0
    assert result.output.startswith("Q1003 (error): unknown answer group")


def test_explain_is_case_insensitive():
    assert invoke("explain", "q4001").output.startswith("Q4001 (warning)")


def test_explain_unknown_code_exits_2():
    result = invoke("explain", "BOGUS")
    assert result.exit_code == 2
    assert "unknown code BOGUS" in result.output


def test_explain_lists_every_code():
    from qscript.codes import all_codes
    result = invoke("explain")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.splitlines()]
    assert listed == [c.code for c in all_codes()]


# ------------------------------------------------------------------ internal errors


def test_internal_compiler_error_becomes_q9000(scripts, monkeypatch):
    """A crash inside the pipeline is reported as diagnostic Q9000, exit 1."""
    def crash(*args, **kwargs):
        raise ZeroDivisionError("boom")
    monkeypatch.setattr("qscript.api.check_flow", crash)
    result = invoke("check", scripts("ok.qs", OK_SCRIPT))
    assert result.exit_code == 1
    assert "error[Q9000]: internal compiler error: ZeroDivisionError: boom" in result.output


def test_run_turns_unexpected_exceptions_into_exit_123(scripts, monkeypatch, capsys):
    def crash(*args, **kwargs):
        raise RuntimeError("kaput")
    monkeypatch.setattr(cli, "load_source", crash)
    monkeypatch.setattr(sys, "argv", ["qscript", "check", scripts("ok.qs", OK_SCRIPT)])
    monkeypatch.delenv("QSCRIPT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == cli.EXIT_INTERNAL == 123
    captured = capsys.readouterr()
    assert "internal error" in captured.err and "RuntimeError: kaput" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_run_passes_normal_exit_codes_through(scripts, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["qscript", "check", scripts("bad.qs", ERROR_SCRIPT)])
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 1


# ------------------------------------------------------------------ compile never clobbers its input


def _clobber_targets(tmp_path, source):
    """Other names for the script file: itself, a symlink to it, a hard link to it."""
    (tmp_path / "link.qsc").symlink_to(source)
    import os
    os.link(source, tmp_path / "hard.qsc")
    return [str(source), str(tmp_path / "." / source.name), str(tmp_path / "link.qsc"),
            str(tmp_path / "hard.qsc")]


def test_compile_refuses_to_overwrite_the_script(scripts, tmp_path):
    path = scripts("ok.qs", OK_SCRIPT)
    for target in _clobber_targets(tmp_path, tmp_path / "ok.qs"):
        result = invoke("compile", path, "-o", target)
        assert result.exit_code == 1, target
        assert "is the script being compiled" in result.output, target
        assert (tmp_path / "ok.qs").read_text(encoding="utf-8") == OK_SCRIPT


def test_compile_of_a_qsc_named_script_refuses_the_default_output(scripts, tmp_path):
    """``compile x.qsc`` would write x.qsc over itself by default."""
    path = scripts("odd.qsc", OK_SCRIPT)
    result = invoke("compile", path)
    assert result.exit_code == 1 and "is the script being compiled" in result.output
    assert (tmp_path / "odd.qsc").read_text(encoding="utf-8") == OK_SCRIPT


def test_compile_refuses_to_overwrite_the_site_file(scripts, tmp_path):
    path = scripts("ok.qs", OK_SCRIPT)
    site = tmp_path / "site.yaml"
    site.write_text("site: t\ngroups:\n  support: {}\n", encoding="utf-8")
    result = invoke("compile", path, "--site", str(site), "-o", str(site))
    assert result.exit_code == 1 and "is the site file" in result.output
    assert site.read_text(encoding="utf-8").startswith("site: t")


def test_compile_writes_through_an_output_symlink(scripts, tmp_path):
    """As compilers do: the file the link names gets the bytecode, the link stays."""
    path = scripts("ok.qs", OK_SCRIPT)
    (tmp_path / "build").mkdir()
    (tmp_path / "out.qsc").symlink_to(tmp_path / "build" / "real.qsc")
    assert invoke("compile", path, "-o", str(tmp_path / "out.qsc")).exit_code == 0
    assert (tmp_path / "out.qsc").is_symlink()
    assert (tmp_path / "build" / "real.qsc").read_bytes()[:4] == b"QSBC"
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["real.qsc"]


def test_compile_to_a_device_writes_to_it_and_never_replaces_it(scripts, tmp_path):
    """``-o /dev/null`` (here through a link to it, so the test cannot harm the
    machine): renaming a temporary file over a device would replace the device."""
    import os
    import stat
    path = scripts("ok.qs", OK_SCRIPT)
    (tmp_path / "null").symlink_to("/dev/null")
    assert invoke("compile", path, "-o", str(tmp_path / "null")).exit_code == 0
    assert os.readlink(tmp_path / "null") == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "ok.qs"]


def test_a_failed_compile_write_keeps_the_old_output_and_leaves_no_temporary_file(
        scripts, tmp_path, monkeypatch):
    import errno
    import os
    path = scripts("ok.qs", OK_SCRIPT)
    (tmp_path / "ok.qsc").write_bytes(b"old")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "replace", disk_full)
    result = invoke("compile", path)
    assert result.exit_code == 1 and "cannot write" in result.output
    assert "No space left on device" in result.output
    assert (tmp_path / "ok.qsc").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.qs", "ok.qsc"]


# ------------------------------------------------------------------ fmt rewrites in place, safely

MESSY = 'inbound:\n  answer\n  queue to "support"\n'


def test_fmt_of_a_file_it_may_not_write_exits_1_and_goes_on(scripts, tmp_path, monkeypatch):
    import errno
    import os
    locked = scripts("locked.qs", MESSY)
    other = scripts("other.qs", MESSY)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False
                        if str(path).endswith("locked.qs") and mode == os.W_OK
                        else real_access(path, mode, **kw))
    result = invoke("fmt", locked, other)
    assert result.exit_code == 1
    assert f"cannot rewrite {locked}: Permission denied" in result.output
    assert (tmp_path / "locked.qs").read_text(encoding="utf-8") == MESSY
    assert (tmp_path / "other.qs").read_text(encoding="utf-8") != MESSY   # the rest is done

    def disk_full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "replace", disk_full)
    result = invoke("fmt", scripts("third.qs", MESSY))
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert (tmp_path / "third.qs").read_text(encoding="utf-8") == MESSY
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_fmt_through_a_symlink_formats_the_file_and_keeps_the_link_and_mode(scripts, tmp_path):
    import os
    import stat
    real = scripts("real.qs", MESSY)
    os.chmod(real, 0o640)
    (tmp_path / "link.qs").symlink_to(real)
    assert invoke("fmt", str(tmp_path / "link.qs")).exit_code == 0
    assert (tmp_path / "link.qs").is_symlink()
    assert (tmp_path / "real.qs").read_text(encoding="utf-8").startswith("inbound:\n    answer")
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640


# ------------------------------------------------------------------ very long lines


def test_a_very_long_line_is_shown_cut_around_the_error(scripts):
    path = scripts("long.qs", 'inbound:\n    play "' + "x" * 3_000_000 + '" $\n')
    result = invoke("check", path)
    assert result.exit_code == 1
    assert f"{path}:2:3000013: error[Q0100]" in result.output
    assert len(result.output) < 2000
    lines = result.output.splitlines()
    excerpt = next(line for line in lines if line.startswith("2 | "))
    carets = lines[lines.index(excerpt) + 1]
    assert excerpt[carets.index("^")] == "$"
    assert excerpt[4] == "\u2026"   # cut at the start, marked


def test_a_very_long_site_line_is_shown_cut(tmp_path, scripts):
    site = tmp_path / "site.yaml"
    site.write_text("groups:\n  support: {description: '" + "d" * 100_000 + "', wrap_up: 10}\n")
    result = invoke("check", "--site", str(site), scripts("ok.qs", OK_SCRIPT))
    assert result.exit_code == 1 and '"10" is not a duration' in result.output
    assert len(result.output) < 2000
    lines = result.output.splitlines()
    excerpt = next(line for line in lines if line.startswith("2 | "))
    assert excerpt[lines[lines.index(excerpt) + 1].index("^"):].startswith("10}")
