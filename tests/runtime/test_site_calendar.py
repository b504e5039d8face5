"""Calendars: regular hours, Swedish holidays, deviations, time zones and DST."""

from __future__ import annotations

import datetime as dt
import textwrap
from zoneinfo import ZoneInfo

import pytest

from runtime.site import CalendarStatus, load_site_text

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = dt.timezone.utc

OFFICE = """
calendars:
  office:
    hours:
      weekdays: "08:00-17:00"
      friday: "08:00-12:00, 13:00-16:00"
    deviations:
      - {date: 2026-12-24, hours: "09:00-12:00", note: Christmas Eve}
      - {date: 2026-12-29, closed: true, note: Inventory}
      - {from: 2026-07-06, to: 2026-08-07, hours: {weekdays: "09:00-15:00"}, note: Summer}
      - {date: 2026-07-15, hours: "10:00-11:00", note: Staff meeting}
      - {from: 2026-06-15, to: 2026-06-26, hours: "07:00-19:00", note: Campaign}
"""


def calendar(text: str = OFFICE, name: str = "office", tmp_path=None):
    site = load_site_text(textwrap.dedent(text), "site.yaml", tmp_path or ".")
    return site.calendar(name)


def at(text: str) -> dt.datetime:
    """A naive site-local time, as the simulator uses."""
    return dt.datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def office():
    return calendar()


# ------------------------------------------------------------------ regular hours


@pytest.mark.parametrize("moment, status", [
    ("2026-03-03 07:59", "closed"),      # a Tuesday, before opening
    ("2026-03-03 08:00", "open"),        # opening minute is open
    ("2026-03-03 16:59:59", "open"),
    ("2026-03-03 17:00", "closed"),      # closing minute is closed
    ("2026-03-06 12:30", "closed"),      # Friday lunch break
    ("2026-03-06 13:00", "open"),
    ("2026-03-07 10:00", "closed"),      # Saturday: no key covers it
    ("2026-03-01 10:00", "closed"),      # an ordinary Sunday is closed, not a holiday
])
def test_regular_hours(office, moment, status):
    assert office.status(at(moment)) == CalendarStatus(status)
    assert office.is_open(at(moment)) == (status == "open")


def test_statuses_compare_equal_to_their_names(office):
    assert office.status(at("2026-12-25 10:00")) == "holiday"
    assert str(office.status(at("2026-12-24 13:00"))) == "deviation-closed"
    assert CalendarStatus.DEVIATION_OPEN.is_open and not CalendarStatus.HOLIDAY.is_open


def test_an_ordinary_sunday_is_not_a_holiday(office):
    assert not office.is_holiday(dt.date(2026, 3, 1))
    always = calendar("calendars: {c: {hours: {daily: 00:00-24:00}}}\n", "c")
    assert always.status(at("2026-03-01 23:59:59")) == CalendarStatus.OPEN


# ------------------------------------------------------------------ holidays


@pytest.mark.parametrize("day, name", [
    ("2026-12-25", "Christmas Day"),
    ("2026-12-26", "Second Day of Christmas"),
    ("2026-01-01", "New Year's Day"),
    ("2026-01-06", "Epiphany"),
    ("2026-04-03", "Good Friday"),
    ("2026-04-06", "Easter Monday"),
    ("2026-05-14", "Ascension Day"),
    ("2026-06-06", "National Day"),
    ("2026-06-19", "Midsummer Eve"),     # de facto holiday: included by default
    ("2026-06-20", "Midsummer Day"),
    ("2026-12-24", "Christmas Eve"),     # de facto
    ("2026-12-31", "New Year's Eve"),    # de facto
])
def test_swedish_holidays(office, day, name):
    assert office.holiday_name(dt.date.fromisoformat(day)) == name


def test_christmas_day_2026_is_closed(office):
    assert office.status(at("2026-12-25 10:00")) == CalendarStatus.HOLIDAY
    assert not office.is_open(at("2026-12-25 10:00"))


def test_midsummer_eve_is_closed_even_inside_a_date_range_deviation(office):
    # The "Campaign" range (07:00-19:00 every day) covers Midsummer; the holiday still wins.
    assert office.status(at("2026-06-19 10:00")) == CalendarStatus.HOLIDAY
    assert office.status(at("2026-06-18 18:30")) == CalendarStatus.DEVIATION_OPEN


def test_closed_on_holidays_false_keeps_regular_hours():
    cal = calendar("""
        calendars:
          c: {hours: {weekdays: "08:00-17:00"}, closed_on_holidays: false}
        """, "c")
    assert cal.is_holiday(dt.date(2026, 12, 25))
    assert cal.status(at("2026-12-25 10:00")) == CalendarStatus.OPEN


def test_holidays_can_be_switched_off_or_ignored():
    none = calendar('calendars: {c: {hours: {weekdays: "08:00-17:00"}, holidays: none}}\n', "c")
    assert not none.is_holiday(dt.date(2026, 12, 25)) and none.is_open(at("2026-12-25 10:00"))
    some = calendar("""
        calendars:
          c: {hours: {weekdays: "08:00-17:00"}, holidays: {ignore: [Epiphany]}}
        """, "c")
    assert some.is_open(at("2026-01-06 10:00"))
    assert not some.is_open(at("2026-01-01 10:00"))


def test_only_public_holidays_when_asked():
    cal = calendar("""
        calendars:
          c: {hours: {weekdays: "08:00-17:00"}, holidays: {categories: [public]}}
        """, "c")
    assert cal.is_open(at("2026-12-24 10:00"))          # Christmas Eve: de facto only
    assert cal.status(at("2026-12-25 10:00")) == CalendarStatus.HOLIDAY


def test_another_country_and_subdivision():
    cal = calendar("""
        calendars:
          c: {hours: {weekdays: "08:00-17:00"}, holidays: {country: DE, subdivision: BY}}
        """, "c")
    assert cal.holiday_name(dt.date(2026, 1, 6)) is not None     # Epiphany in Bavaria
    assert cal.holiday_name(dt.date(2026, 6, 19)) is None         # no Midsummer in Germany


# ------------------------------------------------------------------ deviations


def test_a_deviation_overrides_a_holiday(office):
    assert office.is_holiday(dt.date(2026, 12, 24))
    assert office.status(at("2026-12-24 08:30")) == CalendarStatus.DEVIATION_CLOSED
    assert office.status(at("2026-12-24 10:00")) == CalendarStatus.DEVIATION_OPEN
    assert office.status(at("2026-12-24 12:00")) == CalendarStatus.DEVIATION_CLOSED
    assert office.deviation_on(dt.date(2026, 12, 24)).note == "Christmas Eve"


def test_a_closed_deviation_on_a_working_day(office):
    assert office.status(at("2026-12-29 10:00")) == CalendarStatus.DEVIATION_CLOSED


def test_a_range_deviation_with_weekly_hours_and_a_date_inside_it(office):
    assert office.status(at("2026-07-10 14:00")) == CalendarStatus.DEVIATION_OPEN   # Friday
    assert office.status(at("2026-07-10 15:30")) == CalendarStatus.DEVIATION_CLOSED
    assert office.status(at("2026-07-11 10:00")) == CalendarStatus.DEVIATION_CLOSED  # Saturday
    assert office.status(at("2026-07-15 10:30")) == CalendarStatus.DEVIATION_OPEN    # meeting day
    assert office.status(at("2026-07-15 14:00")) == CalendarStatus.DEVIATION_CLOSED
    assert office.status(at("2026-08-10 16:00")) == CalendarStatus.OPEN              # after it


# ------------------------------------------------------------------ time zones and DST


def test_aware_times_are_converted_to_the_site_zone(office):
    new_york = ZoneInfo("America/New_York")
    assert office.is_open(dt.datetime(2026, 3, 3, 3, 0, tzinfo=new_york))    # 09:00 Stockholm
    assert not office.is_open(dt.datetime(2026, 3, 3, 12, 0, tzinfo=new_york))  # 18:00


@pytest.fixture(scope="module")
def every_day():
    return calendar('calendars: {c: {hours: {daily: "08:00-17:00, 02:00-03:00"}}, }\n', "c")


def test_spring_forward_day(every_day):
    # 2026-03-29: clocks go from 02:00 CET to 03:00 CEST. 06:30 UTC is 08:30 local.
    assert every_day.is_open(dt.datetime(2026, 3, 29, 6, 30, tzinfo=UTC))
    assert not every_day.is_open(dt.datetime(2026, 3, 28, 6, 30, tzinfo=UTC))  # 07:30 CET
    assert every_day.is_open(dt.datetime(2026, 3, 29, 14, 59, tzinfo=UTC))     # 16:59 CEST
    assert not every_day.is_open(dt.datetime(2026, 3, 29, 15, 0, tzinfo=UTC))  # 17:00 CEST
    # A naive time that does not exist that day is still read on the wall clock.
    assert every_day.is_open(at("2026-03-29 02:30"))


def test_fall_back_day(every_day):
    # 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET; 02:30 happens twice.
    assert every_day.is_open(dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 CEST
    assert every_day.is_open(dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 CET
    assert not every_day.is_open(dt.datetime(2026, 10, 25, 2, 30, tzinfo=UTC))  # 03:30 CET
    assert every_day.is_open(dt.datetime(2026, 10, 25, 7, 0, tzinfo=UTC))   # 08:00 CET
    assert not every_day.is_open(dt.datetime(2026, 10, 25, 6, 59, tzinfo=UTC))


# ------------------------------------------------------------------ next opening


def test_next_open(office):
    assert office.next_open(at("2026-03-06 16:00")) == at("2026-03-09 08:00")  # Fri -> Mon
    assert office.next_open(at("2026-03-06 12:15")) == at("2026-03-06 13:00")  # lunch
    assert office.next_open(at("2026-03-03 10:00")) == at("2026-03-03 10:00")  # open now
    assert office.next_open(at("2026-12-24 13:00")) == at("2026-12-28 08:00")  # Christmas
    aware = office.next_open(dt.datetime(2026, 3, 6, 16, 0, tzinfo=UTC))
    assert aware == dt.datetime(2026, 3, 9, 8, 0, tzinfo=STOCKHOLM)


def test_a_calendar_that_never_opens():
    never = calendar("calendars: {c: {hours: {daily: closed}}}\n", "c")
    assert never.next_open(at("2026-03-03 10:00")) is None
    assert never.hours_on(dt.date(2026, 3, 3)) == ()
