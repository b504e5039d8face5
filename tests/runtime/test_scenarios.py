"""Scenario tests of every queue feature, and of `qscript test` itself.

The scenarios in tests/data/scenarios/*.test.yaml drive scripted callers and
agents through the real session, VM and ACD (on the simulator's clock) and
state what must happen; each scenario is one test here. Further tests check
that a wrong expectation fails with a message that points at the script.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qscript.api import compile_file
from qscript.cli import main
from runtime.scenarios import load_scenarios, run_scenario, uncovered_branches

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
SUITES = sorted(DATA.glob("*.test.yaml"))


def _cases():
    for path in SUITES:
        suite = load_scenarios(path)
        for scenario in suite.scenarios:
            yield pytest.param(path, scenario.name, id=f"{path.stem}: {scenario.name}")


def test_suites_exist():
    assert SUITES, "no scenario files found"


@pytest.mark.parametrize("path,name", list(_cases()))
def test_scenario(path, name):
    suite = load_scenarios(path)
    scenario = next(s for s in suite.scenarios if s.name == name)
    program = compile_file(suite.script).program
    result = run_scenario(scenario, program, None, suite.start)
    assert result.passed, "\n".join(result.failures + ["path: " + " → ".join(map(str, result.path))])


def _write(tmp_path, script: str, scenarios: str) -> Path:
    (tmp_path / "s.qs").write_text(script)
    path = tmp_path / "s.test.yaml"
    path.write_text("script: s.qs\nscenarios:\n" + scenarios)
    return path


SCRIPT = """inbound:
    answer
    play "welcome"
    menu "main-menu":
        key 1:
            queue to "sales"
        key 2:
            play "closed"
            hangup
"""


def test_a_wrong_prompt_expectation_names_the_script_line(tmp_path):
    path = _write(tmp_path, SCRIPT, """  - name: wrong
    caller: [{press: "2"}]
    expect: {prompts: [welcome, main-menu, open]}
""")
    suite = load_scenarios(path)
    result = run_scenario(suite.scenarios[0], compile_file(suite.script).program)
    assert not result.passed
    message = result.failures[0]
    assert 'expected "open"' in message and '"closed" at line 8' in message
    assert message.startswith(f"{path}:5:")


def test_a_caller_action_of_the_wrong_kind_is_reported(tmp_path):
    path = _write(tmp_path, SCRIPT, """  - name: wrong action
    caller: [{enter: "1234"}]
""")
    suite = load_scenarios(path)
    result = run_scenario(suite.scenarios[0], compile_file(suite.script).program)
    assert any("asked the caller to press a key" in f and '"enter"' in f for f in result.failures)


def test_branch_coverage_lists_untaken_branches(tmp_path):
    path = _write(tmp_path, SCRIPT, """  - name: sales
    agents: [{id: a, groups: [sales]}]
    caller: [{press: "1"}]
""")
    suite = load_scenarios(path)
    program = compile_file(suite.script).program
    result = run_scenario(suite.scenarios[0], program)
    missing = uncovered_branches(program, result.coverage)
    assert missing and all(line == 4 for line, _ in missing)


def test_cli_exit_codes_and_summary(tmp_path):
    good = _write(tmp_path, SCRIPT, """  - name: closed
    caller: [{press: "2"}]
    expect: {prompts: [welcome, main-menu, closed], outcome: hung_up}
""")
    runner = CliRunner()
    result = runner.invoke(main, ["test", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed" in result.output
    bad = tmp_path / "bad.test.yaml"
    bad.write_text("script: s.qs\nscenarios:\n  - name: x\n    expect: {outcome: exploded}\n")
    result = runner.invoke(main, ["test", str(bad)])
    assert result.exit_code == 1
    assert 'unknown outcome "exploded"' in result.output
    assert "Traceback" not in result.output


def test_coverage_counts_an_accepted_callback_and_has_no_retry_branch_for_retries_0(tmp_path):
    script = """inbound:
    menu "main-menu" retries 0:
        key 1:
            queue to "sales"
queue:
    offer callback prompt "cb-offer"
"""
    path = _write(tmp_path, script, """  - name: accepts
    agents: [{id: a, groups: [sales], at: 1m}]
    caller: [{press: "1"}, {accept_callback: true}]
    expect: {callback: true, agent: a}
  - name: declines
    caller: [{press: "1"}, {accept_callback: false}]
    hang_up_after: 20s
  - name: no key
    caller: [{press: none}]
  - name: a key the menu does not have
    caller: [{press: "9"}]
""")
    suite = load_scenarios(path)
    program = compile_file(suite.script).program
    merged: dict[int, int] = {}
    for scenario in suite.scenarios:
        result = run_scenario(scenario, program)
        assert result.passed, result.failures
        for pc, count in result.coverage.items():
            merged[pc] = merged.get(pc, 0) + count
    assert uncovered_branches(program, merged) == []


def test_a_site_agents_own_wrap_up_is_applied(tmp_path):
    """docs/site.md: an agent's ``wrap_up`` overrides the groups'. Alice (5 s) takes the
    second caller 5 s after her first call ends; with the group's 60 s, a minute later."""
    from runtime.site import load_site_text
    (tmp_path / "s.qs").write_text('inbound:\n    answer\n    queue to "support"\n')
    site_text = ("groups:\n  support: {wrap_up: 60s}\n"
                 "agents:\n  - {id: alice, groups: [support], wrap_up: %s}\n")
    path = tmp_path / "s.test.yaml"
    path.write_text("""script: s.qs
scenarios:
  - name: two callers, one agent
    agents: [{id: alice, groups: [support], talk: 10s}]
    calls:
      - {at: 0s, expect: {agent: alice}}
      - {at: 1s, expect: {agent: alice, max_wait: 30s}}
""")
    suite = load_scenarios(path)
    program = compile_file(suite.script).program
    for wrap_up, passes in (("5s", True), ("0s", True), ("2m", False)):
        site = load_site_text(site_text % wrap_up, "site.yaml", tmp_path)
        result = run_scenario(suite.scenarios[0], program, site, suite.start)
        assert result.passed is passes, (wrap_up, result.failures)
    site = load_site_text(site_text.replace(", wrap_up: %s", ""), "site.yaml", tmp_path)
    assert not run_scenario(suite.scenarios[0], program, site, suite.start).passed  # 60 s
