"""Tests of the canonical formatter (qscript/formatter.py).

Golden files: ``tests/data/fmt/<name>.in.qs`` is a messy input and
``<name>.out.qs`` its expected canonical output; every ``*.in.qs`` found there
is a test case. After an intended change of style, regenerate the expected
files and review the diff before committing::

    QSCRIPT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_formatter.py

Besides the goldens, every file of the corpus (the golden inputs and outputs
and ``examples/**/*.qs``) is checked for the formatter's properties: the
output formats to itself, parses to the same AST as the input, and keeps every
comment exactly once. Hypothesis feeds random text, mutated scripts and
random expression trees to check the same properties and that
``format_source`` never raises.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qscript import ast, codes
from qscript.diagnostics import DiagnosticBag
from qscript.formatter import _BINARY, _NOT, format_expr, format_script, format_source
from qscript.parser import _PRECEDENCE, parse
from qscript.source import NO_SPAN, Source

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "tests" / "data" / "fmt"
UPDATE_GOLDEN = os.environ.get("QSCRIPT_UPDATE_GOLDEN") == "1"

GOLDEN_NAMES = sorted(p.name[: -len(".in.qs")] for p in GOLDEN_DIR.glob("*.in.qs"))
CORPUS = sorted(GOLDEN_DIR.glob("*.qs")) + sorted((ROOT / "examples").glob("**/*.qs"))
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# ============================================================== helpers


def parse_text(text: str) -> ast.Script:
    """Parse a script that must be free of errors, keeping its comments."""
    bag = DiagnosticBag(Source(text))
    script = parse(Source(text), bag, keep_comments=True)
    assert script is not None and not bag.has_errors, [d.headline() for d in bag.items]
    return script


def ast_difference(a, b, path: str = "script") -> str | None:
    """Where two ASTs differ, ignoring spans and comments; None when they are equal.

    Stricter than ``==`` on one point: an int and a float of the same value
    differ (``2`` must not come back as ``2.0``).
    """
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r} != {type(b).__name__} {b!r}"
    if isinstance(a, tuple):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)} items"
        for index, (x, y) in enumerate(zip(a, b)):
            if (found := ast_difference(x, y, f"{path}[{index}]")) is not None:
                return found
        return None
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if f.compare and f.name != "comments":
                found = ast_difference(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
                if found is not None:
                    return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def assert_same_ast(original: ast.Script, formatted: ast.Script) -> None:
    assert ast_difference(original, formatted) is None, ast_difference(original, formatted)
    assert (original.sections, original.consts) == (formatted.sections, formatted.consts)


def comment_texts(script: ast.Script) -> Counter:
    return Counter(comment.text for comment in script.comments)


def assert_canonical_shape(text: str) -> None:
    """No trailing whitespace, tabs for indentation, or missing/extra final newline."""
    if text == "":
        return
    assert text.endswith("\n") and not text.endswith("\n\n"), repr(text[-20:])
    assert not text.startswith("\n")
    for number, line in enumerate(text.split("\n"), 1):
        assert line == line.rstrip(" \t"), f"trailing whitespace on line {number}: {line!r}"
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 4 == 0 and not line[indent:indent + 1].isspace(), f"line {number}: {line!r}"


def assert_format_properties(source_text: str, formatted: str) -> None:
    """The four properties every formatting must have."""
    assert_canonical_shape(formatted)
    again = format_source(formatted)
    assert again.text == formatted, "formatting is not idempotent"
    original, result = parse_text(source_text), parse_text(formatted)
    assert_same_ast(original, result)
    assert comment_texts(original) == comment_texts(result)


def check_never_raises(text: str) -> None:
    """format_source returns text or error diagnostics; valid input keeps its properties."""
    result = format_source(text)
    errors = [d for d in result.diagnostics if d.is_error]
    assert (result.text is None) == bool(errors), [d.headline() for d in result.diagnostics]
    assert all(d.code is not codes.INTERNAL for d in errors), [d.headline() for d in errors]
    if result.text is not None:
        assert_format_properties(text, result.text)


# ============================================================== golden files


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden(name):
    source = (GOLDEN_DIR / f"{name}.in.qs").read_text(encoding="utf-8")
    expected_path = GOLDEN_DIR / f"{name}.out.qs"
    result = format_source(source, f"{name}.in.qs")
    assert result.text is not None, [d.headline() for d in result.diagnostics]
    if UPDATE_GOLDEN:
        expected_path.write_text(result.text, encoding="utf-8")
    assert expected_path.exists(), f"no {expected_path.name}: run with QSCRIPT_UPDATE_GOLDEN=1"
    assert result.text == expected_path.read_text(encoding="utf-8")


def test_goldens_cover_every_node_and_grammar_alias():
    """Every statement, expression and option kind appears in some golden input."""
    seen: set[str] = set()
    for name in GOLDEN_NAMES:
        script = parse_text((GOLDEN_DIR / f"{name}.in.qs").read_text(encoding="utf-8"))
        _collect_kinds(script, seen)
    node_classes = {cls.__name__ for cls in vars(ast).values()
                    if isinstance(cls, type) and issubclass(cls, ast.Node) and cls is not ast.Node}
    assert node_classes - seen == set()
    options = {"priority", "credit", "target", "prefer_previous", "when_empty", "prompt", "key",
               "timeout", "max", "retries", "digits", "terminator", "valid"}
    assert {f"option {o}" for o in options} - seen == set()
    forms = {"op not", "op -", *(f"op {op}" for op in _BINARY), "say number", "say amount",
             "say digits", "say duration", "section inbound", "section queue", "section after",
             "section block", "handler key", "handler invalid", "handler timeout",
             "handler failed", "requeue", "queue", "music off", "music on", "set fact",
             "set name", "collect handlers", "collect alone", "else", "elif", "int", "float",
             "command into", "command alone", "announce position", "announce wait", "true",
             "false", "digits to"}
    assert forms - seen == set()


def _collect_kinds(node, seen: set[str]) -> None:
    """Record the class of every node below ``node`` and some finer distinctions."""
    if isinstance(node, tuple):
        for item in node:
            _collect_kinds(item, seen)
        return
    if not dataclasses.is_dataclass(node):
        return
    seen.add(type(node).__name__)
    seen.update(_finer_kinds(node))
    for f in dataclasses.fields(node):
        _collect_kinds(getattr(node, f.name), seen)


def _finer_kinds(node) -> list[str]:
    kinds = {
        ast.Unary: lambda n: [f"op {n.op}"], ast.Binary: lambda n: [f"op {n.op}"],
        ast.Say: lambda n: [f"say {n.kind}"], ast.Section: lambda n: [f"section {n.kind}"],
        ast.Handler: lambda n: [f"handler {n.kind}"], ast.Option: lambda n: [f"option {n.name}"],
        ast.Queue: lambda n: ["requeue" if n.requeue else "queue"],
        ast.Music: lambda n: ["music off" if n.moh_class is None else "music on"],
        ast.Set: lambda n: ["set fact" if n.fact else "set name"],
        ast.Collect: lambda n: ["collect handlers" if n.handlers else "collect alone"],
        ast.If: lambda n: ["elif"] * (len(n.branches) > 1) + ["else"] * bool(n.orelse),
        ast.NumberLit: lambda n: [type(n.value).__name__],
        ast.Command: lambda n: ["command into" if n.into else "command alone"],
        ast.Announce: lambda n: [f"announce {n.what}"],
        ast.BoolLit: lambda n: [str(n.value).lower()],
    }
    if isinstance(node, ast.Option) and node.upper is not None:
        return [f"option {node.name}", "digits to"]
    return kinds.get(type(node), lambda n: [])(node)


# ============================================================== properties on the corpus


def _corpus_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if format_source(text).text is None:
        pytest.skip(f"{path.name} has errors (an example of a broken script)")
    return text


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_corpus_properties(path):
    """Idempotent, meaning-preserving, comment-preserving, canonical shape."""
    text = _corpus_text(path)
    assert_format_properties(text, format_source(text).text)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_corpus_comments_preserved(path):
    text = _corpus_text(path)
    formatted = format_source(text).text
    assert comment_texts(parse_text(formatted)) == comment_texts(parse_text(text))
    # Independently of the parser's comment finder: each comment ends a line of the output.
    printed = [line[start:] for line in formatted.splitlines()
               if (start := _comment_start(line)) is not None]
    assert sorted(printed) == sorted(c.text for c in parse_text(text).comments)


def _comment_start(line: str) -> int | None:
    """Where the comment starts in a formatted line (outside strings), if any."""
    in_string = escaped = False
    for index, char in enumerate(line):
        if in_string:
            in_string, escaped = (not (char == '"' and not escaped)), (char == "\\" and not escaped)
        elif char == '"':
            in_string = True
        elif char == "#":
            return index
    return None


def test_precedence_table_matches_parser():
    parser_table = {op: p for op, p in _PRECEDENCE.items() if op != "prefix not"}
    assert parser_table == _BINARY
    assert _PRECEDENCE["prefix not"] == _NOT


# ============================================================== specific behaviour


def fmt(text: str) -> str:
    result = format_source(text)
    assert result.text is not None, [d.headline() for d in result.diagnostics]
    return result.text


def test_spacing_of_statements_and_options():
    text = ('inbound:\n  collect x prompt "p"   digits 4 to 8 terminator "#" timeout 10s'
            ' retries 2 valid if len(x)>=4:\n    invalid:\n      pass\n'
            '  queue to "a","b" priority 5 credit 30s\n')
    assert fmt(text) == ('inbound:\n    collect x prompt "p" digits 4 to 8 terminator "#" '
                         'timeout 10s retries 2 valid if len(x) >= 4:\n        invalid:\n'
                         '            pass\n    queue to "a", "b" priority 5 credit 30s\n')


def test_option_order_is_kept():
    text = 'inbound:\n    queue to "a" credit 30s priority 5\n'
    assert fmt(text) == text


@pytest.mark.parametrize("source, expected", [
    ("a - (b - c)", "a - (b - c)"), ("(a - b) - c", "a - b - c"), ("not (a == b)", "not a == b"),
    ("(not a) and b", "not a and b"), ("-(a * b)", "-(a * b)"), ("(a.b).c", "a.b.c"),
    ("(f(x)).y", "f(x).y"), ("- 5", "-5"), ("a==b", "a == b"), ("x  not  in  y", "x not in y"),
    ('"tab\there"', '"tab\\there"'), ("2.50", "2.5"), ("0.0", "0.0"),
])
def test_expression_printing(source, expected):
    assert fmt(f"const X = {source}\n") == f"const X = {expected}\n"


def test_keys_digits_bare_symbols_quoted():
    text = 'inbound:\n    menu "m":\n        key "1", "*", "#", 0:\n            pass\n'
    assert fmt(text) == 'inbound:\n    menu "m":\n        key 1, "*", "#", 0:\n            pass\n'


def test_crlf_and_tabs_are_normalised():
    assert fmt("inbound:\r\n\tanswer  # hi\r\n") == "inbound:\n    answer  # hi\n"


def test_syntax_error_gives_diagnostics_and_no_text():
    result = format_source("inbound:\n    play\n", "bad.qs")
    assert result.text is None
    assert result.diagnostics and result.diagnostics[0].code is codes.UNEXPECTED_TOKEN
    assert result.diagnostics[0].source_name == "bad.qs"


def test_bad_literal_is_not_formatted():
    # The AST drops the unknown escape, so printing it would change the string.
    result = format_source('const A = "a\\qb"\n')
    assert result.text is None and result.diagnostics[0].code is codes.BAD_LITERAL


def test_very_deep_expression_is_a_diagnostic():
    result = format_source("const A = " + "-" * 5000 + "x\n")
    assert result.text is None and result.diagnostics[0].code is codes.TOO_DEEP


def test_long_operator_chain_formats():
    text = "const A = " + " + ".join(["x"] * 3000) + "\n"
    assert fmt(text) == text


def test_integer_too_long_for_python_does_not_raise():
    # The parser raises ValueError on ints over 4300 digits (reported upstream);
    # format_source turns any crash into a diagnostic.
    result = format_source("const A = " + "1" * 5000 + "\n")
    assert result.text is None and result.diagnostics


@pytest.mark.parametrize("value, text", [(1e20, "100000000000000000000.0"), (1e-05, "0.00001")])
def test_floats_never_print_with_exponents(value, text):
    assert format_expr(ast.NumberLit(NO_SPAN, value)) == text
    assert parse_text(f"const X = {text}\n").consts[0].value.value == value


def test_an_infinite_float_prints_as_a_literal_the_parser_refuses():
    # A built AST may hold one; a script cannot (numbers are finite).
    text = format_expr(ast.NumberLit(NO_SPAN, float("inf")))
    bag = DiagnosticBag(Source(f"const X = {text}\n"))
    parse(Source(f"const X = {text}\n"), bag)
    assert [d.code.code for d in bag.items] == ["Q0105"]


def test_format_script_without_source_text():
    text = ("inbound:\n    if a:\n        pass\n        # end of body\n    else:  # on else\n"
            "        # in else\n        pass\n")
    assert format_script(parse_text(text)) == text


def test_format_script_of_built_ast():
    """An AST made in code (no spans, no comments) prints too."""
    answer, pass_ = ast.Answer(NO_SPAN), ast.Pass(NO_SPAN)
    body = (answer, ast.If(NO_SPAN, ((ast.BoolLit(NO_SPAN, True), (pass_,)),), (pass_,)))
    script = ast.Script(NO_SPAN, (ast.Section(NO_SPAN, "inbound", "inbound", body, NO_SPAN),),
                        (ast.Const(NO_SPAN, "A", ast.NumberLit(NO_SPAN, 1), NO_SPAN),))
    assert format_script(script) == ("const A = 1\n\ninbound:\n    answer\n    if true:\n"
                                     "        pass\n    else:\n        pass\n")


def test_empty_script():
    assert fmt("") == "" and fmt("\n\n   \n") == ""


# ============================================================== hypothesis


_TOKENS = ["inbound", "queue", "after", "call", "block", "const", "if", "elif", "else", "menu",
           "key", "collect", "play", "to", "not", "in", "and", "or", "x", "y", "f", ":", ",",
           "(", ")", "[", "]", "=", "==", "-", "+", "*", ".", '"s"', "1", "2.5", "30s", "08:30",
           "# c", "\n", "\n    ", "\n        ", " ", "\t", "\\", '"', "#", "prompt", "digits",
           "timeout", "invalid", "answer", "goto", "set", "every", "while", "times", "repeat"]


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_never_raises(text):
    check_never_raises(text)


@SETTINGS
@given(st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join))
def test_token_soup_never_raises(text):
    check_never_raises(text)


@st.composite
def mutated_scripts(draw):
    """A golden input with lines deleted, duplicated, swapped, re-indented, damaged or commented."""
    name = draw(st.sampled_from(GOLDEN_NAMES))
    lines = (GOLDEN_DIR / f"{name}.in.qs").read_text(encoding="utf-8").split("\n")
    for _ in range(draw(st.integers(1, 4))):
        i, j = (draw(st.integers(0, len(lines) - 1)) for _ in range(2))
        operation = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "insert",
                                          "comment", "blank"]))
        if operation == "delete" and len(lines) > 1:
            del lines[i]
        elif operation == "duplicate":
            lines.insert(j, lines[i])
        elif operation == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif operation == "comment":  # a comment line at any indentation, or after code
            indent = draw(st.sampled_from(["", "  ", "    ", "      ", "        ", "\t"]))
            if draw(st.booleans()):
                lines.insert(i, f"{indent}# c{j}")
            else:
                lines[i] += f"{indent} # t{j}"
        elif operation == "blank":
            lines.insert(i, "")
        elif operation == "indent":
            lines[i] = draw(st.sampled_from(["", "  ", "    ", "\t"])) + lines[i].lstrip()
        else:
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(st.text(alphabet=' \t\n#"():,.=-+<>!ab19_\\', min_size=1, max_size=3))
            lines[i] = lines[i][:at] + junk + lines[i][at:]
    return "\n".join(lines)


@SETTINGS
@given(mutated_scripts())
def test_mutated_scripts_never_raise_and_keep_properties(text):
    check_never_raises(text)


_NAMES = st.sampled_from(["a", "b", "x", "call", "now", "len", "foo_1"])
_FIELDS = st.sampled_from(["caller", "time", "key", "in", "not", "priority", "x"])
_DURATIONS = [("30s", 30), ("1h30m", 5400), ("500ms", 0.5), ("2d", 172800)]


def _leaves():
    return st.one_of(
        st.builds(ast.Name, st.just(NO_SPAN), _NAMES),
        st.builds(ast.NumberLit, st.just(NO_SPAN), st.integers(0, 2**63 - 1)),
        st.builds(ast.NumberLit, st.just(NO_SPAN),
                  st.floats(min_value=0, allow_nan=False, allow_infinity=False)),
        st.builds(ast.StringLit, st.just(NO_SPAN), st.text(max_size=8)),
        st.builds(ast.BoolLit, st.just(NO_SPAN), st.booleans()),
        st.sampled_from(_DURATIONS).map(lambda d: ast.DurationLit(NO_SPAN, d[1], d[0])),
        st.tuples(st.integers(0, 23), st.integers(0, 59)).map(
            lambda t: ast.TimeLit(NO_SPAN, t[0] * 60 + t[1], f"{t[0]:02}:{t[1]:02}")),
    )


def _compound(children):
    args = st.lists(children, max_size=3).map(tuple)
    return st.one_of(
        st.builds(ast.Unary, st.just(NO_SPAN), st.sampled_from(["not", "-"]), children),
        st.builds(ast.Binary, st.just(NO_SPAN), st.sampled_from(sorted(_BINARY)), children,
                  children),
        st.builds(ast.Attribute, st.just(NO_SPAN), children, _FIELDS, st.just(NO_SPAN)),
        st.builds(ast.Call, st.just(NO_SPAN), st.sampled_from(["f", "len"]), args,
                  st.just(NO_SPAN)),
        st.builds(ast.ListLit, st.just(NO_SPAN), args),
    )


@SETTINGS
@given(st.recursive(_leaves(), _compound, max_leaves=20))
def test_random_expression_trees_print_back_to_themselves(expr):
    text = format_expr(expr)
    parsed = parse_text(f"const X = {text}\n").consts[0].value
    assert ast_difference(expr, parsed, "expr") is None, (text, ast_difference(expr, parsed))
