"""Waiting-time estimators: the Erlang median estimate and Asterisk's holdtime."""

from __future__ import annotations

import math
import random

import pytest

from runtime.acd import AcdEngine, AnswerGroup, AsteriskEstimator, ErlangMedianEstimator, WaitQuery
from runtime.acd.estimators import wait_moments


def query(calls_ahead: int, agents: int, ready: int = 0, waited: float = 0.0) -> WaitQuery:
    return WaitQuery(("a",), calls_ahead, agents, ready, waited)


# ------------------------------------------------------------ Erlang median


def test_defined_outcomes_unstaffed_and_ready():
    estimator = ErlangMedianEstimator()
    assert estimator.estimate(query(3, agents=0)) == math.inf
    assert estimator.estimate(query(0, agents=4, ready=1)) == 0.0


def test_first_in_line_waits_the_median_of_one_exponential_departure():
    estimator = ErlangMedianEstimator(default_handle_time=180)
    # next of 4 busy agents frees after Exp(4/180): median ln2·45
    assert estimator.estimate(query(0, agents=4)) == pytest.approx(math.log(2) * 45)


def test_without_abandonment_the_estimate_is_the_erlang_median():
    estimator = ErlangMedianEstimator(default_handle_time=120)
    # Erlang(5, 2/120): median found by bisection on its exact CDF
    rate, stages = 2 / 120, 5

    def cdf(t: float) -> float:
        x = rate * t
        return 1 - math.exp(-x) * sum(x**k / math.factorial(k) for k in range(stages))

    low, high = 0.0, 10_000.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < 0.5 else (low, mid)
    assert estimator.estimate(query(4, agents=2)) == pytest.approx(low, rel=1e-5)


def test_handle_time_window_starts_from_the_default_and_follows_the_data():
    estimator = ErlangMedianEstimator(default_handle_time=180, window=100)
    assert estimator.mean_handle_time(("a",)) == 180
    for _ in range(50):
        estimator.record_handle("a", 60)
    assert estimator.mean_handle_time(("a",)) == pytest.approx(120)
    for _ in range(200):
        estimator.record_handle("a", 60)
    assert estimator.mean_handle_time(("a",)) == pytest.approx(60)
    assert estimator.mean_handle_time(("a", "b")) == pytest.approx(120)  # b still at the default


def test_abandon_rate_is_abandons_per_second_waited():
    estimator = ErlangMedianEstimator()
    assert estimator.abandon_rate(("a",)) == 0.0
    estimator.record_answer("a", 30)
    estimator.record_abandon("a", 10)
    estimator.record_answer("a", 60)
    assert estimator.abandon_rate(("a",)) == pytest.approx(1 / 100)


def test_abandonment_ahead_shortens_the_estimate():
    patient, impatient = ErlangMedianEstimator(), ErlangMedianEstimator()
    for _ in range(10):
        impatient.record_abandon("a", 30)
    assert impatient.estimate(query(10, agents=5)) < patient.estimate(query(10, agents=5))
    # the caller's own patience does not matter when nobody is ahead
    first_in_line = query(0, agents=5)
    assert impatient.estimate(first_in_line) == pytest.approx(patient.estimate(first_in_line))


@pytest.mark.parametrize(
    "agents, ahead, patience", [(5, 10, 60), (2, 3, 30), (20, 40, 120), (10, 1, 60)]
)
def test_estimate_is_the_median_wait_of_callers_who_stay(agents, ahead, patience):
    """Half of the simulated waits (M/M/c+M seen by a patient caller) beat the estimate."""
    handle_time = 180.0
    estimator = ErlangMedianEstimator(default_handle_time=handle_time)
    estimator.record_abandon("a", patience)  # theta = 1 / patience
    estimate = estimator.estimate(query(ahead, agents=agents))
    rng = random.Random(agents * 1000 + ahead)
    departure = agents / handle_time
    rates = [departure + j / patience for j in range(ahead + 1)]
    samples = 20_000
    beaten = sum(sum(rng.expovariate(r) for r in rates) <= estimate for _ in range(samples))
    assert beaten / samples == pytest.approx(0.5, abs=0.02)


def test_wait_moments_long_queue_formula_matches_direct_sums():
    for ahead, relative in [(65, 0.1), (500, 0.01), (3000, 2.0), (200, 1e-7)]:
        speeds = [1 / (1 + j * relative) for j in range(ahead + 1)]
        mean, variance = wait_moments(ahead, relative)
        assert mean == pytest.approx(math.fsum(speeds), rel=1e-9)
        assert variance == pytest.approx(math.fsum(v * v for v in speeds), rel=1e-9)
    assert wait_moments(7, 0.0) == (8.0, 8.0)


def test_engine_feeds_the_estimator_handle_times_and_outcomes():
    estimator = ErlangMedianEstimator(default_handle_time=180, window=10)
    engine = AcdEngine([AnswerGroup("a", wrap_up=10)], estimator)
    engine.login("x", ["a"], 0)
    for i in range(10):
        start = 100.0 * i
        (offer,) = engine.enqueue(f"c{i}", ["a"], start)
        engine.answered(offer.call_id, "x", start + 5)
        engine.call_ended("x", start + 65)  # 65 s from offer + 10 s wrap-up
        engine.wrap_up_done("x", start + 75)
    assert estimator.mean_handle_time(("a",)) == pytest.approx(75)
    engine.pause("x", "break", 1000)
    engine.enqueue("gone", ["a"], 1000)
    engine.remove("gone", 1020)
    # the window keeps the last 10 outcomes: 9 answered after 5 s, one abandon after 20 s
    assert estimator.abandon_rate(("a",)) == pytest.approx(1 / (9 * 5 + 20))


# ------------------------------------------------------------ Asterisk


def test_asterisk_holdtime_is_a_quarter_weight_average_of_answered_waits():
    estimator = AsteriskEstimator()
    estimator.record_answer("a", 40)  # first call sets it outright
    assert estimator.holdtime("a") == 40
    estimator.record_answer("a", 80)
    assert estimator.holdtime("a") == pytest.approx((3 * 40 + 80) / 4)
    estimator.record_handle("a", 1000)  # talk time is not used
    estimator.record_abandon("a", 500)  # nor are abandons
    assert estimator.holdtime("a") == pytest.approx(50)


def test_asterisk_first_answer_after_an_abandon_is_averaged_with_zero():
    estimator = AsteriskEstimator()
    estimator.record_abandon("a", 30)
    estimator.record_answer("a", 40)
    assert estimator.holdtime("a") == pytest.approx(10)


def test_asterisk_estimate_ignores_position_and_agents_and_uses_absolute_difference():
    estimator = AsteriskEstimator()
    estimator.record_answer("a", 120)
    assert estimator.estimate(query(0, agents=1)) == 120
    assert estimator.estimate(query(30, agents=50)) == 120
    assert estimator.estimate(query(3, agents=2, waited=100)) == 20
    # past the average the figure grows again, as Asterisk's does
    assert estimator.estimate(query(3, agents=2, waited=200)) == 80
    assert estimator.estimate(query(3, agents=0)) == math.inf


def test_engine_runs_with_the_asterisk_estimator():
    engine = AcdEngine([AnswerGroup("a")], AsteriskEstimator())
    engine.login("x", ["a"], 0)
    assert engine.enqueue("c1", ["a"], 0)
    engine.answered("c1", "x", 30)
    engine.enqueue("c2", ["a"], 31)
    assert engine.estimated_wait("c2", 41) == pytest.approx(20)  # holdtime 30 - waited 10
