"""Reports asked for by the console's form: the CLI's kinds, figures and writers, reused."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from multidict import MultiDict

from runtime.reports.model import ReportError
from runtime.reports.request import (ReportForm, build_report, csv_text, download_name,
                                     has_chart, png_bytes, xlsx_bytes)
from runtime.reports.source import Source
from runtime.store.writer import StatisticsWriter
from statistics_support import CLOCK, GROUPS, small_day

TZ = ZoneInfo("Europe/Stockholm")


@pytest.fixture
def source(tmp_path):
    contacts, intervals, agent_events = small_day()
    writer = StatisticsWriter(f"sqlite:///{tmp_path / 'stats.db'}")
    writer.write(contacts, intervals, agent_events, clock=CLOCK, groups=GROUPS)
    yield Source(writer.engine, TZ, GROUPS)
    writer.close()


def form(**fields) -> ReportForm:
    query = MultiDict()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            query.add(name, item)
    return ReportForm.from_query(query)


def test_the_daily_report_of_the_form_is_the_clis(source):
    report = build_report(source, form(kind="daily", **{"from": "2026-06-01"}))
    table = report.tables[0]
    [row] = table.rows
    assert row[table.column("offered")] == 8          # the small day's eight calls
    assert row[table.column("answered")] == 4


def test_groups_and_filters_narrow_the_report(source):
    report = build_report(source, form(kind="log", group=["sales"], outcome="answered",
                                       **{"from": "2026-06-01"}))
    callers = report.tables[0].values("caller")
    assert callers == ["0705", "0704"]     # c5 (overflowed to sales) and c7, answered in sales


def test_the_excel_download_opens_with_the_same_figures(source):
    report = build_report(source, form(kind="daily", **{"from": "2026-06-01"}))
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(report)))
    sheet = workbook[workbook.sheetnames[0]]
    values = [cell for row in sheet.iter_rows(values_only=True) for cell in row]
    assert 8 in values and 4 in values


def test_csv_and_chart(source):
    report = build_report(source, form(kind="calls", **{"from": "2026-06-01"}))
    text = csv_text(report)
    assert text.splitlines()[0].startswith("interval,") or "offered" in text.splitlines()[0]
    assert has_chart(report) and png_bytes(report)[:8] == b"\x89PNG\r\n\x1a\n"
    assert download_name(report, form(kind="calls", **{"from": "2026-06-01"}), "xlsx") == \
        "calls-2026-06-01.xlsx"


@pytest.mark.parametrize("fields, expected", [
    ({"kind": "dayly"}, 'unknown report "dayly"'),
    ({"from": "1 June"}, 'from: "1 June" is not a date or time'),
    ({"from": "2026-06-02", "to": "2026-06-01 00:00"}, "the period is empty: to"),
    ({"group": "suport", "from": "2026-06-01"}, 'unknown group "suport"; did you mean "support"'),
    ({"outcome": "won"}, 'outcome: "won" is not one of'),
    ({"limit": "-3"}, 'limit: "-3" is not a whole number'),
])
def test_a_field_that_does_not_fit_is_named(source, fields, expected):
    with pytest.raises(ReportError) as refused:
        build_report(source, form(**fields))
    assert expected in str(refused.value)


def test_an_unknown_csv_table_is_named(source):
    report = build_report(source, form(kind="daily", **{"from": "2026-06-01"}))
    with pytest.raises(ReportError, match='has no table "nope"'):
        csv_text(report, "nope")
