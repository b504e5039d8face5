"""Reports as terminal tables (rich), CSV and JSON. Excel: excel.py; PNG charts: charts.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any, TextIO

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table as RichTable
from rich.text import Text

from .model import COUNT, DATE, NUMBER, SECONDS, SHARE, TEXT, TIME, Report, Table

NUMERIC = (COUNT, NUMBER, SECONDS, SHARE)


def duration_text(seconds: float) -> str:
    """12 -> 0:12, 754 -> 12:34, 3725 -> 1:02:05 (whole seconds, rounded)."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _show_seconds(table: Table, index: int) -> bool:
    return any(isinstance(row[index], dt.datetime) and row[index].second
               for row in table.rows)


def cell_text(value: Any, kind: str, seconds: bool = True) -> str:
    if value is None:
        return "-"
    if kind == SECONDS and isinstance(value, (int, float)):
        return duration_text(value)
    if kind == SHARE and isinstance(value, (int, float)):
        return f"{value:.1%}"
    if kind == NUMBER and isinstance(value, (int, float)):
        return f"{value:.2f}"
    if kind == COUNT and isinstance(value, (int, float)):
        return f"{int(value)}"
    if kind == TIME and isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    if kind == DATE and isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d %a")
    return str(value)


def print_report(report: Report, console: Console) -> None:
    console.print(Text(report.title, style="bold"), Text(f"  {report.period}", style="dim"))
    for table in report.tables:
        console.print()
        shown = rich_table(table)
        # Never squeeze a table into the terminal's width (cells would be cut to "…"): a
        # wide table is printed at its natural width, and the terminal wraps what it must.
        natural = Measurement.get(console, console.options.update(max_width=100_000),
                                  shown).maximum
        if natural <= console.width:
            console.print(shown)
        else:
            from qscript.console import make_console
            make_console(file=console.file, width=natural,
                         force_terminal=console.is_terminal).print(shown)
    if report.notes:
        console.print()
        for note in report.notes:
            console.print(Text(note, style="dim"))


def rich_table(table: Table) -> RichTable:
    shown = RichTable(title=table.title, title_justify="left", title_style="bold")
    seconds = [_show_seconds(table, i) for i in range(len(table.columns))]
    for column in table.columns:
        shown.add_column(column.title, justify="right" if column.kind in NUMERIC else "left",
                         no_wrap=column.kind != TEXT)
    for row in table.rows:
        shown.add_row(*[Text(cell_text(value, column.kind, seconds[i]))
                        for i, (value, column) in enumerate(zip(row, table.columns))])
    if table.total is not None:
        shown.add_section()
        shown.add_row(*[Text(cell_text(value, column.kind if i else TEXT, seconds[i]),
                             style="bold")
                        for i, (value, column) in enumerate(zip(table.total, table.columns))])
    if not table.rows:
        shown.caption = "(nothing in this period)"
    return shown


# ------------------------------------------------------------------ CSV and JSON


def plain_value(value: Any) -> Any:
    """A value for CSV and JSON: numbers as they are, moments in ISO 8601."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def write_csv(report: Report, out: TextIO, table_name: str | None = None) -> None:
    """One table (the first, or ``table_name``) as CSV: a header of column keys, the rows,
    the totals row last."""
    table = report.table(table_name) if table_name else report.tables[0]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column.key for column in table.columns])
    for row in table.rows + ([table.total] if table.total is not None else []):
        writer.writerow(["" if value is None else plain_value(value) for value in row])


def report_json(report: Report) -> dict[str, Any]:
    def rows(table: Table, values: list[list[Any]]) -> list[dict[str, Any]]:
        return [{column.key: plain_value(value) for column, value in zip(table.columns, row)}
                for row in values]
    return {
        "kind": report.kind, "title": report.title, "period": report.period,
        "notes": report.notes,
        "tables": [{"name": table.name, "title": table.title,
                    "columns": [{"key": c.key, "title": c.title, "kind": c.kind}
                                for c in table.columns],
                    "rows": rows(table, table.rows),
                    "total": rows(table, [table.total])[0] if table.total is not None else None}
                   for table in report.tables]}


def write_json(report: Report, out: TextIO) -> None:
    json.dump(report_json(report), out, indent=2, ensure_ascii=False)
    out.write("\n")


def csv_text(report: Report, table_name: str | None = None) -> str:
    buffer = io.StringIO()
    write_csv(report, buffer, table_name)
    return buffer.getvalue()
