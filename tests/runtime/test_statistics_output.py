"""Reports rendered: Excel read back with openpyxl, PNG charts, CSV, JSON, and the
``qscript report`` command with its errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner

from qscript.cli import main
from runtime.reports.charts import figure, write_png
from runtime.reports.excel import write_xlsx
from runtime.reports.kinds import KINDS, Options, Progress
from runtime.reports.render import csv_text, report_json
from runtime.reports.selection import Selection, local_midnight
from runtime.reports.source import Source
from runtime.store.writer import StatisticsWriter
from statistics_support import CLOCK, DAY, GROUPS, small_day

TZ = ZoneInfo("Europe/Stockholm")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stats") / "qscript.db"
    contacts, intervals, agent_events = small_day()
    writer = StatisticsWriter(path)
    writer.write(contacts, intervals, agent_events, clock=CLOCK, groups=GROUPS)
    writer.close()
    return path


@pytest.fixture(scope="module")
def source(database):
    from runtime.reports.source import open_source
    made = open_source(None, str(database), TZ)
    made.groups = GROUPS
    yield made
    made.close()


def build(source: Source, kind: str, **options):
    selection = Selection(local_midnight(DAY, TZ), local_midnight(DAY + dt.timedelta(days=1), TZ), TZ)
    with source.engine.connect() as connection:
        return KINDS[kind][0](connection, source, selection, Options(**options), Progress())


# ------------------------------------------------------------------ Excel


def test_excel_workbook_has_a_typed_sheet_per_table_and_a_chart(source, tmp_path):
    report = build(source, "daily")
    path = tmp_path / "daily.xlsx"
    write_xlsx(report, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["site", "groups", "group_totals", "chart"]
    site = book["site"]
    assert site["A1"].value == "Daily report: All calls"
    header = [cell.value for cell in site[4]]
    assert header[:6] == ["day", "offered", "queued", "answered", "in SL", "SL"]
    assert site["A4"].font.bold
    day, offered, sl, wait = site["A5"], site["B5"], site["F5"], site[f"{_column(header, 'avg wait')}5"]
    assert day.value == dt.datetime(2026, 6, 1) and day.is_date
    assert offered.value == 8 and offered.data_type == "n"
    assert sl.value == pytest.approx(0.4) and sl.number_format == "0.0%"
    # Durations are Excel times (33.75 s is 33.75 / 86400 of a day), shown as [h]:mm:ss.
    assert wait.value == dt.timedelta(seconds=33.75) and wait.number_format == "[h]:mm:ss"
    assert site["A6"].value == "total" and site["B6"].value == 8 and site["B6"].font.bold
    totals = book["group_totals"]
    names = [totals.cell(row=r, column=1).value for r in (5, 6)]
    assert sorted(names) == ["sales", "support"]
    # The chart sheet holds the series the native chart draws.
    chart_sheet = book["chart"]
    assert [cell.value for cell in chart_sheet[1]][:4] == ["day", "offered", "answered", "abandoned"]
    assert [cell.value for cell in chart_sheet[2]][1:4] == [8, 4, 2]
    with zipfile.ZipFile(path) as archive:
        charts = [name for name in archive.namelist() if name.startswith("xl/charts/chart")]
        assert len(charts) == 1
        xml = archive.read(charts[0]).decode()
    assert "<c:barChart>" in xml and xml.count("<c:ser>") == 3
    assert "<c:f>chart!$B$2</c:f>" in xml        # the offered series: one day, one cell


def _column(header, title) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[header.index(title)]


def test_excel_chart_draws_the_targets_too(source, tmp_path):
    path = tmp_path / "sl.xlsx"
    write_xlsx(build(source, "service-level", interval=3600), path)
    sheet = openpyxl.load_workbook(path)["chart"]
    assert [cell.value for cell in sheet[1]][:5] == ["start", "sales", "support", "target sales",
                                                     "target support"]
    assert [sheet.cell(row=r, column=4).value for r in (2, 3)] == [0.9, 0.9]
    assert sheet.cell(row=2, column=3).value == pytest.approx(1 / 3)    # support 08:00
    assert sheet.cell(row=3, column=3).value is None                    # no support call at 09


def test_excel_call_log_has_times_and_text(source, tmp_path):
    path = tmp_path / "log.xlsx"
    write_xlsx(build(source, "log"), path)
    sheet = openpyxl.load_workbook(path)["calls"]
    assert sheet["A5"].value == dt.datetime(2026, 6, 1, 8, 0) and sheet["B5"].value == "c1"
    assert sheet["A9"].value == dt.datetime(2026, 6, 1, 8, 20, 30)   # c5, local time
    assert openpyxl.load_workbook(path).sheetnames == ["calls"]     # no chart for a log


# ------------------------------------------------------------------ PNG


def test_chart_figure_draws_the_series(source, tmp_path):
    report = build(source, "service-level", interval=3600)
    fig = figure(report)
    axes = fig.axes[0]
    labels = [line.get_label() for line in axes.get_lines()]
    assert labels == ["sales", "support", "target sales", "target support"]
    sales, support = axes.get_lines()[:2]
    # 08:00 and 09:00: support took no calls after 09:00 (no point), sales was at 100 %.
    assert support.get_ydata()[0] == pytest.approx(1 / 3) and math.isnan(support.get_ydata()[1])
    assert list(sales.get_ydata()) == [1.0, 1.0]
    assert [line.get_ydata()[0] for line in axes.get_lines()[2:]] == [0.9, 0.8]
    assert axes.get_title() == "Service level per 1h"
    path = tmp_path / "sl.png"
    write_png(report, path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_bar_chart_of_agents(source, tmp_path):
    fig = figure(build(source, "agents"))
    axes = fig.axes[0]
    heights = [patch.get_height() for patch in axes.patches]
    assert heights == [2, 2]                                          # alice, bob
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["alice", "bob"]


# ------------------------------------------------------------------ CSV and JSON


def test_csv_has_the_keys_the_rows_and_the_total(source):
    rows = list(csv.reader(io.StringIO(csv_text(build(source, "daily"), "group_totals"))))
    assert rows[0][:4] == ["group", "offered", "answered", "answered_in_sl"]
    support = next(row for row in rows if row[0] == "support")
    assert support[1:4] == ["5", "2", "1"]
    sl = rows[0].index("service_level")
    assert float(support[sl]) == pytest.approx(1 / 3, abs=1e-6)


def test_json_has_every_table(source):
    data = json.loads(json.dumps(report_json(build(source, "daily"))))
    assert [table["name"] for table in data["tables"]] == ["site", "groups", "group_totals"]
    site = data["tables"][0]
    assert site["rows"][0]["day"] == "2026-06-01" and site["rows"][0]["offered"] == 8
    assert site["total"]["service_level"] == pytest.approx(0.4)
    assert data["notes"][0].startswith("service level =")


# ------------------------------------------------------------------ the command


def run(*args):
    result = CliRunner().invoke(main, ["report", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_report_command_prints_a_table(database):
    code, out = run("daily", "--db", str(database), "--from", "2026-06-01", "--tz", "Europe/Stockholm")
    assert code == 0
    assert "Daily report" in out and "2026-06-01 Mon" in out and "40.0%" in out


def test_report_command_writes_files(database, tmp_path):
    xlsx, png, csv_path = tmp_path / "r.xlsx", tmp_path / "r.png", tmp_path / "r.csv"
    code, out = run("calls", "--db", str(database), "--from", "2026-06-01",
                    "--tz", "Europe/Stockholm", "-o", str(xlsx), "--chart", str(png))
    assert code == 0, out
    assert openpyxl.load_workbook(xlsx).sheetnames[:2] == ["site", "groups"]
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    code, out = run("log", "--db", str(database), "--from", "2026-06-01", "--tz",
                    "Europe/Stockholm", "-o", str(csv_path))
    assert code == 0 and csv_path.read_text().splitlines()[1].split(",")[1] == "c1"
    code, out = run("queue-log", "--db", str(database), "--from", "2026-06-01", "--tz",
                    "Europe/Stockholm")
    assert code == 0 and "|c1|support|NONE|ENTERQUEUE||0701|1" in out


def test_report_from_a_site(database, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(f"site: Test\ntimezone: Europe/Stockholm\ndatabase: sqlite:///{database}\n"
                    "groups:\n  support: {service_level_target: 75%}\n  sales:\n")
    code, out = run("service-level", "--site", str(site), "--from", "2026-06-01",
                    "--format", "json")
    assert code == 0, out
    totals = json.loads(out)["tables"][1]["rows"]
    assert {row["group"]: row["target"] for row in totals} == {"sales": 0.8, "support": 0.75}


@pytest.mark.parametrize("args, code, message", [
    (["weekly", "--db", "{db}"], 2, 'unknown report "weekly"; the kinds are daily, calls'),
    (["daily", "--db", "{missing}"], 1, "no statistics database at"),
    (["daily"], 2, "say which database to report on"),
    (["daily", "--db", "{db}", "--from", "june"], 2, '--from: "june" is not a date or time'),
    (["daily", "--db", "{db}", "--from", "2026-06-02", "--to", "2026-06-01"], 2,
     "the period is empty"),
    (["daily", "--db", "{db}", "--group", "suport"], 2, 'unknown group "suport"'),
    (["daily", "--db", "{db}", "--tz", "Mars/Olympus"], 2, 'unknown time zone "Mars/Olympus"'),
    (["daily", "--db", "{db}", "-o", "{nowhere}/r.csv"], 1, "does not exist"),
    (["daily", "--db", "{db}", "--format", "xlsx"], 2, "needs a file: -o FILE.xlsx"),
    (["daily", "--db", "{db}", "-o", "{tmp}/r.pdf"], 2, "say which format with --format"),
    (["daily", "--db", "{db}", "--chart", "{tmp}/r.svg"], 2, "the chart is a PNG file"),
    (["log", "--db", "{db}", "--chart", "{tmp}/r.png"], 2, "the log report has no chart"),
    (["daily", "--db", "{db}", "--table", "nope", "--format", "csv"], 2, 'no table "nope"'),
    (["rebuild", "--db", "{db}", "--from", "today", "--agent", "bob"], 2,
     "rebuild recomputes every kept figure of the database; --from, --agent do not apply"),
    (["rebuild", "--database", "{missing}"], 1, "no statistics database at"),
])
def test_report_errors_are_one_clear_line(database, tmp_path, args, code, message):
    values = {"db": str(database), "missing": str(tmp_path / "none.db"),
              "nowhere": str(tmp_path / "no" / "such"), "tmp": str(tmp_path)}
    exit_code, out = run(*[arg.format(**values) for arg in args])
    assert exit_code == code, out
    assert message in out
    assert "Traceback" not in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1, out
    assert re.match(r"^error: ", out)


def test_agents_are_listed_in_reading_order():
    from runtime.reports.kinds import natural_order
    names = ["team1-10", "team1-2", "team1-1", "anna", "team1-100", "Bo", "team2-1"]
    assert sorted(names, key=natural_order) == [
        "anna", "Bo", "team1-1", "team1-2", "team1-10", "team1-100", "team2-1"]


def test_rebuild_recomputes_the_kept_figures_and_the_reports_stay_the_same(tmp_path):
    """``qscript report rebuild``: the kept figures, emptied and spoilt by hand, come back
    as the writer kept them, and the reports that read them say what they said."""
    import sqlalchemy as sa

    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from synthetic_day import synthetic_day

    path = tmp_path / "day.db"
    day = synthetic_day(2000, agents=15, seed=4)
    writer = StatisticsWriter(path, batch=600)
    writer.write(day.contacts, day.intervals, day.agent_events, clock=day.clock, groups=GROUPS)
    writer.close()
    engine = sa.create_engine(f"sqlite:///{path}")

    def kept():
        with engine.connect() as connection:
            return {table: {tuple(row[:key]): tuple(row[key:]) for row in connection.execute(
                sa.text(f"SELECT * FROM {table}"))}
                for table, key in (("interval_stats", 2), ("agent_stats", 5))}
    reports = ("daily", "agents", "staffing")

    def report_texts():
        return [run(kind, "--db", str(path), "--from", "2026-06-01", "--tz", "UTC",
                    "--format", "json") for kind in reports]
    written, written_reports = kept(), report_texts()
    assert all(code == 0 for code, _ in written_reports)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM agent_stats WHERE agent = 'agent003'"))
        connection.execute(sa.text("UPDATE interval_stats SET offered = offered + 7"))
        connection.execute(sa.text("DELETE FROM interval_stats WHERE grp = 'sales'"))
    assert kept() != written and report_texts() != written_reports

    code, out = run("rebuild", "--database", str(path))
    assert code == 0, out
    rebuilt = kept()
    assert f"{len(written['interval_stats']):,} rows of call figures" in out
    assert f"{len(written['agent_stats']):,} rows of agent figures" in out
    for table in written:
        assert rebuilt[table].keys() == written[table].keys(), table
        for key, values in written[table].items():
            assert rebuilt[table][key] == pytest.approx(values), (table, key)
    assert report_texts() == written_reports
    engine.dispose()
