"""Waiting-time estimators: how long until this caller is answered?

The engine works out, for one caller, the facts an estimator needs (a
:class:`WaitQuery`) and feeds every estimator the outcomes of finished calls.
Two estimators share that small interface (:class:`WaitEstimator`), so the
simulator can run either and compare them:

:class:`ErlangMedianEstimator` (the default)
    The median of the time to reach an agent in a queue whose callers ahead
    may abandon, from the caller's position, the agents staffed, recent
    handle times and the recent abandon rate.

:class:`AsteriskEstimator`
    Asterisk ``app_queue``'s announcement, reproduced for comparison.

Two outcomes are fixed by the engine for every estimator, because scripts
rely on them: ``math.inf`` when no agent is logged in and unpaused in any of
the caller's groups (the language's "no value": the estimate compares greater
than every duration), and 0 when an agent is READY and nobody is ahead.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque

from mypy_extensions import mypyc_attr

from runtime.acd.erlang import digamma, gamma_median, trigamma

__all__ = [
    "WaitQuery",
    "WaitEstimator",
    "ErlangMedianEstimator",
    "AsteriskEstimator",
    "wait_moments",
]


class WaitQuery:
    """What an estimator is told about one caller.

    ``groups``: the caller's answer groups (the first is where it joined).
    ``calls_ahead``: waiting calls ranked before it in any of those groups.
    ``agents``: agents logged in and not paused in any of those groups.
    ``ready_agents``: of those, how many are READY.
    ``waited``: seconds the caller has already waited (0 for a new caller).

    (A small class, not a NamedTuple, whose constructor would run as
    interpreted Python in the compiled engine.)
    """

    __slots__ = ("groups", "calls_ahead", "agents", "ready_agents", "waited")

    def __init__(self, groups: tuple[str, ...], calls_ahead: int, agents: int,
                 ready_agents: int, waited: float) -> None:
        self.groups = groups
        self.calls_ahead = calls_ahead
        self.agents = agents
        self.ready_agents = ready_agents
        self.waited = waited

    def __repr__(self) -> str:
        return (f"WaitQuery({self.groups!r}, calls_ahead={self.calls_ahead}, "
                f"agents={self.agents}, ready_agents={self.ready_agents}, waited={self.waited})")


@mypyc_attr(allow_interpreted_subclasses=True)  # benchmarks and tests subclass it
class WaitEstimator(ABC):
    """Learns from finished calls and estimates the remaining wait of a caller.

    The ``record_*`` methods receive the outcome of each call once, in the
    group that its statistics belong to; times are in seconds.
    """

    def record_answer(self, group: str, waited: float) -> None:
        """A call of ``group`` was answered after waiting ``waited`` seconds."""

    def record_abandon(self, group: str, waited: float) -> None:
        """A caller of ``group`` hung up after waiting ``waited`` seconds."""

    def record_handle(self, group: str, handle_time: float) -> None:
        """An agent was occupied ``handle_time`` seconds by a call of ``group``
        (from the offer to the end of the group's wrap-up)."""

    @abstractmethod
    def estimate(self, query: WaitQuery) -> float:
        """Seconds until the caller is expected to be answered (>= 0)."""


class _SeededWindow:
    """Mean of the last ``size`` samples, seeded with ``size`` copies of ``default``.

    Real samples push the seed out one by one, so a new group starts from
    the configured default and follows its own data after ``size`` calls.
    A ring buffer: adding a sample is O(1) and allocates nothing.
    """

    __slots__ = ("size", "default", "samples", "total", "_next")

    def __init__(self, size: int, default: float) -> None:
        self.size = size
        self.default = default
        self.samples: list[float] = []
        self.total = 0.0
        self._next = 0  # the slot the next sample overwrites, once full

    def add(self, value: float) -> None:
        samples = self.samples
        if len(samples) < self.size:
            samples.append(value)
            self.total += value
            return
        slot = self._next
        self.total += value - samples[slot]
        samples[slot] = value
        self._next = slot + 1 if slot + 1 < self.size else 0

    def seeded_total(self) -> float:
        return self.total + (self.size - len(self.samples)) * self.default


class _AbandonWindow:
    """Abandons and waiting exposure of the last ``size`` callers who left the queue.

    With exponential patience the maximum-likelihood abandon rate is
    ``abandons / total time spent waiting`` (answered callers' waits count
    as exposure too: they were at risk and stayed). A ring buffer of waits,
    abandons stored as negative waits (``-1 - wait``).
    """

    __slots__ = ("size", "outcomes", "exposure", "abandons", "_next")

    def __init__(self, size: int) -> None:
        self.size = size
        self.outcomes: list[float] = []
        self.exposure = 0.0
        self.abandons = 0
        self._next = 0

    def add(self, waited: float, abandoned: bool) -> None:
        outcomes = self.outcomes
        self.exposure += waited
        if abandoned:
            self.abandons += 1
        entry = -1.0 - waited if abandoned else waited
        if len(outcomes) < self.size:
            outcomes.append(entry)
            return
        slot = self._next
        old = outcomes[slot]
        if old < 0:
            self.exposure -= -1.0 - old
            self.abandons -= 1
        else:
            self.exposure -= old
        outcomes[slot] = entry
        self._next = slot + 1 if slot + 1 < self.size else 0


class ErlangMedianEstimator(WaitEstimator):
    """Median wait from the caller's position, in an Erlang A (M/M/c+M) view.

    With ``c`` agents working, each finishing a call at rate ``mu``, the next
    agent frees up after an exponential time of rate ``c·mu`` (memoryless:
    how long the current calls have lasted does not matter). A caller with
    ``p`` calls ahead is answered after ``p + 1`` such departures, so without
    abandonment the wait is Erlang(p + 1, c·mu), a Gamma distribution.

    Callers ahead abandon too. While ``j`` callers are ahead, the caller moves
    up at rate ``c·mu + j·theta`` (an agent frees up, or one of the ``j``
    hangs up), so the wait of a caller who stays is a sum of exponential
    stages with rates ``c·mu + j·theta``, ``j = p..0``: exactly

        mean     = sum_{j=0..p} 1 / (c·mu + j·theta)
        variance = sum_{j=0..p} 1 / (c·mu + j·theta)²

    The estimate is the median of the Gamma distribution with that mean and
    variance (shape ``mean²/variance``, rate ``mean/variance``). Without
    abandonment this is exactly Erlang(p + 1, c·mu); with it, matching two
    moments keeps the median within about 1 % of the true one in simulations
    (matching the mean alone with rate ``c·mu``, i.e. Erlang(p_eff + 1, c·mu)
    with ``p_eff + 1 = c·mu·mean``, errs by up to 4 %, always low). The median
    is what half of the callers beat; :func:`runtime.acd.erlang.gamma_median`.

    The remaining inputs come from recent history, per group: ``mu`` is 1 /
    the mean handle time of the last ``window`` calls of the caller's groups
    (pooled, each group seeded with ``window`` copies of
    ``default_handle_time``; handle time is the agent's occupation from offer
    to the end of wrap-up). ``theta`` is abandons / time spent waiting over
    the last ``window`` callers who left those groups, the maximum-likelihood
    rate for exponential patience (0 until someone abandons).

    The window is 500 calls: with exponential handle times a mean over 100
    calls is off by ±10 % (one standard error), which showed as 14 % more
    error than the best possible estimate at 100 agents; over 500 calls the
    error is within 5 % of the best possible (benchmarks/bench_estimator.py).
    A longer window adapts more slowly to a change in handle times.
    """

    def __init__(self, default_handle_time: float = 180.0, window: int = 500) -> None:
        if not default_handle_time > 0:
            raise ValueError("default_handle_time must be > 0")
        if window < 1:
            raise ValueError("window must be >= 1")
        self.default_handle_time = float(default_handle_time)
        self.window = window
        self._handle_times: dict[str, _SeededWindow] = {}
        self._abandons: dict[str, _AbandonWindow] = {}

    def record_answer(self, group: str, waited: float) -> None:
        self._abandon_window(group).add(waited, False)

    def record_abandon(self, group: str, waited: float) -> None:
        self._abandon_window(group).add(waited, True)

    def record_handle(self, group: str, handle_time: float) -> None:
        window = self._handle_times.get(group)
        if window is None:
            window = _SeededWindow(self.window, self.default_handle_time)
            self._handle_times[group] = window
        window.add(handle_time)

    def mean_handle_time(self, groups: tuple[str, ...]) -> float:
        """Pooled mean handle time of these groups' recent calls (seconds)."""
        total = 0.0
        for group in groups:
            window = self._handle_times.get(group)
            total += window.seeded_total() if window else self.window * self.default_handle_time
        return total / (self.window * len(groups)) if groups else self.default_handle_time

    def abandon_rate(self, groups: tuple[str, ...]) -> float:
        """Recent abandons per second of waiting, pooled over these groups."""
        abandons, exposure = 0, 0.0
        for group in groups:
            window = self._abandons.get(group)
            if window is not None:
                abandons += window.abandons
                exposure += window.exposure
        return abandons / exposure if exposure > 0 else 0.0

    def estimate(self, query: WaitQuery) -> float:
        if query.agents <= 0:
            return math.inf
        if query.calls_ahead <= 0 and query.ready_agents > 0:
            return 0.0
        departure_rate = query.agents / self.mean_handle_time(query.groups)
        relative_abandon = self.abandon_rate(query.groups) / departure_rate
        mean, variance = wait_moments(query.calls_ahead, relative_abandon)
        shape = mean * mean / variance
        return gamma_median(shape) * variance / mean / departure_rate

    def _abandon_window(self, group: str) -> _AbandonWindow:
        window = self._abandons.get(group)
        if window is None:
            window = self._abandons[group] = _AbandonWindow(self.window)
        return window


def wait_moments(calls_ahead: int, relative_abandon: float) -> tuple[float, float]:
    """Mean and variance of the wait of a caller who stays, in units of ``1/(c·mu)``.

    ``sum_{j=0..p} 1/(1 + j·r)`` and ``sum_{j=0..p} 1/(1 + j·r)²`` with
    ``r = theta/(c·mu)``: summed directly for short queues, and for long ones
    written with the digamma and trigamma functions,
    ``(psi(1/r + p + 1) - psi(1/r)) / r`` and
    ``(psi1(1/r) - psi1(1/r + p + 1)) / r²``.
    """
    stages = calls_ahead + 1.0
    if relative_abandon <= 0.0 or calls_ahead == 0:
        return stages, stages
    if calls_ahead <= 64:
        speeds = [1.0 / (1.0 + j * relative_abandon) for j in range(calls_ahead + 1)]
        return math.fsum(speeds), math.fsum(v * v for v in speeds)
    start = 1.0 / relative_abandon
    end = start + calls_ahead + 1.0
    mean = (digamma(end) - digamma(start)) * start
    variance = (trigamma(start) - trigamma(end)) * start * start
    return mean, variance


class AsteriskEstimator(WaitEstimator):
    """Asterisk ``app_queue``'s estimated hold time, for comparison.

    As in ``apps/app_queue.c`` (``recalc_holdtime`` and ``say_position``):
    each queue keeps one ``holdtime``, the exponential average
    ``holdtime = (3·old + new) / 4`` of the *waits* of answered calls, updated
    on answer only (the first call of a queue sets it outright; abandons and
    handle times are ignored). A caller who has waited ``w`` seconds hears
    ``|holdtime - w|``: the same figure whatever the position or the number
    of agents, and, because Asterisk takes the absolute value, one that grows
    again once the caller has waited longer than the average. Asterisk works
    in whole seconds and rounds to minutes for the announcement; this class
    keeps the fractions, rounding is presentation. A caller in several groups
    uses the group it joined first.
    """

    def __init__(self) -> None:
        self._holdtime: dict[str, float] = {}

    def record_answer(self, group: str, waited: float) -> None:
        old = self._holdtime.get(group)
        self._holdtime[group] = waited if old is None else (3.0 * old + waited) / 4.0

    def record_abandon(self, group: str, waited: float) -> None:
        # Asterisk's first-sample rule counts abandons too: after an abandon the
        # next answer is averaged with the (zero) holdtime rather than taken as is.
        self._holdtime.setdefault(group, 0.0)

    def holdtime(self, group: str) -> float:
        """The group's current ``holdtime`` (0 before its first answer)."""
        return self._holdtime.get(group, 0.0)

    def estimate(self, query: WaitQuery) -> float:
        if query.agents <= 0:
            return math.inf
        if query.calls_ahead <= 0 and query.ready_agents > 0:
            return 0.0
        group = query.groups[0] if query.groups else ""
        return abs(self.holdtime(group) - query.waited)
