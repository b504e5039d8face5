"""The reports' figures on the small day of statistics_support.py, worked out by hand.

Each expected number is computed in a comment from the calls and agents listed
in ``small_day``'s docstring. Both databases, and both ways to the call figures
(the kept 15-minute figures and the rows themselves) must give them.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from runtime.reports import figures as FIG
from runtime.reports.kinds import KINDS, Options, Progress
from runtime.reports.queue_log import queue_log_lines
from runtime.reports.selection import Selection, local_midnight, period
from runtime.reports.source import Source
from runtime.store.writer import StatisticsWriter
from statistics_support import CLOCK, DAY, GROUPS, database_url, postgres_database, small_day  # noqa: F401

TZ = ZoneInfo("Europe/Stockholm")


@pytest.fixture
def source(database_url):
    contacts, intervals, agent_events = small_day()
    writer = StatisticsWriter(database_url)
    writer.write(contacts, intervals, agent_events, clock=CLOCK, groups=GROUPS)
    made = Source(writer.engine, TZ, GROUPS)
    yield made
    writer.close()


def select(start: dt.datetime | None = None, end: dt.datetime | None = None, **filters) -> Selection:
    start = start or local_midnight(DAY, TZ)
    end = end or local_midnight(DAY + dt.timedelta(days=1), TZ)
    return Selection(start, end, TZ, **filters)


def build(source: Source, kind: str, selection: Selection, **options):
    with source.engine.connect() as connection:
        return KINDS[kind][0](connection, source, selection, Options(**options), Progress())


def by_key(table, *keys):
    rows = {}
    for row in table.rows:
        rows[tuple(row[table.column(k)] for k in keys) if len(keys) > 1
             else row[table.column(keys[0])]] = {c.key: v for c, v in zip(table.columns, row)}
    return rows


# ------------------------------------------------------------------ call figures


def test_daily_report_of_the_site(source):
    report = build(source, "daily", select())
    (day,) = report.table("site").rows
    site = dict(zip([c.key for c in report.table("site").columns], day))
    assert site["day"] == DAY
    # Calls c1..c8 arrived; all but c6 (hung up in the menu) queued.
    assert (site["offered"], site["queued"]) == (8, 7)
    # Answered: c1, c2, c5, c7. Within their thresholds: c1 (10 s <= 20 s, support) and
    # c7 (25 s <= 30 s, sales); not c2 (30 s > 20 s) nor c5 (waited 70 s, answered in sales).
    assert (site["answered"], site["answered_in_sl"]) == (4, 2)
    # Abandoned: c3 after 3 s (short: under support's 5 s) and c4 after 40 s.
    assert (site["abandoned"], site["short_abandoned"]) == (2, 1)
    # SL = 2 / (4 + 2 - 1) = 0.4; abandoned % = (2 - 1) / (8 - 1) = 1/7.
    assert site["service_level"] == pytest.approx(0.4)
    assert site["abandon_rate"] == pytest.approx(1 / 7)
    assert (site["callback"], site["callback_answered"], site["hung_up"]) == (1, 0, 1)
    # Average wait (10 + 30 + 70 + 25) / 4 = 33.75 s; talk (100 + 200 + 50 + 60) / 4 = 102.5 s;
    # the longest wait was c5's 70 s.
    assert site["asa"] == pytest.approx(33.75)
    assert site["average_talk"] == pytest.approx(102.5)
    assert site["max_wait"] == pytest.approx(70)


def test_daily_report_per_group(source):
    report = build(source, "daily", select())
    groups = by_key(report.table("group_totals"), "group")
    support, sales = groups["support"], groups["sales"]
    # support: c1 answered after 10 s, c2 after 30 s, c3 abandoned after 3 s (short),
    # c4 after 40 s, c5 overflowed to sales after 60 s.
    assert (support["offered"], support["answered"], support["answered_in_sl"],
            support["abandoned"], support["short_abandoned"], support["removed"]) == (5, 2, 1, 2, 1, 1)
    assert support["service_level"] == pytest.approx(1 / 3)        # 1 / (2 + 2 - 1)
    assert support["asa"] == pytest.approx(20)                       # (10 + 30) / 2
    assert support["average_talk"] == pytest.approx(150)             # (100 + 200) / 2
    assert support["max_wait"] == pytest.approx(60)                  # c5's stint
    assert support["target"] == pytest.approx(0.8)
    # sales: c5 answered 10 s after it arrived there, c7 after 25 s (both <= 30 s), c8 took
    # a callback after 15 s.
    assert (sales["offered"], sales["answered"], sales["answered_in_sl"], sales["callback"]) == \
        (3, 2, 2, 1)
    assert sales["service_level"] == pytest.approx(1.0)              # 2 / (2 + 0 - 0)
    assert sales["asa"] == pytest.approx(17.5)                       # (10 + 25) / 2
    assert sales["average_talk"] == pytest.approx(55)                # (50 + 60) / 2
    assert sales["target"] == pytest.approx(0.9)


def test_call_statistics_per_hour_and_quarter(source):
    hourly = build(source, "calls", select(), interval=3600)
    site = by_key(hourly.table("site"), "start")
    eight, nine = (dt.datetime(2026, 6, 1, 8, 0, tzinfo=TZ), dt.datetime(2026, 6, 1, 9, 0, tzinfo=TZ))
    assert site.keys() == {eight, nine}
    assert (site[eight]["offered"], site[nine]["offered"]) == (5, 3)   # c1..c5; c6..c8
    quarters = build(source, "calls", select(), interval=900)
    support = by_key(quarters.table("groups"), "start", "group")
    # 08:00-08:15 support: c1 (08:00:05), c2 (08:05:05), c3 (08:10:05); 08:15-08:30: c4, c5.
    assert support[(eight, "support")]["offered"] == 3
    assert support[(eight + dt.timedelta(minutes=15), "support")]["offered"] == 2
    # c5 joined sales at 08:21:35: in the 08:15 quarter.
    assert support[(eight + dt.timedelta(minutes=15), "sales")]["answered"] == 1


@pytest.mark.parametrize("filters, offered, answered", [
    ({"caller": "0704"}, 2, 1),            # c4 (abandoned) and c7 (answered)
    ({"agent": "bob"}, 2, 2),              # c2 and c7
    ({"outcome": "abandoned"}, 2, 0),      # c3, c4
    ({"dialled": "9999"}, 0, 0),
])
def test_call_filters(source, filters, offered, answered):
    report = build(source, "daily", select(**filters))
    total = dict(zip([c.key for c in report.table("site").columns], report.table("site").total))
    assert (total["offered"], total["answered"]) == (offered, answered)


def test_the_kept_figures_and_the_rows_agree(source):
    whole_day = select()
    # 1 ms later: not whole quarter hours, so the figures are summed from the rows.
    shifted = select(local_midnight(DAY, TZ) + dt.timedelta(milliseconds=1))
    assert FIG.uses_kept_figures(whole_day) and not FIG.uses_kept_figures(shifted)
    with source.engine.connect() as connection:
        kept = FIG.slot_figures(connection, whole_day)
        summed = FIG.slot_figures(connection, shifted)
    assert kept.keys() == summed.keys()
    for key in kept:
        assert {k: pytest.approx(v) for k, v in kept[key].items()} == summed[key], key


def test_service_level_per_interval_against_the_target(source):
    report = build(source, "service-level", select(), interval=3600)
    rows = by_key(report.table("service_level"), "start", "group")
    eight = dt.datetime(2026, 6, 1, 8, 0, tzinfo=TZ)
    support = rows[(eight, "support")]
    assert (support["answered_in_sl"], support["base"]) == (1, 3)     # base 2 + 2 - 1
    assert support["service_level"] == pytest.approx(1 / 3)
    assert (support["target"], support["met"]) == (0.8, "no")
    nine_sales = rows[(eight + dt.timedelta(hours=1), "sales")]      # c7 in SL; c8 a callback
    assert (nine_sales["service_level"], nine_sales["met"]) == (1.0, "yes")
    assert any("answered within the threshold / (answered + abandoned - short abandons)" in note
               for note in report.notes)
    assert report.chart.targets == {"target sales": 0.9, "target support": 0.8}


def test_weekday_hours_average_over_the_weekdays_of_the_period(source):
    # Two weeks from Monday 1 June: two Mondays, so each Monday hour is halved.
    two_weeks = select(end=local_midnight(DAY + dt.timedelta(days=14), TZ))
    table = build(source, "weekday-hours", two_weeks).table("weekday_hours")
    rows = by_key(table, "hour")
    assert rows["08-09"]["mon"] == pytest.approx(5 / 2)      # c1..c5
    assert rows["09-10"]["mon"] == pytest.approx(3 / 2)      # c6..c8
    assert rows["09-10"]["tue"] == 0
    assert rows["09-10"]["all"] == pytest.approx(3 / 14)
    assert table.total[1] == pytest.approx(8 / 2)


# ------------------------------------------------------------------ calls one by one


def test_call_log(source):
    table = build(source, "log", select()).table("calls")
    rows = by_key(table, "call_id")
    assert list(rows) == ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]
    assert rows["c5"]["arrived"] == dt.datetime(2026, 6, 1, 8, 20, 30, tzinfo=TZ)
    assert (rows["c5"]["groups"], rows["c5"]["answered_group"], rows["c5"]["wait"],
            rows["c5"]["talk"], rows["c5"]["script"]) == ("support, sales", "sales", 70, 50,
                                                          "support v3")
    assert rows["c8"]["outcome"] == "callback, not answered"
    limited = build(source, "log", select(groups=("sales",)), limit=2)
    assert [row[1] for row in limited.table("calls").rows] == ["c5", "c7"]   # c8 is third
    assert limited.notes == ["only the first 2 calls are listed (--limit)"]


def test_ring_back_lists_abandoned_callers_not_reached_since(source):
    table = build(source, "ringback", select()).table("ring_back")
    # c3 (0703) abandoned and never called again; c4 (0704) abandoned at 08:20 but the
    # same caller's c7 was answered at 09:10.
    assert [row[0] for row in table.rows] == ["0703"]
    (row,) = table.rows
    assert row[table.column("abandons")] == 1 and row[table.column("longest")] == 3


# ------------------------------------------------------------------ agents


def test_agent_statistics(source):
    report = build(source, "agents", select())
    agents = by_key(report.table("agents"), "agent")
    alice, bob = agents["alice"], agents["bob"]
    # alice: c1 (talk 100 s) and c5 (50 s), 10 s wrap-up each, rang 3 + 2 s, and her phone
    # rang 10 s unanswered for c2; paused 15 min. Ready: 12 s + 19:38 + 37:15 + 45:00
    # = 12 + 1178 + 2235 + 2700 = 6125 s; logged in 6125 + 5 + 150 + 20 + 900 = 7200 s.
    assert (alice["answered"], alice["talk"], alice["wrap_up"], alice["handle"],
            alice["ring_no_answer"], alice["ringing"], alice["paused"], alice["ready"],
            alice["logged_in"]) == (2, 150, 20, 170, 1, 5, 900, 6125, 7200)
    assert alice["average_handle"] == pytest.approx(85)                # 170 / 2
    assert alice["occupancy"] == pytest.approx(170 / 6300)             # (7200 - 900)
    # bob: c2 (200 s) and c7 (60 s), rang 4 + 5 s, no pause.
    assert (bob["answered"], bob["talk"], bob["ringing"], bob["logged_in"]) == (2, 260, 9, 7200)
    assert bob["occupancy"] == pytest.approx(280 / 7200)
    pauses = report.table("pauses")
    assert pauses.rows == [["alice", "coffee", 900]]
    total = dict(zip([c.key for c in report.table("agents").columns], report.table("agents").total))
    assert (total["answered"], total["talk"], total["logged_in"]) == (4, 410, 14400)


def test_agent_statistics_for_one_group(source):
    agents = by_key(build(source, "agents", select(groups=("sales",))).table("agents"), "agent")
    # Only sales calls count as answered: alice's c5 and bob's c7; support calls still
    # keep them logged in.
    assert (agents["alice"]["answered"], agents["alice"]["talk"]) == (1, 50)
    assert (agents["bob"]["answered"], agents["bob"]["talk"]) == (1, 60)
    assert agents["alice"]["logged_in"] == 7200


def test_staffing_per_hour(source):
    table = build(source, "staffing", select(), interval=3600).table("staffing")
    rows = by_key(table, "start")
    eight = rows[dt.datetime(2026, 6, 1, 8, 0, tzinfo=TZ)]
    # 08-09: both agents logged in all hour. Ready: alice 12 + 1178 + 2235 = 3425 s, bob
    # 331 + 3055 = 3386 s; busy: 100 + 50 + 200 s; in wrap-up 10 + 10 + 10 s.
    assert eight["logged_in"] == pytest.approx(2.0)
    assert eight["ready"] == pytest.approx((3425 + 3386) / 3600)
    assert eight["busy"] == pytest.approx(350 / 3600)
    assert eight["wrap_up"] == pytest.approx(30 / 3600)
    nine = rows[dt.datetime(2026, 6, 1, 9, 0, tzinfo=TZ)]
    assert nine["paused"] == pytest.approx(0.25)                      # alice 15 of 60 min
    assert rows[dt.datetime(2026, 6, 1, 10, 0, tzinfo=TZ)]["logged_in"] == 0


# ------------------------------------------------------------------ survey


def test_survey_results(source):
    report = build(source, "survey", select(), by="agent")
    questions = by_key(report.table("questions"), "question")
    # satisfaction: 4 (c2) and 2 (c7): average 3; resolved: "yes" (c7), not a number.
    assert (questions["satisfaction"]["count"], questions["satisfaction"]["average"]) == (2, 3.0)
    assert (questions["resolved"]["count"], questions["resolved"]["average"]) == (1, None)
    answers = by_key(report.table("answers"), "question", "answer")
    assert answers[("satisfaction", "4")]["share"] == pytest.approx(0.5)
    assert answers[("resolved", "yes")]["share"] == 1.0
    per_agent = by_key(report.table("per_agent"), "agent", "question")
    assert per_agent[("bob", "satisfaction")]["average"] == pytest.approx(3.0)   # both bob's
    assert ("alice", "satisfaction") not in per_agent


# ------------------------------------------------------------------ queue_log


def test_queue_log_export(source):
    with source.engine.connect() as connection:
        lines = list(queue_log_lines(connection, select()))
    start = int(dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.timezone.utc).timestamp())  # 08:00 local

    def at(minutes, seconds=0):
        return start + minutes * 60 + seconds
    # Logins: one ADDMEMBER per group of the agent.
    assert lines[:4] == [f"{start}|NONE|support|Agent/alice|ADDMEMBER|",
                         f"{start}|NONE|sales|Agent/alice|ADDMEMBER|",
                         f"{start}|NONE|support|Agent/bob|ADDMEMBER|",
                         f"{start}|NONE|sales|Agent/bob|ADDMEMBER|"]
    c1 = [line for line in lines if line.split("|")[1] == "c1"]
    # ENTERQUEUE |url|callerid|position; CONNECT |holdtime|channel|ringtime;
    # COMPLETECALLER |holdtime|calltime|origposition.
    assert c1 == [f"{at(0, 5)}|c1|support|NONE|ENTERQUEUE||0701|1",
                  f"{at(0, 15)}|c1|support|Agent/alice|CONNECT|10||3",
                  f"{at(1, 55)}|c1|support|Agent/alice|COMPLETECALLER|10|100|1"]
    c2 = [line for line in lines if line.split("|")[1] == "c2"]
    assert f"{at(5, 30)}|c2|support|Agent/alice|RINGNOANSWER|10000" in c2
    assert c2[-1] == f"{at(8, 55)}|c2|support|Agent/bob|COMPLETEAGENT|30|200|1"
    c3 = [line for line in lines if line.split("|")[1] == "c3"]
    assert c3[-1] == f"{at(10, 8)}|c3|support|NONE|ABANDON|1|1|3"   # position|orig|waited
    c5 = [line for line in lines if line.split("|")[1] == "c5"]
    assert c5 == [f"{at(20, 35)}|c5|support|NONE|ENTERQUEUE||0705|2",
                  f"{at(21, 35)}|c5|support|NONE|EXITWITHTIMEOUT|2|2|60",
                  f"{at(21, 35)}|c5|sales|NONE|ENTERQUEUE||0705|1",
                  f"{at(21, 45)}|c5|sales|Agent/alice|CONNECT|10||2",
                  f"{at(22, 35)}|c5|sales|Agent/alice|COMPLETECALLER|10|50|1"]
    c8 = [line for line in lines if line.split("|")[1] == "c8"]
    assert c8[-1] == f"{at(90, 20)}|c8|sales|NONE|EXITWITHKEY|1|1|1|15"   # key|pos|orig|waited
    assert f"{at(60)}|NONE|support|Agent/alice|PAUSE|coffee" in lines
    assert f"{at(75)}|NONE|sales|Agent/alice|UNPAUSE|" in lines
    assert lines[-1] == f"{at(120)}|NONE|sales|Agent/bob|REMOVEMEMBER|"
    times = [int(line.split("|")[0]) for line in lines]
    assert times == sorted(times)
    assert all(len(line.split("|")) >= 6 for line in lines)


# ------------------------------------------------------------------ periods


def test_periods():
    now = dt.datetime(2026, 6, 3, 14, 30, tzinfo=TZ)
    midnight = lambda d: local_midnight(d, TZ)  # noqa: E731
    assert period(None, None, TZ, now) == (midnight(dt.date(2026, 6, 3)), midnight(dt.date(2026, 6, 4)))
    assert period("2026-06-01", None, TZ, now) == (midnight(DAY), midnight(dt.date(2026, 6, 2)))
    assert period("2026-06-01", "2026-06-02", TZ, now) == (midnight(DAY), midnight(dt.date(2026, 6, 3)))
    assert period("yesterday", None, TZ, now)[0] == midnight(dt.date(2026, 6, 2))
    assert period("2026-06-01 08:30", "2026-06-01T09:00", TZ, now) == (
        dt.datetime(2026, 6, 1, 8, 30, tzinfo=TZ), dt.datetime(2026, 6, 1, 9, 0, tzinfo=TZ))
    assert period("2026-06-03 08:00", None, TZ, now)[1] == now
    # Across the change to summer time (29 March 2026 in Stockholm) a day is 23 hours.
    first, last = period("2026-03-29", None, TZ, now)
    assert last.timestamp() - first.timestamp() == 23 * 3600


@pytest.mark.parametrize("kind,filters", [("agents", {}), ("agents", {"groups": ("sales",)}),
                                          ("agents", {"agent": "alice"}), ("staffing", {})])
def test_the_kept_agent_figures_and_the_intervals_agree(source, kind, filters):
    from runtime.reports.kinds import _kept_agent_figures

    whole_day = select(**filters)
    # 1 ms later: not whole quarter hours, so the intervals are clipped one by one
    # (nothing happens in that millisecond).
    shifted = select(local_midnight(DAY, TZ) + dt.timedelta(milliseconds=1), **filters)
    assert _kept_agent_figures(whole_day) and not _kept_agent_figures(shifted)
    kept, clipped = build(source, kind, whole_day), build(source, kind, shifted)
    for table, other in zip(kept.tables, clipped.tables):
        assert len(table.rows) == len(other.rows) and table.rows, table.name
        for row, other_row in zip(table.rows + [table.total], other.rows + [other.total]):
            assert [pytest.approx(v) if isinstance(v, float) else v for v in row] == other_row
