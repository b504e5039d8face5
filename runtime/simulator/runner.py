"""Running simulations: replications of a model through compiled scripts.

Each replication is an independent run with its own seed (``seed + i``): the
same seed gives the same result. A run puts the model's arrivals through the
same :class:`~runtime.core.center.ContactCenter`, call sessions, VM and ACD as the
live runtime, with :class:`~runtime.simulator.driver.SimDriver` as driver —
every simulated call really executes the compiled script.
"""

from __future__ import annotations

import gc
import random
from functools import partial
from dataclasses import dataclass, field
from typing import Any, Callable

from ..acd import AcdEngine, AnswerGroup
from ..acd.estimators import AsteriskEstimator, ErlangMedianEstimator
from runtime.core.center import ContactCenter, ProgramTable
from runtime.core.factory import build_center
from runtime.core.driver import CallInfo
from runtime.core.records import CallRecord
from ..vm.machine import reads_caller_history
from .driver import SimDriver
from .events import EventLoop
from .model import DRAIN_LIMIT, Model
from .sampling import exponential_gap
from .stats import RunStats


@dataclass
class Replication:
    seed: int
    stats: RunStats
    coverage: dict[str, dict[int, int]]
    calls_simulated: int
    events: int
    mails_sent: int
    #: Agent-seconds logged in within the measured period (occupancy's denominator).
    staffed_seconds: float = 0.0


def _agent_groups(model: Model, site) -> list[AnswerGroup]:
    groups: dict[str, AnswerGroup] = {}
    if site is not None:
        for name, group in site.groups.items():
            groups[name] = AnswerGroup(name, group.service_level_threshold, group.wrap_up)
    for team in model.agents:
        for name in team.groups:
            groups.setdefault(name, AnswerGroup(name, model.service_level_threshold))
    return list(groups.values())


class _Roster:
    """Logs simulated agents in and out according to their shifts, and keeps
    their logged-in time within the measured period (for occupancy).

    An agent whose shift ends finishes the call they are on (and its wrap-up),
    takes no new one, and logs out then.
    """

    def __init__(self, center: ContactCenter, loop: EventLoop, model: Model):
        self.center, self.loop, self.model = center, loop, model
        self.measured_from, self.measured_to = model.warmup, model.duration
        self._logged_in_at: dict[str, float] = {}
        #: Agent-seconds logged in within the measured period, of agents logged out.
        self._staffed = 0.0

    def start(self) -> None:
        start_minute = self.model.start.hour * 60 + self.model.start.minute
        for team in self.model.agents:
            for number in range(team.count):
                agent_id = f"{team.name}-{number + 1}"
                if team.shift is None:
                    self._login(agent_id, team.groups)
                    continue
                begin = (team.shift[0] - start_minute) * 60.0
                end = (team.shift[1] - start_minute) * 60.0
                self.loop.call_later(max(0.0, begin),
                                     partial(self._login, agent_id, team.groups))
                self.loop.call_later(max(0.0, end), partial(self._logout, agent_id))

    def _login(self, agent_id: str, groups: dict[str, int]) -> None:
        self._logged_in_at[agent_id] = self.loop.now
        self.center.agent_login(agent_id, dict(groups))

    def _logout(self, agent_id: str) -> None:
        self.center.agent_logout_when_free(agent_id, partial(self._logged_out, agent_id))

    def _logged_out(self, agent_id: str) -> None:
        self._staffed += self._measured(self._logged_in_at.pop(agent_id), self.loop.now)

    def _measured(self, begin: float, end: float) -> float:
        return max(0.0, min(end, self.measured_to) - max(begin, self.measured_from))

    def staffed_seconds(self) -> float:
        """Agent-seconds logged in within the measured period (warm-up to duration)."""
        return self._staffed + sum(self._measured(begin, self.measured_to)
                                   for begin in self._logged_in_at.values())


def run_replication(programs: ProgramTable, model: Model, site=None, seed: int = 0,
                    on_progress: Callable[[float], None] | None = None,
                    estimator=None,
                    on_record: Callable[[CallRecord], None] | None = None,
                    statistics: Any = None) -> Replication:
    """One independent run; ``estimator`` overrides the model's wait estimator;
    ``on_record`` sees every call's record too (tests, tools); ``statistics`` (a
    runtime.core.statistics.StatisticsSink) receives the statistics facts of the day (``--records``), the agents'
    intervals still open when the run stops ended then."""
    rng = random.Random(seed)
    loop = EventLoop()
    driver = SimDriver(loop, model, rng)
    if estimator is None:
        estimator = AsteriskEstimator() if model.estimator == "asterisk" else \
            ErlangMedianEstimator(default_handle_time=model.handle_time.mean or 180.0)
    acd = AcdEngine(_agent_groups(model, site), estimator=estimator)
    stats = RunStats(model.warmup, model.service_level_threshold, model.interval,
                     {name: group.service_level_threshold
                      for name, group in getattr(site, "groups", {}).items()},
                     measured_until=model.duration)
    coverage: dict[str, dict[int, int]] = {}
    record: Callable[[CallRecord], None] = stats.add
    if on_record is not None:
        also = on_record

        def record(call: CallRecord) -> None:
            stats.add(call)
            also(call)
    center = build_center(driver, programs, site, acd=acd, on_record=record, coverage=coverage,
                          hot_prompts=model.hot_prompts, statistics=statistics)
    center.history.enabled = any(reads_caller_history(p) for _, p in programs.items())
    center.no_answer_pause = model.no_answer_pause
    roster = _Roster(center, loop, model)
    roster.start()
    calls = _Arrivals(model, rng, loop, driver, center, on_progress)
    calls.start()
    # A run allocates millions of short-lived objects and keeps its sessions in
    # plain containers; the cyclic collector's passes over them cost ~15% of
    # the run and free nothing that reference counting does not.
    collecting = gc.isenabled()
    gc.disable()
    try:
        loop.run(until=model.duration + DRAIN_LIMIT)
    finally:
        if collecting:
            gc.enable()
    _count_unfinished(center, stats)
    if center.facts is not None:
        center.facts.close()
    return Replication(seed, stats, coverage, calls.count, loop.events_run, driver.mails_sent,
                       roster.staffed_seconds())


def _count_unfinished(center: ContactCenter, stats: RunStats) -> None:
    """Count the calls still in progress when the run stopped: they have no
    record yet, and would be missing from the report."""
    from runtime.core.session import State
    for session in center.sessions_in_progress():
        stats.add(session.record, unfinished=session.state is not State.CALLBACK)


class _Arrivals:
    """A non-homogeneous Poisson arrival process (piecewise-constant rates)."""

    def __init__(self, model: Model, rng: random.Random, loop: EventLoop, driver: SimDriver,
                 center: ContactCenter, on_progress: Callable[[float], None] | None):
        self.model, self.rng, self.loop = model, rng, loop
        self.driver, self.center = driver, center
        self.on_progress = on_progress
        self.duration = model.duration
        self._uniform = rng.random
        self._random_bits = rng.getrandbits
        self._arrive_event = self._arrive
        self.count = 0
        self._numbers = list(model.dialled)
        self._weights = [model.dialled[n] for n in self._numbers]
        self._returning: list[str] = []
        self._next_progress = 0.0
        # The arrival rate is piecewise constant: the current piece, so that
        # the model is asked only when it may change.
        self._rate = 0.0
        self._piece_start = 0.0
        self._piece_end = -1.0

    def start(self) -> None:
        self._schedule_next(0.0)

    def _schedule_next(self, now: float) -> None:
        model = self.model
        duration = self.duration
        while now < duration:
            if not self._piece_start <= now < self._piece_end:
                self._rate = model.rate_at(now)
                self._piece_start = now
                self._piece_end = min(model.next_rate_change(now), duration)
            rate, change = self._rate, self._piece_end
            if rate <= 0:
                now = change
                continue
            candidate = now + exponential_gap(self._uniform, rate)
            if candidate < change:
                self.loop.set_source_next(candidate, self._arrive_event)
                return
            now = change  # memoryless: draw again at the rate change

    def _caller_number(self) -> str:
        model, rng = self.model, self.rng
        if model.withheld_share and rng.random() < model.withheld_share:
            return ""
        if model.repeat_share and self._returning and rng.random() < model.repeat_share:
            return rng.choice(self._returning)
        # rng.randrange(10**8), inlined (the same draws): a uniform 27-bit
        # number, drawn again while out of range.
        serial = self._random_bits(27)
        while serial >= 100_000_000:
            serial = self._random_bits(27)
        number = "07" + str(100_000_000 + serial)[1:]  # zero-padded to 8 digits
        if model.repeat_share and len(self._returning) < 5000:
            self._returning.append(number)
        return number

    def _arrive(self, _: object = None) -> None:
        now = self.loop.now
        self.count += 1
        dialled = self._numbers[0] if len(self._numbers) == 1 else \
            self.rng.choices(self._numbers, weights=self._weights)[0]
        call = CallInfo(f"c{self.count}", self._caller_number(), dialled, arrived_at=now)
        self.driver.new_leg(call)
        self.center.incoming_call(call)
        if self.on_progress is not None and now >= self._next_progress:
            self._next_progress = now + self.model.duration / 100
            self.on_progress(now / self.model.duration)
        self._schedule_next(now)


@dataclass
class SimulationResult:
    model: Model
    replications: list[Replication] = field(default_factory=list)
