"""Erlang B, C and A against exact small cases and a brute-force birth-death chain.

The reference model here shares no code with ``runtime.acd.erlang``: the
stationary distribution of the M/M/c+M chain is computed from its balance
equations (truncated far out), and the waiting-time figures of an arriving
caller from a uniformised discrete-time chain of "callers ahead of me".
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest

from runtime.acd.erlang import (
    digamma,
    erlang_a,
    erlang_a_abandon_probability,
    erlang_a_asa,
    erlang_a_service_level,
    erlang_a_wait_probability,
    erlang_b,
    erlang_c,
    erlang_c_asa,
    erlang_c_service_level,
    gamma_median,
    log_lower_incomplete_gamma,
    regularized_lower_gamma,
)

AHT = 180.0
MU = 1.0 / AHT


# ------------------------------------------------------------ reference model


def poisson(n: int, mean: float) -> float:
    """P(N = n) for N ~ Poisson(mean)."""
    if mean == 0:
        return float(n == 0)
    return math.exp(-mean + n * math.log(mean) - math.lgamma(n + 1))


def stationary_distribution(c: int, a: float, mu: float, theta: float) -> list[float]:
    """pi_n of the M/M/c+M birth-death chain, truncated where pi_n < 1e-18·max."""
    arrival_rate = a * mu
    log_weights = [0.0]
    n, peak = 0, 0.0
    while True:
        n += 1
        departures = min(n, c) * mu + max(0, n - c) * theta
        log_weights.append(log_weights[-1] + math.log(arrival_rate) - math.log(departures))
        peak = max(peak, log_weights[-1])
        if n > c and departures > arrival_rate and log_weights[-1] < peak - 42:
            break
    weights = [math.exp(w - peak) for w in log_weights]
    total = math.fsum(weights)
    return [w / total for w in weights]


class Reference:
    """Figures of M/M/c+M computed by brute force."""

    def __init__(self, c: int, a: float, mu: float, theta: float) -> None:
        self.c, self.a, self.mu, self.theta = c, a, mu, theta
        pi = stationary_distribution(c, a, mu, theta)
        self.wait_probability = math.fsum(pi[c:])
        queue_length = math.fsum((n - c) * p for n, p in enumerate(pi) if n > c)
        arrival_rate = a * mu
        # Little's law on the abandonment flow: theta·E[Q] = lambda·P(abandon)
        self.abandon_probability = theta * queue_length / arrival_rate
        self._uniformise(pi[c:])

    def _uniformise(self, waiting: list[float]) -> None:
        """Caller's view: k callers ahead; step forward at c·mu + k·theta, leave at theta."""
        c_mu, theta = self.c * self.mu, self.theta
        size = len(waiting)
        rate = c_mu + size * theta
        forward = [(c_mu + k * theta) / rate for k in range(size)]
        stay = [1.0 - f - theta / rate for f in forward]
        mass = list(waiting)
        served = 0.0
        self.uniform_rate = rate
        self.served_after_steps = [0.0]  # cumulative, among callers who had to wait
        while math.fsum(mass) > 1e-16:
            served += mass[0] * forward[0]
            shifted = [mass[k] * stay[k] + mass[k + 1] * forward[k + 1] for k in range(size - 1)]
            mass = shifted + [mass[-1] * stay[-1]]
            self.served_after_steps.append(served)
        self.served_eventually = served

    def service_level(self, t: float) -> float:
        """P(answered within t): Poisson(rate·t)-weighted steps of the uniformised chain."""
        mean = self.uniform_rate * t
        served_by_t, weight_used = 0.0, 0.0
        for steps, served in enumerate(self.served_after_steps):
            weight = poisson(steps, mean)
            served_by_t += weight * served
            weight_used += weight
        served_by_t += max(0.0, 1.0 - weight_used) * self.served_eventually  # beyond the last step
        return (1.0 - self.wait_probability) + served_by_t

    def asa(self) -> float:
        """Mean wait of answered calls: E[wait·1{answered}] / P(answered)."""
        # integral of P(answered) - P(answered by t) dt; each step lasts 1/rate on average
        late = math.fsum(self.served_eventually - s for s in self.served_after_steps)
        late /= self.uniform_rate
        answered = 1.0 - self.wait_probability + self.served_eventually
        return late / answered


CASES = [
    # c, offered load, mean patience (s), threshold (s)
    (5, 4.5, 120.0, 20.0),
    (50, 48.0, 300.0, 20.0),
    (100, 105.0, 180.0, 30.0),  # overloaded: only abandonment keeps it stable
    (500, 490.0, 300.0, 20.0),
]


@pytest.fixture(scope="module", params=CASES, ids=lambda case: f"c={case[0]},a={case[1]}")
def case(request):
    c, a, patience, t = request.param
    return c, a, 1.0 / patience, t, Reference(c, a, MU, 1.0 / patience)


# ------------------------------------------------------------ Erlang B and C


def exact_erlang_b(c: int, a: Fraction) -> Fraction:
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def exact_erlang_c(c: int, a: Fraction) -> Fraction:
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize("c, a", [(1, "0.5"), (5, "2"), (10, "10"), (12, "10"), (30, "25.5")])
def test_erlang_b_and_c_match_exact_rational_values(c, a):
    load = Fraction(a)
    assert erlang_b(c, float(load)) == pytest.approx(float(exact_erlang_b(c, load)), rel=1e-12)
    if load < c:
        assert erlang_c(c, float(load)) == pytest.approx(float(exact_erlang_c(c, load)), rel=1e-12)


def test_published_erlang_b_value():
    # the classic table entry: 10 circuits, 10 Erlang -> 21.46 % blocked
    assert erlang_b(10, 10.0) == pytest.approx(0.2146, abs=5e-5)


def test_erlang_c_large_systems_are_finite_and_sane():
    for c, a in [(1000, 990.0), (1000, 500.0), (1000, 999.9)]:
        wait = erlang_c(c, a)
        assert 0.0 <= wait <= 1.0
        assert math.isfinite(erlang_c_asa(c, a, MU))
    assert erlang_c(1000, 100.0) == 0.0  # underflows to exactly zero, not NaN


def test_erlang_c_unstable_queue():
    assert erlang_c(10, 10.0) == 1.0
    assert erlang_c_asa(10, 12.0, MU) == math.inf
    assert erlang_c_service_level(10, 12.0, MU, 20.0) == 0.0


def test_erlang_c_matches_brute_force_chain_without_abandonment():
    c, a = 50, 45.0
    pi = stationary_distribution(c, a, MU, 0.0)
    assert erlang_c(c, a) == pytest.approx(math.fsum(pi[c:]), rel=1e-10)
    queue_length = math.fsum((n - c) * p for n, p in enumerate(pi) if n > c)
    assert erlang_c_asa(c, a, MU) == pytest.approx(queue_length / (a * MU), rel=1e-9)


def test_erlang_c_service_level_formula():
    c, a, t = 10, 8.0, 20.0
    expected = 1.0 - erlang_c(c, a) * math.exp(-(c - a) * MU * t)
    assert erlang_c_service_level(c, a, MU, t) == pytest.approx(expected)
    assert erlang_c_service_level(c, a, MU, 0.0) == pytest.approx(1.0 - erlang_c(c, a))


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError):
        erlang_b(0, 1.0)
    # A fractional agent count: the compiled module (mypyc) refuses the float
    # at the call (TypeError); in pure Python the check raises ValueError.
    with pytest.raises((TypeError, ValueError)):
        erlang_c(2.5, 1.0)
    with pytest.raises(ValueError):
        erlang_a(5, 4.0, MU, -1.0)
    with pytest.raises(ValueError):
        erlang_c_service_level(5, 4.0, 0.0, 20.0)


# ----------------------------------------------------------------- Erlang A


def test_erlang_a_wait_and_abandon_match_brute_force(case):
    c, a, theta, _, reference = case
    assert erlang_a_wait_probability(c, a, MU, theta) == pytest.approx(
        reference.wait_probability, rel=1e-8
    )
    assert erlang_a_abandon_probability(c, a, MU, theta) == pytest.approx(
        reference.abandon_probability, rel=1e-8
    )


def test_erlang_a_service_level_matches_brute_force(case):
    c, a, theta, t, reference = case
    for threshold in (0.0, t, 3 * t):
        assert erlang_a_service_level(c, a, MU, theta, threshold) == pytest.approx(
            reference.service_level(threshold), rel=1e-7, abs=1e-10
        )


def test_erlang_a_asa_matches_brute_force(case):
    c, a, theta, _, reference = case
    assert erlang_a_asa(c, a, MU, theta) == pytest.approx(reference.asa(), rel=1e-7)


def test_erlang_a_abandons_account_for_every_caller(case):
    c, a, theta, _, reference = case
    answered = (1.0 - reference.wait_probability) + reference.served_eventually
    assert answered + erlang_a_abandon_probability(c, a, MU, theta) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("c, a", [(5, 4.0), (50, 45.0), (100, 95.0), (500, 490.0)])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(c, a):
    theta = 1e-7 * MU
    metrics = erlang_a(c, a, MU, theta, 20.0)
    assert metrics.wait_probability == pytest.approx(erlang_c(c, a), rel=1e-4)
    assert metrics.asa == pytest.approx(erlang_c_asa(c, a, MU), rel=1e-4)
    assert metrics.service_level == pytest.approx(erlang_c_service_level(c, a, MU, 20.0), rel=1e-4)
    assert metrics.abandon_probability < 1e-4


def test_erlang_a_with_zero_theta_is_erlang_c():
    metrics = erlang_a(10, 8.0, MU, 0.0, 20.0)
    assert metrics.wait_probability == erlang_c(10, 8.0)
    assert metrics.service_level == erlang_c_service_level(10, 8.0, MU, 20.0)
    assert metrics.abandon_probability == 0.0


def test_erlang_a_definitions_hold_together():
    metrics = erlang_a(20, 22.0, MU, 1 / 120, 20.0)
    # mean wait of everybody = P(abandon) / theta (Little's law)
    assert metrics.mean_wait == pytest.approx(metrics.abandon_probability * 120)
    # overloaded: at least the excess load must abandon
    assert metrics.abandon_probability >= 1 - 20 / 22.0
    assert metrics.service_level <= 1 - metrics.abandon_probability
    assert erlang_a(20, 22.0, MU, 1 / 120).service_level is None


def test_erlang_a_large_and_heavily_loaded_systems_stay_finite():
    for c, a, patience in [(1000, 990.0, 300.0), (1000, 1100.0, 3600.0), (1000, 990.0, 30.0)]:
        metrics = erlang_a(1000, a, MU, 1 / patience, 20.0)
        for value in dataclasses.astuple(metrics):
            assert math.isfinite(value) and value >= 0
        assert metrics.wait_probability <= 1.0 and metrics.service_level <= 1.0
    # heavy overload: about the excess load abandons
    overloaded = erlang_a(1000, 1100.0, MU, 1 / 3600)
    assert overloaded.abandon_probability == pytest.approx(1 - 1000 / 1100, rel=0.05)


# ---------------------------------------------------- special functions


def simpson(function, low: float, high: float, intervals: int = 4000) -> float:
    step = (high - low) / intervals
    total = function(low) + function(high)
    total += 4 * math.fsum(function(low + (2 * i - 1) * step) for i in range(1, intervals // 2 + 1))
    total += 2 * math.fsum(function(low + 2 * i * step) for i in range(1, intervals // 2))
    return total * step / 3


def gamma_cdf_by_quadrature(shape: float, x: float) -> float:
    log_norm = math.lgamma(shape)

    def density(t: float) -> float:
        if t == 0:
            return 1.0 if shape == 1 else 0.0
        return math.exp((shape - 1) * math.log(t) - t - log_norm)

    return simpson(density, 0.0, x)


@pytest.mark.parametrize("n, z", [(1, 0.3), (3, 2.0), (10, 7.5), (40, 55.0), (200, 180.0)])
def test_regularized_gamma_for_integer_shapes_is_a_poisson_tail(n, z):
    poisson_below_n = math.fsum(poisson(k, z) for k in range(n))
    expected = 1.0 - poisson_below_n
    assert regularized_lower_gamma(n, z) == pytest.approx(expected, rel=1e-11, abs=1e-15)


def test_regularized_gamma_half_shape_is_erf():
    for z in (0.01, 0.5, 2.0, 9.0):
        assert regularized_lower_gamma(0.5, z) == pytest.approx(math.erf(math.sqrt(z)), rel=1e-12)


def test_log_incomplete_gamma_handles_huge_arguments():
    # gamma(s, z) with z >> s is Gamma(s): the log must not overflow
    assert log_lower_incomplete_gamma(3.0, 5000.0) == pytest.approx(math.lgamma(3.0), rel=1e-10)
    # z << s: gamma(s, z) = z^s e^-z / s · (1 + z/(s+1) + ...), far beyond a double
    leading = 5000 * math.log(3.0) - 3.0 - math.log(5000.0)
    leading += math.log1p(3 / 5001 + 9 / (5001 * 5002))
    assert log_lower_incomplete_gamma(5000.0, 3.0) == pytest.approx(leading, rel=1e-12)
    assert log_lower_incomplete_gamma(2.0, 0.0) == -math.inf


@pytest.mark.parametrize("shape", [1.0, 1.3, 1.7, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0, 100.0])
def test_gamma_median_matches_numerically_computed_median(shape):
    low, high = 0.0, shape + 10 * math.sqrt(shape) + 10
    for _ in range(60):  # bisection on a quadrature CDF, independent of runtime.acd.erlang
        mid = (low + high) / 2
        if gamma_cdf_by_quadrature(shape, mid) < 0.5:
            low = mid
        else:
            high = mid
    assert gamma_median(shape) == pytest.approx((low + high) / 2, rel=2e-5)


def test_gamma_median_of_exponential_is_ln2():
    assert gamma_median(1.0) == math.log(2.0)


def test_digamma_against_known_values():
    euler_gamma = 0.5772156649015329
    assert digamma(1.0) == pytest.approx(-euler_gamma, rel=1e-13)
    assert digamma(0.5) == pytest.approx(-euler_gamma - 2 * math.log(2), rel=1e-13)
    harmonic = math.fsum(1 / (0.5 + j) for j in range(1000))
    assert digamma(1000.5) - digamma(0.5) == pytest.approx(harmonic, rel=1e-12)
