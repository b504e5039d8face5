"""``qscript simulate --records``: the simulated day in the statistics database, and
``qscript report`` on it agreeing with the simulator's own figures (docs/reports.md,
"Feeding the statistics": where the definitions differ, the documented relation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qscript.cli import main

ROOT = Path(__file__).resolve().parents[2]

#: No warm-up (the report counts every call of the day, the simulator none of the
#: warm-up), no wrap-up or pauses (the report's occupancy counts wrap-up as work, the
#: simulator's does not): the figures then mean the same on both sides.
MODEL = """\
start: "2026-12-07T08:00:00"
duration: 1h
warmup: 0s
arrivals: {rate_per_hour: 1900}
handle_time: {distribution: exponential, mean: 180s}
patience: {distribution: exponential, mean: 300s}
agents: [{count: 95, groups: [main]}]
service_level_threshold: 20s
"""


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _report(kind: str, db: Path, *period: str) -> dict:
    report = json.loads(_run("report", kind, "--db", str(db), "--site",
                             str(ROOT / "examples/basic/site.yaml"), *period, "--format", "json"))
    return report["tables"][0]["total"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("records")
    model, db = folder / "model.yaml", folder / "day.db"
    model.write_text(MODEL)
    simulation = json.loads(_run("simulate", str(ROOT / "examples/basic/single-group.qs"),
                                 "--site", str(ROOT / "examples/basic/site.yaml"),
                                 "--model", str(model), "--seed", "3", "--json",
                                 "--records", str(db)))
    return simulation["totals"], db


def test_the_reported_day_has_the_simulators_calls(simulated):
    totals, db = simulated
    site = _report("daily", db, "--from", "2026-12-07")
    assert totals["calls_unfinished"] == 0 and totals["callbacks_pending"] == 0
    assert site["offered"] == totals["calls_arrived"]        # every call, queued or not
    assert site["queued"] == totals["calls_offered"]         # the simulator's "offered"
    assert site["answered"] == totals["calls_answered"]
    assert site["abandoned"] == totals["calls_abandoned"]
    assert site["asa"] == pytest.approx(totals["asa_s"], abs=1e-6)
    # Service level: the same calls answered in time, over different denominators
    # (the report leaves short abandons out, the simulator counts every queued call).
    in_time = site["answered_in_sl"]
    assert site["service_level"] == pytest.approx(
        in_time / (site["answered"] + site["abandoned"] - site["short_abandoned"]), abs=1e-6)
    assert in_time == round(totals["service_level"] * totals["calls_offered"])
    assert 0 < site["short_abandoned"] < site["abandoned"]


def test_the_reported_agents_talk_as_long_as_the_simulated_ones(simulated):
    totals, db = simulated
    # The simulator measures occupancy from the start to the end of the arrivals
    # (duration), the report within the period asked for: the same hour.
    agents = _report("agents", db, "--from", "2026-12-07 08:00", "--to", "2026-12-07 09:00")
    assert agents["logged_in"] == pytest.approx(95 * 3600.0)
    assert agents["wrap_up"] == 0 and agents["paused"] == 0
    assert agents["occupancy"] == pytest.approx(totals["occupancy"], abs=1e-6)


def test_records_refuses_several_replications_and_an_existing_file(tmp_path):
    model = tmp_path / "model.yaml"
    model.write_text(MODEL)
    script = str(ROOT / "examples/basic/single-group.qs")
    runner = CliRunner()
    several = runner.invoke(main, ["simulate", script, "--model", str(model), "--replications",
                                   "2", "--records", str(tmp_path / "a.db")])
    assert several.exit_code == 2 and "--replications 1" in several.output
    assert not (tmp_path / "a.db").exists()
    existing = tmp_path / "b.db"
    existing.write_text("")
    again = runner.invoke(main, ["simulate", script, "--model", str(model), "--records",
                                 str(existing)])
    assert again.exit_code == 2 and "exists" in again.output
