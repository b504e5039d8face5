"""What the CLI prints: source and user text literally, and error lines never wrapped.

Rich interprets ``[bold]`` as markup and ``:thumbs_up:`` as an emoji code; a
script, a site or a server answer containing them must still be shown as
written. And an error's first line, ``file:line:col: error: ...``, is what
editors and CI parse: it must stay on one line however narrow the terminal
(COLUMNS) and whether or not the output is a terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from rich.console import Console

from qscript import cli

TRICKY = "[bold red]x[/] :thumbs_up: [link=http://e.com]y[/link]"


def invoke(*args: str):
    result = CliRunner().invoke(cli.main, list(args))
    assert "Traceback" not in result.output
    return result


def _literal(output: str) -> None:
    assert TRICKY in output, output
    assert "\N{THUMBS UP SIGN}" not in output


def test_diagnostics_show_source_text_literally(tmp_path):
    script = tmp_path / "x.qs"
    script.write_text(f'inbound:\n    play "{TRICKY}" $\n', encoding="utf-8")
    result = invoke("check", str(script))
    assert result.exit_code == 1
    _literal(result.output)


def test_site_errors_show_the_site_text_literally(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(f'groups:\n  support: {{description: "{TRICKY}", wrap_up: ":smile:"}}\n')
    script = tmp_path / "x.qs"
    script.write_text("inbound:\n    hangup\n")
    result = invoke("check", "--site", str(site), str(script))
    assert result.exit_code == 1
    assert '":smile:" is not a duration' in result.output
    assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in result.output


def test_simulate_tables_show_script_lines_and_saved_values_literally(tmp_path):
    script = tmp_path / "x.qs"
    script.write_text(f'inbound:\n    answer\n    save "k" = "{TRICKY}"\n'
                      f'    if call.caller != "{TRICKY}":\n        log "{TRICKY}"\n'
                      '    queue to "main"\n', encoding="utf-8")
    model = tmp_path / "model.yaml"
    model.write_text("start: '2026-12-07T08:00:00'\nduration: 10m\narrivals: {rate_per_hour: 60}\n"
                     "handle_time: {distribution: exponential, mean: 60s}\n"
                     "agents: [{count: 2, groups: [main]}]\n")
    result = CliRunner().invoke(cli.main, ["simulate", str(script), "--model", str(model)],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert result.output.count(TRICKY) >= 2  # the branch table and the saved values
    assert "\N{THUMBS UP SIGN}" not in result.output


def test_scenario_results_show_names_and_failures_literally(tmp_path):
    (tmp_path / "x.qs").write_text('inbound:\n    answer\n    queue to "main"\n')
    (tmp_path / "site.yaml").write_text("groups:\n  main: {}\n")
    (tmp_path / "t.yaml").write_text(
        f"script: x.qs\nsite: site.yaml\nscenarios:\n  - name: '{TRICKY}'\n"
        "    agents: [{id: alice, groups: [main]}]\n    expect: {outcome: voicemail}\n")
    result = CliRunner().invoke(cli.main, ["test", str(tmp_path / "t.yaml")],
                                env={"COLUMNS": "400"})
    assert "FAIL" in result.output, result.output
    _literal(result.output)


def test_status_shows_server_text_literally(monkeypatch):
    """Whatever the runtime answers (site names, callers' digits, pause reasons), the
    status table shows it as text."""
    from runtime.live import cli as live_cli
    data = {"site": TRICKY, "calls": 1, "connected": True,
            "groups": [{"name": TRICKY, "calls_waiting": 1, "oldest_wait_s": 3.0,
                        "agents_logged_in": 1, "agents_ready": 0, "agents_busy": 1,
                        "service_level_percent": None,
                        "waiting": [{"caller": TRICKY, "digits": "", "waited_s": 3.0}]}],
            "agents": [{"id": TRICKY, "name": TRICKY, "state": "paused", "pause_reason": TRICKY,
                        "groups": {TRICKY: 0}}]}
    monkeypatch.setattr(live_cli, "_call", lambda *args, **kwargs: (200, data))
    result = CliRunner().invoke(cli.main, ["status", "--url", "http://x", "--token", "t"],
                                env={"COLUMNS": "3000"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if TRICKY in line]
    assert len(lines) >= 3, result.output   # the title, the group row, the agent row
    assert "\N{THUMBS UP SIGN}" not in result.output


# ------------------------------------------------------------------ never wrapped

LONG_GROUP = "a-group-name-that-is-long-enough-to-need-wrapping-on-a-narrow-terminal"


def _run(args, tmp_path, columns="20"):
    env = dict(os.environ, COLUMNS=columns)
    return subprocess.run([sys.executable, "-m", "qscript", *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)


@pytest.mark.parametrize("columns", ["20", "80"])
def test_script_errors_are_not_wrapped(tmp_path, columns):
    (tmp_path / "x.qs").write_text(f'inbound:\n    queue to "{LONG_GROUP}" $\n')
    result = _run(["check", "x.qs"], tmp_path, columns)
    assert result.returncode == 1
    assert any(line.startswith("x.qs:2:") and line.endswith("'$'") or
               line.startswith("x.qs:2:") and len(line) > 40
               for line in result.stderr.splitlines()), result.stderr


@pytest.mark.parametrize("columns", ["20", "80"])
def test_site_model_and_scenario_errors_are_not_wrapped(tmp_path, columns):
    (tmp_path / "x.qs").write_text("inbound:\n    hangup\n")
    (tmp_path / "site.yaml").write_text(f"groups:\n  {LONG_GROUP}: {{wrap_up: {LONG_GROUP}}}\n")
    (tmp_path / "model.yaml").write_text(f"start: '2026-12-07T08:00:00'\nduration: {LONG_GROUP}\n"
                                         "arrivals: {rate_per_hour: 60}\n")
    (tmp_path / "t.yaml").write_text(f"script: x.qs\nscenarios: {LONG_GROUP}\n")
    expected = {
        ("check", "--site", "site.yaml", "x.qs"):
            f'site.yaml:2:{len(LONG_GROUP) + 15}: error: groups.{LONG_GROUP}.wrap_up: '
            f'"{LONG_GROUP}" is not a duration',
        ("simulate", "x.qs", "--model", "model.yaml"):
            f'model.yaml:2:11: error: duration: "{LONG_GROUP}" is not a duration',
        ("serve", "--site", "site.yaml"):
            f'site.yaml:2:{len(LONG_GROUP) + 15}: error: groups.{LONG_GROUP}.wrap_up: '
            f'"{LONG_GROUP}" is not a duration',
    }
    for args, line in expected.items():
        result = _run(list(args), tmp_path, columns)
        assert result.returncode == 1, (args, result.stderr)
        assert line in result.stderr.splitlines(), (args, result.stderr)
    result = _run(["test", "t.yaml"], tmp_path, columns)
    assert result.returncode == 1
    assert any(line.startswith("t.yaml:2:") and "scenarios" in line and len(line) > 40
               for line in result.stderr.splitlines() + result.stdout.splitlines()), \
        result.stderr + result.stdout


def test_control_client_errors_are_not_wrapped(tmp_path):
    result = _run(["status", "--url", f"http://127.0.0.1:9/{LONG_GROUP}", "--token", "t"],
                  tmp_path)
    assert result.returncode == 1
    assert any(line.startswith("error: cannot reach the runtime at http://127.0.0.1:9/"
                               + LONG_GROUP) for line in result.stderr.splitlines()), result.stderr


# ------------------------------------------------------------------ service level against target


def test_status_judges_each_groups_service_level_against_its_target(monkeypatch):
    from runtime.live import cli as live_cli
    group = {"calls_waiting": 0, "oldest_wait_s": 0.0, "agents_logged_in": 1,
             "agents_ready": 1, "agents_busy": 0, "waiting": []}
    data = {"site": "s", "calls": 0, "connected": True, "agents": [], "groups": [
        dict(group, name="low", service_level_percent=70.0, service_level_target_percent=80.0),
        dict(group, name="high", service_level_percent=95.0, service_level_target_percent=90.0),
        dict(group, name="none", service_level_percent=None, service_level_target_percent=80.0)]}
    monkeypatch.setattr(live_cli, "_call", lambda *args, **kwargs: (200, data))
    result = CliRunner().invoke(cli.main, ["status", "--url", "http://x", "--token", "t"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
            if line.startswith("│")}
    assert "70% < 80% target" in rows["low"]
    assert "95% ≥ 90% target" in rows["high"]
    assert "— (target 80%)" in rows["none"]


def test_simulate_reports_each_groups_service_level_against_the_site_target(tmp_path):
    import json
    (tmp_path / "x.qs").write_text('inbound:\n    answer\n    queue to "main"\n')
    (tmp_path / "site.yaml").write_text("groups:\n  main: {service_level_target: 99%}\n")
    (tmp_path / "model.yaml").write_text(
        "start: '2026-12-07T08:00:00'\nduration: 1h\narrivals: {rate_per_hour: 120}\n"
        "handle_time: {distribution: exponential, mean: 60s}\n"
        "agents: [{count: 2, groups: [main]}]\n")
    args = ["simulate", str(tmp_path / "x.qs"), "--model", str(tmp_path / "model.yaml"),
            "--site", str(tmp_path / "site.yaml")]
    result = CliRunner().invoke(cli.main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    main = json.loads(result.stdout)["groups"]["main"]
    assert main["service_level_target"] == 0.99
    assert main["service_level_met"] is (main["service_level"] >= 0.99)
    assert main["service_level_met"] is False    # 2 agents for 2 erlangs: far below 99 %
    text = CliRunner().invoke(cli.main, args, env={"COLUMNS": "300"}).output
    row = next(line for line in text.splitlines() if line.startswith("│ main"))
    assert "< 99.0% target" in row


def test_run_time_errors_in_the_simulation_report_are_not_wrapped_nor_logged_per_call(tmp_path):
    """The report's tables fit the terminal, but its script-error and warning
    lines carry file:line:col and must stay whole."""
    (tmp_path / "g.qs").write_text('inbound:\n    answer\n    set s = "ab"\n    every 1s:\n'
                                   '        set s = s + s\n')
    (tmp_path / "m.yaml").write_text("start: '2026-12-07T08:00:00'\nduration: 1h\n"
                                     "arrivals: {rate_per_hour: 10}\n"
                                     "handle_time: {distribution: exponential, mean: 180s}\n"
                                     "agents: [{count: 1, groups: [main]}]\n")
    result = _run(["simulate", "g.qs", "--model", "m.yaml"], tmp_path, "80")
    lines = result.stdout.splitlines()
    assert any(line.startswith("script error: g.qs:5:9: runtime error: the text would be "
                               "131,072 characters long; strings hold at most 65,536")
               for line in lines), result.stdout
    # The error is reported once, not logged once per call on stderr.
    assert "call c1:" not in result.stderr and "call c15:" not in result.stderr, result.stderr
