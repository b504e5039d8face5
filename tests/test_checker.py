"""The checker: type inference, constants, option ranges, hints, site checks.

The wording of each diagnostic is pinned by the golden files in
tests/data/errors; these tests check behaviour: which code, where, and what
the checker infers.
"""

from __future__ import annotations

import time

import pytest

from qscript import codes
from qscript.api import check_text, compile_text
from qscript.symbols import SiteSymbols
from qscript.types import ANY, BOOLEAN, DURATION, NUMBER, STRING, TIME, list_of, record


def check(text: str, site=None):
    return check_text(text, "t.qs", site=site)


def found(text: str, site=None) -> list[str]:
    """The codes of every diagnostic, in order."""
    return [d.code.code for d in check(text, site).diagnostics]


def variables(text: str, site=None):
    result = check(text, site)
    assert result.ok, [d.render(result.source) for d in result.errors]
    return result.checked.variables


def in_inbound(*lines: str) -> str:
    return "inbound:\n" + "".join(f"    {line}\n" for line in lines) + "    hangup\n"


# ------------------------------------------------------------------ type inference


def test_variable_types_are_inferred_from_assignments():
    types = variables(in_inbound('set n = 1', 'set s = "x"', 'set d = 30s', 'set t = 08:00',
                                 'set b = n > 0', 'set l = ["a"]', 'collect pin',
                                 'lookup "customers" by pin into c'))
    assert types == {"n": NUMBER, "s": STRING, "d": DURATION, "t": TIME, "b": BOOLEAN,
                     "l": list_of(STRING), "pin": STRING, "c": record("customers")}


def test_a_variable_assigned_in_a_later_block_types_its_earlier_use():
    text = "inbound:\n    goto setup\nblock use:\n    wait delay\n    hangup\n" \
           "block setup:\n    set delay = 10s\n    goto use\n"
    assert variables(text)["delay"] == DURATION


def test_types_flow_through_other_variables_across_blocks():
    text = "inbound:\n    goto a\nblock b:\n    set y = x + 1s\n    wait y\n    hangup\n" \
           "block a:\n    set x = 5s\n    goto b\n"
    assert variables(text) == {"y": DURATION, "x": DURATION}


def test_conflicting_assignments_anywhere_are_q2003():
    text = "inbound:\n    set v = 1\n    goto b\nblock b:\n    set v = 1s\n    hangup\n"
    result = check(text)
    (error,) = result.errors
    assert error.code is codes.CONFLICTING_TYPES and error.span.line == 5
    assert "first assigned at line 2" in error.message


def test_record_fields_are_any_without_a_site_and_typed_with_one(site):
    text = in_inbound('lookup "customers" by call.caller into c', "set score = c.score",
                      "set since = c.since", "set found = c.found")
    assert variables(text)["score"] is ANY
    typed = variables(text, site)
    assert (typed["score"], typed["since"], typed["found"]) == (NUMBER, TIME, BOOLEAN)


def test_command_results_are_typed_by_the_site(site):
    text = in_inbound("do crm_score(call.caller, 1) into s")
    assert variables(text)["s"] is ANY
    assert variables(text, site)["s"] == NUMBER


@pytest.mark.parametrize("expression, type_", [
    ("call.waited + 1s", DURATION), ("now.time + 1m", TIME), ("now.time - 08:00", DURATION),
    ("call.waited / 1m", NUMBER), ("call.waited / 2", DURATION), ("2 * call.waited", DURATION),
    ('"a" + "b"', STRING), ("7 % 3", NUMBER), ('call.caller in ["1"]', BOOLEAN),
    ("-call.waited", DURATION), ("not call.queued", BOOLEAN), ("len(call.groups)", NUMBER),
    ("to_text(1)", STRING),
])
def test_expression_types(expression, type_):
    assert variables(in_inbound(f"set v = {expression}"))["v"] == type_


@pytest.mark.parametrize("expression, type_", [
    ("c.x - 08:00", DURATION),   # only a time minus a time gives a time... minus: duration
    ("c.x + 1s", ANY),           # a duration or a time: unknown
    ("c.x * 2", ANY),            # a number or a duration
    ('c.x + "a"', STRING),
    ("c.x / 1m", NUMBER),        # only a duration divides by a duration
    ("c.x / 2", ANY),            # a number or a duration
    ("c.x > 1", BOOLEAN),
])
def test_unknown_operands_give_a_type_only_when_one_rule_fits(expression, type_):
    text = in_inbound('lookup "customers" by "1" into c', f"set v = {expression}")
    assert variables(text)["v"] == type_


def test_one_mistake_is_reported_once():
    assert found(in_inbound("set x = missing + 1", "wait x * 1s")) == ["Q1001"]
    assert found(in_inbound('lookup missing by "1" into c')) == ["Q1001"]


# ------------------------------------------------------------------ constants


def test_constants_are_folded():
    result = check('const A = 2 * 3 + 1\nconst S = "a" + "b"\nconst D = 1m + 30s\n'
                   'const T = 08:00 + 90m\nconst W = 17:00 - 08:00\nconst L = ["x", S]\n'
                   'const N = -A\nconst B = not true\ninbound:\n    hangup\n')
    assert result.ok
    assert result.checked.consts == {"A": 7, "S": "ab", "D": 90.0, "T": 570.0, "W": 32400.0,
                                     "L": ("x", "ab"), "N": -7, "B": False}
    assert result.checked.const_types["T"] == TIME
    assert result.checked.const_types["W"] == DURATION


def test_time_constants_wrap_around_midnight():
    result = check("const LATE = 23:30 + 1h\nconst EARLY = 00:15 - 30m\ninbound:\n    hangup\n")
    assert result.checked.consts == {"LATE": 30, "EARLY": 1425}


def test_ill_typed_constants_are_not_folded_and_do_not_crash():
    for value in ('-"a"', "-[1]", '"a" * 3', "[1] + [2]", "not 1", "08:00 + 08:00",
                  "08:00 * 2", "true + 1"):
        result = check(f"const X = {value}\ninbound:\n    hangup\n")
        assert [d.code.code for d in result.diagnostics] == ["Q2001"], value


def test_folding_never_builds_huge_values():
    start = time.perf_counter()
    result = check('const X = "a" * 999999999999\nconst L = [1] * 99999999999\n'
                   "inbound:\n    hangup\n")
    assert time.perf_counter() - start < 1
    assert {d.code.code for d in result.diagnostics} == {"Q2001"}


def test_integer_folding_beyond_64_bits_becomes_a_float():
    result = compile_text("const BIG = 9223372036854775807 * 4\ninbound:\n    set x = BIG\n"
                          "    hangup\n")
    assert result.ok and isinstance(result.checked.consts["BIG"], float)
    assert result.program.to_bytes()


def test_constants_are_checked_in_order():
    result = check("const A = B\nconst B = 1\ninbound:\n    hangup\n")
    (error,) = result.errors
    assert error.code is codes.UNKNOWN_VARIABLE and "before its definition" in error.message


def test_a_constant_with_a_type_error_reports_only_that():
    assert found("const X = 1 + \"a\"\ninbound:\n    hangup\n") == ["Q2001"]


# ------------------------------------------------------------------ option ranges


RANGES = [
    # (template, ok values, bad values)
    ('queue to "g" priority {}', ["0", "99"], ["-1", "100"]),
    ('queue to "g" credit {}', ["0s", "1d"], ["-1s", "86401s"]),
    ('queue to "g" target {}', ["1s", "1d"], ["0s", "86401s"]),
    ('queue to "g" prefer previous agent within {}', ["1s", "365d"], ["0s", "366d"]),
    ("set call.priority = {}", ["0", "99"], ["-1", "100"]),
    ("wait {}", ["0s", "1d"], ["-1s", "86401s"]),
    ("repeat {} times:\n        wait 1s", ["0", "1000"], ["-1", "1001"]),
    ('menu "m" timeout {}:\n        key 1:\n            pass', ["100ms", "1h"], ["0s", "3601s"]),
    ('menu "m" retries {}:\n        key 1:\n            pass', ["0", "20"], ["-1", "21"]),
    ("collect v digits {}", ["1", "32"], ["0", "33"]),
    ("collect v digits 1 to {}", ["1", "32"], ["33"]),
    ("collect v timeout {}", ["100ms", "1h"], ["50ms", "2h"]),
    ("collect v retries {}", ["0", "20"], ["21"]),
    ('voicemail to "a@b.c" max {}', ["1s", "1h"], ["0s", "3601s"]),
    ("every {}:\n        wait 1s", ["1s", "1d"], []),
]


def _range_script(template: str, value: str) -> str:
    statement = template.format(value)
    if template.startswith(("queue to", "voicemail")):
        return f"inbound:\n    {statement}\n"
    return f"inbound:\n    {statement}\n    hangup\n"


@pytest.mark.parametrize("template, ok, bad", RANGES, ids=[r[0].split("{")[0] for r in RANGES])
def test_option_ranges(template, ok, bad):
    for value in ok:
        result = check(_range_script(template, value))
        assert not result.errors, (value, [d.message for d in result.errors])
    for value in bad:
        result = check(_range_script(template, value))
        assert [d.code.code for d in result.errors] == ["Q2004"], value


def test_offer_callback_timeout_range():
    assert found("queue:\n    offer callback prompt \"p\" timeout 0s\ninbound:\n    hangup\n") == ["Q2004"]
    assert found("queue:\n    offer callback prompt \"p\" timeout 10s\ninbound:\n    hangup\n") == []


def test_every_interval_under_a_second_is_q4006():
    assert found("queue:\n    every 999ms:\n        wait 1s\ninbound:\n    hangup\n") == ["Q4006"]


def test_values_only_known_at_run_time_are_not_range_checked():
    assert found(in_inbound("set p = 500", "set call.priority = p")) == []


def test_digit_range_must_not_be_empty():
    assert found(in_inbound("collect v digits 6 to 4")) == ["Q2004"]
    assert found(in_inbound("collect v digits 4 to 4")) == []


def test_voicemail_address_needs_an_at_sign_when_known():
    assert found('inbound:\n    voicemail to "support"\n') == ["Q2004"]
    assert found('inbound:\n    set a = "x"\n    voicemail to a\n') == []


# ------------------------------------------------------------------ menus


def test_menu_keys_and_handlers():
    assert found('inbound:\n    menu "m":\n        key 1, 1:\n            pass\n    hangup\n') \
        == ["Q3001"]
    assert found('inbound:\n    menu "m":\n        key "#":\n            pass\n'
                 '        key "*":\n            pass\n        key 0:\n            pass\n    hangup\n') == []
    assert found('inbound:\n    menu "m":\n        key "12":\n            pass\n    hangup\n') \
        == ["Q3002"]
    assert found('inbound:\n    menu "m":\n        key 1:\n            pass\n'
                 '        timeout:\n            pass\n        timeout:\n            pass\n'
                 '    hangup\n') == ["Q3003"]


@pytest.mark.parametrize("options, codes_", [
    ("", ["Q3007"]), ("digits 4", []), ("valid if v != \"0\"", []), ("digits 2 to 4", []),
])
def test_collect_invalid_handler_needs_something_that_makes_input_invalid(options, codes_):
    text = f"inbound:\n    collect v {options}:\n        invalid:\n            pass\n    hangup\n"
    assert found(text) == codes_


# ------------------------------------------------------------------ hints


@pytest.mark.parametrize("text, hint", [
    (in_inbound("set total = 1", "log totl"), 'did you mean "total"?'),
    ("inbound:\n    goto clsed\nblock closed:\n    hangup\n", 'did you mean "closed"?'),
    (in_inbound("log agent_ready(\"x\")"), 'did you mean "agents_ready"?'),
    (in_inbound("log call.callr"), 'did you mean "caller"?'),
    (in_inbound("log now.tme"), 'did you mean "time"?'),
])
def test_did_you_mean_hints(text, hint):
    assert hint in [d.help for d in check(text).diagnostics]


@pytest.mark.parametrize("text, hint", [
    (in_inbound('queue to "sales_"'), 'did you mean "sales"?'),
    (in_inbound('play "welcom"'), 'did you mean "welcome"?'),
    (in_inbound('log is_open("offce")'), 'did you mean "office"?'),
    (in_inbound('play hot "outages"'), 'did you mean "outage"?'),
    (in_inbound('lookup "customer" by "1" into c'), 'did you mean "customers"?'),
    (in_inbound("do crm_scores(\"1\", 1)"), 'did you mean "crm_score"?'),
    (in_inbound('lookup "customers" by "1" into c', "log c.segmnt"), 'did you mean "segment"?'),
])
def test_did_you_mean_hints_for_site_names(site, text, hint):
    assert hint in [d.help for d in check(text, site).diagnostics]


def test_without_a_close_name_the_hint_lists_the_site_names(site):
    (error,) = check(in_inbound('queue to "zzz"'), site).errors
    assert error.help == "the site defines: sales, support"


# ------------------------------------------------------------------ site checks


SITE_NAMES = in_inbound('play "nope"', 'play hot "nope"', 'log is_open("nope")',
                        'log agents_ready("nope")', 'lookup "nope" by "1" into c',
                        'do nope()', 'set call.language = "xx"') + \
    'queue:\n    remove group "nope"\n'


def test_site_names_are_only_checked_with_a_site(site):
    assert check(SITE_NAMES).ok
    codes_ = found(SITE_NAMES, site)
    assert sorted(set(codes_)) == ["Q1003", "Q1004", "Q1005", "Q1006", "Q1007", "Q1011", "Q2004"]


def test_names_in_variables_are_not_checked_against_the_site(site):
    assert check(in_inbound('set g = "nope"', "queue to g"), site).ok


def test_languages_are_not_checked_when_the_site_lists_none():
    assert check(in_inbound('set call.language = "xx"'), SiteSymbols()).ok


def test_an_empty_site_rejects_every_name():
    assert found('inbound:\n    queue to "support"\n', SiteSymbols()) == ["Q1003"]


def test_custom_command_signature(site):
    assert found(in_inbound('do crm_score("1", 2) into s'), site) == []
    assert found(in_inbound('do crm_score("1") into s'), site) == ["Q2002"]
    assert found(in_inbound('do crm_score(1, 2) into s'), site) == ["Q2001"]
    # Without a site any command is accepted.
    assert found(in_inbound("do anything(1, 2, 3) into s")) == []


# ------------------------------------------------------------------ errors and warnings


def test_warnings_do_not_make_a_compilation_fail():
    result = compile_text("inbound:\n    hangup\n    hangup\nblock b:\n    hangup\n")
    assert result.ok
    assert [d.code.code for d in result.warnings] == ["Q4001", "Q4005"]
    assert result.errors == []
    assert result.program is not None


def test_errors_and_warnings_are_separated_and_sorted():
    result = check("inbound:\n    hangup\n    wait 5\nblock b:\n    hangup\n")
    assert not result.ok
    # Sorted by position: the unreachable "wait" starts before its bad value.
    assert [d.code.code for d in result.diagnostics] == ["Q4001", "Q2001", "Q4005"]
    assert [d.code.code for d in result.errors] == ["Q2001"]
    assert [d.code.code for d in result.warnings] == ["Q4001", "Q4005"]
    assert all(d.severity is codes.Severity.WARNING for d in result.warnings)


def test_the_checker_reports_everything_it_finds():
    text = in_inbound("wait 5", "goto nowhere", "log unknown", 'queue to 1')
    assert len(check(text).errors) == 4


def test_missing_inbound_is_q0106():
    assert found("queue:\n    wait 1s\n") == ["Q0106"]
    assert found("") == ["Q0106"]


def test_break_outside_a_loop():
    assert found(in_inbound("break")) == ["Q4003", "Q4001"]
    assert found(in_inbound("while call.queued:", "    wait 1s", "    if call.waited > 1m:",
                            "        break")) == []
    # A block reached from inside a loop is still not inside it.
    assert "Q4003" in found("inbound:\n    every 30s:\n        goto b\nblock b:\n    break\n")
