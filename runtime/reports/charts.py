"""A report's chart as a PNG (matplotlib, Agg backend), and the data both it and the
Excel chart are drawn from.

matplotlib is imported when a chart is drawn, never with the CLI: it costs
about half a second. The figure is built by :func:`figure` (a plain
``matplotlib.figure.Figure``, no pyplot state), which the tests inspect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import DATE, SHARE, TIME, Report, ReportError


@dataclass
class ChartData:
    title: str
    kind: str                               # line | bar
    x_label: str
    y_label: str
    x_kind: str                             # the x column's kind
    x: list[Any]
    series: dict[str, list[Any]] = field(default_factory=dict)   # name -> y per x (None: none)
    share: bool = False                     # the values are fractions (a percentage axis)
    targets: dict[str, float] = field(default_factory=dict)


def chart_data(report: Report) -> ChartData | None:
    """The series of the report's chart: one per series column, or per value of ``group_by``."""
    chart = report.chart
    if chart is None:
        return None
    table = report.table(chart.table)
    x_index = table.column(chart.x)
    x_column = table.columns[x_index]
    series_columns = [table.columns[table.column(key)] for key in chart.series]
    data = ChartData(chart.title, chart.kind, x_column.title, chart.y_label, x_column.kind, [],
                     share=all(c.kind == SHARE for c in series_columns),
                     targets=dict(chart.targets))
    positions: dict[Any, int] = {}
    for row in table.rows:
        if row[x_index] not in positions:
            positions[row[x_index]] = len(data.x)
            data.x.append(row[x_index])
    group_index = table.column(chart.group_by) if chart.group_by else None
    for row in table.rows:
        for column in series_columns:
            if group_index is None:
                name = column.title
            else:
                name = str(row[group_index]) if len(series_columns) == 1 \
                    else f"{row[group_index]} {column.title}"
            values = data.series.setdefault(name, [None] * len(data.x))
            values[positions[row[x_index]]] = row[table.column(column.key)]
    return data


def _plain_x(value: Any, kind: str) -> Any:
    if kind == TIME and isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)   # drawn at its local time (matplotlib labels in UTC)
    return value


def figure(report: Report):
    """The chart as a matplotlib Figure (None when the report has no chart)."""
    data = chart_data(report)
    if data is None:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    fig = Figure(figsize=(10, 5.5), dpi=100)
    axes = fig.add_subplot()
    categorical = data.x_kind not in (TIME, DATE) or data.kind == "bar"
    xs = list(range(len(data.x))) if categorical else [_plain_x(v, data.x_kind) for v in data.x]
    names = list(data.series)
    width = 0.8 / max(1, len(names))
    for index, name in enumerate(names):
        ys = [float("nan") if v is None else v for v in data.series[name]]
        if data.kind == "bar":
            offset = (index - (len(names) - 1) / 2) * width
            axes.bar([x + offset for x in xs], ys, width=width, label=name)
        else:
            axes.plot(xs, ys, marker="o" if len(xs) <= 40 else None, label=name)
    for label, value in data.targets.items():
        axes.axhline(value, linestyle="--", linewidth=1, color="grey", label=label)
    if categorical:
        axes.set_xticks(xs)
        axes.set_xticklabels([_label(v, data.x_kind) for v in data.x],
                             rotation=45 if len(xs) > 8 else 0, ha="right" if len(xs) > 8 else "center")
    else:
        fig.autofmt_xdate()
    if data.share:
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_title(data.title)
    axes.set_xlabel(data.x_label)
    axes.set_ylabel(data.y_label)
    axes.grid(True, alpha=0.3)
    if names or data.targets:
        axes.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _label(value: Any, kind: str) -> str:
    if kind == DATE and isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%a %d %b")
    if kind == TIME and isinstance(value, dt.datetime):
        return value.strftime("%d %b %H:%M")
    return str(value)


def write_png(report: Report, path: str | Path) -> None:
    fig = figure(report)
    if fig is None:
        raise ReportError(f"the {report.kind} report has no chart (--chart)", 2)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    try:
        fig.savefig(str(path), format="png")
    except OSError as error:
        raise ReportError(f"cannot write {path}: {error.strerror or error}", 1) from None
