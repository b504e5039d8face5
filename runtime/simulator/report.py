"""The simulation report: figures pooled over replications, as JSON or rich tables.

Counts (offered, answered, ...) are means per replication; rates (service
level, abandon rate, ASA) are pooled over all replications' calls; the 95%
confidence half-width of each rate comes from the spread between
replications (Student's t), so more replications give tighter figures.
See :mod:`runtime.simulator.stats` for the definitions.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .coverage import branches_by_line
from .model import DRAIN_LIMIT, Model
from .runner import Replication
from .stats import Counters, EstimateAccuracy, summed

# Two-sided 95% Student t quantiles for n-1 degrees of freedom (n = replications).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}

_RATES = ("service_level", "asa_s", "abandon_rate", "occupancy")


def _t95(degrees: int) -> float:
    if degrees <= 0:
        return math.nan
    keys = [k for k in sorted(_T95) if k <= degrees]
    return _T95[keys[-1]] if degrees <= 30 else 1.96


def _figures(counters: list[Counters]) -> dict:
    pooled = summed(counters)
    figures = pooled.summary()
    n = len(counters) or 1
    for key in ("calls_arrived", "calls_not_queued", "calls_offered", "calls_answered",
                "calls_abandoned", "voicemails", "transfers", "callbacks_pending", "failed",
                "calls_unfinished"):
        value = figures[key] / n
        figures[key] = int(value) if n == 1 else round(value, 1)
    return figures


def _occupancy(replications: list[Replication]) -> float | None:
    """Talk time ÷ logged-in time of the agents, within the measured period (pooled)."""
    staffed = sum(r.staffed_seconds for r in replications)
    return sum(r.stats.talk_seconds for r in replications) / staffed if staffed else None


def _totals(replications: list[Replication]) -> dict:
    figures = _figures([r.stats.totals for r in replications])
    figures["occupancy"] = _occupancy(replications)
    return figures


def build_report(model: Model, replications: list[Replication], program=None,
                 elapsed: float | None = None,
                 targets: dict[str, float] | None = None) -> dict:
    """The report; ``targets`` are the site's service-level targets by group (fractions),
    against which each group's service level is judged."""
    totals = _totals(replications)
    per_replication = [_totals([r]) for r in replications]
    confidence = {}
    if len(replications) > 1:
        for key in _RATES:
            values = [f[key] for f in per_replication if f.get(key) is not None]
            if len(values) > 1:
                confidence[key] = _t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    group_names = sorted({g for r in replications for g in r.stats.groups})
    groups = {g: _figures([r.stats.groups[g] for r in replications if g in r.stats.groups])
              for g in group_names}
    for name, figures in groups.items():
        target = (targets or {}).get(name)
        if target is not None:
            level = figures.get("service_level")
            figures["service_level_target"] = target
            figures["service_level_met"] = None if level is None else level >= target
    slots = sorted({s for r in replications for s in r.stats.intervals})
    intervals = []
    for slot in slots:
        figures = _figures([r.stats.intervals[slot] for r in replications
                            if slot in r.stats.intervals])
        begin = model.start + dt.timedelta(seconds=slot * model.interval)
        intervals.append({"start": begin.isoformat(timespec="minutes"), **figures})
    estimate = EstimateAccuracy()
    for r in replications:
        estimate.count += r.stats.estimate.count
        estimate.total_absolute_error += r.stats.estimate.total_absolute_error
        estimate.longer_than_announced += r.stats.estimate.longer_than_announced
    calls = sum(r.calls_simulated for r in replications)
    report = {
        "model": {"start": model.start.isoformat(), "duration_s": model.duration,
                  "warmup_s": model.warmup, "service_level_threshold_s": model.service_level_threshold,
                  "estimator": model.estimator},
        "replications": len(replications),
        "seeds": [r.seed for r in replications],
        "totals": totals,
        "confidence95": confidence,
        "groups": groups,
        "intervals": intervals,
        "estimated_wait": estimate.summary(),
        "branches": _branches(replications, program),
        "survey": _merge_saved(replications),
        "errors": sorted({e for r in replications for e in r.stats.errors})[:10],
        "warnings": _warnings(totals),
        "per_replication": per_replication,
        "performance": {"calls_simulated": calls, "events": sum(r.events for r in replications),
                        "seconds": elapsed,
                        "calls_per_second": calls / elapsed if elapsed else None},
    }
    return report


def _warnings(totals: dict) -> list[str]:
    """What the figures do not say by themselves."""
    warnings = []
    if totals["calls_unfinished"]:
        warnings.append(
            f"{totals['calls_unfinished']} calls (per replication) had not ended when the run "
            f"stopped ({DRAIN_LIMIT / 3600:g}h after the arrivals, or when nothing more could "
            "happen): nobody answered them; they count as offered and not answered. "
            "Check the agents' groups and shifts")
    return warnings


def _merge_saved(replications: list[Replication]) -> dict:
    merged: dict[str, dict[str, int]] = {}
    for r in replications:
        for key, counts in r.stats.saved.items():
            target = merged.setdefault(key, {})
            for value, count in counts.items():
                target[value] = target.get(value, 0) + count
    return merged


def _branches(replications: list[Replication], program) -> list[dict]:
    """How often the conditions on each line went each way (all replications)."""
    if program is None:
        return []
    counts: dict[int, int] = {}
    for r in replications:
        for pc, count in r.coverage.get(program.hash_hex, {}).items():
            counts[pc] = counts.get(pc, 0) + count
    return branches_by_line(program, counts)


# ------------------------------------------------------------------ rendering


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _secs(value) -> str:
    return "—" if value is None else f"{value:.1f}s"


def _ci(report: dict, key: str, scale: float = 100.0, unit: str = "%") -> str:
    half = report["confidence95"].get(key)
    return "" if half is None else f" ±{half * scale:.1f}{unit}"


def _judged(figures: dict) -> str:
    """A group's service level, and against its site target when it has one."""
    level, target = figures["service_level"], figures.get("service_level_target")
    if target is None:
        return _pct(level)
    if level is None:
        return f"— (target {_pct(target)})"
    if level >= target:
        return f"[green]{_pct(level)} ≥ {_pct(target)} target[/]"
    return f"[red]{_pct(level)} < {_pct(target)} target[/]"


def render(report: dict, console: Console) -> None:
    totals = report["totals"]
    table = Table(title=f"Simulation: {report['replications']} replication(s)", show_lines=False)
    for column in ("group", "offered", "answered", "abandoned", "service level", "ASA",
                   "abandon rate", "occupancy"):
        table.add_column(column, justify="right" if column != "group" else "left")
    for name, figures in report["groups"].items():
        table.add_row(escape(name), str(figures["calls_offered"]), str(figures["calls_answered"]),
                      str(figures["calls_abandoned"]), _judged(figures),
                      _secs(figures["asa_s"]), _pct(figures["abandon_rate"]), "")
    table.add_row("[bold]total[/]", str(totals["calls_offered"]), str(totals["calls_answered"]),
                  str(totals["calls_abandoned"]),
                  _pct(totals["service_level"]) + _ci(report, "service_level"),
                  _secs(totals["asa_s"]) + _ci(report, "asa_s", 1, "s"),
                  _pct(totals["abandon_rate"]) + _ci(report, "abandon_rate"),
                  _pct(totals["occupancy"]))
    console.print(table)
    other = {k: totals[k] for k in ("calls_not_queued", "voicemails", "transfers",
                                     "callbacks_pending", "failed", "calls_unfinished")
             if totals[k]}
    if other:
        console.print("Other outcomes: " + ", ".join(f"{k} {v}" for k, v in other.items()))
    if report["intervals"]:
        intervals = Table(title="Per interval (by arrival time)")
        for column in ("from", "offered", "answered", "abandoned", "service level", "ASA"):
            intervals.add_column(column, justify="right")
        for row in report["intervals"]:
            intervals.add_row(row["start"][11:], str(row["calls_offered"]), str(row["calls_answered"]),
                              str(row["calls_abandoned"]), _pct(row["service_level"]),
                              _secs(row["asa_s"]))
        console.print(intervals)
    estimate = report["estimated_wait"]
    if estimate["callers"]:
        console.print(f"Estimated wait (told on joining the queue) vs actual, "
                      f"{estimate['callers']} answered callers who waited: mean absolute error "
                      f"{_secs(estimate['mean_absolute_error_s'])}, waited longer than told: "
                      f"{_pct(estimate['share_waited_longer'])}")
    if report["branches"]:
        branches = Table(title="Script branches taken (conditions, by line)")
        branches.add_column("line", justify="right")
        branches.add_column("source")
        branches.add_column("true", justify="right")
        branches.add_column("false", justify="right")
        for row in report["branches"]:
            branches.add_row(str(row["line"]), escape(row["source"]), str(row["true"]),
                             str(row["false"]))
        console.print(branches)
    for key, counts in report["survey"].items():
        console.print(escape(f"Saved {key!r}: " + ", ".join(f"{v}: {n}"
                                                            for v, n in sorted(counts.items()))))
    # Error and warning lines carry file:line:col: never wrapped (the tables
    # above are laid out to fit the terminal, these lines are not).
    for error in report["errors"]:
        console.print(f"[red]script error[/]: {escape(str(error))}", soft_wrap=True)
    for warning in report["warnings"]:
        console.print(f"[yellow]warning[/]: {escape(warning)}", soft_wrap=True)
    performance = report["performance"]
    if performance["seconds"]:
        console.print(f"[dim]{performance['calls_simulated']:,} calls simulated in "
                      f"{performance['seconds']:.2f}s ({performance['calls_per_second']:,.0f} calls/s)[/]")
