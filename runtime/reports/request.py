"""A report asked for by a form (the web console's reports page) rather than the CLI.

The same kinds, selection, figures and renderers as ``qscript report``: the
form's fields are read into a :class:`~.selection.Selection` and
:class:`~.kinds.Options` exactly as the command's options are, the report
is built by the kind's own function, and the downloads are the CLI's own
writers (Excel, CSV, PNG). Nothing here computes a figure.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .kinds import KINDS, Options, Progress
from .model import Report, ReportError
from .selection import INTERVALS, Selection, period
from .source import Source

OUTCOMES = ("answered", "abandoned", "transferred", "voicemail", "callback", "hung_up", "failed")
#: The form's field names for the CLI's option names in the selection's messages.
_FIELD_NAMES = {"--from": "from", "--to": "to", "--group": "group"}


@dataclass(frozen=True)
class ReportForm:
    """The fields of the reports page, as typed (empty: not given)."""

    kind: str = "daily"
    start: str = ""
    end: str = ""
    groups: tuple[str, ...] = ()
    dialled: str = ""
    caller: str = ""
    agent: str = ""
    outcome: str = ""
    interval: str = "1h"
    by: str = ""
    limit: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> "ReportForm":
        """From a query string (aiohttp's MultiDict: ``getall`` gives every ``group``)."""
        def text(name: str, default: str = "") -> str:
            return str(query.get(name) or default).strip()
        getall = getattr(query, "getall", None)
        groups = getall("group", []) if getall is not None else query.get("group") or []
        if isinstance(groups, str):
            groups = [groups]
        return cls(text("kind", "daily"), text("from"), text("to"),
                   tuple(g.strip() for g in groups if g and g.strip()), text("dialled"),
                   text("caller"), text("agent"), text("outcome"), text("interval", "1h"),
                   text("by"), text("limit"))

    def selection_and_options(self, tz: dt.tzinfo) -> tuple[Selection, Options]:
        """ReportError (message naming the form's field) for a field that does not fit."""
        if self.kind not in KINDS:
            raise ReportError(f'unknown report "{self.kind}"; the kinds are {", ".join(KINDS)}', 2)
        if self.outcome and self.outcome not in OUTCOMES:
            raise ReportError(f'outcome: "{self.outcome}" is not one of {", ".join(OUTCOMES)}', 2)
        if self.interval not in INTERVALS:
            raise ReportError(f'interval: "{self.interval}" is not one of '
                              f'{", ".join(INTERVALS)}', 2)
        if self.by and self.by not in ("agent", "group"):
            raise ReportError(f'by: "{self.by}" is not agent or group', 2)
        limit = None
        if self.limit:
            if not self.limit.isdigit() or int(self.limit) < 1:
                raise ReportError(f'limit: "{self.limit}" is not a whole number from 1', 2)
            limit = int(self.limit)
        try:
            first, last = period(self.start or None, self.end or None, tz)
        except ReportError as error:
            raise ReportError(_form_words(str(error)), error.exit_code) from None
        selection = Selection(first, last, tz, self.groups, self.dialled or None,
                              self.caller or None, self.agent or None, self.outcome or None)
        return selection, Options(INTERVALS[self.interval], self.by or None, limit)


def _form_words(message: str) -> str:
    for option, field in _FIELD_NAMES.items():
        message = message.replace(option, field)
    return message


def site_source(engine, site) -> Source:
    """The live runtime's database and the site's time zone and group targets
    (the engine stays open: it is the runtime's)."""
    return Source(engine, site.timezone, dict(site.groups), site.name)


def build_report(source: Source, form: ReportForm) -> Report:
    """The report the form asks for (run it in a worker thread: it reads the database)."""
    selection, options = form.selection_and_options(source.tz)
    try:
        with source.engine.connect() as connection:
            return KINDS[form.kind][0](connection, source, selection, options, Progress())
    except ReportError as error:
        raise ReportError(_form_words(str(error)), error.exit_code) from None


def xlsx_bytes(report: Report) -> bytes:
    from .excel import write_xlsx
    with tempfile.TemporaryDirectory(prefix="qscript-report-") as folder:
        path = Path(folder) / "report.xlsx"
        write_xlsx(report, path)
        return path.read_bytes()


def png_bytes(report: Report) -> bytes:
    """The report's chart; ReportError for a kind without one."""
    from .charts import write_png
    with tempfile.TemporaryDirectory(prefix="qscript-report-") as folder:
        path = Path(folder) / "chart.png"
        write_png(report, path)
        return path.read_bytes()


def has_chart(report: Report) -> bool:
    from .charts import chart_data
    return chart_data(report) is not None


def csv_text(report: Report, table_name: str | None = None) -> str:
    """One table as CSV (the first by default); ReportError for an unknown table."""
    from .render import csv_text as render_csv
    if table_name and table_name not in [t.name for t in report.tables]:
        raise ReportError(f'the {report.kind} report has no table "{table_name}" (it has '
                          f'{", ".join(t.name for t in report.tables)})', 2)
    return render_csv(report, table_name or None)


def download_name(report: Report, form: ReportForm, extension: str) -> str:
    """``daily-2026-06-01.xlsx``: the kind and the period's first day."""
    day = form.start if form.start and form.start[:4].isdigit() else dt.date.today().isoformat()
    safe = "".join(c for c in day[:10] if c.isdigit() or c == "-")
    return f"{report.kind}-{safe}.{extension}"
