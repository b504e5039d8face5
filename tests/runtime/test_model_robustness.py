"""Broken traffic models and scenario files give clear errors, never a crash.

Hypothesis mutates the example model and a scenario file (lines dropped,
duplicated, re-indented, characters changed); each result either loads or
raises the loaders' own error with a file:line:col location.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.simulator.model import ModelError, load_model_text
from runtime.site.yamlmarks import SiteError

ROOT = Path(__file__).resolve().parents[2]
MODEL = (ROOT / "examples/basic/model.yaml").read_text()

PROFILE_MODEL = """start: "2026-12-07T08:00:00"
duration: 10h
warmup: 30m
arrivals:
  profile: [{from: "08:00", to: "12:00", rate_per_hour: 140}, {from: "12:00", to: "18:00", rate_per_hour: 90}]
  weekdays: {saturday: 0.5}
handle_time: {distribution: lognormal, mean: 240s, sd: 120s}
patience: {distribution: uniform, low: 30s, high: 10m}
agents: [{count: 10, groups: {support: 0, sales: 1}, shift: "08:00-16:00"}]
menus: {main-menu: {"1": 0.6, "2": 0.3, none: 0.1}}
digits: {enter-number: {values: ["4711"], timeout: 0.1}}
times: {prompt: 2s, say: 1500ms, prompts: {welcome: 6s}}
"""

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _mutate(text: str, data) -> str:
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        if not lines:
            break
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "duplicate", "indent", "char", "truncate"]))
        if action == "drop":
            lines.pop(index)
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "indent":
            lines[index] = "  " + lines[index]
        elif action == "truncate":
            lines[index] = lines[index][: data.draw(st.integers(0, max(0, len(lines[index]))))]
        else:
            position = data.draw(st.integers(0, len(lines[index])))
            char = data.draw(st.sampled_from(list(":{}[],-\"'#&*!|>%@`\t") + ["0", "x", " "]))
            lines[index] = lines[index][:position] + char + lines[index][position:]
    return "\n".join(lines)


def test_the_profile_model_loads():
    model = load_model_text(PROFILE_MODEL, "profile.yaml")
    assert [p.rate_per_hour for p in model.profile] == [140.0, 90.0]
    assert model.weekday_factors == {5: 0.5}
    assert model.agents[0].groups == {"support": 0, "sales": 1}


@SETTINGS
@given(st.data())
def test_mutated_models_load_or_give_located_errors(data):
    text = _mutate(data.draw(st.sampled_from([MODEL, PROFILE_MODEL])), data)
    try:
        load_model_text(text, "m.yaml")
    except (ModelError, SiteError) as error:
        assert error.problems and all(p.location.file == "m.yaml" for p in error.problems)
        assert "Traceback" not in error.render()


SCENARIOS = (ROOT / "tests/data/scenarios/queue-features.test.yaml").read_text()


@SETTINGS
@given(data=st.data())
def test_mutated_scenario_files_load_or_give_located_errors(tmp_path_factory, data):
    from runtime.simulator.scenarios import ScenarioError, load_scenarios
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "queue-features.qs").write_text(
        (ROOT / "tests/data/scenarios/queue-features.qs").read_text())
    path = folder / "s.test.yaml"
    path.write_text(_mutate(SCENARIOS, data))
    try:
        load_scenarios(path)
    except ScenarioError as error:
        assert error.problems and "Traceback" not in error.render()


# ------------------------------------------------------------------ values the loader must refuse

BASE_FIELDS = {
    "start": '"2026-12-07T08:00:00"', "duration": "1h", "arrivals": "{rate_per_hour: 60}",
    "handle_time": "{distribution: exponential, mean: 60s}",
    "patience": "{distribution: exponential, mean: 60s}",
    "agents": "[{count: 2, groups: [main]}]",
}


def _model_text(**changes: str) -> str:
    fields = {**BASE_FIELDS, **changes}
    return "".join(f"{key}: {value}\n" for key, value in fields.items() if value is not None)


def _problem(text: str):
    """The one problem the loader reports for ``text`` (which must fail to load)."""
    try:
        load_model_text(text, "m.yaml")
    except ModelError as error:
        assert len(error.problems) == 1, error.render()
        problem = error.problems[0]
        assert problem.location.file == "m.yaml" and problem.location.line > 0, error.render()
        return problem
    raise AssertionError("the model loaded")


def _line_of(text: str, key: str) -> int:
    return next(number for number, line in enumerate(text.split("\n"), 1) if line.startswith(key))


@pytest.mark.parametrize("key,value,message", [
    # duplicate team names make duplicate agent ids (exit 123 before)
    ("agents", "[{count: 2, groups: [main], name: a}, {count: 1, groups: [main], name: a}]",
     'agents[1].name: the team name "a" is also agents[0]\'s'),
    ("agents", "[{count: 2, groups: [main]}, {count: 1, groups: [main], name: team1}]",
     'agents[1].name: the team name "team1" is also agents[0]\'s'),
    ("interval", "0s", "interval: must be longer than zero"),
    ("interval", "1ms", "interval: the report would have 3,600,000 intervals"),
    ("agents", "[{count: 2.5, groups: [main]}]", 'agents[0].count: "2.5" is not a whole number'),
    ("agents", "[{count: 2, groups: {main: 1.5}}]",
     'agents[0].groups.main: "1.5" is not a whole number'),
    ("agents", "[{count: 2, groups: [main, main]}]",
     'agents[0].groups: the group "main" is listed twice'),
    ("duration", "0s", "duration: must be longer than zero"),
    ("duration", "400d", "duration: 400d is longer than the limit of 366 days"),
    ("start", '"9999-12-31T00:00:00"', "start: the run would end after the year 9999"),
    ("digits", '{enter-number: {values: ["12a"]}}',
     'digits.enter-number.values: "12a" is not something a caller can key'),
    ("times", "{prompt: 2d}", "times.prompt: 2d is longer than the limit of 24h"),
    ("handle_time", "{distribution: exponential, mean: 30h}",
     "handle_time.mean: 30h is longer than the limit of 24h"),
    # unbounded models ran for ever
    ("arrivals", "{rate_per_hour: 1e12}",
     "arrivals.rate_per_hour: 1e12 calls an hour is more than the limit of 1,000,000"),
    ("arrivals", "{rate_per_hour: 900000, weekdays: {monday: 1e300}}",
     "arrivals.weekdays.monday: 1e300 would make"),
    ("agents", "[{count: 100000000, groups: [main]}]",
     "agents[0].count: 100000000 is too large; the largest allowed is 100000"),
    ("agents", "[{count: 60000, groups: [main]}, {count: 60000, groups: [main]}]",
     "agents: 120,000 agents in all; the limit is 100,000"),
])
def test_bad_model_values_are_located_errors(key, value, message):
    text = _model_text(**{key: value})
    problem = _problem(text)
    assert message in problem.message, problem.render(text)
    assert problem.location.line == _line_of(text, key + ":"), problem.render(text)


def test_too_many_calls_in_all_is_refused_at_the_arrivals():
    text = _model_text(duration="300d", arrivals="{rate_per_hour: 900000}")
    problem = _problem(text)
    assert "about 6,480,000,000 calls per replication; the limit is 20,000,000" in problem.message
    assert problem.location.line == _line_of(text, "arrivals:")


def test_every_ring_missed_and_callers_who_never_give_up_is_refused():
    text = _model_text(no_answer_rate="1", patience=None)
    problem = _problem(text)
    assert "no_answer_rate: every ring is missed and callers never give up" in problem.message
    assert problem.location.line == _line_of(text, "no_answer_rate:")
    # With patience the calls end (abandoned): the model loads.
    load_model_text(_model_text(no_answer_rate="1"), "m.yaml")


@pytest.mark.parametrize("key,value", [
    ("agents", "[{count: 1, groups: [main], name: a}, {count: 1, groups: [main], name: a}]"),
    ("interval", "0s"),
    ("arrivals", "{rate_per_hour: 1e12}"),
])
def test_simulate_reports_a_bad_model_with_exit_1(tmp_path, key, value):
    """These were internal errors (exit 123) or runs that never ended."""
    from click.testing import CliRunner
    from qscript.cli import main
    (tmp_path / "s.qs").write_text('inbound:\n    queue to "main"\n')
    (tmp_path / "m.yaml").write_text(_model_text(**{key: value}))
    result = CliRunner().invoke(main, ["simulate", str(tmp_path / "s.qs"),
                                       "--model", str(tmp_path / "m.yaml")])
    assert result.exit_code == 1, result.output
    assert f"m.yaml:{_line_of(_model_text(**{key: value}), key + ':')}:" in result.output
    assert "Traceback" not in result.output
