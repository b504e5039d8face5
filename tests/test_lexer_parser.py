"""Lexer, parser and source handling: tokens, layout, literals, precedence, spans.

The wording of syntax errors is pinned by the golden files
(tests/data/errors/syntax.qs); these tests check structure and positions.
"""

from __future__ import annotations

import pytest

from qscript import ast, codes
from qscript.diagnostics import Diagnostic, DiagnosticBag, did_you_mean
from qscript.lexer import MAX_NESTING, find_comments
from qscript.parser import parse
from qscript.source import MAX_SOURCE_BYTES, Source, SourceError, Span


def parse_ok(text: str) -> ast.Script:
    bag = DiagnosticBag(Source(text, "t.qs"))
    script = parse(bag.source, bag)
    assert script is not None and not bag.items, [d.render(bag.source) for d in bag.items]
    return script


def parse_errors(text: str) -> list[Diagnostic]:
    bag = DiagnosticBag(Source(text, "t.qs"))
    parse(bag.source, bag)
    assert bag.items, "expected a syntax error"
    return bag.items


def body(text: str, section: str = "inbound") -> tuple:
    return parse_ok(text).section(section).body


def stmt(line: str):
    """The single statement of ``inbound:`` holding ``line``."""
    (only,) = body(f"inbound:\n    {line}\n")
    return only


def expr(text: str):
    return stmt(f"set x = {text}").value


def shape(node) -> str:
    """An expression as a fully parenthesised string, to check precedence."""
    if isinstance(node, ast.Binary):
        return f"({shape(node.left)} {node.op} {shape(node.right)})"
    if isinstance(node, ast.Unary):
        return f"({node.op} {shape(node.operand)})"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.NumberLit):
        return str(node.value)
    if isinstance(node, ast.Attribute):
        return f"{shape(node.value)}.{node.name}"
    if isinstance(node, ast.Call):
        return f"{node.function}({', '.join(shape(a) for a in node.args)})"
    raise AssertionError(node)


# ------------------------------------------------------------------ literals


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("2m", 120), ("1h30m", 5400),
                                           ("1d", 86400), ("500ms", 0.5), ("1m30s250ms", 90.25),
                                           ("0s", 0)])
def test_durations_are_seconds(text, seconds):
    value = expr(text)
    assert isinstance(value, ast.DurationLit)
    assert value.seconds == seconds and value.text == text


@pytest.mark.parametrize("text, minutes", [("00:00", 0), ("08:30", 510), ("8:05", 485),
                                           ("23:59", 1439)])
def test_times_are_minutes_since_midnight(text, minutes):
    value = expr(text)
    assert isinstance(value, ast.TimeLit) and value.minutes == minutes


def test_numbers():
    assert expr("7").value == 7 and isinstance(expr("7").value, int)
    assert expr("2.50").value == 2.5
    assert expr(str(2**63 - 1)).value == 2**63 - 1


def test_strings_and_escapes():
    assert expr('"a\\"b\\\\c\\nd\\te"').value == 'a"b\\c\nd\te'
    assert expr('"# not a comment"').value == "# not a comment"
    assert expr('""').value == ""


@pytest.mark.parametrize("text", ["24:00", "12:60", "1m1m", '"\\x"', str(2**63),
                                  "1234567890123s"])
def test_bad_literals_are_q0105(text):
    errors = parse_errors(f"inbound:\n    set x = {text}\n")
    assert [d.code for d in errors] and all(d.code is codes.BAD_LITERAL for d in errors)
    assert errors[0].span.line == 2


def test_booleans_lists_and_attributes():
    assert expr("true").value is True and expr("false").value is False
    listing = expr('["a", 1, x]')
    assert isinstance(listing, ast.ListLit) and len(listing.items) == 3
    assert expr("[]").items == ()
    assert expr("[1, 2,]").items[1].value == 2  # a trailing comma is allowed


# ------------------------------------------------------------------ keywords and names


def test_keywords_are_reserved():
    errors = parse_errors("inbound:\n    set queue = 1\n")
    assert errors[0].code is codes.UNEXPECTED_TOKEN


def test_any_word_after_a_dot_is_a_name():
    value = expr("customer.key + call.priority + x.timeout")
    assert shape(value) == "((customer.key + call.priority) + x.timeout)"


def test_call_and_now_are_names_not_keywords():
    assert isinstance(expr("call.caller").value, ast.Name)
    assert expr("now.time").value.id == "now"


# ------------------------------------------------------------------ precedence


@pytest.mark.parametrize("text, expected", [
    ("a + b * c", "(a + (b * c))"),
    ("a * b + c", "((a * b) + c)"),
    ("a - b - c", "((a - b) - c)"),
    ("a / b % c", "((a / b) % c)"),
    ("a + b < c * d", "((a + b) < (c * d))"),
    ("a or b and c", "(a or (b and c))"),
    ("a and b or c", "((a and b) or c)"),
    ("not a == b", "(not (a == b))"),
    ("not a and b", "((not a) and b)"),
    ("(not a) == b", "((not a) == b)"),
    ("not not a", "(not (not a))"),
    ("-a * b", "((- a) * b)"),
    ("- -a", "(- (- a))"),
    ("a - -b", "(a - (- b))"),
    ("a in b and c not in d", "((a in b) and (c not in d))"),
    ("a == b == c", "((a == b) == c)"),
    ("(a + b) * c", "((a + b) * c)"),
    ("f(a + b, c) * 2", "(f((a + b), c) * 2)"),
])
def test_operator_precedence(text, expected):
    assert shape(expr(text)) == expected


# ------------------------------------------------------------------ layout


def test_blocks_by_indentation_and_dedent_over_several_levels():
    script = parse_ok("inbound:\n    if a:\n        if b:\n            hangup\n    hangup\n"
                      "queue:\n    wait 1s\n")
    outer = script.section("inbound").body
    assert [type(s) for s in outer] == [ast.If, ast.Hangup]
    assert script.section("queue") is not None


def test_tabs_count_as_eight_columns():
    script = parse_ok("inbound:\n\tif a:\n\t\thangup\n        hangup\n")
    assert [type(s) for s in script.section("inbound").body] == [ast.If, ast.Hangup]


def test_crlf_missing_final_newline_comments_and_blank_lines():
    text = "# header\r\n\r\ninbound:  # trailing\r\n\r\n    # inside\r\n    answer\r\n\r\n    hangup"
    assert [type(s) for s in body(text)] == [ast.Answer, ast.Hangup]


def test_top_level_sections_start_in_column_1():
    """Also on the first line, which has no newline before it."""
    assert body("\n\n# comment\ninbound:\n    hangup\n")
    for text in ("  inbound:\n    hangup\n", "\n\n  inbound:\n    hangup\n"):
        (error,) = parse_errors(text)
        assert error.code is codes.UNEXPECTED_TOKEN and "indentation" in error.message


def test_newlines_inside_brackets_are_ignored():
    (play, set_) = body('inbound:\n    play ("a" +\n  "b"), "c"\n    set x = [1,\n2,\n\n  3]\n')
    assert isinstance(play, ast.Play) and len(play.prompts) == 2
    assert len(set_.value.items) == 3


def test_bad_dedent_is_q0103_with_hint():
    (error,) = parse_errors("inbound:\n    if a:\n        hangup\n      hangup\n")
    assert error.code is codes.BAD_INDENT
    assert error.span == Span(4, 1, 4, 7)
    assert "column 5" in error.help


def test_nesting_limit():
    deep = "inbound:\n" + "".join("    " * (i + 1) + "if a:\n" for i in range(MAX_NESTING - 1))
    parse_ok(deep + "    " * MAX_NESTING + "hangup\n")
    deeper = "inbound:\n" + "".join("    " * (i + 1) + "if a:\n" for i in range(MAX_NESTING + 1))
    (error,) = parse_errors(deeper + "    " * (MAX_NESTING + 2) + "hangup\n")
    assert error.code is codes.TOO_DEEP
    parse_ok("inbound:\n    set x = " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING + "\n")
    (error,) = parse_errors("inbound:\n    set x = " + "[" * (MAX_NESTING + 1) + "\n")
    assert error.code is codes.TOO_DEEP and error.span.column == 13 + MAX_NESTING


def test_unclosed_bracket_at_end_of_file_points_at_the_bracket():
    (error,) = parse_errors('inbound:\n    play ("a" +\n    "b"\n')
    assert error.code is codes.UNEXPECTED_END
    assert (error.span.line, error.span.column) == (2, 10)
    assert error.help == 'close it with ")"'


def test_unexpected_character_position():
    (error,) = parse_errors("inbound:\n    play @\n")
    assert error.code is codes.UNEXPECTED_CHARACTER
    assert error.span == Span(2, 10, 2, 11)


def test_only_the_first_syntax_error_is_reported():
    errors = parse_errors("inbound:\n    play\n    hangup hangup\n")
    assert len(errors) == 1 and errors[0].span.line == 2


def test_after_needs_call_but_parsing_goes_on():
    bag = DiagnosticBag(Source("after party:\n    stop\ninbound:\n    hangup\n"))
    script = parse(bag.source, bag)
    assert script is not None and script.section("after") is not None
    assert [d.code for d in bag.items] == [codes.UNEXPECTED_TOKEN]


# ------------------------------------------------------------------ statements


def test_every_simple_statement_builds_its_node():
    cases = {
        "answer": ast.Answer, "hangup": ast.Hangup, "stop": ast.Stop, "pass": ast.Pass,
        "break": ast.Break, 'play "a", "b"': ast.Play, 'play hot "x"': ast.PlayHot,
        "say number 1": ast.Say, "music off": ast.Music, "wait 1s": ast.Wait,
        "set x = 1": ast.Set, "goto b": ast.Goto, 'queue to "a", "b"': ast.Queue,
        'requeue to "a"': ast.Queue, 'add group "a"': ast.AddGroup,
        'remove group "a"': ast.RemoveGroup, "announce wait": ast.Announce,
        "offer callback": ast.OfferCallback, 'voicemail to "a@b"': ast.Voicemail,
        'transfer to "1"': ast.Transfer, 'lookup "c" by x into r': ast.Lookup,
        "do cmd(1, 2) into r": ast.Command, 'log "x"': ast.Log, 'save "k" = 1': ast.Save,
    }
    for line, node_type in cases.items():
        assert type(stmt(line)) is node_type, line


def test_statement_details():
    assert stmt('play "a", "b"').prompts[1].value == "b"
    say = stmt('say amount 12.5 currency "SEK"')
    assert (say.kind, say.value.value, say.currency.value) == ("amount", 12.5, "SEK")
    assert stmt("say digits 12").currency is None
    assert stmt("music off").moh_class is None
    assert stmt('music "jazz"').moh_class.value == "jazz"
    fact = stmt("set call.priority = 5")
    assert (fact.name, fact.fact) == ("priority", True)
    other = stmt("set foo.bar = 5")
    assert (other.name, other.fact) == ("foo.bar", True)
    assert stmt("requeue to \"a\"").requeue and not stmt('queue to "a"').requeue
    assert stmt("announce position").what == "position"
    command = stmt("do notify()")
    assert (command.name, command.args, command.into) == ("notify", (), None)
    lookup = stmt('lookup "customers" by call.caller into customer')
    assert (lookup.lookup.value, lookup.into) == ("customers", "customer")


def test_queue_options():
    queue = stmt('queue to "a" priority 5 credit 1m target 20s prefer previous agent within 1d '
                 'when empty goto b')
    names = [o.name for o in queue.options]
    assert names == ["priority", "credit", "target", "prefer_previous", "when_empty"]
    assert queue.options[-1].target == "b" and queue.options[-1].value is None
    assert queue.options[0].value.value == 5


def test_menu_and_collect():
    (menu,) = body('inbound:\n    menu "m" timeout 5s retries 2:\n        key 1, "#":\n'
                   '            pass\n        invalid:\n            pass\n')
    assert isinstance(menu, ast.Menu)
    assert [o.name for o in menu.options] == ["timeout", "retries"]
    assert [h.kind for h in menu.handlers] == ["key", "invalid"]
    assert [k.text for k in menu.handlers[0].keys] == ["1", "#"]
    (collect,) = body('inbound:\n    collect pin digits 4 to 6 terminator "*" valid if x:\n'
                      '        failed:\n            hangup\n')
    digits = collect.options[0]
    assert (digits.name, digits.value.value, digits.upper.value) == ("digits", 4, 6)
    assert collect.options[1].value.text == "*"
    assert collect.variable == "pin" and collect.handlers[0].kind == "failed"
    simple = stmt("collect pin digits 4")
    assert simple.handlers == () and simple.options[0].upper is None


def test_if_elif_else_and_loops():
    (if_,) = body("inbound:\n    if a:\n        pass\n    elif b:\n        pass\n"
                  "    elif c:\n        pass\n    else:\n        hangup\n")
    assert [c.id for c, _ in if_.branches] == ["a", "b", "c"]
    assert isinstance(if_.orelse[0], ast.Hangup)
    loops = body("inbound:\n    every 30s:\n        pass\n    while a:\n        pass\n"
                 "    repeat 3 times:\n        pass\n")
    assert [type(s) for s in loops] == [ast.Every, ast.While, ast.Repeat]


def test_sections_and_constants():
    script = parse_ok('const A = 1\ninbound:\n    hangup\nqueue:\n    wait 1s\n'
                      'after call:\n    stop\nblock b:\n    hangup\nconst B = "x"\n')
    assert [(s.kind, s.name) for s in script.sections] == [
        ("inbound", "inbound"), ("queue", "queue"), ("after", "after"), ("block", "b")]
    assert [c.name for c in script.consts] == ["A", "B"]
    assert script.blocks[0].name == "b"


def test_walk_statements_visits_nested_bodies_in_order():
    script = parse_ok("inbound:\n    if a:\n        answer\n    else:\n        pass\n"
                      '    menu "m":\n        key 1:\n            hangup\n    stop\n')
    kinds = [type(s).__name__ for s in ast.walk_statements(script.section("inbound").body)]
    assert kinds == ["If", "Answer", "Pass", "Menu", "Hangup", "Stop"]


# ------------------------------------------------------------------ spans


def test_spans_of_statements_and_headers():
    script = parse_ok('inbound:\n    queue to "a" priority 3\n    if call.queued:\n'
                      '        hangup\n')
    queue, if_ = script.section("inbound").body
    assert queue.span == Span(2, 5, 2, 28)
    assert if_.span == Span(3, 5, 3, 20)          # the header, up to the colon
    assert script.section("inbound").span.line == 1
    assert if_.branches[0][0].span == Span(3, 8, 3, 19)


def test_spans_of_names():
    goto = stmt("goto closed")
    assert goto.block_span == Span(2, 10, 2, 16)
    attribute = expr("call.caller")
    assert attribute.name_span == Span(2, 18, 2, 24)
    call = expr('agents_ready("a")')
    assert call.function_span == Span(2, 13, 2, 25)


def test_binary_span_covers_both_operands():
    value = expr("1 + 2 * 3")
    assert (value.span.column, value.span.end_column) == (13, 22)


# ------------------------------------------------------------------ comments


def test_find_comments_skips_strings():
    text = 'inbound:  # one\n    play "# two"  # three\n# four\n'
    assert find_comments(text) == [(1, 11, "# one"), (2, 19, "# three"), (3, 1, "# four")]


def test_keep_comments():
    bag = DiagnosticBag(Source("# top\ninbound:\n    hangup  # end\n"))
    script = parse(bag.source, bag, keep_comments=True)
    assert [(c.line, c.text) for c in script.comments] == [(1, "# top"), (3, "# end")]
    assert parse(bag.source, bag).comments == ()


# ------------------------------------------------------------------ sources


def test_source_lines_split_only_at_newlines():
    """The lexer counts lines at "\\n" only; so must the excerpts under diagnostics."""
    source = Source("a\x0cb\nc\x0bd\u2028e\r\nf\n")
    assert source.lines == ["a\x0cb", "c\x0bd\u2028e", "f"]
    assert source.line_text(3) == "f" and source.line_text(4) == "" and source.line_text(0) == ""
    assert Source("").lines == [] and Source("x").lines == ["x"] and Source("\n\n").lines == ["", ""]


def test_form_feed_does_not_shift_the_reported_line():
    from qscript.api import check_text
    result = check_text("inbound:\n    hangup\x0c\n    $\n")
    (error,) = result.errors
    assert error.span.line == 3
    assert "3 |     $" in error.render(result.source)


def test_source_from_bytes():
    assert Source.from_bytes(b"\xef\xbb\xbfinbound:\n", "x").text == "inbound:\n"
    with pytest.raises(SourceError, match="binary"):
        Source.from_bytes(b"inbound:\x00", "x")
    with pytest.raises(SourceError, match=r"x:2: the file is not valid UTF-8 \(byte 0xff"):
        Source.from_bytes(b"inbound:\n  \xff\n", "x")
    with pytest.raises(SourceError, match="limited to"):
        Source.from_bytes(b" " * (MAX_SOURCE_BYTES + 1), "x")


def test_source_from_path_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        Source.from_path(tmp_path / "missing.qs")
    with pytest.raises(SourceError, match="is a directory"):
        Source.from_path(tmp_path)


# ------------------------------------------------------------------ rendering


def _diagnostic(span: Span, code=codes.UNKNOWN_GROUP, help=None):
    return Diagnostic(code, "message", span, "x.qs", help)


def test_render_with_carets_and_help():
    source = Source('inbound:\n    queue to "suport"\n', "x.qs")
    text = _diagnostic(Span(2, 14, 2, 22), help='did you mean "support"?').render(source)
    assert text == ('x.qs:2:14: error[Q1003]: message\n'
                    '  |\n'
                    '2 |     queue to "suport"\n'
                    '  |              ^^^^^^^^\n'
                    '   = help: did you mean "support"?')


def test_render_expands_tabs_and_spans_to_the_end_of_line():
    source = Source("inbound:\n\tplay x\nmore\n")
    text = _diagnostic(Span(2, 7, 3, 2)).render(source)
    assert "2 |  play x" in text
    assert text.endswith("  |       ^")


def test_render_without_position_or_source():
    diagnostic = _diagnostic(Span(0, 0, 0, 0), code=codes.UNREADABLE)
    assert diagnostic.render(Source("")) == "x.qs: error[Q0001]: message"
    assert _diagnostic(Span(5, 1, 5, 2)).render(None) == "x.qs:5:1: error[Q1003]: message"
    assert _diagnostic(Span(9, 1, 9, 2)).render(Source("one line\n")) == \
        "x.qs:9:1: error[Q1003]: message"


def test_render_replaces_control_characters():
    source = Source('inbound:\n    play "\x1b[2J\x07"\n')
    diagnostic = Diagnostic(codes.UNKNOWN_PROMPT, 'unknown prompt "\x1b[2J\x07"',
                            Span(2, 10, 2, 17), "x.qs\n", "not \x9b this")
    text = diagnostic.render(source)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert text.count("\n") == 4                  # headline, 3 excerpt lines, help
    assert '2 |     play "\ufffd[2J\ufffd"' in text


def test_did_you_mean():
    assert did_you_mean("suport", ["support", "sales"]) == 'did you mean "support"?'
    assert did_you_mean("xyz", ["support", "sales"]) is None
    assert did_you_mean("a", []) is None


def test_bag_sorts_by_position_then_code():
    bag = DiagnosticBag(Source(""))
    bag.report(codes.UNREACHABLE, "b", Span(3, 1, 3, 2))
    bag.report(codes.UNKNOWN_BLOCK, "a", Span(3, 1, 3, 2))
    bag.report(codes.TYPE_MISMATCH, "c", Span(1, 9, 1, 10))
    assert [d.code.code for d in bag.sorted()] == ["Q2001", "Q1002", "Q4001"]
    assert bag.has_errors and len(bag.errors()) == 2 and len(bag.warnings()) == 1
