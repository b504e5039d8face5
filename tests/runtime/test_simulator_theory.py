"""The simulator agrees with queueing theory.

For exponential traffic the exact steady-state figures are known: Erlang C
(M/M/c, callers never give up) and Erlang A (M/M/c+M, exponential patience).
Each case runs the real pipeline — examples/basic/single-group.qs compiled,
executed by the VM for every call, queued by the ACD — over several
replications, and checks that service level, ASA and abandon rate fall within
the statistical error of the exact formulas (mean ± 4 standard errors of the
replication means, plus a small absolute allowance for the finite run).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from pathlib import Path

import pytest

from qscript.api import compile_file
from runtime.core.center import ProgramTable
from runtime.acd.erlang import erlang_a, erlang_c_asa, erlang_c_service_level
from runtime.simulator.model import AgentTeam, Distribution, Model
from runtime.simulator.report import build_report
from runtime.simulator.runner import run_replication

ROOT = Path(__file__).resolve().parents[2]
HANDLE = 60.0          # mean handle time (s): time scale only, theory is scale-free
THRESHOLD = 10.0       # service-level threshold (s)
PATIENCE = 120.0       # mean patience (s) for Erlang A
REPLICATIONS = 4
CALLS_PER_REPLICATION = 12_000


@pytest.fixture(scope="module")
def programs() -> ProgramTable:
    result = compile_file(ROOT / "examples/basic/single-group.qs")
    assert result.ok, result.diagnostics
    return ProgramTable({"default": result.program})


def _model(agents: int, load: float, patience: float | None) -> Model:
    rate_per_second = load / HANDLE
    duration = CALLS_PER_REPLICATION / rate_per_second
    return Model(
        start=dt.datetime(2026, 12, 7, 0, 0), duration=duration, warmup=duration / 10,
        arrival_rate=rate_per_second * 3600, profile=(), weekday_factors={},
        handle_time=Distribution("exponential", HANDLE),
        patience=Distribution("exponential", patience) if patience else None,
        agents=(AgentTeam(agents, {"main": 0}),), service_level_threshold=THRESHOLD)


def _simulate(programs, model) -> list[dict]:
    runs = [run_replication(programs, model, None, seed) for seed in range(1, REPLICATIONS + 1)]
    return [build_report(model, [run])["totals"] for run in runs]


def _assert_agrees(name: str, values: list[float], exact: float, allowance: float) -> None:
    mean = statistics.fmean(values)
    error = statistics.stdev(values) / math.sqrt(len(values))
    tolerance = 4 * error + allowance
    assert abs(mean - exact) <= tolerance, (
        f"{name}: simulated {mean:.4f} (±{error:.4f}) vs exact {exact:.4f}; "
        f"allowed {tolerance:.4f}; replications {values}")


# (agents, offered load in Erlang): loads high enough that queueing matters.
SIZES = [(5, 4.0), (50, 45.0), (100, 94.0), (500, 485.0)]


@pytest.mark.slow
@pytest.mark.parametrize("agents,load", SIZES)
def test_erlang_c_without_patience(programs, agents, load):
    totals = _simulate(programs, _model(agents, load, None))
    mu = 1 / HANDLE
    _assert_agrees("service level", [t["service_level"] for t in totals],
                   erlang_c_service_level(agents, load, mu, THRESHOLD), 0.01)
    _assert_agrees("ASA", [t["asa_s"] for t in totals], erlang_c_asa(agents, load, mu),
                   0.05 * erlang_c_asa(agents, load, mu) + 0.2)
    assert all(t["calls_abandoned"] == 0 for t in totals)


@pytest.mark.slow
@pytest.mark.parametrize("agents,load", SIZES)
def test_erlang_a_with_exponential_patience(programs, agents, load):
    totals = _simulate(programs, _model(agents, load, PATIENCE))
    exact = erlang_a(agents, load, 1 / HANDLE, 1 / PATIENCE, THRESHOLD)
    _assert_agrees("service level", [t["service_level"] for t in totals], exact.service_level, 0.01)
    _assert_agrees("abandon rate", [t["abandon_rate"] for t in totals],
                   exact.abandon_probability, 0.003)
    _assert_agrees("ASA", [t["asa_s"] for t in totals], exact.asa, 0.05 * exact.asa + 0.2)

