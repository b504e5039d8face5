"""Calendars: regular opening hours, public holidays and dated deviations.

A :class:`Calendar` answers "is it open now?" for a queue script
(``is_open("office")``) and says why (:meth:`Calendar.status`). Precedence,
as in Genesys schedule groups (most specific first):

1. a **deviation for that date** (``date: 2026-12-24``) decides alone, even on
   a public holiday;
2. else a **public holiday** closes the day (unless ``closed_on_holidays: false``);
3. else a **deviation for a range of dates** (``from``/``to``: summer hours, a
   week closed for a move) replaces the regular hours — a seasonal schedule
   that public holidays inside it still close;
4. else the **regular hours** of that weekday.

Everything is evaluated in the site's time zone on the wall clock: an aware
datetime is converted to it, a naive one is taken as site-local time (the
simulator's clock). Because hours are wall-clock times, the days on which
daylight saving time starts or ends need no special handling: 08:00 is 08:00
local time, whether that day is 23 or 25 hours long.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays as holidays_library

from .values import TimeRange

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Public holidays are read in English, so that ``ignore`` names are stable across library versions.
HOLIDAY_NAME_LANGUAGE = "en_US"
#: How far :meth:`Calendar.next_open` looks ahead before giving up.
NEXT_OPEN_HORIZON_DAYS = 400


class CalendarStatus(str, enum.Enum):
    """Why a calendar is open or closed at a moment."""

    OPEN = "open"                          # regular hours
    CLOSED = "closed"                      # outside regular hours
    HOLIDAY = "holiday"                    # a public holiday closes the day
    DEVIATION_OPEN = "deviation-open"      # inside the hours of a deviation for this date
    DEVIATION_CLOSED = "deviation-closed"  # a deviation closes this date or this time of it

    @property
    def is_open(self) -> bool:
        return self in (CalendarStatus.OPEN, CalendarStatus.DEVIATION_OPEN)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Deviation:
    """Hours for a date or an inclusive range of dates, per weekday (Monday first).

    Written as one set of ranges it applies to every day; a range of dates may
    instead give hours per weekday (summer hours on weekdays only).
    """

    first: dt.date
    last: dt.date
    weekly_hours: tuple[tuple[TimeRange, ...], ...] = ((),) * 7
    note: str = ""

    @property
    def closed(self) -> bool:
        return not any(self.weekly_hours)

    @property
    def single_day(self) -> bool:
        return self.first == self.last

    def covers(self, day: dt.date) -> bool:
        return self.first <= day <= self.last

    def hours_on(self, day: dt.date) -> tuple[TimeRange, ...]:
        return self.weekly_hours[day.weekday()]


@dataclass(frozen=True, slots=True)
class HolidayRules:
    """Which public holidays a calendar observes, from the ``holidays`` library.

    ``categories`` are the library's (``public``, ``de_facto``, ``bank``, ...);
    for Sweden ``de_facto`` adds Midsummer Eve, Christmas Eve and New Year's
    Eve, which Swedish law and practice treat as holidays. Sundays are never
    counted as holidays here (the library can, with ``include_sundays``): a
    Sunday is closed or open by the regular hours.
    """

    country: str = "SE"
    subdivision: str | None = None
    categories: tuple[str, ...] = ("public", "de_facto")
    ignore: frozenset[str] = frozenset()   # holiday names (lower case) treated as working days
    closes: bool = True                    # closed_on_holidays

    def name_on(self, day: dt.date) -> str | None:
        """The holiday's name on ``day`` (several joined by "; "), or None."""
        table = holiday_table(self.country, self.subdivision, self.categories)
        names = [n for n in table.get_list(day) if n.lower() not in self.ignore]
        return "; ".join(names) if names else None


@functools.lru_cache(maxsize=32)
def holiday_table(country: str, subdivision: str | None,
                  categories: tuple[str, ...]) -> holidays_library.HolidayBase:
    """The library's holiday table; it fills in years lazily as dates are asked about."""
    return holidays_library.country_holidays(country, subdiv=subdivision, categories=categories,
                                             language=_name_language(country))


def _name_language(country: str) -> str | None:
    supported = getattr(holidays_library.country_holidays(country), "supported_languages", ())
    return HOLIDAY_NAME_LANGUAGE if HOLIDAY_NAME_LANGUAGE in supported else None


def known_holiday_names(country: str, subdivision: str | None, categories: tuple[str, ...],
                        years: range = range(2020, 2041)) -> set[str]:
    """Every holiday name the library gives over ``years`` (for checking ``ignore`` entries)."""
    table = holidays_library.country_holidays(country, subdiv=subdivision, categories=categories,
                                              years=list(years), language=_name_language(country))
    return {part.strip() for names in table.values() for part in names.split(";")}


@dataclass(frozen=True)
class Calendar:
    """Opening hours with holidays and deviations, in one time zone."""

    name: str
    timezone: ZoneInfo
    weekly_hours: tuple[tuple[TimeRange, ...], ...] = field(default=((),) * 7)  # Monday first
    holidays: HolidayRules | None = None
    deviations: tuple[Deviation, ...] = ()

    # -- time

    def local_time(self, at: dt.datetime) -> dt.datetime:
        """``at`` on the site's wall clock (naive datetimes are already site-local)."""
        if at.tzinfo is None:
            return at.replace(tzinfo=self.timezone)
        return at.astimezone(self.timezone)

    def _local_date(self, day: dt.date | dt.datetime) -> dt.date:
        return self.local_time(day).date() if isinstance(day, dt.datetime) else day

    # -- days

    def deviation_on(self, day: dt.date | dt.datetime) -> Deviation | None:
        """The deviation for a date; a single-date one wins over a range that covers it."""
        day = self._local_date(day)
        covering = [d for d in self.deviations if d.covers(day)]
        covering.sort(key=lambda d: not d.single_day)
        return covering[0] if covering else None

    def holiday_name(self, day: dt.date | dt.datetime) -> str | None:
        """The public holiday's name on that date, or None (also when holidays are off)."""
        if self.holidays is None:
            return None
        return self.holidays.name_on(self._local_date(day))

    def is_holiday(self, day: dt.date | dt.datetime) -> bool:
        """True on a public holiday, whether or not it closes the calendar."""
        return self.holiday_name(day) is not None

    def hours_on(self, day: dt.date | dt.datetime) -> tuple[TimeRange, ...]:
        """The opening hours that apply on a date, after deviations and holidays."""
        day = self._local_date(day)
        return self._hours_and_reason(day)[0]

    def _hours_and_reason(self, day: dt.date) -> tuple[tuple[TimeRange, ...], str]:
        deviation = self.deviation_on(day)
        if deviation is not None and deviation.single_day:
            return deviation.hours_on(day), "deviation"
        if self.holidays is not None and self.holidays.closes and self.is_holiday(day):
            return (), "holiday"
        if deviation is not None:
            return deviation.hours_on(day), "deviation"
        return self.weekly_hours[day.weekday()], "regular"

    # -- moments

    def status(self, at: dt.datetime) -> CalendarStatus:
        """Open or closed at ``at``, and why."""
        local = self.local_time(at)
        hours, reason = self._hours_and_reason(local.date())
        minute = _minute_of_day(local)
        is_open = any(r.contains(minute) for r in hours)
        if reason == "deviation":
            return CalendarStatus.DEVIATION_OPEN if is_open else CalendarStatus.DEVIATION_CLOSED
        if reason == "holiday":
            return CalendarStatus.HOLIDAY
        return CalendarStatus.OPEN if is_open else CalendarStatus.CLOSED

    def is_open(self, at: dt.datetime) -> bool:
        return self.status(at).is_open

    def next_open(self, at: dt.datetime) -> dt.datetime | None:
        """When the calendar is next open: ``at`` itself if open, None if never within a year.

        The result is naive when ``at`` is naive (site-local), else aware in the site's zone.
        """
        local = self.local_time(at)
        minute = _minute_of_day(local)
        for offset in range(NEXT_OPEN_HORIZON_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for hours in self._hours_and_reason(day)[0]:
                if offset == 0 and hours.end <= minute:
                    continue
                start = max(hours.start, minute) if offset == 0 else hours.start
                opening = _at_minute(day, start, self.timezone)
                if offset == 0 and start == minute:
                    opening = local
                return opening.replace(tzinfo=None) if at.tzinfo is None else opening
        return None


def _minute_of_day(local: dt.datetime) -> float:
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6


def _at_minute(day: dt.date, minute: float, timezone: ZoneInfo) -> dt.datetime:
    whole = int(minute)
    return dt.datetime(day.year, day.month, day.day, whole // 60, whole % 60,
                       tzinfo=timezone) + dt.timedelta(minutes=minute - whole)
