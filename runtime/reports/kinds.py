"""The reports: one function per kind, from a selection to a :class:`~.model.Report`.

Each reads the database through portable SQLAlchemy Core queries (the same
on SQLite and PostgreSQL) and leaves formatting to the renderers. Every
figure is defined in docs/reports.md; the notes of a report repeat the
formulas it uses.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store.schema import SLOT_SECONDS
from ..store.writer import AGENT_STATS, CALLS, EVENTS, INTERVALS, SURVEY
from . import figures as FIG
from .model import (COUNT, DATE, NUMBER, SECONDS, SHARE, TEXT, TIME, Chart, Column, Report,
                    ReportError, Table)
from .selection import INTERVALS as INTERVAL_NAMES, Selection, bucket_of, local_midnight
from .source import Source


@dataclass
class Options:
    interval: int = 3600              # seconds: 900, 1800, 3600 or 86400
    by: str | None = None             # survey: "agent" or "group"
    limit: int | None = None          # call log, ring-back list: at most this many rows


class Progress:
    """Steps of a long report (a rich progress bar on a terminal; nothing elsewhere)."""

    def step(self, description: str) -> None:  # pragma: no cover - overridden by the CLI
        pass


_sum = FIG._sum


def interval_name(seconds: int) -> str:
    return next(name for name, value in INTERVAL_NAMES.items() if value == seconds)


# ------------------------------------------------------------------ call figures

#: Every call figure's column, once: the site and group tables pick theirs by key.
_CALL_FIGURE_COLUMNS = {column.key: column for column in [
    Column("offered", "offered", COUNT), Column("queued", "queued", COUNT),
    Column("answered", "answered", COUNT), Column("answered_in_sl", "in SL", COUNT),
    Column("service_level", "SL", SHARE), Column("target", "target", SHARE),
    Column("abandoned", "abandoned", COUNT), Column("short_abandoned", "short ab.", COUNT),
    Column("abandon_rate", "abandoned %", SHARE), Column("removed", "overflowed", COUNT),
    Column("answered_elsewhere", "answ. elsewhere", COUNT),
    Column("callback", "callbacks", COUNT), Column("callback_answered", "cb answered", COUNT),
    Column("voicemail", "voicemail", COUNT), Column("transferred", "transferred", COUNT),
    Column("hung_up", "hung up", COUNT), Column("failed", "failed", COUNT),
    Column("asa", "avg wait", SECONDS), Column("average_talk", "avg talk", SECONDS),
    Column("max_wait", "max wait", SECONDS)]}
SITE_COLUMNS = [_CALL_FIGURE_COLUMNS[key] for key in (
    "offered", "queued", "answered", "answered_in_sl", "service_level", "abandoned",
    "short_abandoned", "abandon_rate", "callback", "callback_answered", "voicemail",
    "transferred", "hung_up", "failed", "asa", "average_talk", "max_wait")]
GROUP_COLUMNS = [_CALL_FIGURE_COLUMNS[key] for key in (
    "offered", "answered", "answered_in_sl", "service_level", "target", "abandoned",
    "short_abandoned", "abandon_rate", "removed", "answered_elsewhere", "callback", "asa",
    "average_talk", "max_wait")]
FIGURE_NOTES = [FIG.SERVICE_LEVEL_FORMULA, FIG.ABANDON_FORMULA, FIG.ASA_FORMULA,
                "a short abandon hung up sooner than the group's short_abandon_threshold; "
                "the thresholds are those in force when each call was taken"]


def _row(values: dict[str, Any], columns: list[Column]) -> list[Any]:
    return [values.get(column.key) for column in columns]


def _check_groups(source: Source, selection: Selection, connection: Connection) -> None:
    """An unknown --group is a usage error (a typo would give an empty report)."""
    if not selection.groups:
        return
    known = set(source.groups)
    if not known:   # no site: the groups the statistics know
        known = set(connection.execute(sa.select(FIG.STATS.c.grp).distinct()).scalars())
    for group in selection.groups:
        if group not in known:
            from ..site.yamlmarks import did_you_mean
            hint = did_you_mean(group, sorted(known - {FIG.SITE}))
            raise ReportError(f'unknown group "{group}"' + (f"; {hint}" if hint else ""), 2)


def _with_targets(values: dict[str, Any], source: Source, group: str) -> dict[str, Any]:
    values["target"] = source.targets(group).service_level_target
    return values


def daily(connection: Connection, source: Source, selection: Selection, options: Options,
          progress: Progress) -> Report:
    return call_statistics(connection, source, selection, Options(86400), progress,
                           kind="daily", title="Daily report")


def call_statistics(connection: Connection, source: Source, selection: Selection,
                    options: Options, progress: Progress, kind: str = "calls",
                    title: str = "Call statistics") -> Report:
    _check_groups(source, selection, connection)
    progress.step("reading the call figures")
    slots = FIG.slot_figures(connection, selection, site=not selection.groups)
    interval = options.interval
    when = Column("day", "day", DATE) if interval >= 86400 else Column("start", "start", TIME)
    progress.step("summing them up")
    buckets = FIG.roll_up(slots, interval, selection.tz)

    def key_value(start: dt.datetime):
        return start.date() if interval >= 86400 else start
    tables = []
    if not selection.groups:
        site = Table("site", "All calls", [when] + SITE_COLUMNS)
        for (start, group), values in sorted(buckets.items()):
            if group == FIG.SITE:
                site.rows.append([key_value(start)] + _row(FIG.derived(values, True), SITE_COLUMNS))
        site.total = ["total"] + _row(FIG.derived(FIG.total(
            v for (_, g), v in buckets.items() if g == FIG.SITE), True), SITE_COLUMNS)
        tables.append(site)
    groups = Table("groups", "Per group", [when, Column("group", "group")] + GROUP_COLUMNS)
    by_group: dict[str, list[dict[str, float]]] = defaultdict(list)
    for (start, group), values in sorted(buckets.items()):
        if group != FIG.SITE:
            groups.rows.append([key_value(start), group] + _row(
                _with_targets(FIG.derived(values, False), source, group), GROUP_COLUMNS))
            by_group[group].append(values)
    tables.append(groups)
    totals = Table("group_totals", "Per group, whole period",
                   [Column("group", "group")] + GROUP_COLUMNS)
    for group in sorted(by_group):
        totals.rows.append([group] + _row(_with_targets(FIG.derived(FIG.total(by_group[group]),
                                                                    False), source, group),
                                          GROUP_COLUMNS))
    tables.append(totals)
    chart = Chart("bar" if interval >= 86400 else "line", "site" if not selection.groups
                  else "groups", when.key, ["offered", "answered", "abandoned"],
                  f"{title}: calls per {interval_name(interval) if interval < 86400 else 'day'}",
                  "calls", group_by=None if not selection.groups else "group")
    if selection.groups:
        chart.series = ["offered"]
    period_title = title if interval >= 86400 else f"{title} per {interval_name(interval)}"
    return Report(kind, period_title, selection.describe(), tables, list(FIGURE_NOTES), chart)


def service_level(connection: Connection, source: Source, selection: Selection,
                  options: Options, progress: Progress) -> Report:
    _check_groups(source, selection, connection)
    progress.step("reading the call figures")
    slots = FIG.slot_figures(connection, selection, site=False)
    buckets = FIG.roll_up(slots, options.interval, selection.tz)
    columns = [Column("start", "start", TIME), Column("group", "group"),
               Column("answered_in_sl", "in SL", COUNT), Column("answered", "answered", COUNT),
               Column("abandoned", "abandoned", COUNT),
               Column("short_abandoned", "short ab.", COUNT), Column("base", "SL base", COUNT),
               Column("service_level", "SL", SHARE), Column("target", "target", SHARE),
               Column("met", "met", TEXT)]
    table = Table("service_level", "Service level", columns)
    per_group: dict[str, list[dict[str, float]]] = defaultdict(list)
    for (start, group), values in sorted(buckets.items()):
        per_group[group].append(values)
        table.rows.append([start, group] + _sl_row(values, source, group))
    totals = Table("totals", "Whole period", columns[1:])
    for group in sorted(per_group):
        totals.rows.append([group] + _sl_row(FIG.total(per_group[group]), source, group))
    targets = {f"target {group}": source.targets(group).service_level_target
               for group in sorted(per_group)}
    notes = [FIG.SERVICE_LEVEL_FORMULA,
             "SL base = answered + abandoned - short abandons; met: SL >= the group's "
             "service_level_target"]
    for group in sorted(per_group):
        t = source.targets(group)
        origin = "the site's settings" if group in source.groups else \
            "the defaults: no --site gives this group's settings"
        notes.append(f"{group}: target {t.service_level_target:.0%}, threshold "
                     f"{t.service_level_threshold:g}s, short abandon under "
                     f"{t.short_abandon_threshold:g}s ({origin}; each call is judged by the "
                     "thresholds in force when it was taken)")
    chart = Chart("line", "service_level", "start", ["service_level"],
                  f"Service level per {interval_name(options.interval)}", "service level",
                  group_by="group", targets=targets)
    return Report("service-level", f"Service level per {interval_name(options.interval)}",
                  selection.describe(), [table, totals], notes, chart)


def _sl_row(values: dict[str, float], source: Source, group: str) -> list[Any]:
    level = FIG.service_level(values)
    target = source.targets(group).service_level_target
    base = values["answered"] + values["abandoned"] - values["short_abandoned"]
    return [values["answered_in_sl"], values["answered"], values["abandoned"],
            values["short_abandoned"], base, level, target,
            "" if level is None else ("yes" if level >= target else "no")]


def weekday_hours(connection: Connection, source: Source, selection: Selection,
                  options: Options, progress: Progress) -> Report:
    progress.step("reading the call figures")
    slots = FIG.slot_figures(connection, selection, site=not selection.groups,
                             groups=bool(selection.groups))
    counts: dict[tuple[int, int], float] = defaultdict(float)
    for (slot, group), values in slots.items():
        local = dt.datetime.fromtimestamp(slot * SLOT_SECONDS, selection.tz)
        counts[(local.weekday(), local.hour)] += values["offered"]
    # How many of each weekday the period has (whole or in part): the average's divisor.
    days: dict[int, int] = defaultdict(int)
    day = selection.start.date()
    while local_midnight(day, selection.tz) < selection.end:
        days[day.weekday()] += 1
        day += dt.timedelta(days=1)
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    columns = [Column("hour", "hour")] + [Column(name.lower(), name, NUMBER) for name in names] \
        + [Column("all", "all days", NUMBER)]
    table = Table("weekday_hours", "Calls per hour, average per day", columns)
    all_days = sum(days.values())
    for hour in range(24):
        row: list[Any] = [f"{hour:02d}-{(hour + 1) % 24:02d}"]
        for weekday in range(7):
            row.append(counts[(weekday, hour)] / days[weekday] if days[weekday] else None)
        row.append(sum(counts[(w, hour)] for w in range(7)) / all_days if all_days else None)
        table.rows.append(row)
    totals = [sum(counts[(w, h)] for h in range(24)) for w in range(7)]
    table.total = ["per day"] + [totals[w] / days[w] if days[w] else None for w in range(7)] + \
        [sum(totals) / all_days if all_days else None]
    notes = ["each cell: calls offered in that hour on that weekday / number of those weekdays "
             "in the period" + (" (calls offered to the selected groups)" if selection.groups
                                else " (every call, by its arrival)")]
    chart = Chart("line", "weekday_hours", "hour", [name.lower() for name in names],
                  "Calls per hour for each weekday", "calls (average per day)")
    return Report("weekday-hours", "Calls per hour for each weekday", selection.describe(),
                  [table], notes, chart)


# ------------------------------------------------------------------ calls one by one


def _call_where(selection: Selection) -> list:
    c = CALLS.c
    where = [c.arrived_ts >= selection.start_ts, c.arrived_ts < selection.end_ts,
             *FIG._call_filters(selection)]
    if selection.agent is not None:
        where.append(c.agent == selection.agent)
    if selection.groups:
        where.append(sa.or_(*[c.groups.like(f'%"{group}"%') for group in selection.groups]))
    return where


def call_log(connection: Connection, source: Source, selection: Selection, options: Options,
             progress: Progress) -> Report:
    _check_groups(source, selection, connection)
    progress.step("reading the calls")
    c = CALLS.c
    query = sa.select(c.arrived_ts, c.call_id, c.caller, c.dialled, c.digits, c.language,
                      c.outcome, c.callback_answered, c.groups, c.answered_group, c.agent,
                      c.wait, c.talk, c.script, c.script_version, c.error) \
        .where(*_call_where(selection)).order_by(c.arrived_ts, c.id)
    if options.limit is not None:
        query = query.limit(options.limit + 1)
    columns = [Column("arrived", "arrived", TIME), Column("call_id", "call"),
               Column("caller", "caller"), Column("dialled", "dialled"),
               Column("digits", "digits"), Column("language", "lang"),
               Column("outcome", "outcome"), Column("groups", "groups"),
               Column("answered_group", "answered in"), Column("agent", "agent"),
               Column("wait", "wait", SECONDS), Column("talk", "talk", SECONDS),
               Column("script", "script"), Column("error", "error")]
    table = Table("calls", "Call log", columns)
    tz = selection.tz
    for row in connection.execute(query):
        outcome = row.outcome
        if outcome == "callback":
            outcome = "callback, answered" if row.callback_answered else "callback, not answered"
        try:
            groups = ", ".join(json.loads(row.groups or "[]"))
        except ValueError:
            groups = row.groups
        script = row.script + (f" v{row.script_version}" if row.script_version else "")
        table.rows.append([dt.datetime.fromtimestamp(row.arrived_ts, tz), row.call_id, row.caller,
                           row.dialled, row.digits, row.language, outcome, groups,
                           row.answered_group, row.agent, row.wait, row.talk, script, row.error])
    notes = []
    if options.limit is not None and len(table.rows) > options.limit:
        table.rows = table.rows[:options.limit]
        notes.append(f"only the first {options.limit} calls are listed (--limit)")
    return Report("log", "Call log", selection.describe(), [table], notes)


def ring_back(connection: Connection, source: Source, selection: Selection, options: Options,
              progress: Progress) -> Report:
    """Callers who abandoned and have not been answered since (nor called back)."""
    _check_groups(source, selection, connection)
    progress.step("finding the abandoned callers")
    c = CALLS.c
    later = CALLS.alias("later")
    reached = sa.exists().where(
        later.c.caller == c.caller, later.c.arrived_ts > c.arrived_ts,
        sa.or_(later.c.outcome == "answered",
               (later.c.outcome == "callback") & (later.c.callback_answered == True)))  # noqa: E712
    query = sa.select(c.caller, sa.func.max(c.arrived_ts).label("last"),
                      sa.func.min(c.arrived_ts).label("first"), sa.func.count().label("abandons"),
                      sa.func.max(c.wait).label("longest"),
                      sa.func.max(c.first_group).label("group")) \
        .where(*_call_where(selection), c.outcome == "abandoned", c.caller != "", ~reached) \
        .group_by(c.caller).order_by(sa.desc("last"))
    if options.limit is not None:
        query = query.limit(options.limit)
    columns = [Column("caller", "caller"), Column("last", "last abandoned", TIME),
               Column("first", "first abandoned", TIME), Column("abandons", "abandons", COUNT),
               Column("longest", "longest wait", SECONDS), Column("group", "group")]
    table = Table("ring_back", "Abandoned callers to ring back", columns)
    tz = selection.tz
    for row in connection.execute(query):
        table.rows.append([row.caller, dt.datetime.fromtimestamp(row.last, tz),
                           dt.datetime.fromtimestamp(row.first, tz), row.abandons, row.longest,
                           row.group])
    notes = ["a caller is listed when a call of theirs in the period was abandoned and no later "
             "call from the same number (up to now) was answered or called back successfully"]
    return Report("ringback", "Abandoned calls to ring back", selection.describe(), [table], notes)


# ------------------------------------------------------------------ agents


def _clipped(start_col, end_col, low: float, high: float):
    """The part of [start, end) inside [low, high), in SQL both databases evaluate alike."""
    start = sa.case((start_col < low, low), else_=start_col)
    end = sa.case((end_col > high, high), else_=end_col)
    return end - start


def _kept_agent_figures(selection: Selection) -> bool:
    """Whether the agent figures come from ``agent_stats`` (whole quarter hours) rather
    than from clipping every interval (call filters do not apply to agents)."""
    return selection.slot_aligned


def _agent_times(connection: Connection, selection: Selection):
    """(agent, state, reason, group, seconds in the period, intervals started in it,
    unanswered rings)."""
    if _kept_agent_figures(selection):
        a = AGENT_STATS.c
        first, last = selection.slots
        where = [a.slot >= first, a.slot <= last]
        if selection.agent is not None:
            where.append(a.agent == selection.agent)
        return connection.execute(
            sa.select(a.agent, a.state, a.reason, a.grp, sa.func.sum(a.seconds),
                      sa.func.sum(a.started), sa.func.sum(a.rings_unanswered))
            .where(*where).group_by(a.agent, a.state, a.reason, a.grp)).all()
    i = INTERVALS.c
    low, high = selection.start_ts, selection.end_ts
    where = [i.started_ts < high, i.ended_ts > low]
    if selection.agent is not None:
        where.append(i.agent == selection.agent)
    query = sa.select(i.agent, i.state, i.reason, i.grp,
                      _sum(_clipped(i.started_ts, i.ended_ts, low, high)).label("seconds"),
                      _sum(FIG._when((i.started_ts >= low) & (i.started_ts < high))).label("started"),
                      sa.literal(0)) \
        .where(*where).group_by(i.agent, i.state, i.reason, i.grp)
    times = connection.execute(query).all()
    e = EVENTS.c
    where = [e.ts >= low, e.ts < high, e.kind == "ring_no_answer"]
    if selection.agent is not None:
        where.append(e.agent == selection.agent)
    rings = connection.execute(sa.select(e.agent, sa.literal("ringing"), sa.literal(""), e.grp,
                                         sa.literal(0.0), sa.literal(0), sa.func.count())
                               .where(*where).group_by(e.agent, e.grp)).all()
    return times + rings


def agent_statistics(connection: Connection, source: Source, selection: Selection,
                     options: Options, progress: Progress) -> Report:
    _check_groups(source, selection, connection)
    progress.step("reading the agents' states")
    groups = set(selection.groups)
    per_agent: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    pauses: dict[tuple[str, str], float] = defaultdict(float)
    for agent, state, reason, grp, seconds, started, rings in _agent_times(connection, selection):
        figures = per_agent[agent]
        call_state = state in ("ringing", "busy", "wrap_up")
        if rings and (not groups or grp in groups):
            figures["ring_no_answer"] += rings
        if groups and call_state and grp not in groups:
            figures["other_calls"] += seconds       # a call of another group: still not ready
            continue
        figures[state] += seconds
        if state == "busy":
            figures["answered"] += started
        if state == "paused":
            pauses[(agent, reason or "(no reason)")] += seconds
    columns = [Column("agent", "agent"), Column("answered", "answered", COUNT),
               Column("talk", "talk", SECONDS), Column("average_talk", "avg talk", SECONDS),
               Column("wrap_up", "wrap-up", SECONDS), Column("handle", "handle", SECONDS),
               Column("average_handle", "avg handle", SECONDS),
               Column("ring_no_answer", "not answered", COUNT),
               Column("ready", "ready", SECONDS), Column("ringing", "ringing", SECONDS),
               Column("paused", "paused", SECONDS), Column("logged_in", "logged in", SECONDS),
               Column("occupancy", "occupancy", SHARE)]
    table = Table("agents", "Agent statistics", columns)
    sums: dict[str, float] = defaultdict(float)
    for agent in sorted(per_agent, key=natural_order):
        values = _agent_row(per_agent[agent])
        for key in ("answered", "talk", "wrap_up", "ring_no_answer", "ready", "ringing", "paused",
                    "logged_in", "handle", "other_calls"):
            sums[key] += values.get(key) or 0
        table.rows.append([agent] + [values.get(c.key) for c in columns[1:]])
    table.total = ["total"] + [_agent_row(sums).get(c.key) for c in columns[1:]]
    pause_table = Table("pauses", "Pause time by reason",
                        [Column("agent", "agent"), Column("reason", "reason"),
                         Column("seconds", "paused", SECONDS)])
    for (agent, reason), seconds in sorted(pauses.items(),
                                           key=lambda item: (natural_order(item[0][0]), item[0][1])):
        pause_table.rows.append([agent, reason, seconds])
    by_reason: dict[str, float] = defaultdict(float)
    for (agent, reason), seconds in pauses.items():
        by_reason[reason] += seconds
    pause_table.total = ["total", ", ".join(f"{r} {s:.0f}s" for r, s in sorted(by_reason.items())),
                         sum(by_reason.values())]
    notes = ["answered: connections started in the period; talk, wrap-up, ready, ringing, "
             "paused: time in that state within the period; handle = talk + wrap-up",
             "logged in = ready + ringing + talk + wrap-up + paused",
             "occupancy = (talk + wrap-up) / (logged in - paused)"]
    if groups:
        notes.append("with --group, answered, talk, wrap-up and ringing count the calls of the "
                     "selected groups only; time on other groups' calls counts as logged in")
    chart = Chart("bar", "agents", "agent", ["answered"], "Answered calls per agent", "calls")
    return Report("agents", "Agent statistics", selection.describe(), [table, pause_table],
                  notes, chart)


def _agent_row(figures: dict[str, float]) -> dict[str, Any]:
    talk, wrap, answered = figures.get("busy", figures.get("talk", 0.0)), \
        figures.get("wrap_up", 0.0), figures.get("answered", 0.0)
    ready, ringing, paused = figures.get("ready", 0.0), figures.get("ringing", 0.0), \
        figures.get("paused", 0.0)
    other = figures.get("other_calls", 0.0)
    logged_in = figures.get("logged_in") or (ready + ringing + talk + wrap + paused + other)
    handle = talk + wrap
    working = logged_in - paused
    return {"answered": int(answered), "talk": talk, "average_talk": FIG.ratio(talk, answered),
            "wrap_up": wrap, "handle": handle, "average_handle": FIG.ratio(handle, answered),
            "ring_no_answer": int(figures.get("ring_no_answer", 0)), "ready": ready,
            "ringing": ringing, "paused": paused, "logged_in": logged_in,
            "occupancy": FIG.ratio(handle, working), "other_calls": other}


def _state_seconds(connection: Connection, selection: Selection) -> dict[tuple[int, str], float]:
    """(slot, state) -> seconds agents spent in the state within the slot and the period."""
    seconds: dict[tuple[int, str], float] = defaultdict(float)
    if _kept_agent_figures(selection):
        a = AGENT_STATS.c
        first, last = selection.slots
        kept = [a.slot >= first, a.slot <= last]
        if selection.agent is not None:
            kept.append(a.agent == selection.agent)
        for slot, state, total in connection.execute(
                sa.select(a.slot, a.state, sa.func.sum(a.seconds)).where(*kept)
                .group_by(a.slot, a.state)):
            seconds[(slot, state)] += total
        return seconds
    i = INTERVALS.c
    low, high = selection.start_ts, selection.end_ts
    where = [i.started_ts < high, i.ended_ts > low]
    if selection.agent is not None:
        where.append(i.agent == selection.agent)
    for state, started, ended in connection.execute(
            sa.select(i.state, i.started_ts, i.ended_ts).where(*where)):
        start, end = max(started, low), min(ended, high)
        slot = int(start // SLOT_SECONDS)
        while start < end:
            slot_end = min((slot + 1) * SLOT_SECONDS, end)
            seconds[(slot, state)] += slot_end - start
            start, slot = slot_end, slot + 1
    return seconds


def staffing(connection: Connection, source: Source, selection: Selection, options: Options,
             progress: Progress) -> Report:
    """Agents logged in, ready, busy ... on average over each interval."""
    progress.step("reading the agents' states")
    low, high = selection.start_ts, selection.end_ts
    states = ("ready", "ringing", "busy", "wrap_up", "paused")
    seconds = _state_seconds(connection, selection)
    progress.step("averaging per interval")
    interval = options.interval
    length: dict[dt.datetime, float] = defaultdict(float)
    first, last = selection.slots
    bucket_for: dict[int, dt.datetime] = {}
    for slot in range(first, last + 1):
        start, end = max(slot * SLOT_SECONDS, low), min((slot + 1) * SLOT_SECONDS, high)
        bucket = bucket_for[slot] = bucket_of(slot * SLOT_SECONDS, interval, selection.tz)
        length[bucket] += end - start
    totals: dict[tuple[dt.datetime, str], float] = defaultdict(float)
    for (slot, state), value in seconds.items():
        totals[(bucket_for[slot], state)] += value
    columns = [Column("start", "start", TIME), Column("logged_in", "logged in", NUMBER)] + \
        [Column(state, state.replace("_", "-"), NUMBER) for state in states]
    table = Table("staffing", "Agents on average", columns)
    for bucket in sorted(length):
        values = {state: totals[(bucket, state)] / length[bucket] for state in states}
        table.rows.append([bucket, sum(values.values())] + [values[state] for state in states])
    whole = high - low
    overall = {state: sum(v for (b, s), v in totals.items() if s == state) / whole
               for state in states}
    table.total = ["whole period", sum(overall.values())] + [overall[state] for state in states]
    notes = ["each figure: the time agents spent in that state during the interval / the "
             "interval's length (2.5 = two and a half agents on average); logged in is the sum"]
    chart = Chart("line", "staffing", "start", ["logged_in", "ready", "busy", "paused"],
                  f"Staffing per {interval_name(interval)}", "agents")
    return Report("staffing", f"Staffing per {interval_name(interval)}", selection.describe(),
                  [table], notes, chart)


# ------------------------------------------------------------------ survey


def survey(connection: Connection, source: Source, selection: Selection, options: Options,
           progress: Progress) -> Report:
    _check_groups(source, selection, connection)
    progress.step("reading the answers")
    s = SURVEY.c
    where = [s.ts >= selection.start_ts, s.ts < selection.end_ts]
    if selection.groups:
        where.append(s.grp.in_(selection.groups))
    if selection.agent is not None:
        where.append(s.agent == selection.agent)
    distribution = Table("answers", "Answers", [
        Column("question", "question"), Column("answer", "answer"),
        Column("count", "answers", COUNT), Column("share", "share", SHARE)])
    summary = Table("questions", "Per question", [
        Column("question", "question"), Column("count", "answers", COUNT),
        Column("numeric", "numeric", COUNT), Column("average", "average", NUMBER),
        Column("minimum", "min", NUMBER), Column("maximum", "max", NUMBER)])
    rows = connection.execute(sa.select(s.question, s.answer, sa.func.count()).where(*where)
                              .group_by(s.question, s.answer).order_by(s.question, s.answer)).all()
    per_question: dict[str, int] = defaultdict(int)
    for question, answer, count in rows:
        per_question[question] += count
    for question, answer, count in sorted(rows, key=lambda r: (r[0], _answer_order(r[1]))):
        distribution.rows.append([question, answer, count, count / per_question[question]])
    for question, count, numeric, average, low, high in connection.execute(
            sa.select(s.question, sa.func.count(), sa.func.count(s.number), sa.func.avg(s.number),
                      sa.func.min(s.number), sa.func.max(s.number)).where(*where)
            .group_by(s.question).order_by(s.question)):
        summary.rows.append([question, count, numeric, average, low, high])
    tables = [summary, distribution]
    by = options.by
    if by is not None:
        column = s.agent if by == "agent" else s.grp
        per = Table(f"per_{by}", f"Per {by}", [
            Column(by, by), Column("question", "question"), Column("count", "answers", COUNT),
            Column("average", "average", NUMBER)])
        for who, question, count, average in connection.execute(
                sa.select(column, s.question, sa.func.count(), sa.func.avg(s.number))
                .where(*where).group_by(column, s.question).order_by(column, s.question)):
            per.rows.append([who, question, count, average])
        tables.append(per)
    notes = ["a survey answer is a `save` made in the `after call:` phase; average: of the "
             "answers that are numbers"]
    chart = Chart("bar", "answers", "answer", ["count"], "Survey answers", "answers",
                  group_by="question")
    return Report("survey", "Survey results", selection.describe(), tables, notes, chart)


def natural_order(name: str) -> tuple:
    """Names in the order people read them: team1-2 before team1-10
    (digits as numbers), anna before Bo."""
    return tuple((0, int(part), "", "") if part.isdigit() else (1, 0, part.casefold(), part)
                 for part in re.split(r"(\d+)", name) if part)


def _answer_order(answer: str):
    try:
        return (0, float(answer), answer)
    except ValueError:
        return (1, 0.0, answer)


# ------------------------------------------------------------------ the kinds

Builder = Callable[[Connection, Source, Selection, Options, Progress], Report]

KINDS: dict[str, tuple[Builder, str]] = {
    "daily": (daily, "per day: calls offered, answered, service level, abandoned, waits"),
    "calls": (call_statistics, "call statistics per group and interval (--interval)"),
    "log": (call_log, "the call log: one line per call"),
    "agents": (agent_statistics, "per agent: answered, talk, wrap-up, pauses, occupancy"),
    "staffing": (staffing, "agents logged in, ready, busy, paused per interval"),
    "service-level": (service_level, "service level per group and interval against its target"),
    "survey": (survey, "survey answers: distribution and average per question (--by)"),
    "weekday-hours": (weekday_hours, "calls per hour for each weekday (average per day)"),
    "ringback": (ring_back, "abandoned callers not answered or called back since"),
}
