"""Traffic models: what the simulator puts through a script.

A model is a YAML file::

    start: "2026-12-07T08:00:00"     # simulated start (site-local time)
    duration: 8h                     # arrivals stop after this; the run then drains
    warmup: 30m                      # calls arriving earlier are not counted
    arrivals: {rate_per_hour: 1800}  # or a profile over the day, see below
    handle_time: {distribution: exponential, mean: 180s}
    patience: {distribution: exponential, mean: 300s}   # absent: callers never give up
    agents: [{count: 100, groups: [main]}]              # shift: "08:00-16:00" optional
    service_level_threshold: 20s

Optional keys:

* ``arrivals.profile``: a list of ``{from: "08:00", to: "12:00", rate_per_hour: N}``
  periods (rate 0 outside them); ``arrivals.weekdays``: ``{saturday: 0.4}``
  multiplies the rates on those days (default 1).
* ``dialled``: ``{"+4687001000": 0.7, "+4687002000": 0.3}`` — the dialled
  number of each call (default: ``"default"``).
* ``callers``: ``{repeat_share: 0.2}`` — the share of calls made by someone who
  called before (for "prefer previous agent"); ``{withheld_share: 0.05}``.
* ``menus``: per prompt, the probability of each key; ``none`` is the
  probability of pressing nothing: ``{main-menu: {"1": 0.6, "2": 0.3, none: 0.1}}``.
  For menus not listed the caller presses 1.
* ``digits``: per prompt, what callers key in: ``{enter-number: {values: ["4711", "1234"],
  timeout: 0.05}}`` (``timeout``: the probability of entering nothing); by
  default a random 6-digit number.
* ``callback_acceptance``: probability a caller accepts an offered callback (default 0.3).
* ``times``: ``{prompt: 3s, say: 1500ms, think: 2s, ring: 0s, callback_ring: 5s,
  voicemail: 20s, prompts: {welcome: 6s}}`` — how long things take.
* ``no_answer_rate``: probability an agent does not answer a ring (default 0);
  ``no_answer_pause``: how long an agent who missed a ring stays paused before
  becoming ready again (default 60s).
* ``hot_prompts``: ``{outage: true}`` — hot prompt states for the run.
* ``estimator``: ``erlang`` (default) or ``asterisk`` — the wait estimator used.
* ``interval``: length of the report's intervals (default 30m).

Distributions: ``exponential`` (mean), ``constant`` (value or mean),
``lognormal`` (mean, sd), ``uniform`` (low, high), ``gamma`` (mean, sd).

Limits (a model past them is refused with a located error, not run for
hours): see the ``MAX_*`` constants below.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from yaml.nodes import MappingNode, Node

from . import sampling
from ..site.values import BadValue, parse_duration, parse_int, parse_time_range
from ..site.yamlmarks import (MAX_SITE_BYTES, Location, Problem, Reader, SiteError, compose_yaml,
                              decode_site_bytes, join_path)

ModelError = SiteError

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DISTRIBUTIONS = ("exponential", "constant", "lognormal", "uniform", "gamma")

# Limits. A model past them is almost certainly a typo (1e12 calls an hour,
# a team of 100 million), and would otherwise run for hours or for ever.
#: Calls an hour, of any rate (``rate_per_hour``, a profile period's rate).
MAX_RATE_PER_HOUR = 1_000_000
#: Calls expected in one replication (rates times duration, weekday factors included).
MAX_CALLS = 20_000_000
#: Agents in all teams together.
MAX_AGENTS = 100_000
#: Length of a run (``duration``).
MAX_DURATION = 366 * 86400.0
#: Any other time: handle times, patience, prompts, rings, pauses, thresholds.
MAX_TIME = 86400.0
#: Intervals in the report (``duration`` / ``interval``).
MAX_INTERVALS = 20_000      # a year of the default 30m intervals is 17,568
#: After the arrivals stop, the run waits at most this long for the calls still
#: in progress to end; calls that have not (nobody left to answer them) are
#: reported as unfinished.
DRAIN_LIMIT = 86400.0


@dataclass(frozen=True)
class Distribution:
    kind: str
    mean: float = 0.0
    sd: float = 0.0
    low: float = 0.0
    high: float = 0.0

    def sampler(self, rng: random.Random) -> sampling.Sampler:
        """A function drawing one value (seconds) from the distribution."""
        if self.kind == "exponential":
            return sampling.Exponential(rng, self.mean)
        if self.kind == "constant":
            return sampling.Constant(self.mean)
        if self.kind == "uniform":
            return sampling.Uniform(rng, self.low, self.high)
        if self.kind == "lognormal":
            return sampling.LogNormal(rng, self.mean, self.sd)
        return sampling.Gamma(rng, self.mean, self.sd)


@dataclass(frozen=True)
class ArrivalPeriod:
    start_minute: int
    end_minute: int
    rate_per_hour: float


@dataclass(frozen=True)
class AgentTeam:
    count: int
    groups: dict[str, int]
    shift: tuple[int, int] | None = None     # minutes of day; None = the whole run
    name: str = "agent"
    #: Where each group is named in the model file (for errors found later).
    group_locations: dict[str, Location] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class DigitsBehaviour:
    values: tuple[str, ...] = ()
    timeout: float = 0.0


@dataclass(frozen=True)
class Model:
    start: dt.datetime
    duration: float
    warmup: float
    arrival_rate: float                       # per hour, when there is no profile
    profile: tuple[ArrivalPeriod, ...]
    weekday_factors: dict[int, float]
    handle_time: Distribution
    patience: Distribution | None
    agents: tuple[AgentTeam, ...]
    service_level_threshold: float = 20.0
    dialled: dict[str, float] = field(default_factory=lambda: {"default": 1.0})
    repeat_share: float = 0.0
    withheld_share: float = 0.0
    menus: dict[str, dict[str, float]] = field(default_factory=dict)
    digits: dict[str, DigitsBehaviour] = field(default_factory=dict)
    callback_acceptance: float = 0.3
    prompt_seconds: float = 3.0
    prompt_overrides: dict[str, float] = field(default_factory=dict)
    say_seconds: float = 1.5
    think_seconds: float = 2.0
    ring_seconds: float = 0.0
    callback_ring_seconds: float = 5.0
    voicemail_seconds: float = 20.0
    no_answer_rate: float = 0.0
    no_answer_pause: float = 60.0
    hot_prompts: dict[str, bool] = field(default_factory=dict)
    estimator: str = "erlang"
    interval: float = 1800.0
    #: Where the model file lists its agents (for errors found later).
    agents_location: Location | None = field(default=None, compare=False)

    def rate_at(self, seconds: float) -> float:
        """Arrivals per second at ``seconds`` after the start."""
        if not self.profile and not self.weekday_factors:
            return self.arrival_rate / 3600.0
        moment = self.start + dt.timedelta(seconds=seconds)
        factor = self.weekday_factors.get(moment.weekday(), 1.0)
        if not self.profile:
            return self.arrival_rate * factor / 3600.0
        minute = moment.hour * 60 + moment.minute
        for period in self.profile:
            if period.start_minute <= minute < period.end_minute:
                return period.rate_per_hour * factor / 3600.0
        return 0.0

    def next_rate_change(self, seconds: float) -> float:
        """Seconds after the start at which the arrival rate may next change."""
        if not self.profile:
            if not self.weekday_factors:
                return math.inf
            moment = self.start + dt.timedelta(seconds=seconds)
            midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time())
            return (midnight - self.start).total_seconds()
        moment = self.start + dt.timedelta(seconds=seconds)
        minute = moment.hour * 60 + moment.minute + moment.second / 60
        boundaries = sorted({p.start_minute for p in self.profile} |
                            {p.end_minute for p in self.profile} | {24 * 60})
        following = next(b for b in boundaries if b > minute)
        return seconds + (following - minute) * 60


# ------------------------------------------------------------------ loading


def load_model(path: str | Path) -> Model:
    """Load a traffic model file; raises ModelError listing every problem."""
    from qscript.files import UnreadableFile, read_limited
    path = Path(path)
    try:
        data = read_limited(path, MAX_SITE_BYTES, kind="traffic model")
    except UnreadableFile as error:
        raise ModelError([Problem(Location(str(path)), error.reason)]) from None
    return load_model_text(decode_site_bytes(data, str(path)), str(path))


_KEYS = ("start", "duration", "warmup", "arrivals", "handle_time", "patience", "agents",
         "service_level_threshold", "dialled", "callers", "menus", "digits",
         "callback_acceptance", "times", "no_answer_rate", "no_answer_pause", "hot_prompts",
         "estimator", "interval")


def load_model_text(text: str, name: str = "<model>") -> Model:
    root = compose_yaml(text, name, "traffic model")
    reader = Reader(name)
    fields = reader.fields(root, "", _KEYS, required=("start", "duration", "arrivals",
                                                       "handle_time", "agents"))
    model = _build(reader, fields)
    if reader.problems:
        raise ModelError(reader.problems, {name: text})
    return model


def _start(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadValue(f'"{text}" is not a date and time',
                       'write it as "2026-12-07T08:00:00"') from None


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f'"{text}" is not a number') from None
    if not 0 <= value <= 1:
        raise BadValue(f"{value} is not a probability", "use a number from 0 to 1")
    return value


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f'"{text}" is not a number') from None
    if value < 0 or not math.isfinite(value):
        raise BadValue(f"{text} must be zero or more")
    return value


def _shown(seconds: float) -> str:
    """A limit as a duration to read: 24h, 366 days."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:g} days"
    return f"{seconds / 3600:g}h"


def _duration_up_to(limit: float):
    """A parser of durations no longer than ``limit`` seconds."""
    def parse(text: str) -> float:
        value = parse_duration(text)
        if value > limit:
            raise BadValue(f"{text} is longer than the limit of {_shown(limit)}")
        return value
    return parse


_time = _duration_up_to(MAX_TIME)


def _rate(text: str) -> float:
    value = _positive_number(text)
    if value > MAX_RATE_PER_HOUR:
        raise BadValue(f"{text} calls an hour is more than the limit of {MAX_RATE_PER_HOUR:,}")
    return value


def _count(text: str) -> int:
    return parse_int(text, minimum=0, maximum=MAX_AGENTS)


def _penalty(text: str) -> int:
    return parse_int(text, minimum=0)


def _build(reader: Reader, fields) -> Model:
    start = reader.value(fields, "start", "", _start, dt.datetime(2026, 1, 5, 8))
    duration = reader.value(fields, "duration", "", _duration_up_to(MAX_DURATION), 3600.0)
    if duration <= 0:
        reader.report(fields.get("duration"), "duration: must be longer than zero", "e.g. duration: 8h")
    warmup = reader.value(fields, "warmup", "", parse_duration, 0.0)
    if warmup >= duration and "warmup" in fields and duration > 0:
        reader.report(fields.get("warmup"), "warmup: the warm-up must be shorter than the duration")
    try:
        start + dt.timedelta(seconds=duration + DRAIN_LIMIT + 86400)
    except OverflowError:
        reader.report(fields.get("start"), "start: the run would end after the year 9999")
    rate, profile, weekdays = _arrivals(reader, fields.get("arrivals"))
    handle_node = fields.get("handle_time")
    handle = (_distribution(reader, handle_node, "handle_time") if handle_node is not None
              else None) or Distribution("exponential", 180.0)
    patience_node = fields.get("patience")
    patience = _distribution(reader, patience_node, "patience") if patience_node is not None else None
    agents = _agents(reader, fields.get("agents"))
    times = _times(reader, fields.get("times"))
    no_answer_rate = reader.value(fields, "no_answer_rate", "", _probability, 0.0)
    if no_answer_rate >= 1 and "patience" not in fields:
        reader.report(fields.get("no_answer_rate"),
                      "no_answer_rate: every ring is missed and callers never give up: "
                      "no call would ever end",
                      "give the callers a patience, or make no_answer_rate less than 1")
    interval = reader.value(fields, "interval", "", parse_duration, 1800.0)
    if interval <= 0:
        reader.report(fields.get("interval"), "interval: must be longer than zero", "e.g. interval: 30m")
    elif duration / interval > MAX_INTERVALS and "interval" in fields:
        reader.report(fields.get("interval"), f"interval: the report would have "
                      f"{math.ceil(duration / interval):,} intervals; at most {MAX_INTERVALS:,}",
                      "use a longer interval, e.g. 30m")
    model = Model(
        start=start, duration=duration, warmup=warmup, arrival_rate=rate, profile=profile,
        weekday_factors=weekdays, handle_time=handle, patience=patience, agents=agents,
        service_level_threshold=reader.value(fields, "service_level_threshold", "", _time, 20.0),
        dialled=_weights(reader, fields.get("dialled"), "dialled") or {"default": 1.0},
        **_callers(reader, fields.get("callers")),
        menus=_menus(reader, fields.get("menus")),
        digits=_digits(reader, fields.get("digits")),
        callback_acceptance=reader.value(fields, "callback_acceptance", "", _probability, 0.3),
        no_answer_rate=no_answer_rate,
        no_answer_pause=reader.value(fields, "no_answer_pause", "", _time, 60.0),
        hot_prompts=_hot_prompts(reader, fields.get("hot_prompts")),
        estimator=reader.value(fields, "estimator", "", _estimator, "erlang"),
        interval=interval,
        agents_location=reader.location(fields.get("agents")) if "agents" in fields else None,
        **times,
    )
    if not reader.problems and fields.get("arrivals") is not None:
        calls = expected_calls(model)
        if calls > MAX_CALLS:
            reader.report(fields.get("arrivals"), f"arrivals: the model would simulate about "
                          f"{calls:,.0f} calls per replication; the limit is {MAX_CALLS:,}",
                          "lower the rates or shorten the duration")
    return model


def expected_calls(model: Model) -> float:
    """The mean number of calls arriving in one replication (the rates integrated)."""
    total, now = 0.0, 0.0
    while now < model.duration:
        change = min(model.next_rate_change(now), model.duration)
        total += model.rate_at(now) * (change - now)
        now = change
    return total


def _estimator(text: str) -> str:
    if text not in ("erlang", "asterisk"):
        raise BadValue(f'unknown estimator "{text}"', "use erlang or asterisk")
    return text


def _arrivals(reader: Reader, node):
    if node is None:
        return 0.0, (), {}
    fields = reader.fields(node, "arrivals", ("rate_per_hour", "profile", "weekdays"))
    rate = reader.value(fields, "rate_per_hour", "arrivals", _rate, 0.0)
    profile = []
    for index, item in enumerate(reader.items(fields.get("profile"), "arrivals.profile")
                                 if fields.get("profile") is not None else []):
        path = f"arrivals.profile[{index}]"
        period = reader.fields(item, path, ("from", "to", "rate_per_hour"),
                               required=("from", "to", "rate_per_hour"))
        span = None
        begin = reader.text(period.get("from"), f"{path}.from") if "from" in period else None
        end = reader.text(period.get("to"), f"{path}.to") if "to" in period else None
        if begin is not None and end is not None:
            try:
                span = parse_time_range(f"{begin}-{end}")
            except BadValue as error:
                reader.report(period.get("from"), f"{path}: {error.message}", error.hint)
        per_hour = reader.value(period, "rate_per_hour", path, _rate, 0.0)
        if span is not None:
            profile.append(ArrivalPeriod(span.start, span.end, per_hour))
    if "rate_per_hour" not in fields and not profile:
        reader.report(node, "arrivals: give rate_per_hour or a profile")
    highest = max([rate] + [p.rate_per_hour for p in profile])
    weekdays = {}
    for entry in reader.entries(fields.get("weekdays"), "arrivals.weekdays") \
            if fields.get("weekdays") is not None else []:
        if entry.key not in _WEEKDAYS:
            reader.report(entry.key_node, f'arrivals.weekdays: "{entry.key}" is not a weekday')
            continue
        path = f"arrivals.weekdays.{entry.key}"
        factor = reader.parse(entry.value, path, _positive_number)
        if factor is None:
            continue
        if highest * factor > MAX_RATE_PER_HOUR:
            reader.report(entry.value, f"{path}: {entry.value.value} would make "
                          f"{highest * factor:,.0f} calls an hour, more than the limit of "
                          f"{MAX_RATE_PER_HOUR:,}")
            continue
        weekdays[_WEEKDAYS.index(entry.key)] = factor
    return rate, tuple(profile), weekdays


def _distribution(reader: Reader, node, path: str) -> Distribution | None:
    fields = reader.fields(node, path, ("distribution", "mean", "sd", "low", "high", "value"))
    kind = reader.value(fields, "distribution", path, str, "exponential")
    if kind not in _DISTRIBUTIONS:
        reader.report(fields.get("distribution"), f'{path}: unknown distribution "{kind}"',
                      "use one of: " + ", ".join(_DISTRIBUTIONS))
        return None
    problems_before = len(reader.problems)
    mean = reader.value(fields, "mean", path, _time, 0.0)
    if "value" in fields:
        mean = reader.value(fields, "value", path, _time, 0.0)
    sd = reader.value(fields, "sd", path, _time, 0.0)
    low = reader.value(fields, "low", path, _time, 0.0)
    high = reader.value(fields, "high", path, _time, 0.0)
    if len(reader.problems) > problems_before:
        return None  # a parameter was refused: no second error about its default
    if kind in ("exponential", "lognormal", "gamma", "constant") and mean <= 0:
        reader.report(fields.node, f"{path}: needs a mean greater than zero", "e.g. mean: 180s")
        return None
    if kind in ("lognormal", "gamma") and sd <= 0:
        reader.report(fields.node, f"{path}: {kind} needs sd greater than zero")
        return None
    if kind == "uniform" and not 0 <= low <= high:
        reader.report(fields.node, f"{path}: uniform needs 0 <= low <= high")
        return None
    return Distribution(kind, mean, sd, low, high)


def _agents(reader: Reader, node) -> tuple[AgentTeam, ...]:
    teams = []
    names: dict[str, tuple[int, Node | None]] = {}   # team name -> (index, its name node)
    for index, item in enumerate(reader.items(node, "agents") if node is not None else []):
        path = f"agents[{index}]"
        fields = reader.fields(item, path, ("count", "groups", "shift", "name"),
                               required=("count", "groups"))
        count = reader.value(fields, "count", path, _count, 0)
        locations: dict[str, Location] = {}
        groups = _team_groups(reader, fields.get("groups"), join_path(path, "groups"), locations)
        shift = None
        if "shift" in fields:
            span = reader.parse(fields.get("shift"), join_path(path, "shift"), parse_time_range)
            shift = (span.start, span.end) if span else None
        name = reader.value(fields, "name", path, str, f"team{index + 1}")
        name_node = fields.get("name")
        if name in names:
            # Agents are called NAME-1, NAME-2, ...: two teams of one name
            # would log the same agent in twice.
            other, other_node = names[name]
            if name_node is not None:
                reader.report(name_node, f'{path}.name: the team name "{name}" is also '
                              f"agents[{other}]'s", _TEAM_NAME_HINT)
            elif other_node is not None:
                reader.report(other_node, f'agents[{other}].name: the team name "{name}" is '
                              f"also agents[{index}]'s (its default name)", _TEAM_NAME_HINT)
        else:
            names[name] = (index, name_node)
        teams.append(AgentTeam(count, groups, shift, name, locations))
    total = sum(team.count for team in teams)
    if total > MAX_AGENTS:
        reader.report(node, f"agents: {total:,} agents in all; the limit is {MAX_AGENTS:,}")
    return tuple(teams)


_TEAM_NAME_HINT = "the agents of a team are called NAME-1, NAME-2, ...: give each team its own name"


def _team_groups(reader: Reader, node, path: str,
                 locations: dict[str, Location]) -> dict[str, int]:
    """A team's groups: a list (penalty 0) or a mapping group -> whole penalty."""
    groups: dict[str, int] = {}
    if node is None:
        return groups
    problems_before = len(reader.problems)
    if isinstance(node, MappingNode):
        for entry in reader.entries(node, path):
            penalty = reader.parse(entry.value, join_path(path, entry.key), _penalty)
            groups[entry.key] = penalty or 0
            locations[entry.key] = reader.location(entry.key_node)
    else:
        for item in reader.items(node, path):
            name = reader.text(item, path)
            if name is None:
                continue
            if name in groups:
                reader.report(item, f'{path}: the group "{name}" is listed twice')
            elif name.strip():
                groups[name] = 0
                locations[name] = reader.location(item)
    if not groups and len(reader.problems) == problems_before:
        reader.report(node, f"{path}: name at least one answer group")
    return groups


def _weights(reader: Reader, node, path: str) -> dict[str, float]:
    if node is None:
        return {}
    weights = {}
    for entry in reader.entries(node, path):
        value = reader.parse(entry.value, join_path(path, entry.key), _positive_number)
        if value is not None:
            weights[entry.key] = value
    if weights and sum(weights.values()) <= 0:
        reader.report(node, f"{path}: the weights add up to zero")
    return weights


def _callers(reader: Reader, node) -> dict:
    if node is None:
        return {}
    fields = reader.fields(node, "callers", ("repeat_share", "withheld_share"))
    return {"repeat_share": reader.value(fields, "repeat_share", "callers", _probability, 0.0),
            "withheld_share": reader.value(fields, "withheld_share", "callers", _probability, 0.0)}


def _menus(reader: Reader, node) -> dict[str, dict[str, float]]:
    menus = {}
    for entry in reader.entries(node, "menus") if node is not None else []:
        weights = _weights(reader, entry.value, f"menus.{entry.key}")
        for key in weights:
            if key != "none" and key not in "0123456789*#" or len(key) != 1 and key != "none":
                reader.report(entry.value, f'menus.{entry.key}: "{key}" is not a key',
                              'keys are 0-9, "*", "#", or none for no key')
        menus[entry.key] = weights
    return menus


def _digits(reader: Reader, node) -> dict[str, DigitsBehaviour]:
    behaviours = {}
    for entry in reader.entries(node, "digits") if node is not None else []:
        path = f"digits.{entry.key}"
        fields = reader.fields(entry.value, path, ("values", "timeout"))
        values = []
        for item in reader.items(fields.get("values"), join_path(path, "values")) \
                if fields.get("values") is not None else []:
            text = reader.text(item, join_path(path, "values"))
            if text is None:
                continue
            if not text or text.strip("0123456789*#"):
                reader.report(item, f'{join_path(path, "values")}: "{text}" is not something a '
                              "caller can key", "keys are 0-9, * and #; for callers who key "
                              "nothing, give a timeout probability")
                continue
            values.append(text)
        timeout = reader.value(fields, "timeout", path, _probability, 0.0)
        behaviours[entry.key] = DigitsBehaviour(tuple(values), timeout)
    return behaviours


def _hot_prompts(reader: Reader, node) -> dict[str, bool]:
    from ..site.values import parse_bool
    result = {}
    for entry in reader.entries(node, "hot_prompts") if node is not None else []:
        value = reader.parse(entry.value, f"hot_prompts.{entry.key}", parse_bool)
        if value is not None:
            result[entry.key] = value
    return result


def _times(reader: Reader, node) -> dict:
    if node is None:
        return {}
    fields = reader.fields(node, "times", ("prompt", "say", "think", "ring", "callback_ring",
                                           "voicemail", "prompts"))
    result = {}
    for key, attribute in (("prompt", "prompt_seconds"), ("say", "say_seconds"),
                           ("think", "think_seconds"), ("ring", "ring_seconds"),
                           ("callback_ring", "callback_ring_seconds"),
                           ("voicemail", "voicemail_seconds")):
        if key in fields:
            result[attribute] = reader.value(fields, key, "times", _time, 0.0)
    overrides = {}
    for entry in reader.entries(fields.get("prompts"), "times.prompts") \
            if fields.get("prompts") is not None else []:
        value = reader.parse(entry.value, f"times.prompts.{entry.key}", _time)
        if value is not None:
            overrides[entry.key] = value
    if overrides:
        result["prompt_overrides"] = overrides
    return result
