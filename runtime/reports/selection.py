"""Which calls a report is about: a period in the site's time zone and filters.

``--from``/``--to`` take a date (``2026-06-01``), a date and time
(``2026-06-01 08:30`` or ``2026-06-01T08:30``), ``today`` or ``yesterday``,
all in the report's time zone. A date as ``--to`` includes that whole day.
Without ``--to`` the period is the ``--from`` day when ``--from`` is a date, or
runs until now; without either it is today.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..store.schema import SLOT_SECONDS
from .model import ReportError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ t](\d{1,2}):(\d{2})(?::(\d{2}))?$")
INTERVALS = {"15m": 900, "30m": 1800, "1h": 3600, "day": 86400}


def local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)


def _parse_moment(text: str, option: str, tz: dt.tzinfo, today: dt.date) -> tuple[dt.datetime, bool]:
    """(the moment, whether it was a whole date)."""
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        return local_midnight(today - dt.timedelta(days=word == "yesterday"), tz), True
    if _DATE.match(word):
        try:
            return local_midnight(dt.date.fromisoformat(word), tz), True
        except ValueError:
            pass
    else:
        match = _DATETIME.match(word)
        if match:
            day, hour, minute, second = match.groups()
            try:
                moment = dt.datetime.combine(dt.date.fromisoformat(day),
                                             dt.time(int(hour), int(minute), int(second or 0)),
                                             tzinfo=tz)
                return moment, False
            except ValueError:
                pass
    raise ReportError(f'{option}: "{text}" is not a date or time (use 2026-06-01, '
                      '"2026-06-01 08:30", today or yesterday)', 2)


def period(start: str | None, end: str | None, tz: dt.tzinfo,
           now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The period [start, end) the options give (see the module docstring)."""
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(tz)
    today = now.date()
    if start is None:
        first, whole = local_midnight(today, tz), True
    else:
        first, whole = _parse_moment(start, "--from", tz, today)
    if end is None:
        last = local_midnight(first.date() + dt.timedelta(days=1), tz) if whole and start \
            else (local_midnight(today + dt.timedelta(days=1), tz) if start is None else now)
    else:
        last, whole_end = _parse_moment(end, "--to", tz, today)
        if whole_end:
            last = local_midnight(last.date() + dt.timedelta(days=1), tz)
    if last <= first:
        raise ReportError(f"the period is empty: --to ({last:%Y-%m-%d %H:%M}) is not after "
                          f"--from ({first:%Y-%m-%d %H:%M})", 2)
    return first, last


@dataclass(frozen=True)
class Selection:
    start: dt.datetime                # aware, in tz
    end: dt.datetime                  # exclusive
    tz: dt.tzinfo
    groups: tuple[str, ...] = ()
    dialled: str | None = None
    caller: str | None = None
    agent: str | None = None
    outcome: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()

    @property
    def slots(self) -> tuple[int, int]:
        """The first and last 15-minute slot the period touches."""
        return int(self.start_ts // SLOT_SECONDS), int((self.end_ts - 1e-6) // SLOT_SECONDS)

    @property
    def slot_aligned(self) -> bool:
        return self.start_ts % SLOT_SECONDS == 0 and self.end_ts % SLOT_SECONDS == 0

    @property
    def call_filters(self) -> bool:
        """Whether calls are filtered by more than period and group."""
        return any(value is not None for value in (self.dialled, self.caller, self.agent,
                                                   self.outcome))

    def describe(self) -> str:
        zone = getattr(self.tz, "key", None) or str(self.tz)
        if self.start.time() == dt.time(0) and self.end.time() == dt.time(0):
            last = self.end.date() - dt.timedelta(days=1)
            days = f"{self.start:%Y-%m-%d}" + ("" if last == self.start.date()
                                               else f" to {last:%Y-%m-%d}")
        else:
            days = f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"
        filters = [f"{name} {value}" for name, value in (
            ("group", ", ".join(self.groups) or None), ("dialled", self.dialled),
            ("caller", self.caller), ("agent", self.agent), ("outcome", self.outcome))
            if value]
        return f"{days} ({zone})" + (f"; {'; '.join(filters)}" if filters else "")


def bucket_of(ts: float, interval: int, tz: dt.tzinfo) -> dt.datetime:
    """The start (local, aware) of the interval of the given length holding a UTC moment."""
    local = dt.datetime.fromtimestamp(ts, tz)
    if interval >= 86400:
        return local_midnight(local.date(), tz)
    minutes = (local.hour * 60 + local.minute) // (interval // 60) * (interval // 60)
    return local.replace(hour=minutes // 60, minute=minutes % 60, second=0, microsecond=0)


def zone(name: str | None) -> dt.tzinfo:
    """A time zone by name (None: this machine's local zone)."""
    if name is None:
        local = dt.datetime.now().astimezone().tzinfo
        return local if local is not None else dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        raise ReportError(f'--tz: unknown time zone "{name}" (e.g. Europe/Stockholm, UTC)', 2) \
            from None
