"""``qscript report KIND``: statistics from the database, as tables, CSV, JSON, Excel, PNG."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.markup import escape

from qscript.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from qscript.console import make_console

from .model import ReportError

QUEUE_LOG = "queue-log"
REBUILD = "rebuild"
FORMATS = ("table", "csv", "json", "xlsx")
_SUFFIXES = {".csv": "csv", ".json": "json", ".xlsx": "xlsx", ".txt": "table"}


def _kind_list() -> str:
    from .kinds import KINDS
    return ", ".join(list(KINDS) + [QUEUE_LOG, REBUILD])


class _Steps:
    """A rich progress display on a terminal (standard error); silent otherwise."""

    def __init__(self, console, enabled: bool):
        self.progress = None
        self.task = None
        if enabled:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                     TimeElapsedColumn(), console=console, transient=True)

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task("opening the database", total=None)
        return self

    def step(self, description: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=description)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()


def _output_format(fmt: str | None, output: str | None) -> str:
    if fmt is not None:
        return fmt
    if output is not None:
        suffix = Path(output).suffix.lower()
        if suffix in _SUFFIXES:
            return _SUFFIXES[suffix]
        raise ReportError(f'-o {output}: say which format with --format ({", ".join(FORMATS)}); '
                          "the name does not end in .csv, .json, .xlsx or .txt", EXIT_USAGE)
    return "table"


def _check_writable(path: str, option: str) -> None:
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise ReportError(f"{option} {path}: is a directory", EXIT_FINDINGS)
    if not parent.is_dir():
        raise ReportError(f"{option} {path}: the folder {parent} does not exist", EXIT_FINDINGS)
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ReportError(f"{option} {path}: cannot write there (permission denied)", EXIT_FINDINGS)


@click.command("report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("kind")
@click.option("--site", "site_path", type=click.Path(),
              help="Site file: the database, the time zone and the groups' targets.")
@click.option("--db", "--database", "db",
              help="The database instead: a URL or the path of an SQLite file.")
@click.option("--from", "start", metavar="WHEN",
              help="Start: 2026-06-01, \"2026-06-01 08:00\", today, yesterday (default today).")
@click.option("--to", "end", metavar="WHEN",
              help="End; a date includes that day (default: the --from day, or now).")
@click.option("--tz", "tz_name", metavar="ZONE",
              help="Time zone of the period and the output (default: the site's, else local).")
@click.option("--group", "groups", multiple=True, metavar="GROUP",
              help="Only these answer groups (repeat for several).")
@click.option("--dialled", metavar="NUMBER", help="Only calls to this number.")
@click.option("--caller", metavar="NUMBER", help="Only calls from this number.")
@click.option("--agent", metavar="AGENT", help="Only this agent (calls answered by them).")
@click.option("--outcome", type=click.Choice(["answered", "abandoned", "transferred", "voicemail",
                                              "callback", "hung_up", "failed"]),
              help="Only calls that ended so.")
@click.option("--interval", type=click.Choice(["15m", "30m", "1h", "day"]), default="1h",
              show_default=True, help="Interval of calls, staffing and service-level.")
@click.option("--by", type=click.Choice(["agent", "group"]), help="Survey: per agent or group.")
@click.option("--limit", type=click.IntRange(1), help="Log and ringback: at most N rows.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Output format (default: from the -o name, else a table).")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of the terminal.")
@click.option("--table", "table_name", metavar="NAME", help="CSV: which of the report's tables.")
@click.option("--chart", metavar="FILE.png", help="Also draw the report's chart as a PNG.")
def report(kind, site_path, db, start, end, tz_name, groups, dialled, caller, agent, outcome,
           interval, by, limit, fmt, output, table_name, chart):
    """Statistics from the database: KIND is daily, calls, log, agents, staffing,
    service-level, survey, weekday-hours, ringback or queue-log (see docs/reports.md);
    rebuild recomputes the kept 15-minute figures from the rows."""
    err = make_console(stderr=True)
    try:
        code = _run(kind, site_path, db, start, end, tz_name, groups, dialled, caller, agent,
                    outcome, interval, by, limit, fmt, output, table_name, chart, err)
    except ReportError as error:
        err.print(f"[red]error:[/] {escape(str(error))}")
        sys.exit(error.exit_code)
    sys.exit(code)


def _run(kind, site_path, db, start, end, tz_name, groups, dialled, caller, agent, outcome,
         interval, by, limit, fmt, output, table_name, chart, err) -> int:
    from .kinds import KINDS, Options
    from .selection import INTERVALS, Selection, period, zone

    if kind not in KINDS and kind not in (QUEUE_LOG, REBUILD):
        raise ReportError(f'unknown report "{kind}"; the kinds are {_kind_list()}', EXIT_USAGE)
    if kind == REBUILD:
        given = [option for option, value in (
            ("--from", start), ("--to", end), ("--group", groups), ("--dialled", dialled),
            ("--caller", caller), ("--agent", agent), ("--outcome", outcome), ("--by", by),
            ("--limit", limit), ("--format", fmt), ("-o", output), ("--table", table_name),
            ("--chart", chart)) if value]
        if given:
            raise ReportError(f"rebuild recomputes every kept figure of the database; "
                              f"{', '.join(given)} do not apply", EXIT_USAGE)
        return _rebuild(site_path, db, zone(tz_name) if tz_name else None)
    output_format = _output_format(fmt, output)
    if output_format == "xlsx" and output is None:
        raise ReportError("an Excel workbook needs a file: -o FILE.xlsx", EXIT_USAGE)
    if kind == QUEUE_LOG and output_format != "table":
        raise ReportError("queue-log writes Asterisk's queue_log lines; --format does not apply",
                          EXIT_USAGE)
    if chart is not None and not chart.lower().endswith(".png"):
        raise ReportError(f"--chart {chart}: the chart is a PNG file (FILE.png)", EXIT_USAGE)
    for path, option in ((output, "-o"), (chart, "--chart")):
        if path is not None:
            _check_writable(path, option)
    tz = zone(tz_name) if tz_name else None
    from .source import open_source
    source = open_source(site_path, db, tz)
    try:
        first, last = period(start, end, source.tz)
        selection = Selection(first, last, source.tz, tuple(groups), dialled, caller, agent, outcome)
        options = Options(INTERVALS[interval], by, limit)
        interactive = err.is_terminal and not os.environ.get("QSCRIPT_NO_PROGRESS")
        with _Steps(err, interactive) as steps, source.engine.connect() as connection:
            if kind == QUEUE_LOG:
                return _queue_log(connection, selection, output)
            builder = KINDS[kind][0]
            made = builder(connection, source, selection, options, steps)
            if chart is not None:
                steps.step("drawing the chart")
                from .charts import write_png
                write_png(made, chart)
            steps.step("writing the report")
            _write(made, output_format, output, table_name)
    finally:
        source.close()
    return EXIT_OK


def _rebuild(site_path, db, tz) -> int:
    """The kept 15-minute figures (interval_stats, agent_stats) recomputed from the rows,
    in one transaction: after a repair by hand, or to check them."""
    import sqlalchemy as sa

    from ..store.writer import rebuild_statistics
    from .source import open_source
    source = open_source(site_path, db, tz)
    try:
        with source.engine.begin() as connection:
            calls, agents = rebuild_statistics(connection)
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise ReportError(f"cannot rebuild the figures: "
                          f"{reason[0] if reason else type(error).__name__}", EXIT_FINDINGS) \
            from None
    finally:
        source.close()
    make_console().print(f"rebuilt the kept figures: {calls:,} rows of call figures "
                         f"(interval_stats), {agents:,} rows of agent figures (agent_stats)")
    return EXIT_OK


def _write(made, output_format: str, output: str | None, table_name: str | None) -> None:
    from .render import print_report, write_csv, write_json
    if table_name is not None and output_format != "csv":
        raise ReportError("--table chooses the table of a CSV; the other formats hold them all",
                          EXIT_USAGE)
    if table_name is not None and table_name not in [t.name for t in made.tables]:
        names = ", ".join(t.name for t in made.tables)
        raise ReportError(f'--table: the {made.kind} report has no table "{table_name}" '
                          f"(it has {names})", EXIT_USAGE)
    if output_format == "xlsx":
        from .excel import write_xlsx
        write_xlsx(made, output)
        return
    if output is None:
        if output_format == "csv":
            write_csv(made, sys.stdout, table_name)
        elif output_format == "json":
            write_json(made, sys.stdout)
        else:
            print_report(made, make_console())
        return
    try:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            if output_format == "csv":
                write_csv(made, handle, table_name)
            elif output_format == "json":
                write_json(made, handle)
            else:
                print_report(made, make_console(file=handle, width=200))
    except OSError as error:
        raise ReportError(f"cannot write {output}: {error.strerror or error}", EXIT_FINDINGS) \
            from None


def _queue_log(connection, selection, output: str | None) -> int:
    from .queue_log import queue_log_lines
    try:
        handle = open(output, "w", encoding="utf-8") if output else sys.stdout
    except OSError as error:
        raise ReportError(f"cannot write {output}: {error.strerror or error}", EXIT_FINDINGS) \
            from None
    try:
        for line in queue_log_lines(connection, selection):
            handle.write(line + "\n")
    finally:
        if output:
            handle.close()
    return EXIT_OK
