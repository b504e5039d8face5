"""Accuracy of the estimated wait told to callers when they join the queue.

For exponential traffic without abandonment, the best any estimator can do is
the median of the Erlang(p+1, cμ) distribution (p callers ahead, c agents,
true handle rate μ): the median minimises the expected absolute error, and
half of callers then wait longer than told. This benchmark runs the same
traffic (same seeds) through the simulator three times, with

* the oracle: that median, with the true μ (the best possible),
* QScript's estimator (runtime.acd.estimators.ErlangMedianEstimator), which
  has to learn μ and the abandon rate from finished calls,
* Asterisk's queue-wide average (AsteriskEstimator, after app_queue.c),

and reports, for answered callers who waited, the mean absolute error between
the wait announced on arrival and the actual wait, and the share who waited
longer than announced. Goal (issue 3): QScript within 10% of the oracle's
error, and at most half of callers waiting longer than announced.

    .venv/bin/python benchmarks/bench_estimator.py
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qscript.api import compile_file  # noqa: E402
from runtime.acd.estimators import (AsteriskEstimator, ErlangMedianEstimator,  # noqa: E402
                                    WaitEstimator, WaitQuery)
from runtime.core.center import ProgramTable  # noqa: E402
from runtime.acd.erlang import gamma_median  # noqa: E402
from runtime.simulator.model import AgentTeam, Distribution, Model  # noqa: E402
from runtime.simulator.runner import run_replication  # noqa: E402

HANDLE = 180.0


class OracleEstimator(WaitEstimator):
    """The best possible: median of Erlang(p+1, cμ) with the true μ."""

    def estimate(self, query: WaitQuery) -> float:
        if query.agents <= 0:
            return float("inf")
        if query.calls_ahead <= 0 and query.ready_agents > 0:
            return 0.0
        rate = query.agents / HANDLE
        return gamma_median(query.calls_ahead + 1) / rate


def model(agents: int, load: float) -> Model:
    return Model(start=dt.datetime(2026, 12, 7, 8), duration=8 * 3600.0, warmup=1800.0,
                 arrival_rate=load / HANDLE * 3600, profile=(), weekday_factors={},
                 handle_time=Distribution("exponential", HANDLE), patience=None,
                 agents=(AgentTeam(agents, {"main": 0}),))


def accuracy(programs, traffic, make_estimator, seeds) -> tuple[float, float, int]:
    callers = error = longer = 0
    for seed in seeds:
        run = run_replication(programs, traffic, None, seed, estimator=make_estimator())
        estimate = run.stats.estimate
        callers += estimate.count
        error += estimate.total_absolute_error
        longer += estimate.longer_than_announced
    return error / callers, longer / callers, callers


def main() -> None:
    program = compile_file(ROOT / "examples/basic/single-group.qs").program
    programs = ProgramTable({"default": program})
    seeds = range(1, 4)
    print(f"{'agents':>6} {'load':>6} {'estimator':<10} {'callers':>8} {'MAE':>8} "
          f"{'vs best':>8} {'longer':>8}")
    for agents, load in ((10, 9.0), (50, 47.0), (100, 95.0)):
        traffic = model(agents, load)
        best, best_longer, callers = accuracy(programs, traffic, OracleEstimator, seeds)
        rows = [("oracle", best, best_longer, callers)]
        for name, factory in (("qscript", lambda: ErlangMedianEstimator(default_handle_time=HANDLE)),
                              ("asterisk", AsteriskEstimator)):
            mae, longer, count = accuracy(programs, traffic, factory, seeds)
            rows.append((name, mae, longer, count))
        for name, mae, longer, count in rows:
            print(f"{agents:>6} {load:>6.1f} {name:<10} {count:>8} {mae:>7.1f}s "
                  f"{mae / best:>7.2f}x {100 * longer:>7.1f}%")


if __name__ == "__main__":
    main()
