"""A report as an Excel workbook (XlsxWriter): one sheet per table, typed cells, and a
native Excel chart where the report has a chart.

Cells keep their type so that Excel can compute with them: counts and numbers
are numbers, durations are Excel times (days; shown ``[h]:mm:ss``), shares
are numbers shown as percentages, moments are Excel date-times in the
report's time zone. XlsxWriter is imported only when a workbook is written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .charts import chart_data
from .model import COUNT, DATE, NUMBER, SECONDS, SHARE, TEXT, TIME, Report, ReportError, Table

_FORMATS = {COUNT: {"num_format": "0"}, NUMBER: {"num_format": "0.00"},
            SECONDS: {"num_format": "[h]:mm:ss"}, SHARE: {"num_format": "0.0%"},
            TIME: {"num_format": "yyyy-mm-dd hh:mm:ss"}, DATE: {"num_format": "yyyy-mm-dd"},
            TEXT: {}}
_WIDTHS = {COUNT: 10, NUMBER: 10, SECONDS: 11, SHARE: 9, TIME: 20, DATE: 12, TEXT: 14}


def _sheet_name(name: str, used: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ , unique.
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
    candidate, n = clean, 2
    while candidate.lower() in used:
        candidate = f"{clean[:28]}_{n}"
        n += 1
    used.add(candidate.lower())
    return candidate


def _excel_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == SECONDS and isinstance(value, (int, float)):
        return value / 86400.0
    if kind == TIME and isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def write_xlsx(report: Report, path: str | Path) -> None:
    try:
        import xlsxwriter
    except ImportError:   # pragma: no cover - a dependency of qscript
        raise ReportError("writing Excel needs the XlsxWriter package", 1) from None
    workbook = xlsxwriter.Workbook(str(path))
    header = workbook.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1,
                                  "text_wrap": True, "valign": "top"})
    title = workbook.add_format({"bold": True, "font_size": 13})
    formats = {kind: workbook.add_format(spec) for kind, spec in _FORMATS.items()}
    bold = {kind: workbook.add_format({**spec, "bold": True, "top": 1})
            for kind, spec in _FORMATS.items()}
    used: set[str] = set()
    sheets: dict[str, tuple[str, Table]] = {}
    for table in report.tables:
        name = _sheet_name(table.name, used)
        sheets[table.name] = (name, table)
        sheet = workbook.add_worksheet(name)
        sheet.write_string(0, 0, f"{report.title}: {table.title}", title)
        sheet.write_string(1, 0, report.period)
        top = 3
        for col, column in enumerate(table.columns):
            sheet.write_string(top, col, column.title, header)
            sheet.set_column(col, col, _WIDTHS[column.kind])
        for r, row in enumerate(table.rows, start=top + 1):
            _write_row(sheet, r, row, table, formats)
        if table.total is not None:
            _write_row(sheet, top + 1 + len(table.rows), table.total, table, bold, total=True)
        sheet.freeze_panes(top + 1, 0)
        if table.rows:
            sheet.autofilter(top, 0, top + len(table.rows), len(table.columns) - 1)
        notes_row = top + 3 + len(table.rows)
        for offset, note in enumerate(report.notes):
            sheet.write_string(notes_row + offset, 0, note)
    _add_chart(workbook, report, used, header, formats)
    try:
        workbook.close()
    except (OSError, xlsxwriter.exceptions.FileCreateError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ReportError(f"cannot write {path}: {reason}", 1) from None


def _write_row(sheet, r: int, row: list[Any], table: Table, formats, total: bool = False) -> None:
    for col, (value, column) in enumerate(zip(row, table.columns)):
        kind = column.kind if not (total and col == 0) else TEXT
        value = _excel_value(value, kind)
        if value is None:
            sheet.write_blank(r, col, None, formats[kind])
        elif kind == TIME and isinstance(value, dt.datetime):
            sheet.write_datetime(r, col, value, formats[kind])
        elif kind == DATE and isinstance(value, dt.date):
            sheet.write_datetime(r, col, dt.datetime.combine(value, dt.time()), formats[kind])
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and kind != TEXT:
            sheet.write_number(r, col, value, formats[kind])
        else:
            sheet.write_string(r, col, str(value), formats[TEXT])


def _add_chart(workbook, report: Report, used: set[str], header, formats) -> None:
    """A sheet with the chart's series side by side (Excel draws ranges) and the chart."""
    data = chart_data(report)
    if data is None or not data.x:
        return
    name = _sheet_name("chart", used)
    sheet = workbook.add_worksheet(name)
    x_kind = data.x_kind
    sheet.write_string(0, 0, data.x_label, header)
    sheet.set_column(0, 0, _WIDTHS.get(x_kind, 14))
    value_format = formats[SHARE] if data.share else formats[NUMBER]
    # A target is a series of its own (a constant), drawn dashed.
    columns = dict(data.series)
    for label, value in data.targets.items():
        columns[label] = [value] * len(data.x)
    for col, series in enumerate(columns, start=1):
        sheet.write_string(0, col, series, header)
        sheet.set_column(col, col, 12)
    for r, x in enumerate(data.x, start=1):
        if x_kind == TIME and isinstance(x, dt.datetime):
            sheet.write_datetime(r, 0, x.replace(tzinfo=None), formats[TIME])
        elif x_kind == DATE and isinstance(x, dt.date):
            sheet.write_datetime(r, 0, dt.datetime.combine(x, dt.time()), formats[DATE])
        else:
            sheet.write_string(r, 0, str(x))
        for col, series in enumerate(columns, start=1):
            value = columns[series][r - 1]
            if value is None:
                sheet.write_blank(r, col, None)
            else:
                sheet.write_number(r, col, value, value_format)
    chart = workbook.add_chart({"type": "column" if data.kind == "bar" else "line"})
    last = len(data.x)
    for col, series in enumerate(columns, start=1):
        options = {"name": [name, 0, col], "categories": [name, 1, 0, last, 0],
                   "values": [name, 1, col, last, col]}
        if series in data.targets:
            options["line"] = {"dash_type": "dash", "color": "#808080"}
        chart.add_series(options)
    chart.set_title({"name": data.title})
    chart.set_x_axis({"name": data.x_label})
    chart.set_y_axis({"name": data.y_label, **({"num_format": "0%"} if data.share else {})})
    chart.set_size({"width": 900, "height": 420})
    sheet.insert_chart(1, len(columns) + 2, chart)
