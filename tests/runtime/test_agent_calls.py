"""An agent passes their call on (transfer, requeue), takes a callback, sees a screen pop.

On the simulator's clock, through the contact centre: the same calls the live
runtime makes (its ARI side is in test_agent_calls_ari.py).
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from qscript.api import compile_text
from runtime.acd import AcdStateError
from runtime.core.agent_view import agent_view
from runtime.core.center import ProgramTable
from runtime.core.driver import CallInfo
from runtime.core.factory import build_center
from runtime.simulator.events import EventLoop
from runtime.simulator.model import Distribution, Model
from runtime.simulator.scenarios import AgentPlan, CallPlan, Scenario, _ScenarioDriver
from runtime.site import load_site_text
from runtime.site.yamlmarks import SiteError
from runtime.site.yamlmarks import Location

SCRIPT = """inbound:
    answer
    collect customer_no prompt "enter-customer-number" digits 4:
        timeout:
            log "no number"
    lookup "customers" by customer_no into customer
    save "segment" = customer.segment
    queue to "support"
queue:
    every 20s:
        announce position
after call:
    log "survey"
"""

SITE = """languages: [en]
prompts:
  enter-customer-number: en/enter-number
  cb-offer: en/cb-offer
groups:
  support: {wrap_up: 10s}
  sales: {}
lookups:
  customers: {type: sqlite, path: crm.db, table: customers, key: number,
              fields: {name: string, segment: string}}
"""


class Centre:
    """A centre on the simulator's clock with scripted callers and agents."""

    def __init__(self, tmp_path, agents=(), script=SCRIPT, talk=None):
        with sqlite3.connect(tmp_path / "crm.db") as db:
            db.execute("CREATE TABLE customers (number TEXT, name TEXT, segment TEXT)")
            db.execute("INSERT INTO customers VALUES ('4711', 'Ada Lovelace', 'gold')")
        db.close()
        self.site = load_site_text(SITE, "site.yaml", tmp_path)
        result = compile_text(script, "test.qs", self.site.symbols())
        assert result.ok, [d.render(result.source) for d in result.errors]
        self.loop = EventLoop()
        model = Model(start=dt.datetime(2026, 12, 7, 10), duration=0, warmup=0, arrival_rate=0,
                      profile=(), weekday_factors={}, handle_time=Distribution("constant", 30.0),
                      patience=None, agents=())
        scenario = Scenario("agent calls", Location("t"),
                            agents=[AgentPlan(a, ["support"], talk=(talk or {}).get(a, 600.0))
                                    for a in agents])
        self.driver = _ScenarioDriver(self.loop, model, scenario, result.program)
        self.records = {}
        self.center = build_center(self.driver, ProgramTable({"default": result.program}),
                                   site=self.site,
                                   on_record=lambda r: self.records.setdefault(r.call_id, r))
        for agent in agents:
            self.center.agent_login(agent, {"support": 0})

    def call(self, call_id, at, caller="0701234567", actions=()):
        plan = CallPlan(at=at, caller=caller,
                        actions=[(kind, value, Location("t")) for kind, value in actions])
        call = CallInfo(call_id, plan.caller, "default", arrived_at=at)

        def arrive():
            self.driver.add_call(call, plan)
            self.center.incoming_call(call)
        self.loop.call_at(at, arrive)

    def run(self, until):
        if until > self.loop.now:
            self.loop.call_at(until, lambda: None)  # (the clock stops at the last event)
        self.loop.run(until=until)

    def state(self, agent):
        return self.center.agent_info(agent).state.name.lower()

    def close(self):
        self.site.close()


@pytest.fixture
def centre(tmp_path):
    made = []

    def make(*agents, script=SCRIPT, talk=None):
        made.append(Centre(tmp_path, agents, script, talk))
        return made[-1]
    yield make
    for one in made:
        one.close()


def test_the_screen_pop_shows_number_digits_lookup_wait_and_the_filled_crm_link(centre):
    c = centre("alice")
    c.center.agent_pause("alice", "lunch")
    c.call("c1", 0.0, caller="+46 70 123", actions=[("enter", "4711")])
    c.run(until=40.0)
    crm = "https://crm.example.com/find?number={caller}&customer={digits}&seg={saved.segment}"
    c.center.agent_ready("alice")
    c.run(until=41.0)  # ringing (2 s ring in the scenario driver)
    ringing = agent_view(c.center, "alice", crm)
    assert ringing["state"] == "ringing" and ringing["call"]["state"] == "ringing"
    c.run(until=45.0)
    view = agent_view(c.center, "alice", crm)
    pop = view["call"]
    assert view["state"] == "busy" and pop["state"] == "connected"
    assert (pop["caller"], pop["digits"], pop["language"], pop["group"]) == \
        ("+46 70 123", "4711", "en", "support")
    assert 30.0 <= pop["waited_s"] <= 43.0  # queued after the collect, answered at 42 s
    assert pop["lookups"] == {"customers": {"name": "Ada Lovelace", "segment": "gold"}}
    assert pop["saved"] == {"segment": "gold"}
    assert pop["crm_url"] == "https://crm.example.com/find?number=%2B46%2070%20123" \
        "&customer=4711&seg=gold"


def test_a_crm_link_cannot_be_given_parameters_by_what_the_caller_keys_in():
    from runtime.site.crm_url import fill_crm_url
    link = fill_crm_url("https://crm/find?number={caller}&id={saved.id}&x={{literal}}",
                        {"caller": "1&admin=1#x", "saved": {"id": 12.0}})
    assert link == "https://crm/find?number=1%26admin%3D1%23x&id=12&x={literal}"


def test_a_site_whose_crm_link_names_an_unknown_field_does_not_load(tmp_path):
    with pytest.raises(SiteError, match=r'unknown placeholder "\{customer\}" in crm_url'):
        load_site_text('web: {crm_url: "https://crm/x?n={customer}"}\n', "site.yaml", tmp_path)


def test_a_transfer_to_a_number_ends_the_call_transferred_and_the_agent_wraps_up(centre):
    c = centre("alice")
    c.call("c1", 0.0, actions=[("enter", "4711")])
    c.run(until=60.0)
    assert c.state("alice") == "busy"
    assert c.center.transfer_agent_call("alice", number="0859000000") == "c1"
    record = c.records["c1"]
    assert (record.outcome, record.transferred_to, record.agent) == \
        ("transferred", "0859000000", "alice")
    assert c.driver.transferred["c1"] == ["0859000000"]
    assert "survey" not in record.log   # the caller went on: no after-call survey
    assert c.state("alice") == "wrap_up"
    assert agent_view(c.center, "alice")["ready_in_s"] == 10.0
    c.run(until=71.0)
    assert c.state("alice") == "ready"   # ready again by itself after the wrap-up
    c.run(until=2000.0)  # the released agent's talk end (600 s) must not end anything else
    assert c.state("alice") == "ready"


def test_a_requeued_call_keeps_its_place_and_another_agent_answers_it(centre):
    c = centre("alice", "bob")
    c.center.agent_pause("bob", "meeting")
    c.call("first", 0.0)
    c.call("second", 30.0)
    c.run(until=80.0)  # (each caller lets the digit collection time out first)
    assert c.center.agent_info("alice").call_id == "first"
    c.center.requeue_agent_call("alice")
    session = c.center.session_for("first")
    assert session.state.value == "queued" and session.agent is None
    assert c.state("alice") == "wrap_up"
    # "first" keeps its first arrival: it ranks before "second", which came later.
    assert c.center.position("first") == 1 and c.center.position("second") == 2
    c.center.agent_ready("bob")
    c.run(until=85.0)
    assert c.center.agent_info("bob").call_id == "first"
    assert c.center.session_for("first").state.value == "connected"
    c.run(until=670.0)  # alice's talk would have ended (at 640 s): not bob's call
    assert c.center.session_for("first") is not None
    assert c.center.agent_info("bob").state.name == "BUSY"
    c.run(until=5000.0)
    assert c.records["first"].outcome == "answered" and c.records["first"].agent == "bob"


def test_the_next_agent_talks_their_own_time_after_a_requeue(centre):
    c = centre("alice", "bob", talk={"alice": 600.0, "bob": 30.0})
    c.center.agent_pause("bob", "meeting")
    c.call("first", 0.0)
    c.run(until=60.0)
    c.center.requeue_agent_call("alice")
    c.center.agent_ready("bob")
    c.run(until=70.0)
    answered = c.center.session_for("first").record.answered_at
    assert c.center.agent_info("bob").call_id == "first"
    c.run(until=answered + 29.0)
    assert c.center.session_for("first") is not None
    c.run(until=answered + 31.0)   # bob hangs up after his 30 s, not alice's 600
    assert c.records["first"].agent == "bob"
    assert c.records["first"].agent_ended_at == pytest.approx(answered + 30.0)


def test_a_transfer_to_an_agent_rings_only_them_and_to_a_group_joins_its_queue(centre):
    c = centre("alice", "bob", "carol")
    c.center.agent_pause("bob", "meeting")
    c.call("c1", 0.0)
    c.call("c2", 1.0)
    c.run(until=60.0)
    first = c.center.agent_info("alice").call_id
    assert c.center.agent_info("carol").call_id is not None
    c.center.transfer_agent_call("alice", agent="bob")
    c.run(until=65.0)
    # bob is paused: the call waits for him (carol and alice are not offered it)
    assert c.center.session_for(first).state.value == "queued"
    c.center.agent_ready("bob")
    c.run(until=70.0)
    assert c.center.agent_info("bob").call_id == first
    c.center.agent_groups("carol", {"support": 0, "sales": 0})
    c.center.transfer_agent_call("bob", group="sales")
    assert c.center.queue_groups(first) == ("sales",)


def test_an_agent_takes_a_pending_callback_from_their_list(centre):
    script = """inbound:
    answer
    queue to "support"
queue:
    offer callback prompt "cb-offer" key 1 timeout 5s
"""
    c = centre("alice", script=script)
    c.center.agent_pause("alice", "callbacks")
    c.call("cb", 0.0, caller="0701111111", actions=[("accept_callback", True)])
    c.run(until=30.0)
    view = agent_view(c.center, "alice")
    assert [(item["call_id"], item["number"], item["groups"]) for item in view["callbacks"]] == \
        [("cb", "0701111111", ["support"])]
    assert view["callbacks"][0]["waited_s"] > 20
    c.center.take_callback("alice", "cb")
    assert c.state("alice") == "ringing"
    assert agent_view(c.center, "alice")["callbacks"] == []
    c.run(until=60.0)
    assert c.state("alice") == "busy"
    assert agent_view(c.center, "alice")["call"]["callback"] is True
    c.run(until=2000.0)
    assert c.state("alice") == "paused"  # back to the pause they took it from
    assert c.center.agent_info("alice").pause_reason == "callbacks"


def test_passing_on_a_call_the_agent_does_not_have_is_refused_with_the_reason(centre):
    c = centre("alice", "bob")
    with pytest.raises(AcdStateError, match='agent "alice" is not on a call \\(they are ready\\)'):
        c.center.transfer_agent_call("alice", number="123")
    c.call("c1", 0.0)
    c.run(until=60.0)
    with pytest.raises(ValueError, match="one of: a number, an agent or a group"):
        c.center.transfer_agent_call("alice", number="1", group="sales")
    with pytest.raises(LookupError, match='unknown answer group "nope"'):
        c.center.requeue_agent_call("alice", "nope")
    with pytest.raises(ValueError, match="to themselves"):
        c.center.transfer_agent_call("alice", agent="alice")
    with pytest.raises(AcdStateError, match='agent "zed" is not logged in'):
        c.center.transfer_agent_call("alice", agent="zed")
    with pytest.raises(LookupError, match='no pending callback "c1"'):
        c.center.take_callback("bob", "c1")
    assert c.center.session_for("c1").state.value == "connected"  # nothing changed
