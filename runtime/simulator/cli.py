"""``qscript simulate``: run a script against a traffic model and a staffing plan."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape

from qscript.cli import EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, load_program_or_exit
from qscript.console import make_console

from runtime.core.center import ProgramTable
from .checks import check_model
from .model import ModelError, load_model
from .report import build_report, render
from .runner import run_replication


def load_site_or_exit(site_path: str | None, console: Console):
    if site_path is None:
        return None
    from ..site import SiteError, load_site
    try:
        site = load_site(site_path)
        site.commands  # imported on first use: a failing import is reported here, located
        return site
    except SiteError as error:
        console.print(f"[red]{escape(error.render())}[/]")
        sys.exit(EXIT_FINDINGS)


def _check_together(model, model_path: str, program, site, console: Console) -> list[str]:
    """Check the model against the script and the site; exit 1 on errors, return warnings."""
    errors, warnings = check_model(model, program, site, model_path)
    if errors:
        try:
            sources = {model_path: Path(model_path).read_text(encoding="utf-8-sig")}
        except (OSError, UnicodeDecodeError):
            sources = {}
        console.print(f"[red]{escape(ModelError(errors, sources).render())}[/]")
        sys.exit(EXIT_FINDINGS)
    return warnings


@contextlib.contextmanager
def quiet_call_logs():
    """Keep the runtime's per-call log lines (a failed call's error, ...) off the
    terminal while simulating: the report lists the errors once each, and a
    script failing on every call would otherwise print a line per call
    (100,000 for a busy day). QSCRIPT_DEBUG=1 shows them."""
    runtime_log = logging.getLogger("qscript")
    level = runtime_log.level
    if not os.environ.get("QSCRIPT_DEBUG"):
        runtime_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        runtime_log.setLevel(level)


def _check_records(records: str, replications: int, console: Console) -> None:
    """--records writes one day: refuse what would mix days or overwrite one."""
    if replications > 1:
        # Replications are the same day drawn again: written together, a report
        # would count every call of that day several times.
        console.print(f"[red]error[/]: --records {escape(records)}: a statistics database holds "
                      "one simulated day; use --replications 1 (run again with another --seed "
                      "and another file for more)")
        sys.exit(EXIT_USAGE)
    if "://" not in records:
        path = Path(records)
        if path.exists():
            console.print(f"[red]error[/]: --records {escape(records)}: the file exists; a "
                          "simulated day goes into a new file (remove it or choose another name)")
            sys.exit(EXIT_USAGE)
        if not path.parent.resolve().is_dir():
            console.print(f"[red]error[/]: --records {escape(records)}: the folder "
                          f"{escape(str(path.parent))} does not exist")
            sys.exit(EXIT_USAGE)


class _ModelGroup:
    """A group the site does not define: the model's service-level threshold."""

    def __init__(self, threshold: float) -> None:
        self.service_level_threshold = threshold
        from runtime.store.facts import DEFAULT_SHORT_ABANDON_THRESHOLD
        self.short_abandon_threshold = DEFAULT_SHORT_ABANDON_THRESHOLD


def _write_records(records: str, sink, model, site, console: Console) -> None:
    """The simulated day into the statistics database: its clock starts at the model's
    start, read in the site's time zone (without a site, the computer's)."""
    from runtime.store.facts import WallClock
    from runtime.store.writer import StatisticsWriter
    zone = getattr(site, "timezone", None)
    start = model.start.replace(tzinfo=zone) if zone is not None else model.start.astimezone()
    groups: dict = {name: _ModelGroup(model.service_level_threshold)
                    for team in model.agents for name in team.groups}
    groups.update(getattr(site, "groups", {}) or {})
    try:
        writer = StatisticsWriter(records)
        try:
            writer.write(sink.contacts, sink.intervals, sink.events, clock=WallClock(start),
                         groups=groups)
        finally:
            writer.close()
    except Exception as error:  # noqa: BLE001 - a database that refuses: a message, not a traceback
        console.print(f"[red]error[/]: --records {escape(records)}: cannot write the statistics: "
                      f"{escape(str(error).splitlines()[0] if str(error) else type(error).__name__)}")
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.argument("script", type=click.Path())
@click.option("--site", "site_path", type=click.Path(),
              help="Site configuration (groups, calendars, prompts, lookups).")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="Traffic model (YAML): arrivals, handle times, patience, agents.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed.")
@click.option("--replications", default=1, show_default=True, type=click.IntRange(1, 1000),
              help="Independent runs (seeds seed, seed+1, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--estimator", type=click.Choice(["erlang", "asterisk"]), default=None,
              help="Override the model's wait estimator.")
@click.option("--records", "records", metavar="FILE.db",
              help="Write the simulated day to a statistics database (a new SQLite file, or a "
                   "URL) for `qscript report`; one replication only.")
def simulate(script: str, site_path: str | None, model_path: str, seed: int, replications: int,
             as_json: bool, estimator: str | None, records: str | None) -> None:
    """Simulate calls through SCRIPT with a traffic model; report service level, ASA, ..."""
    console = make_console(stderr=True)
    if records is not None:
        _check_records(records, replications, console)
    site = load_site_or_exit(site_path, console)
    symbols = site.symbols() if site is not None else None
    program = load_program_or_exit(script, symbols)
    try:
        model = load_model(model_path)
    except ModelError as error:
        console.print(f"[red]{escape(error.render())}[/]")
        sys.exit(EXIT_FINDINGS)
    warnings = _check_together(model, model_path, program, site, console)
    if estimator:
        from dataclasses import replace
        model = replace(model, estimator=estimator)
    programs = ProgramTable({"default": program})
    sink = None
    if records is not None:
        from runtime.core.statistics import CollectingSink
        sink = CollectingSink()
    results = []
    started = time.perf_counter()
    show_progress = not as_json and console.is_terminal
    with quiet_call_logs(), \
            Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                     TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                     console=console, disable=not show_progress, transient=True) as progress:
        task = progress.add_task("simulating", total=replications)
        for index in range(replications):
            def on_progress(fraction, index=index):
                progress.update(task, completed=index + fraction)
            try:
                results.append(run_replication(programs, model, site, seed + index,
                                               on_progress if show_progress else None,
                                               statistics=sink))
            except SystemExit as error:
                # A sys.exit deep inside would end the run with its code (0: as if
                # it had succeeded), and no report.
                console.print(f"[bold red]internal error[/]: the simulation called "
                              f"sys.exit({error.code!r})\nThis is a bug in QScript: please "
                              "report it.")
                sys.exit(EXIT_INTERNAL)
            progress.update(task, completed=index + 1)
    targets = {name: group.service_level_target for name, group in site.groups.items()} \
        if site is not None else None
    if sink is not None and records is not None:
        _write_records(records, sink, model, site, console)
    report = build_report(model, results, program, time.perf_counter() - started, targets)
    report["warnings"] = warnings + report["warnings"]
    report["script"] = str(Path(script))
    report["model_file"] = str(Path(model_path))
    if as_json:
        for warning in report["warnings"]:
            console.print(f"[yellow]warning[/]: {escape(warning)}")
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        render(report, make_console(soft_wrap=False))  # tables, not error lines: laid out to fit
    sys.exit(EXIT_OK)
