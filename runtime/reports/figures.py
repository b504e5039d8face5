"""The call figures per 15-minute slot and group, and what is derived from them.

Two ways to the same numbers (a test holds them equal):

* the kept figures, ``interval_stats``, which the writer adds to as it writes:
  used when the selection is a period of whole quarter hours and, at most,
  groups — a month of figures is a few thousand rows;
* the rows themselves (contacts and queue segments), summed by the database,
  for any other selection (a dialled number, a caller, an agent, an outcome, a
  period that starts at 08:07).

The site's figures (group "") count each call once by its arrival; a group's
count each stint of a call in that group by when it joined the group. Every
figure's definition is in docs/reports.md.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store.schema import COUNTERS, FIGURES, MAXIMA, SLOT_SECONDS, SUMS
from ..store.writer import CALLS, SEGMENTS, STATS
from .selection import Selection, bucket_of

SITE = ""        # the group key of the site's figures


def _when(condition, value=1):
    return sa.case((condition, value), else_=0)


def _sum(expression):
    return sa.func.coalesce(sa.func.sum(expression), 0)


def _call_filters(selection: Selection, calls=CALLS) -> list:
    where = []
    if selection.dialled is not None:
        where.append(calls.c.dialled == selection.dialled)
    if selection.caller is not None:
        where.append(calls.c.caller == selection.caller)
    if selection.outcome is not None:
        where.append(calls.c.outcome == selection.outcome)
    return where


def _site_query(selection: Selection):
    c = CALLS.c
    wait, outcome = sa.func.coalesce(c.wait, 0.0), c.outcome
    columns = {
        "offered": sa.func.count(),
        "queued": _sum(_when(c.queued_at.is_not(None))),
        "answered": _sum(_when(outcome == "answered")),
        "answered_in_sl": _sum(_when((outcome == "answered") & (c.wait <= c.threshold))),
        "abandoned": _sum(_when(outcome == "abandoned")),
        "short_abandoned": _sum(_when((outcome == "abandoned") & (c.wait < c.short_abandon))),
        "answered_elsewhere": sa.literal(0), "removed": sa.literal(0),
        "callback": _sum(_when(outcome == "callback")),
        "callback_answered": _sum(_when((outcome == "callback") & (c.callback_answered == True))),  # noqa: E712
        "transferred": _sum(_when(outcome == "transferred")),
        "voicemail": _sum(_when(outcome == "voicemail")),
        "hung_up": _sum(_when(outcome == "hung_up")),
        "failed": _sum(_when(outcome == "failed")),
        "ended": sa.literal(0),
        "wait_answered": _sum(_when(outcome == "answered", wait)),
        "wait_abandoned": _sum(_when(outcome == "abandoned", wait)),
        "talk": _sum(_when((outcome == "answered")
                           | ((outcome == "callback") & (c.callback_answered == True)),  # noqa: E712
                           sa.func.coalesce(c.talk, 0.0))),
        "max_wait": sa.func.coalesce(sa.func.max(c.wait), 0.0),
    }
    where = [c.arrived_ts >= selection.start_ts, c.arrived_ts < selection.end_ts,
             *_call_filters(selection)]
    if selection.agent is not None:
        where.append(c.agent == selection.agent)
    return sa.select(c.slot, *[value.label(name) for name, value in columns.items()]) \
        .where(*where).group_by(c.slot)


def _group_query(selection: Selection):
    s = SEGMENTS.c
    how, wait = s.how, s.wait
    columns: dict[str, Any] = {
        "offered": sa.func.count(), "queued": sa.func.count(),
        "answered": _sum(_when(how == "answered")),
        "answered_in_sl": _sum(_when((how == "answered") & (wait <= s.threshold))),
        "abandoned": _sum(_when(how == "abandoned")),
        "short_abandoned": _sum(_when((how == "abandoned") & (wait < s.short_abandon))),
    }
    for name in ("answered_elsewhere", "removed", "callback", "transferred", "voicemail", "ended"):
        columns[name] = _sum(_when(how == name))
    for name in ("callback_answered", "hung_up", "failed"):
        columns[name] = sa.literal(0)
    columns["wait_answered"] = _sum(_when(how == "answered", wait))
    columns["wait_abandoned"] = _sum(_when(how == "abandoned", wait))
    columns["talk"] = _sum(_when(how == "answered", sa.func.coalesce(s.talk, 0.0)))
    columns["max_wait"] = sa.func.coalesce(sa.func.max(wait), 0.0)
    where = [s.entered_ts >= selection.start_ts, s.entered_ts < selection.end_ts]
    if selection.groups:
        where.append(s.grp.in_(selection.groups))
    if selection.agent is not None:
        where.append(s.agent == selection.agent)
    query = sa.select(s.slot, s.grp, *[value.label(name) for name, value in columns.items()])
    filters = _call_filters(selection)
    if filters:
        query = query.select_from(SEGMENTS.join(CALLS, CALLS.c.id == s.contact_id))
        where.extend(filters)
    return query.where(*where).group_by(s.slot, s.grp)


def uses_kept_figures(selection: Selection) -> bool:
    return selection.slot_aligned and not selection.call_filters


def slot_figures(connection: Connection, selection: Selection, site: bool = True,
                 groups: bool = True) -> dict[tuple[int, str], dict[str, float]]:
    """(slot, group) -> figures for the selection; group "" is the site."""
    result: dict[tuple[int, str], dict[str, float]] = {}
    if uses_kept_figures(selection):
        first, last = selection.slots
        query = sa.select(STATS).where(STATS.c.slot >= first, STATS.c.slot <= last)
        wanted = []
        if site:
            wanted.append(STATS.c.grp == SITE)
        if groups:
            wanted.append(STATS.c.grp.in_(selection.groups) if selection.groups
                          else STATS.c.grp != SITE)
        if not wanted:
            return result
        for row in connection.execute(query.where(sa.or_(*wanted))).mappings():
            result[(row["slot"], row["grp"])] = {name: row[name] for name in FIGURES}
        return result
    if site:
        for row in connection.execute(_site_query(selection)).mappings():
            result[(row["slot"], SITE)] = {name: row[name] for name in FIGURES}
    if groups:
        for row in connection.execute(_group_query(selection)).mappings():
            result[(row["slot"], row["grp"])] = {name: row[name] for name in FIGURES}
    return result


def empty() -> dict[str, float]:
    return dict.fromkeys(FIGURES, 0)


def merge(into: dict[str, float], figures: dict[str, float]) -> None:
    for name in COUNTERS + SUMS:
        into[name] += figures[name] or 0
    for name in MAXIMA:
        if (figures[name] or 0) > into[name]:
            into[name] = figures[name]


def roll_up(figures: dict[tuple[int, str], dict[str, float]], interval: int,
            tz: dt.tzinfo) -> dict[tuple[dt.datetime, str], dict[str, float]]:
    """Sum slots into intervals of the given length (local time; 86400 is the local day)."""
    buckets: dict[tuple[dt.datetime, str], dict[str, float]] = defaultdict(empty)
    starts: dict[int, dt.datetime] = {}
    for (slot, group), values in figures.items():
        start = starts.get(slot)
        if start is None:
            start = starts[slot] = bucket_of(slot * SLOT_SECONDS, interval, tz)
        merge(buckets[(start, group)], values)
    return dict(buckets)


def total(figures: Iterable[dict[str, float]]) -> dict[str, float]:
    result = empty()
    for values in figures:
        merge(result, values)
    return result


# ------------------------------------------------------------------ derived figures


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def service_level(figures: dict[str, float]) -> float | None:
    """Answered within the threshold / (answered + abandoned - short abandons)."""
    return ratio(figures["answered_in_sl"],
                 figures["answered"] + figures["abandoned"] - figures["short_abandoned"])


def derived(figures: dict[str, float], site: bool) -> dict[str, Any]:
    """The report columns of a set of figures (see docs/reports.md for each)."""
    answered = figures["answered"]
    talked = answered + (figures["callback_answered"] if site else 0)
    return {
        **figures,
        "service_level": service_level(figures),
        "abandon_rate": ratio(figures["abandoned"] - figures["short_abandoned"],
                              figures["offered"] - figures["short_abandoned"]),
        "asa": ratio(figures["wait_answered"], answered),
        "average_abandon_wait": ratio(figures["wait_abandoned"], figures["abandoned"]),
        "average_talk": ratio(figures["talk"], talked),
        "max_wait": figures["max_wait"] if figures["offered"] else None,
        "answered_rate": ratio(answered, figures["offered"]),
    }


SERVICE_LEVEL_FORMULA = ("service level = answered within the threshold / (answered + "
                         "abandoned - short abandons)")
ABANDON_FORMULA = "abandoned % = (abandoned - short abandons) / (offered - short abandons)"
ASA_FORMULA = "average wait (ASA) = total wait of the answered calls / answered"
