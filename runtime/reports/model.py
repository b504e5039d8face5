"""What a report is, whatever it is rendered to: tables of typed columns, notes, a chart.

Values keep their meaning until the renderer: durations are seconds (float),
shares are fractions (0.8, not "80%"), times are aware datetimes in the
report's time zone, and None is "no value" (a service level with no calls).
The terminal shows ``1:05`` and ``80.0%``; CSV and JSON carry the numbers;
Excel gets typed cells with formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Column kinds
TEXT = "text"
COUNT = "count"          # a whole number
NUMBER = "number"        # a decimal number (an average of answers, agents on average)
SECONDS = "seconds"      # a duration
SHARE = "share"          # a fraction shown as a percentage
TIME = "time"            # a moment (aware datetime)
DATE = "date"            # a day (datetime.date)
KINDS = (TEXT, COUNT, NUMBER, SECONDS, SHARE, TIME, DATE)


class ReportError(Exception):
    """A report cannot be made: one line for the user, and the exit code (2: usage, 1: the rest)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = TEXT

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass
class Table:
    name: str                         # a short name: the Excel sheet, the JSON key, the CSV section
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    total: list[Any] | None = None    # a totals row, shown apart

    def column(self, key: str) -> int:
        for index, column in enumerate(self.columns):
            if column.key == key:
                return index
        raise KeyError(key)

    def values(self, key: str) -> list[Any]:
        index = self.column(key)
        return [row[index] for row in self.rows]


@dataclass
class Chart:
    """A chart of one table: ``x`` against one series per key in ``series`` (and, for a
    ``group_by`` column, one series per value of it)."""

    kind: str                         # "line" or "bar"
    table: str                        # the Table.name it draws
    x: str                            # column key on the x axis
    series: list[str]                 # column keys drawn
    title: str
    y_label: str = ""
    group_by: str | None = None       # a text column: one line per value (e.g. per group)
    targets: dict[str, float] = field(default_factory=dict)   # label -> a horizontal line


@dataclass
class Report:
    kind: str
    title: str
    period: str                       # the period in words, for headers
    tables: list[Table]
    notes: list[str] = field(default_factory=list)     # definitions and formulas
    chart: Chart | None = None

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)
