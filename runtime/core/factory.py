"""The one way a contact centre is built, for both drivers and the scenario tests.

The live runtime, the simulator and ``qscript test`` each put a driver and
the scripts together with a site. Built in three places, they would drift
apart (one forgetting the site's custom commands, another its hot
prompts), and the same script would then behave differently in simulation
and live. So they all call :func:`build_center`; what is particular to one
of them (a simulation's estimator, a live runtime's stored history) is an
argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from runtime.acd import AcdEngine
from runtime.core.center import CallHistory, ContactCenter, ProgramTable
from runtime.core.driver import Driver
from runtime.core.records import CallRecord

if TYPE_CHECKING:   # (imported only when a sink is given: plain simulations never load it)
    from runtime.core.statistics import StatisticsSink


def build_center(driver: Driver, programs: ProgramTable, site: Any = None, *,
                 acd: AcdEngine | None = None, history: CallHistory | None = None,
                 on_record: Callable[[CallRecord], None] | None = None,
                 coverage: dict | None = None, hot_prompts: dict[str, bool] | None = None,
                 fallback_group: str | None = None,
                 step_budget: int | None = None,
                 statistics: "StatisticsSink | None" = None) -> ContactCenter:
    """A centre for ``driver`` running ``programs`` on ``site``, and the
    driver attached to it (it reports calls' outside events to it).

    The site gives the answer groups (unless ``acd`` is given), the fallback
    group, the languages, the hot prompts' initial states and the custom
    commands with their timeout. ``hot_prompts`` overrides some of those
    states (a traffic model's or a scenario's); ``coverage`` collects branch
    coverage; ``on_record`` receives every finished call's record;
    ``fallback_group`` replaces the site's, ``step_budget`` the VM's default
    (tests of the limits). ``statistics`` receives the statistics facts of every
    call and agent (runtime/core/statistics.py; None: none are made, at no cost).
    """
    center = ContactCenter(driver, programs, site=site, acd=acd, history=history,
                           on_record=on_record, coverage=coverage, fallback_group=fallback_group,
                           step_budget=step_budget, statistics=statistics)
    commands = getattr(site, "commands", None) if site is not None else None
    if commands:
        center.commands = commands
    if hot_prompts:
        center.hot_prompts.update(hot_prompts)
    driver.center = center
    return center
