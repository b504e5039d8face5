"""Loading valid site files: the typed tree, defaults, symbols() and command modules."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from qscript.symbols import LookupInfo, Parameter, SiteSymbols
from runtime.site import (SiteError, check_scripts_exist, load_site, load_site_text)

EXAMPLES = Path(__file__).parents[2] / "examples"


def site_from(text: str, base_dir: Path, **options):
    return load_site_text(textwrap.dedent(text), "site.yaml", base_dir, **options)


# ------------------------------------------------------------------ the examples


def test_the_support_example_loads():
    site = load_site(EXAMPLES / "support" / "site.yaml", check_scripts=False)
    assert site.name == "Exempel Support AB"
    assert site.languages == ("sv", "en") and site.default_language == "sv"
    assert set(site.groups) == {"support", "sales", "overflow", "gold"}
    assert len(site.agents) == 6
    assert site.calendar("office").is_holiday(__import__("datetime").date(2026, 12, 25))
    assert site.hot_prompts["outage"].prompt == "outage-msg"
    assert site.mail is not None and site.mail.smtp_port == 2525
    assert site.script_for("+4612345") == EXAMPLES / "support" / "support.qs"
    required = {"welcome", "main-menu", "closed", "enter-customer-number", "invalid-number",
                "invalid-choice", "no-input", "cb-offer", "cb-confirm", "leave-message",
                "survey-q1", "thanks", "outage-msg"}
    for prompt in required:
        assert site.prompt_media(prompt, "sv") == f"sv/{prompt}"
        assert site.prompt_media(prompt, "en") == f"en/{prompt}"
    customers = site.lookup("customers")
    assert len(customers) == 20
    assert customers.find("589657") == {"name": "Anna Lindqvist", "segment": "gold",
                                        "balance": 12500.5}


def test_the_basic_example_loads():
    site = load_site(EXAMPLES / "basic" / "site.yaml")
    assert site.symbols().groups == frozenset({"main"})
    assert site.agents[0].groups == {"main": 0}


# ------------------------------------------------------------------ the tree


def test_defaults_for_a_minimal_site(tmp_path):
    site = site_from("groups: {support: }\n", tmp_path)
    assert site.name == "site"
    assert str(site.timezone) == "Europe/Stockholm"
    assert site.languages == ("sv",)
    group = site.groups["support"]
    assert (group.service_level_threshold, group.service_level_target, group.wrap_up,
            group.ring_timeout) == (20, 0.8, 0, 15)
    assert (site.control.host, site.control.port) == ("127.0.0.1", 8089)
    assert site.database == f"sqlite:///{tmp_path.resolve() / 'qscript.db'}"
    assert site.fallback is None and site.mail is None and site.ari is None
    assert site.announcements.wait_style == "approximate"


def test_groups_agents_and_penalties(tmp_path):
    site = site_from("""
        groups:
          support: {service_level_threshold: 1m30s, service_level_target: 90%, wrap_up: 10s}
          sales: {}
        agents:
          - {id: alice, name: Alice A, endpoint: PJSIP/alice, groups: {support: 2, sales: 0},
             wrap_up: 5s}
          - {id: bob, endpoint: Local/100@agents, groups: [support]}
          - {id: carl, groups: [sales], active: false}
        """, tmp_path)
    support = site.groups["support"]
    assert (support.service_level_threshold, support.service_level_target) == (90, 0.9)
    alice, bob, carl = site.agents
    assert alice.groups == {"support": 2, "sales": 0} and alice.wrap_up_in(support) == 5
    assert bob.name == "bob" and bob.groups == {"support": 0} and bob.wrap_up_in(support) == 10
    assert carl.active is False and carl.endpoint is None
    assert [a.id for a in site.agents_in("support")] == ["bob", "alice"]
    assert site.agent("alice") is alice and site.agent("nobody") is None


def test_yaml_1_1_surprises_do_not_happen(tmp_path):
    # Unquoted, PyYAML would read 8:00-13:00 fine but 13:00 as 780, no as False, the
    # number as an int without its +, and 0701 as octal.
    (tmp_path / "a.qs").write_text("")
    site = site_from("""
        languages: [no, sv]
        groups: {yes: {}}
        agents: [{id: on, groups: [yes]}]
        calendars: {c: {hours: {daily: 8:00-13:00, sunday: [13:00-14:00]}}}
        numbers: {+4687001000: a.qs, 0701: a.qs}
        """, tmp_path)
    assert site.languages == ("no", "sv")
    assert site.agents[0].id == "on" and "yes" in site.groups
    weekly = site.calendar("c").weekly_hours
    assert str(weekly[0][0]) == "08:00-13:00" and str(weekly[6][0]) == "13:00-14:00"
    assert [r.number for r in site.numbers] == ["+4687001000", "0701"]


def test_anchors_and_merge_keys(tmp_path):
    site = site_from("""
        groups:
          support: &defaults {wrap_up: 10s, service_level_threshold: 30s}
          sales: {<<: *defaults, wrap_up: 5s}
        """, tmp_path)
    sales = site.groups["sales"]
    assert (sales.wrap_up, sales.service_level_threshold) == (5, 30)


def test_numbers_fallback_and_connections(tmp_path):
    (tmp_path / "main.qs").write_text("")
    (tmp_path / "other.qs").write_text("")
    site = site_from("""
        groups: {support: {}}
        numbers: {"+4687001000": main.qs, default: other.qs}
        fallback: {dialplan: {context: from-qscript, extension: "100"}}
        mail: {from: q@example.com, smtp_port: 587, starttls: true, username: q,
               password_env: SMTP_PW, timeout: 30s}
        ari: {url: "http://10.0.0.1:8088/", user: qtest}
        control: {listen: "[::1]:9000"}
        database: sqlite:///state/q.db
        announcements: {position: false, wait_style: padded}
        """, tmp_path)
    assert site.script_for("+4687001000") == tmp_path.resolve() / "main.qs"
    assert site.script_for("+4699") == site.script_for(None) == tmp_path.resolve() / "other.qs"
    assert site.fallback.dialplan == dataclasses.replace(site.fallback.dialplan, priority=1)
    assert site.fallback.dialplan.extension == "100"
    assert (site.mail.sender, site.mail.starttls, site.mail.timeout) == ("q@example.com", True, 30)
    assert (site.ari.url, site.ari.app, site.ari.password_env) == (
        "http://10.0.0.1:8088", "qscript", "QSCRIPT_ARI_PASSWORD")
    assert (site.control.host, site.control.port) == ("::1", 9000)
    assert site.database == f"sqlite:///{tmp_path.resolve() / 'state/q.db'}"
    assert site.announcements.position is False and site.announcements.wait is True


def test_secrets_are_read_from_the_environment_when_used(tmp_path, monkeypatch):
    site = site_from("mail: {from: q@example.com, username: q, password_env: TEST_SMTP_PW}\n",
                     tmp_path)
    monkeypatch.delenv("TEST_SMTP_PW", raising=False)
    assert site.mail.password() is None
    monkeypatch.setenv("TEST_SMTP_PW", "s3cret")
    assert site.mail.password() == "s3cret"


def test_the_site_is_frozen(tmp_path):
    site = site_from("groups: {support: {}}\n", tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        site.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        site.groups["sales"] = site.groups["support"]  # type: ignore[index]


def test_unknown_calendar_or_lookup_names_give_a_hint(tmp_path):
    site = site_from("calendars: {office: {hours: {daily: closed}}}\n", tmp_path)
    with pytest.raises(KeyError, match='did you mean "office"'):
        site.calendar("ofice")


# ------------------------------------------------------------------ scripts


def test_check_scripts_exist_is_separate(tmp_path):
    text = "numbers: {default: support.qs}\n"
    site = site_from(text, tmp_path, check_scripts=False)
    problems = check_scripts_exist(site)
    assert [str(p.location) for p in problems] == ["site.yaml:1:20"]
    assert 'the script "support.qs" does not exist' in problems[0].message
    (tmp_path / "support.qs").write_text("inbound:\n    hangup\n")
    assert check_scripts_exist(site) == []
    assert site_from(text, tmp_path).script_for(None) == tmp_path.resolve() / "support.qs"


def test_a_missing_script_suggests_a_near_name(tmp_path):
    (tmp_path / "support.qs").write_text("")
    with pytest.raises(SiteError) as raised:
        site_from("numbers: {default: suport.qs}\n", tmp_path)
    assert raised.value.problems[0].hint == 'did you mean "support.qs"? (in the same directory)'


# ------------------------------------------------------------------ symbols and commands


def test_symbols(tmp_path):
    (tmp_path / "c.csv").write_text("number,name,vip\n1,A,yes\n")
    site = site_from("""
        languages: [sv, en]
        groups: {support: {}, sales: {}}
        calendars: {office: {hours: {weekdays: "08:00-17:00"}}}
        prompts: {welcome: {sv: sv/welcome, en: en/welcome}, outage-msg: x/outage}
        hot_prompts: {outage: {prompt: outage-msg}}
        lookups: {customers: {type: csv, path: c.csv, key: number,
                              fields: {name: string, vip: boolean}}}
        """, tmp_path)
    assert site.symbols() == SiteSymbols(
        groups=frozenset({"support", "sales"}),
        prompts=frozenset({"welcome", "outage-msg"}),
        calendars=frozenset({"office"}),
        hot_prompts=frozenset({"outage"}),
        languages=frozenset({"sv", "en"}),
        lookups={"customers": LookupInfo("customers", {"name": "string", "vip": "boolean"})},
        commands={},
    )


def test_symbols_include_custom_commands(tmp_path):
    (tmp_path / "site_cmds_ok.py").write_text(textwrap.dedent('''
        from qscript.extensions import command

        @command
        def site_test_score(call, number: str, weight: int) -> float:
            "Score of the customer."
            return 1.0
        '''))
    site = site_from("commands: {modules: [site_cmds_ok]}\n", tmp_path)
    info = site.symbols().commands["site_test_score"]
    assert info.parameters == (Parameter("number", "string"), Parameter("weight", "number"))
    assert info.returns == "number" and info.doc == "Score of the customer."
    assert site.commands["site_test_score"].function(None, "1", 2) == 1.0
    assert site.command_modules.paths == (tmp_path.resolve(),)


def test_a_command_module_that_fails_is_a_site_error_at_its_entry(tmp_path):
    (tmp_path / "site_cmds_broken.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "site_cmds_badtype.py").write_text(textwrap.dedent('''
        from qscript.extensions import command

        @command
        def site_test_bad(call, items: list) -> str:
            return ""
        '''))
    site = site_from("""
        commands:
          modules:
            - site_cmds_broken
            - site_cmds_badtype
            - site_cmds_missing
        """, tmp_path)
    with pytest.raises(SiteError) as raised:
        site.symbols()
    problems = raised.value.problems
    assert [str(p.location) for p in problems] == ["site.yaml:4:7", "site.yaml:5:7",
                                                   "site.yaml:6:7"]
    assert "no_such_module_anywhere" in problems[0].message
    assert "unsupported type" in problems[1].message
    assert "site_cmds_missing" in problems[2].message


def test_a_dialplan_fallback_needs_only_a_context(tmp_path):
    site = site_from("fallback: {dialplan: {context: from-queue}}\n", tmp_path)
    assert site.fallback.dialplan.context == "from-queue"
    assert site.fallback.dialplan.extension is None      # the dialled number
    assert site.fallback.dialplan.priority == 1
    site = site_from('fallback: {dialplan: {context: q, extension: "100", priority: 2}}\n',
                     tmp_path)
    assert (site.fallback.dialplan.extension, site.fallback.dialplan.priority) == ("100", 2)


def test_two_commands_of_one_name_are_refused_at_the_second_module(tmp_path):
    """docs/reference/custom-commands.md: two commands of the same name are refused."""
    for module, function in (("site_dup_a", "open_case"), ("site_dup_b", "open_case")):
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(f'''
            from qscript.extensions import command

            @command
            def {function}(call, customer: str) -> str:
                return "{module}"
            '''))
    (tmp_path / "site_dup_c.py").write_text(textwrap.dedent('''
        from qscript.extensions import command

        @command(name="open_case")
        def another(call) -> None:
            pass
        '''))
    (tmp_path / "site_dup_reexport.py").write_text("from site_dup_a import open_case\n")
    site = site_from("""
        commands:
          modules:
            - site_dup_a
            - site_dup_reexport
            - site_dup_b
            - site_dup_c
            - site_dup_a
        """, tmp_path)
    with pytest.raises(SiteError) as raised:
        site.symbols()
    problems = raised.value.problems
    assert [str(p.location) for p in problems] == ["site.yaml:6:7", "site.yaml:7:7",
                                                   "site.yaml:8:7"]
    assert 'command "open_case" is defined twice: in site_dup_a and in site_dup_b' \
        in problems[0].message
    assert 'in site_dup_a and in site_dup_c' in problems[1].message
    assert '"site_dup_a" is listed twice' in problems[2].message
    assert "rename one" in problems[0].hint


def test_a_module_reexporting_a_command_is_not_a_duplicate(tmp_path):
    (tmp_path / "site_re_a.py").write_text(textwrap.dedent('''
        from qscript.extensions import command

        @command
        def site_re_cmd(call) -> None:
            pass
        '''))
    (tmp_path / "site_re_b.py").write_text("from site_re_a import site_re_cmd\n")
    site = site_from("commands: {modules: [site_re_a, site_re_b]}\n", tmp_path)
    assert set(site.symbols().commands) == {"site_re_cmd"}
