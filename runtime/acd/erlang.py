"""Queueing-theory formulas for call centres: Erlang B, Erlang C and Erlang A.

Everything here is exact (up to floating point) and uses only :mod:`math`.
The formulas stay numerically stable for up to about 1000 agents and offered
loads of about 990 Erlang: Erlang B comes from its recursion, and every
quantity that could overflow (powers, factorials, incomplete gamma functions)
is handled in log space. No factorial is ever computed.

Notation, shared by every function:

``c``
    number of agents (servers), an integer >= 1.
``a``
    offered load in Erlang: arrival rate x mean handle time (``a = lambda / mu``).
``mu``
    service rate of one agent, 1 / mean handle time (per second if ``t`` is in
    seconds).
``theta``
    abandonment rate of one waiting caller, 1 / mean patience (Erlang A only;
    patience is exponential).
``t``
    service-level threshold ("answered within ``t``"), same time unit as 1/mu.

Definitions used for every figure (the same ones the ACD engine reports):

* **service level** = calls answered within ``t`` / calls offered. Callers who
  abandon count as misses, whenever they hang up.
* **ASA** (average speed of answer) = mean wait of the *answered* calls,
  including those answered at once (wait 0).
* **abandon rate** = calls abandoned / calls offered.
* **probability of waiting** = share of callers who find every agent busy.

Results are probabilities (0..1), not percentages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ErlangAMetrics",
    "erlang_b",
    "erlang_c",
    "erlang_c_service_level",
    "erlang_c_asa",
    "erlang_a",
    "erlang_a_wait_probability",
    "erlang_a_abandon_probability",
    "erlang_a_asa",
    "erlang_a_service_level",
    "log_lower_incomplete_gamma",
    "regularized_lower_gamma",
    "gamma_median",
    "digamma",
    "trigamma",
]

# A series term smaller than this fraction of the running sum no longer changes
# a double.
_NEGLIGIBLE = 1e-17


def _check_common(c: int, a: float) -> None:
    if int(c) != c or c < 1:
        raise ValueError(f"number of agents must be an integer >= 1, got {c!r}")
    if not a >= 0 or math.isinf(a):
        raise ValueError(f"offered load must be a finite number >= 0, got {a!r}")


def _check_rate(name: str, value: float) -> None:
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


# ---------------------------------------------------------------- Erlang B/C


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c (Erlang B) with ``c`` agents and load ``a``.

    Uses the recursion ``B(k) = a·B(k-1) / (k + a·B(k-1))``, ``B(0) = 1``,
    which is stable for any ``c``. Very small results underflow to 0.0.
    """
    _check_common(c, a)
    blocking = 1.0
    for servers in range(1, int(c) + 1):
        blocking = a * blocking / (servers + a * blocking)
    return blocking


def erlang_c(c: int, a: float) -> float:
    """Probability that a caller must wait in M/M/c (Erlang C).

    ``C = c·B / (c - a·(1 - B))`` with ``B = erlang_b(c, a)``. When ``a >= c``
    the queue is unstable and every caller waits: the result is 1.0.
    """
    _check_common(c, a)
    if a >= c:
        return 1.0
    blocking = erlang_b(c, a)
    return c * blocking / (c - a * (1.0 - blocking))


def erlang_c_service_level(c: int, a: float, mu: float, t: float) -> float:
    """Share of callers answered within ``t`` in M/M/c (no abandonment).

    ``SL(t) = 1 - C·exp(-(c - a)·mu·t)``. With no abandonment every offered
    call is eventually answered, so "answered within t / offered" is
    ``P(wait <= t)``. An unstable queue (``a >= c``) gives 0.0.
    """
    _check_rate("mu", mu)
    if t < 0:
        raise ValueError(f"threshold must be >= 0, got {t!r}")
    if a >= c:
        _check_common(c, a)
        return 0.0
    return 1.0 - erlang_c(c, a) * math.exp(-(c - a) * mu * t)


def erlang_c_asa(c: int, a: float, mu: float) -> float:
    """Mean wait of answered calls in M/M/c: ``C / (mu·(c - a))``.

    Every call is answered in Erlang C, so this is also the mean wait of all
    calls. An unstable queue (``a >= c``) gives ``math.inf``.
    """
    _check_rate("mu", mu)
    if a >= c:
        _check_common(c, a)
        return math.inf
    return erlang_c(c, a) / (mu * (c - a))


# ------------------------------------------------- incomplete gamma function


def _log_kummer_series(s: float, z: float) -> float:
    """``log sum_{k>=0} z^k / ((s+1)(s+2)...(s+k))`` for ``s > 0``, ``z >= 0``.

    This is the series behind the lower incomplete gamma function,
    ``gamma(s, z) = z^s e^-z / s · series``. Its terms rise while
    ``k < z - s`` and then fall faster than geometrically, so instead of
    walking from k = 0 (millions of terms when ``z >> s``) the sum starts at
    the largest term and walks outwards until the terms are negligible.
    """
    if z == 0.0:
        return 0.0
    peak = max(0, int(z - s))
    log_peak = peak * math.log(z) + math.lgamma(s + 1.0) - math.lgamma(s + peak + 1.0)
    total = 1.0
    term, k = 1.0, peak
    while True:  # upwards: term(k+1) = term(k) · z / (s + k + 1)
        k += 1
        term *= z / (s + k)
        total += term
        if term < _NEGLIGIBLE * total:
            break
    term, k = 1.0, peak
    while k > 0:  # downwards: term(k-1) = term(k) · (s + k) / z
        term *= (s + k) / z
        k -= 1
        total += term
        if term < _NEGLIGIBLE * total:
            break
    return log_peak + math.log(total)


def log_lower_incomplete_gamma(s: float, z: float) -> float:
    """``log gamma(s, z)``, the log of the lower incomplete gamma function.

    ``gamma(s, z) = integral_0^z t^(s-1) e^-t dt`` for ``s > 0``, ``z >= 0``
    (``-inf`` for ``z == 0``). Summed as a power series in log space, so huge
    and tiny values are fine; the cost grows like ``sqrt(z)`` when ``z > s``.
    """
    _check_rate("s", s)
    if z < 0:
        raise ValueError(f"z must be >= 0, got {z!r}")
    if z == 0:
        return -math.inf
    return s * math.log(z) - z - math.log(s) + _log_kummer_series(s, z)


def regularized_lower_gamma(s: float, z: float) -> float:
    """``P(s, z) = gamma(s, z) / Gamma(s)``: the CDF at ``z`` of a Gamma(s, 1)."""
    if z == 0:
        return 0.0
    return min(1.0, math.exp(log_lower_incomplete_gamma(s, z) - math.lgamma(s)))


def gamma_median(shape: float) -> float:
    """Median of a Gamma distribution with this shape and rate 1.

    Divide by the rate for other rates. For ``shape >= 2`` Choi's asymptotic
    series ``k - 1/3 + 8/(405k) + 184/(25515k²) + 2248/(3444525k³) -
    19006408/(15345358875k⁴)`` is accurate to better than 1e-5 relative
    (Wilson-Hilferty, ``k(1 - 1/(9k))³``, is 1.3 % off at k = 1 and only
    0.1 % at k = 2, so it is not used). Below 2 that series is refined by
    Newton steps on ``P(k, m) = 1/2``; shape 1 is exactly ``ln 2``.
    """
    _check_rate("shape", shape)
    if shape == 1.0:
        return math.log(2.0)
    k = shape
    median = (
        k
        - 1.0 / 3.0
        + 8.0 / (405.0 * k)
        + 184.0 / (25515.0 * k**2)
        + 2248.0 / (3444525.0 * k**3)
        - 19006408.0 / (15345358875.0 * k**4)
    )
    if shape >= 2.0:
        return median
    median = max(median, 1e-3)
    log_gamma_shape = math.lgamma(shape)
    for _ in range(8):
        excess = regularized_lower_gamma(shape, median) - 0.5
        density = math.exp((shape - 1.0) * math.log(median) - median - log_gamma_shape)
        step = excess / density
        median = max(median - step, median / 2.0)  # stay positive
        if abs(step) < 1e-13 * median:
            break
    return median


# ----------------------------------------------------------------- Erlang A


@dataclass(frozen=True, slots=True)
class ErlangAMetrics:
    """Steady-state figures of the Erlang A (M/M/c+M) queue.

    ``wait_probability``: P(a caller finds all agents busy).
    ``abandon_probability``: abandoned / offered.
    ``asa``: mean wait of answered calls (answered at once count as 0).
    ``mean_wait``: mean time in queue of all callers, answered or abandoned.
    ``service_level``: answered within ``t`` / offered, abandons are misses;
    None when no threshold was given.
    """

    wait_probability: float
    abandon_probability: float
    asa: float
    mean_wait: float
    service_level: float | None


def _erlang_a_waiting_sums(x: float, y: float) -> tuple[float, float, float]:
    """Sums over K, the number of callers already waiting when a caller joins.

    In units of ``theta``: ``x = c·mu/theta``, ``y = lambda/theta``. Given that
    the caller must wait, ``P(K = k)`` is proportional to
    ``u_k = y^k / ((x+1)...(x+k))`` (the birth-death chain's stationary
    weights above ``c``). Returns ``(log sum u_k, P(abandon | wait),
    theta·E[wait·1{answered} | wait])`` where, for a caller with ``k`` ahead,
    P(answered) is ``x / (x+k+1)`` (each of the k+1 steps forward - k callers
    ahead leaving and the caller's own answer - must beat its own patience:
    the product telescopes) and ``E[wait·1{answered}] = x/(x+k+1) ·
    sum_{j=1..k+1} 1/(x+j)`` (derivative of the Laplace transform of the
    offered wait at theta).

    The weights peak at ``k ≈ y - x``; the sums start there and walk outwards,
    as in :func:`_log_kummer_series`.
    """
    peak = max(0, int(y - x))
    log_peak = peak * math.log(y) + math.lgamma(x + 1.0) - math.lgamma(x + peak + 1.0)
    harmonic_at_peak = _shifted_harmonic(x, peak + 1)  # sum_{j=1..peak+1} 1/(x+j)

    def term_moments(k: int, harmonic: float) -> tuple[float, float]:
        answered = x / (x + k + 1.0)
        return 1.0 - answered, answered * harmonic

    abandon_peak, wait_peak = term_moments(peak, harmonic_at_peak)
    total, abandon_sum, wait_sum = 1.0, abandon_peak, wait_peak
    term, k, harmonic = 1.0, peak, harmonic_at_peak
    while True:
        k += 1
        term *= y / (x + k)
        harmonic += 1.0 / (x + k + 1.0)
        abandon, wait = term_moments(k, harmonic)
        total += term
        abandon_sum += term * abandon
        wait_sum += term * wait
        if term < _NEGLIGIBLE * total:
            break
    term, k, harmonic = 1.0, peak, harmonic_at_peak
    while k > 0:
        term *= (x + k) / y
        harmonic -= 1.0 / (x + k + 1.0)
        k -= 1
        abandon, wait = term_moments(k, harmonic)
        total += term
        abandon_sum += term * abandon
        wait_sum += term * wait
        if term < _NEGLIGIBLE * total:
            break
    return log_peak + math.log(total), abandon_sum / total, wait_sum / total


def _shifted_harmonic(x: float, n: int) -> float:
    """``sum_{j=1..n} 1/(x + j)``, directly for small n, else via digamma."""
    if n <= 256:
        return math.fsum(1.0 / (x + j) for j in range(1, n + 1))
    return digamma(x + n + 1.0) - digamma(x + 1.0)


def digamma(z: float) -> float:
    """The digamma function ``psi(z) = d/dz ln Gamma(z)`` for ``z > 0``.

    Shifted up with ``psi(z) = psi(z+1) - 1/z`` until ``z >= 10``, then the
    asymptotic series (error below 1e-15 there).
    """
    shift = 0.0
    while z < 10.0:
        shift -= 1.0 / z
        z += 1.0
    inv2 = 1.0 / (z * z)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return shift + math.log(z) - 0.5 / z - series


def trigamma(z: float) -> float:
    """The trigamma function ``psi1(z) = d²/dz² ln Gamma(z)`` for ``z > 0``.

    Shifted up with ``psi1(z) = psi1(z+1) + 1/z²`` until ``z >= 10``, then the
    asymptotic series.
    """
    shift = 0.0
    while z < 10.0:
        shift += 1.0 / (z * z)
        z += 1.0
    inv = 1.0 / z
    inv2 = inv * inv
    tail = 1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 * (1 / 30 - inv2 * 5 / 66)))
    series = inv + inv2 / 2 + inv * inv2 * tail
    return shift + series


def erlang_a(c: int, a: float, mu: float, theta: float, t: float | None = None) -> ErlangAMetrics:
    """All steady-state figures of Erlang A (M/M/c+M) in one pass.

    Model: Poisson arrivals at ``lambda = a·mu``, ``c`` agents with exponential
    handle times (rate ``mu``), callers served first come first served, each
    waiting caller hangs up at rate ``theta`` (exponential patience).

    Formulas (Palm; Garnett, Mandelbaum & Reiman 2002; Mandelbaum & Zeltyn),
    with ``x = c·mu/theta``, ``y = lambda/theta``, ``rho = a/c``,
    ``E = erlang_b(c, a)`` and ``A(x, y) = x·e^y·y^-x·gamma(x, y)``:

    * ``P(wait) = A·E / (1 + (A - 1)·E)``
    * ``P(abandon | wait) = 1/(rho·A) + 1 - 1/rho`` (summed here as a series
      of positive terms, which stays accurate when it is tiny)
    * ``P(answered, wait > t) = P(wait)·gamma(x+1, y·e^(-theta·t)) / (y·gamma(x, y))``
    * ``service_level(t) = 1 - P(abandon) - P(answered, wait > t)``
    * ``mean_wait = P(abandon) / theta`` (Little's law on the abandonment flow)
    * ``asa = E[wait·1{answered}] / P(answered)``, the numerator summed over the
      number of callers ahead (see :func:`_erlang_a_waiting_sums`).

    ``theta == 0`` is Erlang C (then ``a < c`` gives its values and ``a >= c``
    an unstable queue: P(wait) 1, ASA infinite, service level 0).
    """
    _check_common(c, a)
    _check_rate("mu", mu)
    if not theta >= 0 or math.isinf(theta):
        raise ValueError(f"theta must be a finite number >= 0, got {theta!r}")
    if t is not None and t < 0:
        raise ValueError(f"threshold must be >= 0, got {t!r}")
    if a == 0:
        return ErlangAMetrics(0.0, 0.0, 0.0, 0.0, None if t is None else 1.0)
    if theta == 0:
        return _erlang_c_as_metrics(c, a, mu, t)

    x = c * mu / theta
    y = a * mu / theta
    blocking = erlang_b(c, a)
    log_a_function, abandon_if_wait, scaled_wait_if_wait = _erlang_a_waiting_sums(x, y)
    if blocking == 0.0:
        return ErlangAMetrics(0.0, 0.0, 0.0, 0.0, None if t is None else 1.0)
    # P(wait) = 1 / (1 + (1/E - 1)/A), in logs because A can overflow
    log_odds = math.log1p(-blocking) - math.log(blocking) - log_a_function
    wait_probability = 1.0 / (1.0 + math.exp(min(log_odds, 700.0)))
    abandon_probability = wait_probability * abandon_if_wait
    answered_probability = 1.0 - abandon_probability
    asa = wait_probability * scaled_wait_if_wait / theta / answered_probability
    mean_wait = abandon_probability / theta
    service_level = None
    if t is not None:
        late = _answered_late_share(x, y, theta, t, log_a_function)
        service_level = max(0.0, answered_probability - wait_probability * late)
    return ErlangAMetrics(wait_probability, abandon_probability, asa, mean_wait, service_level)


def _answered_late_share(x: float, y: float, theta: float, t: float, log_a_xy: float) -> float:
    """``gamma(x+1, y·e^(-theta·t)) / (y·gamma(x, y))``: P(answered after t | wait)."""
    log_shrunk = math.log(y) - theta * t  # log of z = y·e^(-theta·t)
    shrunk = math.exp(log_shrunk)
    if shrunk == 0.0:
        return 0.0
    log_gamma_late = (x + 1.0) * log_shrunk - shrunk - math.log(x + 1.0)
    log_gamma_late += _log_kummer_series(x + 1.0, shrunk)
    log_gamma_all = x * math.log(y) - y - math.log(x) + log_a_xy
    return math.exp(log_gamma_late - math.log(y) - log_gamma_all)


def _erlang_c_as_metrics(c: int, a: float, mu: float, t: float | None) -> ErlangAMetrics:
    service_level = None if t is None else erlang_c_service_level(c, a, mu, t)
    asa = erlang_c_asa(c, a, mu)
    return ErlangAMetrics(erlang_c(c, a), 0.0, asa, asa, service_level)


def erlang_a_wait_probability(c: int, a: float, mu: float, theta: float) -> float:
    """P(a caller finds every agent busy) in Erlang A. See :func:`erlang_a`."""
    return erlang_a(c, a, mu, theta).wait_probability


def erlang_a_abandon_probability(c: int, a: float, mu: float, theta: float) -> float:
    """Abandon rate in Erlang A: abandoned / offered. See :func:`erlang_a`."""
    return erlang_a(c, a, mu, theta).abandon_probability


def erlang_a_asa(c: int, a: float, mu: float, theta: float) -> float:
    """Mean wait of answered calls in Erlang A. See :func:`erlang_a`."""
    return erlang_a(c, a, mu, theta).asa


def erlang_a_service_level(c: int, a: float, mu: float, theta: float, t: float) -> float:
    """Answered within ``t`` / offered in Erlang A (abandons are misses)."""
    result = erlang_a(c, a, mu, theta, t).service_level
    assert result is not None
    return result
