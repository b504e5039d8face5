"""``qscript test``: run scenario files against their scripts."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape

from qscript.cli import EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, load_program_or_exit
from qscript.console import make_console

from runtime.simulator.cli import quiet_call_logs
from runtime.simulator.scenarios import (ScenarioError, check_suite, load_scenarios, run_scenario,
                        uncovered_branches)


@click.command(name="test")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--coverage/--no-coverage", default=True, show_default=True,
              help="Report script branches no scenario took.")
def test_command(files: tuple[str, ...], as_json: bool, coverage: bool) -> None:
    """Run scenario files (YAML): scripted callers and agents, with expectations."""
    console = make_console()
    errors = make_console(stderr=True)
    results_json = []
    failed = 0
    total = 0
    internal = False
    for path in files:
        try:
            suite = load_scenarios(path)
        except ScenarioError as error:
            errors.print(f"[red]{escape(error.render())}[/]")
            failed += 1
            continue
        site = None
        if suite.site is not None:
            from runtime.simulator.cli import load_site_or_exit
            site = load_site_or_exit(str(suite.site), errors)
        program = load_program_or_exit(str(suite.script), site.symbols() if site else None)
        try:
            check_suite(suite, program, site)
        except ScenarioError as error:
            errors.print(f"[red]{escape(error.render())}[/]")
            failed += 1
            continue
        merged: dict[int, int] = {}
        for scenario in suite.scenarios:
            total += 1
            try:
                with quiet_call_logs():  # a failed call is in the result, not a log line
                    result = run_scenario(scenario, program, site, suite.start)
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # noqa: BLE001 - a bug, or a sys.exit deep inside
                # Never a pass (SystemExit(0) ended the run with exit 0), and the
                # other scenarios still run.
                internal = True
                failed += 1
                message = f"internal error: {type(error).__name__}: {error}"
                results_json.append({"file": path, "scenario": scenario.name, "passed": False,
                                     "failures": [message], "path": []})
                if not as_json:
                    console.print(f"[bold red]FAIL[/] {escape(path)}: {escape(scenario.name)}")
                    console.print(f"    {escape(message)} (a bug in QScript: please report it)")
                continue
            for pc, count in result.coverage.items():
                merged[pc] = merged.get(pc, 0) + count
            results_json.append({"file": path, "scenario": scenario.name,
                                 "passed": result.passed, "failures": result.failures,
                                 "path": [str(s) for s in result.path]})
            if result.passed:
                if not as_json:
                    console.print(f"[green]PASS[/] {escape(path)}: {escape(scenario.name)}")
                continue
            failed += 1
            if not as_json:
                console.print(f"[bold red]FAIL[/] {escape(path)}: {escape(scenario.name)}")
                for failure in result.failures:
                    console.print(f"    {escape(failure)}")
                for number, call in enumerate(result.calls, 1):
                    label = "path" if len(result.calls) == 1 else f"call {number} path"
                    console.print(f"    {label}: " + escape(" → ".join(str(s) for s in call.path)))
        if coverage and not as_json:
            missing = uncovered_branches(program, merged)
            points = 2 * sum(1 for _ in _branch_count(program))
            covered = points - len(missing)
            console.print(f"branch coverage of {escape(str(suite.script))}: {covered}/{points}"
                          + (f" ({100 * covered / points:.0f}%)" if points else ""))
            for line, text in missing:
                console.print(f"    [yellow]line {line}[/]: {escape(text)}")
    if as_json:
        click.echo(json.dumps(results_json, indent=2))
    else:
        console.print(f"{total - failed if total >= failed else 0} passed, {failed} failed")
    sys.exit(EXIT_INTERNAL if internal else EXIT_FINDINGS if failed else EXIT_OK)


def _branch_count(program):
    from runtime.simulator.scenarios import branch_points
    return branch_points(program)
