"""Scenario tests for scripts (``qscript test``).

A scenario file describes calls with scripted caller actions and agent
availability, and what must happen::

    script: support.qs             # relative to this file
    site: site.yaml                # optional
    start: "2026-12-07T10:00:00"   # the simulated wall clock (calendars)
    scenarios:
      - name: a gold customer reaches an agent
        call: {caller: "0701234567", dialled: "+4687001000"}
        agents: [{id: alice, groups: [support]}, {id: bob, groups: [gold], at: 30s}]
        caller: [{press: "2"}, {enter: "123456"}]
        expect:
          prompts: [welcome, main-menu, enter-customer-number]
          groups: [support, gold]
          agent: bob

Caller actions are used in order by the script's questions: ``press: KEY``
(or ``none`` for no key) answers a menu, ``enter: DIGITS`` (or ``none``) a
digit collection, ``accept_callback: true/false`` a callback offer.
``hang_up_after: 2m`` makes the caller give up after waiting that long in the
queue. Agents: ``id``, ``groups``, ``at`` (login time, default 0s),
``answers`` (default true), ``talk`` (talk time, default 60s).

Expectations (all optional): ``prompts`` (exactly the prompts heard, in
order), ``prompts_include`` (these, in this order, among others), ``groups``
(answer groups joined, in order), ``agent``, ``outcome`` (answered,
abandoned, voicemail, transferred, callback, hung_up, failed), ``callback``
(a callback was created), ``voicemail_to`` (a voice message was mailed
there), ``transferred_to``, ``saved`` (values stored with `save`),
``max_wait`` (waited at most this long), ``path`` (the exact steps).

Failures name the scenario and the script line where the path went another
way. Branch coverage of the script over all scenarios is reported too.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from qscript.bytecode import Program

from runtime.core.center import ProgramTable
from runtime.core.factory import build_center
from runtime.core.driver import CallInfo
from runtime.simulator.coverage import branch_points as coverage_points
from runtime.simulator.driver import SimDriver
from runtime.simulator.events import EventLoop
from runtime.simulator.model import Distribution, Model
from runtime.site.values import BadValue, parse_duration
from runtime.site.yamlmarks import (MAX_SITE_BYTES, Location, Problem, Reader, SiteError, compose_yaml,
                             decode_site_bytes, did_you_mean, join_path)
from runtime.core.session import State
from runtime.core.trace import Step, Tracer

from yaml.nodes import MappingNode

ScenarioError = SiteError

_FILE_KEYS = ("script", "site", "start", "scenarios")
_SCENARIO_KEYS = ("name", "call", "agents", "caller", "hang_up_after", "answers_callback",
                  "hot_prompts", "expect", "start", "calls")
_CALL_KEYS = ("at", "call", "caller", "hang_up_after", "answers_callback", "expect")
#: How long a scenario runs, at most (simulated).
SCENARIO_HOURS = 24
_KEYS = "0123456789*#"
_EXPECT_KEYS = ("prompts", "prompts_include", "groups", "agent", "outcome", "callback",
                "voicemail_to", "transferred_to", "saved", "max_wait", "path")
_OUTCOMES = ("answered", "abandoned", "voicemail", "transferred", "callback", "hung_up", "failed")


@dataclass
class AgentPlan:
    id: str
    groups: list[str]
    at: float = 0.0
    answers: bool = True
    talk: float = 60.0
    #: Where each group is named in the scenario file (checked against the script and site).
    group_locations: list[Location] = field(default_factory=list)


@dataclass
class CallPlan:
    """One scripted caller: when they call, what they answer, what must happen."""

    at: float = 0.0
    caller: str = "0701234567"
    dialled: str = "default"
    language: str = ""
    actions: list[tuple[str, object, Location]] = field(default_factory=list)
    hang_up_after: float | None = None
    #: False: the customer does not answer when the callback rings them.
    answers_callback: bool = True
    expect: dict[str, tuple[object, Location]] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    location: Location
    calls: list[CallPlan] = field(default_factory=list)
    agents: list[AgentPlan] = field(default_factory=list)
    hot_prompts: dict[str, bool] = field(default_factory=dict)
    start: dt.datetime | None = None


@dataclass
class ScenarioFile:
    path: Path
    script: Path
    site: Path | None
    start: dt.datetime
    scenarios: list[Scenario]


# ------------------------------------------------------------------ loading


def load_scenarios(path: str | Path) -> ScenarioFile:
    from qscript.files import UnreadableFile, read_limited
    path = Path(path)
    try:
        data = read_limited(path, MAX_SITE_BYTES, kind="scenario file")
    except UnreadableFile as error:
        raise ScenarioError([Problem(Location(str(path)), error.reason)]) from None
    text = decode_site_bytes(data, str(path))
    root = compose_yaml(text, str(path), "scenario file")
    reader = Reader(str(path))
    fields = reader.fields(root, "", _FILE_KEYS, required=("script", "scenarios"))
    script = reader.value(fields, "script", "", str, "")
    site = reader.value(fields, "site", "", str, "")
    start = reader.value(fields, "start", "", _datetime, dt.datetime(2026, 12, 7, 10, 0))
    scenarios = []
    for index, node in enumerate(reader.items(fields.get("scenarios"), "scenarios")
                                 if fields.get("scenarios") is not None else []):
        scenarios.append(_scenario(reader, node, f"scenarios[{index}]"))
    base = path.parent
    if script and not (base / script).is_file():
        reader.report(fields.get("script"), f'script: no file "{script}" next to the scenarios')
    if site and not (base / site).is_file():
        reader.report(fields.get("site"), f'site: no file "{site}" next to the scenarios')
    if reader.problems:
        raise ScenarioError(reader.problems, {str(path): text})
    return ScenarioFile(path, base / script, base / site if site else None, start, scenarios)


def _datetime(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadValue(f'"{text}" is not a date and time', 'e.g. "2026-12-07T10:00:00"') from None


def _bool(text: str) -> bool:
    from runtime.site.values import parse_bool
    return parse_bool(text)


def _within_the_scenario(text: str) -> float:
    seconds = parse_duration(text)
    if seconds > SCENARIO_HOURS * 3600:
        raise BadValue(f"{text} is more than the {SCENARIO_HOURS} simulated hours a scenario runs")
    return seconds


def _scenario(reader: Reader, node, path: str) -> Scenario:
    fields = reader.fields(node, path, _SCENARIO_KEYS, required=("name",))
    scenario = Scenario(reader.value(fields, "name", path, str, path), reader.location(node))
    ids: dict[str, int] = {}
    for index, item in enumerate(reader.items(fields.get("agents"), join_path(path, "agents"))
                                 if fields.get("agents") is not None else []):
        where = f"{path}.agents[{index}]"
        agent = reader.fields(item, where, ("id", "groups", "at", "answers", "talk"),
                              required=("id", "groups"))
        group_nodes = reader.items(agent.get("groups"), join_path(where, "groups")) \
            if agent.get("groups") is not None else []
        groups = [reader.text(g, join_path(where, "groups")) or "" for g in group_nodes]
        if agent.get("groups") is not None and not group_nodes and \
                not any(p.location == reader.location(agent.get("groups")) for p in reader.problems):
            reader.report(agent.get("groups"), f"{where}.groups: name at least one answer group")
        agent_id = reader.value(agent, "id", where, str, f"agent{index}")
        if agent_id in ids:
            reader.report(agent.get("id"), f'{where}.id: the agent "{agent_id}" is also '
                          f"{path}.agents[{ids[agent_id]}]", "give each agent its own id")
        ids.setdefault(agent_id, index)
        scenario.agents.append(AgentPlan(
            agent_id, groups,
            reader.value(agent, "at", where, _within_the_scenario, 0.0),
            reader.value(agent, "answers", where, _bool, True),
            reader.value(agent, "talk", where, _within_the_scenario, 60.0),
            [reader.location(g) for g in group_nodes]))
    if fields.get("hot_prompts") is not None:
        for entry in reader.entries(fields.get("hot_prompts"), join_path(path, "hot_prompts")):
            value = reader.parse(entry.value, join_path(join_path(path, "hot_prompts"), entry.key),
                                 _bool)
            scenario.hot_prompts[entry.key] = bool(value)
    if "start" in fields:
        scenario.start = reader.value(fields, "start", path, _datetime, None)
    if fields.get("calls") is not None:
        for key in ("call", "caller", "hang_up_after", "answers_callback", "expect"):
            if key in fields:
                reader.report(fields.entries[key].key_node, f'{path}: "{key}" belongs inside '
                              'each entry of "calls" when a scenario has several calls')
        for index, item in enumerate(reader.items(fields.get("calls"), join_path(path, "calls"))):
            where = f"{path}.calls[{index}]"
            scenario.calls.append(_call_plan(reader, reader.fields(item, where, _CALL_KEYS), where))
        if not scenario.calls and not any(p.location == reader.location(fields.get("calls"))
                                          for p in reader.problems):
            reader.report(fields.get("calls"), f"{path}.calls: give at least one call",
                          "or leave calls: out for a scenario of one call")
    else:
        scenario.calls.append(_call_plan(reader, fields, path))
    return scenario


def _call_plan(reader: Reader, fields, path: str) -> CallPlan:
    plan = CallPlan(at=reader.value(fields, "at", path, _within_the_scenario, 0.0))
    if fields.get("call") is not None:
        where = join_path(path, "call")
        call = reader.fields(fields.get("call"), where, ("caller", "dialled", "language"))
        plan.caller = reader.value(call, "caller", where, str, plan.caller)
        plan.dialled = reader.value(call, "dialled", where, str, plan.dialled)
        plan.language = reader.value(call, "language", where, str, "")
    for index, item in enumerate(reader.items(fields.get("caller"), join_path(path, "caller"))
                                 if fields.get("caller") is not None else []):
        where = f"{path}.caller[{index}]"
        action = reader.fields(item, where, tuple(_ACTION_VALUES))
        kinds = [kind for kind in _ACTION_VALUES if kind in action]
        if len(kinds) != 1:
            if isinstance(item, MappingNode):
                reader.report(item, f"{where}: " + (
                    "give an action: press, enter or accept_callback" if not kinds else
                    f"one action per entry, not {' and '.join(kinds)}"),
                    'e.g. caller: [{press: "1"}, {enter: "4711"}]')
            continue
        kind = kinds[0]
        value = reader.value(action, kind, where, _ACTION_VALUES[kind], None)
        if value is not None:
            plan.actions.append((kind, value, reader.location(item)))
    if "hang_up_after" in fields:
        plan.hang_up_after = reader.value(fields, "hang_up_after", path, parse_duration, None)
    plan.answers_callback = reader.value(fields, "answers_callback", path, _bool, True)
    if fields.get("expect") is not None:
        plan.expect = _expectations(reader, fields.get("expect"), join_path(path, "expect"))
    return plan


def _key_press(text: str) -> str:
    """One key of a menu, or "" for ``none``."""
    if text == "none":
        return ""
    if len(text) != 1 or text not in _KEYS:
        raise BadValue(f'"{text}" is not one key', "a menu takes one key: 0-9, * or #, or none "
                       "for no key; digits go in enter:")
    return text


def _digits(text: str) -> str:
    """Digits keyed for a collect, or "" for ``none``."""
    if text == "none":
        return ""
    if not text or text.strip(_KEYS):
        raise BadValue(f'"{text}" is not digits', "digits are 0-9, * and #, or none for no digits")
    return text


_ACTION_VALUES = {"press": _key_press, "enter": _digits, "accept_callback": _bool}


def _expectations(reader: Reader, node, path: str) -> dict:
    fields = reader.fields(node, path, _EXPECT_KEYS)
    expect: dict[str, tuple[object, Location]] = {}
    for key in ("prompts", "prompts_include", "groups", "path"):
        if fields.get(key) is not None:
            items = [reader.text(i, join_path(path, key)) or ""
                     for i in reader.items(fields.get(key), join_path(path, key))]
            expect[key] = (items, reader.location(fields.get(key)))
    for key in ("agent", "voicemail_to", "transferred_to"):
        if key in fields:
            expect[key] = (reader.value(fields, key, path, str, ""), reader.location(fields.get(key)))
    if "outcome" in fields:
        outcome = reader.value(fields, "outcome", path, str, "")
        if outcome not in _OUTCOMES:
            reader.report(fields.get("outcome"), f'{path}.outcome: unknown outcome "{outcome}"',
                          "one of: " + ", ".join(_OUTCOMES))
        expect["outcome"] = (outcome, reader.location(fields.get("outcome")))
    if "callback" in fields:
        expect["callback"] = (reader.value(fields, "callback", path, _bool, True),
                              reader.location(fields.get("callback")))
    if "max_wait" in fields:
        expect["max_wait"] = (reader.value(fields, "max_wait", path, parse_duration, 0.0),
                              reader.location(fields.get("max_wait")))
    if fields.get("saved") is not None:
        saved = {e.key: reader.text(e.value, join_path(path, e.key))
                 for e in reader.entries(fields.get("saved"), join_path(path, "saved"))}
        expect["saved"] = (saved, reader.location(fields.get("saved")))
    return expect


def check_suite(suite: ScenarioFile, program: Program, site=None) -> None:
    """Check the scenarios against their script and site; raises ScenarioError.

    An agent's group must be one of the site's (with a site), or one the
    script queues calls to (without: a group nobody queues to is a misspelling).
    """
    from runtime.simulator.checks import script_groups
    problems = []
    if site is not None:
        known, where = set(site.groups), "the site has no answer group"
    else:
        groups = script_groups(program)
        if not groups.complete:
            return  # a group computed at run time: any name may be right
        known, where = set(groups.names), "the script queues no calls to"
    for index, scenario in enumerate(suite.scenarios):
        for number, agent in enumerate(scenario.agents):
            for group, location in zip(agent.groups, agent.group_locations):
                if group in known:
                    continue
                hint = did_you_mean(group, known)
                if site is None:
                    listed = ", ".join(f'"{g}"' for g in sorted(known)) or "none"
                    hint = f"{hint + ' ' if hint else ''}(the script's groups: {listed})"
                elif hint is None:
                    hint = "the site's groups: " + ", ".join(sorted(known))
                problems.append(Problem(location, f"scenarios[{index}].agents[{number}].groups: "
                                        f'{where} "{group}"', hint))
    if problems:
        try:
            text = suite.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            text = None
        raise ScenarioError(problems, {str(suite.path): text} if text is not None else {})


# ------------------------------------------------------------------ running


class _ScenarioDriver(SimDriver):
    """The simulator's driver with the caller's answers taken from the scenario."""

    def __init__(self, loop, model, scenario: Scenario, program: Program):
        super().__init__(loop, model, random.Random(0))
        self.scenario = scenario
        self.program = program
        self.actions: dict[str, list] = {}
        self.problems: dict[str, list[str]] = {}
        self.mailed: dict[str, list[str]] = {}
        self.transferred: dict[str, list[str]] = {}
        self.talk = {a.id: a.talk for a in scenario.agents}
        self.no_answer = {a.id for a in scenario.agents if not a.answers}
        #: Calls whose customer does not answer the callback.
        self.callback_unanswered: set[str] = set()

    def add_call(self, call: CallInfo, plan: CallPlan) -> None:
        self.legs[call.call_id] = _new_leg(60.0, plan.hang_up_after, call)
        self.actions[call.call_id] = list(plan.actions)
        self.problems[call.call_id] = []
        self.mailed[call.call_id] = []
        self.transferred[call.call_id] = []
        if not plan.answers_callback:
            self.callback_unanswered.add(call.call_id)

    def call_back(self, call, number, answered, failed) -> None:
        if call.call_id in self.callback_unanswered:
            self.loop.call_later(self.model.callback_ring_seconds, lambda: failed("no answer"))
            return
        super().call_back(call, number, answered, failed)

    def _next_action(self, call, wanted: str, prompt: str):
        actions = self.actions[call.call_id]
        if not actions:
            return ""  # the caller does nothing: timeouts
        kind, value, location = actions[0]
        if kind != wanted:
            self.problems[call.call_id].append(
                f"the script asked the caller to {_ASKS[wanted]} (prompt "
                f'"{prompt}"), but their next action ({location}) is "{kind}"')
            return ""
        actions.pop(0)
        return value

    def get_key(self, call, prompt, media, timeout, done, accept_key=None) -> None:
        if accept_key is not None:
            accepted = self._next_action(call, "accept_callback", prompt)
            key = accept_key if accepted else ""
        else:
            key = self._next_action(call, "press", prompt) or ""
        self._media(call, self._prompt_seconds(media) + (1.0 if key else timeout), done, key)

    def get_digits(self, call, prompt, media, min_digits, max_digits, terminator, timeout,
                   done) -> None:
        digits = self._next_action(call, "enter", prompt) or ""
        self._media(call, self._prompt_seconds(media) + (2.0 if digits else timeout), done,
                    str(digits))

    def ring_agent(self, call, agent_id, group, timeout, answered, failed) -> None:
        if agent_id in self.no_answer:
            self.loop.call_later(timeout, lambda: failed("no answer"))
        else:
            self.loop.call_later(2.0, answered)

    def connect(self, call, agent_id) -> None:
        leg = self.legs.get(call.call_id)
        if leg is not None:
            leg.handle_time = self.talk.get(agent_id, 60.0)
        super().connect(call, agent_id)

    def send_voicemail(self, address, recording, call) -> None:
        super().send_voicemail(address, recording, call)
        self.mailed[call.call_id].append(address)

    def transfer(self, call, number) -> None:
        self.transferred[call.call_id].append(number)
        super().transfer(call, number)


def _new_leg(handle_time: float, patience: float | None, call: CallInfo):
    from runtime.simulator.driver import _Leg
    return _Leg(handle_time, patience, call)


_ASKS = {"press": "press a key", "enter": "enter digits", "accept_callback": "accept a callback"}


@dataclass
class CallOutcome:
    plan: CallPlan
    call_id: str
    failures: list[str]
    path: list[Step]


@dataclass
class ScenarioResult:
    scenario: Scenario
    calls: list[CallOutcome]
    coverage: dict[int, int]

    @property
    def failures(self) -> list[str]:
        if len(self.calls) == 1:
            return self.calls[0].failures
        return [f"call {i + 1}: {f}" for i, c in enumerate(self.calls) for f in c.failures]

    @property
    def path(self) -> list[Step]:
        return [step for call in self.calls for step in call.path]

    @property
    def passed(self) -> bool:
        return not self.failures


def run_scenario(scenario: Scenario, program: Program, site=None,
                 start: dt.datetime | None = None, statistics=None) -> ScenarioResult:
    """Run one scenario; ``statistics`` (a runtime.core.statistics sink) receives its facts."""
    start = scenario.start or start or dt.datetime(2026, 12, 7, 10, 0)
    model = Model(start=start, duration=0.0, warmup=0.0, arrival_rate=0.0, profile=(),
                  weekday_factors={}, handle_time=Distribution("constant", 60.0),
                  patience=None, agents=())
    loop = EventLoop()
    driver = _ScenarioDriver(loop, model, scenario, program)
    records: dict[str, object] = {}
    coverage: dict[str, dict[int, int]] = {}
    center = build_center(driver, ProgramTable({"default": program}), site,
                          on_record=lambda r: records.setdefault(r.call_id, r),
                          coverage=coverage, hot_prompts=scenario.hot_prompts,
                          statistics=statistics)
    tracer = Tracer()
    center.tracer = tracer
    for agent in scenario.agents:
        loop.call_later(agent.at, lambda a=agent: center.agent_login(a.id, a.groups))
    calls = []
    for index, plan in enumerate(scenario.calls):
        call = CallInfo(f"call{index + 1}", plan.caller, plan.dialled, language=plan.language,
                        arrived_at=plan.at)
        calls.append((plan, call))

        def arrive(call=call, plan=plan):
            driver.add_call(call, plan)
            center.incoming_call(call)
        loop.call_at(plan.at, arrive)
    loop.run(until=SCENARIO_HOURS * 3600.0)
    stopped_early = loop.pending == 0
    outcomes = []
    for plan, call in calls:
        record = records.get(call.call_id)
        failures = list(driver.problems.get(call.call_id, []))
        session = center.session_for(call.call_id)
        if record is None and session is not None:
            # Still in progress: checked as it is. A callback accepted and not
            # yet made is an outcome of its own (`callback`), not a failure.
            record = session.record
            if session.state is not State.CALLBACK:
                failures.append(_not_ended(session.state, stopped_early))
        elif record is None:
            failures.append(f"the call had not arrived after {SCENARIO_HOURS} simulated hours")
        if record is not None and record.error and \
                plan.expect.get("outcome", ("",))[0] != "failed":
            failures.append(f"the script failed: {record.error}")
        path = tracer.path(call.call_id)
        failures += _check(plan, record, path, driver, call.call_id)
        outcomes.append(CallOutcome(plan, call.call_id, failures, path))
    return ScenarioResult(scenario, outcomes, coverage.get(program.hash_hex, {}))


def _not_ended(state, stopped_early: bool) -> str:
    doing = {State.QUEUED: "still waiting in the queue", State.RINGING: "still ringing an agent",
             State.CONNECTED: "still talking to an agent",
             State.AFTER: "still in the after-call part"}.get(state, f"still {state.value}")
    why = ", and no agent who could take it was left" if stopped_early and \
        state in (State.QUEUED, State.RINGING) else \
        ("" if stopped_early else f" after {SCENARIO_HOURS} simulated hours")
    return f"the call had not ended when the scenario stopped: it was {doing}{why}"


def _check(plan: CallPlan, record, path: list[Step], driver: _ScenarioDriver,
           call_id: str) -> list[str]:
    failures = []
    prompts = [(detail, step.line) for step in path
               for detail in _prompts_of(step)]
    context = _Context(driver.mailed.get(call_id, []), driver.transferred.get(call_id, []))
    for key, (expected, location) in plan.expect.items():
        if record is None and key not in ("prompts", "prompts_include", "path"):
            continue
        problem = _EXPECTATIONS[key](expected, record, path, prompts, context)
        if problem:
            failures.append(f"{location}: {problem}")
    return failures


@dataclass
class _Context:
    mailed: list[str]
    transferred: list[str]


def _prompts_of(step: Step) -> list[str]:
    if step.kind == "announce":
        return ["queue-position" if step.detail == "position" else "queue-wait"]
    if step.kind in ("play", "menu", "collect", "offer callback", "play hot"):
        return [p.strip() for p in step.detail.split(",") if p.strip()]
    return []


def _show(prompts) -> str:
    return "[" + ", ".join(f"{p} (line {line})" for p, line in prompts) + "]"


def _expect_prompts(expected, record, path, prompts, driver):
    heard = [p for p, _ in prompts]
    if heard == expected:
        return None
    for index, (want, got) in enumerate(zip(expected, prompts)):
        if want != got[0]:
            return (f'prompt #{index + 1}: expected "{want}", the script played "{got[0]}" at '
                    f"line {got[1]}; heard {_show(prompts)}")
    if len(heard) < len(expected):
        return f'expected "{expected[len(heard)]}" after {_show(prompts)}, but nothing more was played'
    extra = prompts[len(expected)]
    return f'unexpected prompt "{extra[0]}" at line {extra[1]} after the expected ones'


def _expect_prompts_include(expected, record, path, prompts, driver):
    position = 0
    for want in expected:
        while position < len(prompts) and prompts[position][0] != want:
            position += 1
        if position == len(prompts):
            return f'expected to hear "{want}" (in this order); heard {_show(prompts)}'
        position += 1
    return None


def _expect_groups(expected, record, path, prompts, driver):
    if record.groups != expected:
        return f"expected groups {expected}, the call joined {record.groups}"
    return None


def _expect_agent(expected, record, path, prompts, driver):
    if record.agent != expected:
        return f'expected agent "{expected}", reached {record.agent or "no agent"}'
    return None


def _expect_outcome(expected, record, path, prompts, driver):
    if record.outcome != expected:
        last = path[-1] if path else None
        where = f" (last step: {last})" if last else ""
        return f'expected outcome "{expected}", got "{record.outcome}"{where}'
    return None


def _expect_callback(expected, record, path, prompts, driver):
    created = any(step.kind == "callback" for step in path)
    if created != expected:
        return "expected a callback to be created" if expected else "expected no callback"
    return None


def _expect_voicemail(expected, record, path, prompts, driver):
    if expected not in driver.mailed:
        return f'expected a voice message mailed to "{expected}"; mailed: {driver.mailed or "none"}'
    return None


def _expect_transfer(expected, record, path, prompts, driver):
    if expected not in driver.transferred:
        return f'expected a transfer to "{expected}"; transfers: {driver.transferred or "none"}'
    return None


def _expect_saved(expected, record, path, prompts, driver):
    for key, value in expected.items():
        if str(record.saved.get(key)) != value:
            return f'expected save "{key}" = "{value}", got {record.saved.get(key)!r}'
    return None


def _expect_max_wait(expected, record, path, prompts, driver):
    waited = record.waited
    if waited is None or waited > expected:
        return f"expected a wait of at most {expected:g}s, waited {waited if waited is not None else 'never answered'}"
    return None


def _expect_path(expected, record, path, prompts, driver):
    actual = [f"{s.kind} {s.detail}".strip() for s in path]
    if actual != expected:
        return "the path differs:\n      expected: " + "; ".join(expected) + \
               "\n      actual:   " + "; ".join(str(s) for s in path)
    return None


_EXPECTATIONS = {
    "prompts": _expect_prompts, "prompts_include": _expect_prompts_include,
    "groups": _expect_groups, "agent": _expect_agent, "outcome": _expect_outcome,
    "callback": _expect_callback, "voicemail_to": _expect_voicemail,
    "transferred_to": _expect_transfer, "saved": _expect_saved, "max_wait": _expect_max_wait,
    "path": _expect_path,
}


# ------------------------------------------------------------------ coverage


def branch_points(program: Program) -> list[tuple[int, int, int]]:
    """(jump pc, taken pc, fall-through pc) of every conditional jump."""
    return [(point.pc, point.taken, point.through) for point in coverage_points(program)]


def uncovered_branches(program: Program, coverage: dict[int, int]) -> list[tuple[int, str]]:
    """(line, description) of every branch no scenario took."""
    lines = program.source_text.split("\n")  # lines as the lexer counts them
    missing = []
    for point in coverage_points(program):
        line = point.line
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        when_taken = "true" if point.taken_when else "false"
        when_through = "false" if point.taken_when else "true"
        if not coverage.get(point.taken):
            missing.append((line, f"{text}  (never {when_taken})"))
        if not coverage.get(point.through):
            missing.append((line, f"{text}  (never {when_through})"))
    return sorted(set(missing))
