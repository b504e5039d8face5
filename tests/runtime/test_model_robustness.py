"""Broken traffic models and scenario files give clear errors, never a crash.

Hypothesis mutates the example model and a scenario file (lines dropped,
duplicated, re-indented, characters changed); each result either loads or
raises the loaders' own error with a file:line:col location.
"""

from __future__ import annotations

from pathlib import Path

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
    from runtime.scenarios import ScenarioError, load_scenarios
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "queue-features.qs").write_text(
        (ROOT / "tests/data/scenarios/queue-features.qs").read_text())
    path = folder / "s.test.yaml"
    path.write_text(_mutate(SCENARIOS, data))
    try:
        load_scenarios(path)
    except ScenarioError as error:
        assert error.problems and "Traceback" not in error.render()
