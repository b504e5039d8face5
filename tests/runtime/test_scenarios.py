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
from runtime.simulator.scenarios import load_scenarios, run_scenario, uncovered_branches

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


# ------------------------------------------------------------------ mistakes in scenario files


def _load_problems(path: Path, program=None, site=None, against_the_script=True) -> list[str]:
    """The rendered problems of a scenario file (loading it, then checking it
    against its script and site)."""
    from runtime.simulator.scenarios import ScenarioError
    try:
        suite = load_scenarios(path)
        if against_the_script:
            from runtime.simulator.scenarios import check_suite
            check_suite(suite, program or compile_file(suite.script).program, site)
    except ScenarioError as error:
        return [p.headline() + (f" [{p.hint}]" if p.hint else "") for p in error.problems]
    return []


def test_a_key_press_must_be_one_key(tmp_path):
    """`press: "12"` passed silently (the menu saw an invalid key)."""
    path = _write(tmp_path, SCRIPT, """  - name: two keys
    caller: [{press: "12"}, {press: "x"}, {press: "#"}, {press: none}, {enter: "12a"}]
""")
    problems = _load_problems(path, against_the_script=False)
    assert problems == [
        f'{path}:4:22: error: scenarios[0].caller[0].press: "12" is not one key '
        '[a menu takes one key: 0-9, * or #, or none for no key; digits go in enter:]',
        f'{path}:4:37: error: scenarios[0].caller[1].press: "x" is not one key '
        '[a menu takes one key: 0-9, * or #, or none for no key; digits go in enter:]',
        f'{path}:4:80: error: scenarios[0].caller[4].enter: "12a" is not digits '
        '[digits are 0-9, * and #, or none for no digits]']


def test_agent_groups_are_checked_against_the_script_and_the_site(tmp_path):
    """A misspelt group passed silently: the agent sat in a group nobody queues to."""
    path = _write(tmp_path, SCRIPT, """  - name: misspelt
    agents: [{id: a, groups: [sales]}, {id: b, groups: [slaes]}]
    caller: [{press: "1"}]
""")
    assert _load_problems(path) == [
        f'{path}:4:57: error: scenarios[0].agents[1].groups: the script queues no calls to '
        '"slaes" [did you mean "sales"? (the script\'s groups: "sales")]']
    from runtime.site import load_site_text
    site = load_site_text("site: t\ngroups:\n  sales: {}\n  support: {}\n", "site.yaml")
    assert _load_problems(path, site=site) == [
        f'{path}:4:57: error: scenarios[0].agents[1].groups: the site has no answer group '
        '"slaes" [did you mean "sales"?]']
    # Groups the script does not queue to but the site defines are fine.
    ok = _write(tmp_path, SCRIPT, """  - name: other group
    agents: [{id: a, groups: [sales, support]}]
""")
    assert _load_problems(ok, site=site) == []


def test_duplicate_agent_ids_are_located_errors(tmp_path):
    """They were an internal error (exit 123) when the scenario ran."""
    path = _write(tmp_path, SCRIPT, """  - name: twice
    agents: [{id: a, groups: [sales]}, {id: a, groups: [sales], at: 1m}]
""")
    assert _load_problems(path, against_the_script=False) == [
        f'{path}:4:45: error: scenarios[0].agents[1].id: the agent "a" is also '
        "scenarios[0].agents[0] [give each agent its own id]"]
    result = CliRunner().invoke(main, ["test", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output


# ------------------------------------------------------------------ callbacks


CALLBACK_SCRIPT = """inbound:
    queue to "sales"
queue:
    offer callback prompt "cb-offer"
"""


def test_a_callback_not_yet_made_when_the_scenario_ends_has_the_outcome_callback(tmp_path):
    """It could not be expected: the call never ended, so the scenario failed
    ("had not ended") and the expectations were not even checked."""
    path = _write(tmp_path, CALLBACK_SCRIPT, """  - name: nobody calls back
    caller: [{accept_callback: true}]
    expect: {outcome: callback, callback: true, groups: [sales]}
""")
    suite = load_scenarios(path)
    result = run_scenario(suite.scenarios[0], compile_file(suite.script).program)
    assert result.passed, result.failures


def test_a_callback_made_and_answered_and_one_the_customer_does_not_answer(tmp_path):
    path = _write(tmp_path, CALLBACK_SCRIPT, """  - name: called back
    agents: [{id: a, groups: [sales], at: 5m}]
    caller: [{accept_callback: true}]
    expect: {outcome: callback, callback: true, agent: a}
  - name: called back, no answer
    agents: [{id: a, groups: [sales], at: 5m}]
    caller: [{accept_callback: true}]
    answers_callback: false
    expect: {outcome: callback, callback: true}
""")
    suite = load_scenarios(path)
    program = compile_file(suite.script).program
    for scenario in suite.scenarios:
        result = run_scenario(scenario, program)
        assert result.passed, (scenario.name, result.failures)
        assert "connected a" in [str(s).split(" (")[0] for s in result.path] or \
            scenario.name.endswith("no answer")


def test_a_call_left_waiting_says_why_it_did_not_end(tmp_path):
    path = _write(tmp_path, 'inbound:\n    queue to "sales"\n', """  - name: nobody there
    expect: {outcome: abandoned}
""")
    suite = load_scenarios(path)
    result = run_scenario(suite.scenarios[0], compile_file(suite.script).program)
    assert result.failures[0] == ("the call had not ended when the scenario stopped: it was "
                                  "still waiting in the queue, and no agent who could take "
                                  "it was left")
    assert 'expected outcome "abandoned"' in result.failures[1]


# ------------------------------------------------------------------ failures of the script itself


def test_a_script_failure_fails_the_scenario_unless_it_expects_one(tmp_path):
    """A script that failed (the fallback took the call) passed a scenario
    that expected nothing of the outcome: a false pass in CI."""
    path = _write(tmp_path, 'inbound:\n    do crm_sync()\n    queue to "sales"\n', """  - name: fails
  - name: expects the failure
    expect: {outcome: failed}
""")
    suite = load_scenarios(path)
    program = compile_file(suite.script).program
    fails, expects = (run_scenario(s, program) for s in suite.scenarios)
    assert fails.failures == [f"the script failed: {suite.script}:2:5: command failed: custom "
                              "command 'crm_sync' is not loaded"]
    assert expects.passed, expects.failures


def _site_with_commands(tmp_path, module_name: str, module: str) -> Path:
    """A site whose commands are ``module`` (a name of its own: Python caches imports)."""
    (tmp_path / f"{module_name}.py").write_text(module)
    (tmp_path / "site.yaml").write_text("site: t\ngroups:\n  sales: {}\n"
                                        f"commands:\n  modules: [{module_name}]\n")
    return tmp_path / "site.yaml"


def test_qscript_test_does_not_pass_when_a_command_calls_sys_exit(tmp_path):
    """The command's sys.exit(0) ended `qscript test` with exit 0."""
    _site_with_commands(tmp_path, "commands_exiting_in_a_call",
                        "import sys\nfrom qscript.extensions import command\n\n"
                        "@command\ndef crm_sync(call) -> bool:\n    sys.exit(0)\n")
    (tmp_path / "s.qs").write_text('inbound:\n    do crm_sync()\n    queue to "sales"\n')
    path = tmp_path / "s.test.yaml"
    path.write_text("script: s.qs\nsite: site.yaml\nscenarios:\n"
                    "  - name: answered\n    agents: [{id: a, groups: [sales]}]\n"
                    "    expect: {agent: a}\n")
    result = CliRunner().invoke(main, ["test", str(path)])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "called sys.exit(0)" in result.output
    assert "0 passed, 1 failed" in result.output


def test_qscript_test_exits_123_when_a_scenario_fails_internally(tmp_path, monkeypatch):
    from runtime.simulator import scenarios_cli

    def broken(*args, **kwargs):
        raise SystemExit(0)   # e.g. something deep inside calling sys.exit
    monkeypatch.setattr(scenarios_cli, "run_scenario", broken)
    good = _write(tmp_path, SCRIPT, """  - name: closed
    caller: [{press: "2"}]
""")
    result = CliRunner().invoke(main, ["test", str(good)])
    assert result.exit_code == 123, result.output
    assert "internal error" in result.output


def test_a_command_module_calling_sys_exit_on_import_is_a_located_error(tmp_path):
    site = _site_with_commands(tmp_path, "commands_exiting_on_import", "import sys\nsys.exit(0)\n")
    (tmp_path / "s.qs").write_text('inbound:\n    queue to "sales"\n')
    path = tmp_path / "s.test.yaml"
    path.write_text("script: s.qs\nsite: site.yaml\nscenarios:\n  - name: x\n")
    result = CliRunner().invoke(main, ["test", str(path)])
    assert result.exit_code == 1, result.output
    assert f"{site}:5:13: error: commands.modules: cannot import command module " \
           "'commands_exiting_on_import': it called sys.exit(0)" in " ".join(result.output.split())


@pytest.mark.parametrize("line,message", [
    ("agents: [{id: a, groups: []}]", "scenarios[0].agents[0].groups: name at least one answer group"),
    ("agents: [{id: a, groups: [sales], talk: 100d}]",
     "scenarios[0].agents[0].talk: 100d is more than the 24 simulated hours a scenario runs"),
    ("calls: []", "scenarios[0].calls: give at least one call"),
    ('caller: [{press: "1", enter: "2"}]',
     "scenarios[0].caller[0]: one action per entry, not press and enter"),
    ("caller: [{}]", "scenarios[0].caller[0]: give an action: press, enter or accept_callback"),
    ("hot_prompts: {outage: maybe}", 'scenarios[0].hot_prompts.outage: "maybe" is not true or false'),
    ("call: {caller: [1]}", "scenarios[0].call.caller: expected a single value, not a list"),
])
def test_scenario_mistakes_that_passed_silently_are_located_errors(tmp_path, line, message):
    path = _write(tmp_path, SCRIPT, f"  - name: x\n    {line}\n")
    problems = _load_problems(path, against_the_script=False)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:4:"), problems
    assert message in problems[0]
