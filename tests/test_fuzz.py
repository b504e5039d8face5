"""Property-based tests: no input makes the compiler misbehave.

Hypothesis feeds random text (control characters and all of Unicode), soups
of the grammar's own tokens, mutations of valid scripts (lines deleted,
duplicated, swapped, re-indented, characters inserted, truncation) and
random well-formed scripts. For every input ``check_text``/``compile_text``
must return a Compilation whose diagnostics

* have codes from the registry, and never Q9000 (internal error),
* point at a line of the input (or at line 0 for the file as a whole),
* render and serialise to JSON without control characters reaching a terminal,

and whatever compiles must survive the bytecode round trip and disassemble.

Compiled programs with their instructions and constants edited (the checksum
recomputed, so the verifier and not the CRC decides) are refused with Q5003 or
Q5005, or load, disassemble and run every phase against a host that answers
anything, failing only with located ScriptErrors, never popping an empty stack
or running past the end. Scripts whose numbers, strings and durations grow
without end stop at the language's bounds with located run-time errors.
Deeply nested and very long inputs get clean diagnostics or compile.
Examples are kept moderate (deadline=None) so the file runs in seconds.
"""

from __future__ import annotations

import copy
import json
import struct
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark.lexer import PatternStr

from qscript import codes
from qscript.api import check_text, compile_text
from qscript.bytecode import Op, read_program, write_program
from qscript.disasm import disassemble
from qscript.parser import _parser

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "tests" / "data" / "compile").glob("*.qs")) + \
    sorted((ROOT / "examples").glob("**/*.qs"))
CORPUS_TEXTS = [p.read_text(encoding="utf-8") for p in CORPUS]
REGISTRY = {c.code for c in codes.all_codes()}
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")

FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_clean(text: str, result) -> None:
    """The properties every Compilation must have, whatever the input."""
    line_count = text.count("\n") + 1
    for diagnostic in result.diagnostics:
        rendered = diagnostic.render(result.source)
        assert diagnostic.code.code in REGISTRY, rendered
        assert diagnostic.code is not codes.INTERNAL, f"{rendered}\n--- input:\n{text!r}"
        span = diagnostic.span
        assert 0 <= span.line <= line_count, (rendered, text)
        assert span.line or span.column == 0
        assert span.column >= 0 and span.end_line >= span.line
        assert not CONTROL.search(rendered), rendered
        json.dumps(diagnostic.to_json())
    if result.program is not None:
        assert result.ok
        data = write_program(result.program)
        assert write_program(read_program(data)) == data
        disassemble(result.program)


def check_and_compile(text: str, site=None) -> None:
    assert_clean(text, check_text(text, "fuzz.qs", site=site))
    assert_clean(text, compile_text(text, "fuzz.qs", site=site))


# ------------------------------------------------------------------ random text


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text):
    check_and_compile(text)


@FUZZ
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=300))
def test_random_ascii_with_control_characters(text):
    check_and_compile(text)


@FUZZ
@given(st.text(alphabet="inbound:\n\t \"#()[],.=<>!+-*/%0123456789smhd\r\x0c\x0b\\", max_size=200))
def test_random_text_from_script_characters(text):
    check_and_compile("inbound:\n" + text)


# ------------------------------------------------------------------ token soups


def _grammar_words() -> list[str]:
    lark, _ = _parser()
    return sorted(t.pattern.value for t in lark.terminals if isinstance(t.pattern, PatternStr))


TOKENS = _grammar_words() + [
    "==", "!=", "<", "<=", ">", ">=", "+", "*", "/", "%",       # BINARY_OP
    "0", "7", "99999999999999999999", "2.5", "30s", "1h30m", "500ms", "08:30", "25:99",
    '"support"', '""', '"a\\"b"', '"\\q"', "x", "call", "now", "caller", "len", "is_open",
    "\n", "\n    ", "\n        ", "    ", "\t", "# comment\n",
]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_token_soup(tokens):
    check_and_compile(" ".join(tokens))


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_inside_a_section(tokens):
    check_and_compile("inbound:\n    " + " ".join(tokens) + "\n    hangup\n")


# ------------------------------------------------------------------ mutations of valid scripts


def _mutate(data, lines: list[str]) -> str:
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        if not lines:
            lines = [""]
        index = data.draw(st.integers(0, len(lines) - 1), label="line")
        kind = data.draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "insert",
                                          "truncate", "cut"]), label="kind")
        if kind == "delete":
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, lines[data.draw(st.integers(0, len(lines) - 1))])
        elif kind == "swap":
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind == "indent":
            lines[index] = data.draw(st.sampled_from(["", " ", "  ", "    ", "\t", "        ",
                                                      "   \t"])) + lines[index].lstrip()
        elif kind == "insert":
            line = lines[index]
            at = data.draw(st.integers(0, len(line)))
            piece = data.draw(st.text(max_size=3) | st.sampled_from(TOKENS))
            lines[index] = line[:at] + piece + line[at:]
        elif kind == "cut":
            line = lines[index]
            at = data.draw(st.integers(0, len(line)))
            lines[index] = line[:at] + line[at + data.draw(st.integers(1, 8)):]
        else:
            lines = lines[:index]
    return "\n".join(lines) + data.draw(st.sampled_from(["\n", "", "\r\n"]))


def test_corpus_is_not_empty():
    assert len(CORPUS) >= 5


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_scripts(site, data):
    text = data.draw(st.sampled_from(CORPUS_TEXTS), label="script")
    mutated = _mutate(data, text.split("\n"))
    check_and_compile(mutated, site=data.draw(st.sampled_from([None, site]), label="site"))


# ------------------------------------------------------------------ random well-formed scripts


def _expressions():
    leaves = st.sampled_from([
        "1", "0", "2.5", "30s", "0s", "1h", "500ms", "08:30", "23:59", '"support"', '""', "true",
        "false", "x", "s", "d", "t", "flag", "customer", "customer.found", "customer.segment",
        "customer.score", "customer.since", "score", "call.caller", "call.waited",
        "call.priority", "call.groups", "now.time", "N", "GROUP", "OPEN", "[]", '["1", "2"]',
    ])

    def compound(inner):
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", "<=",
                                                   ">", ">=", "in", "not in", "and", "or"]), inner
                           ).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        unary = st.tuples(st.sampled_from(["not ", "-"]), inner).map("".join)
        call = st.tuples(st.sampled_from(["len", "to_text", "to_number", "seconds", "is_open",
                                          "agents_ready", "estimated_wait", "starts_with"]),
                         st.lists(inner, min_size=1, max_size=2)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})")
        listing = st.lists(inner, max_size=3).map(lambda items: f"[{', '.join(items)}]")
        return binary | unary | call | listing
    return st.recursive(leaves, compound, max_leaves=6)


EXPR = _expressions()
SIMPLE = [
    "answer", "hangup", "stop", "pass", "break", "play {e}", "play hot {e}", "say number {e}",
    "say amount {e} currency {e}", "say digits {e}", "say duration {e}", "music {e}",
    "music off", "wait {e}", "set x = {e}", "set s = {e}", "set d = {e}", "set t = {e}",
    "set flag = {e}", "set call.priority = {e}", "set call.language = {e}", "goto b",
    "queue to {e} priority {e} credit {e} target {e} when empty goto b", "requeue to {e}, {e}",
    "add group {e} prefer previous agent within {e}", "remove group {e}", "announce position",
    "announce wait", "offer callback prompt {e} key 1 timeout {e}", "voicemail to {e} max {e}",
    "transfer to {e}", 'lookup "customers" by {e} into customer', "do crm_score({e}, {e}) into score",
    "log {e}", "save {e} = {e}",
]
COMPOUND = [
    "if {e}:", "elif {e}:", "else:", "every {e}:", "while {e}:", "repeat {e} times:",
    "menu {e} timeout {e} retries {e}:", "collect v prompt {e} digits {e} to {e} valid if {e}:",
]
HANDLERS = ["key 1:", 'key 2, "#":', "invalid:", "timeout:", "failed:"]


@st.composite
def scripts(draw):
    def fill(template: str) -> str:
        while "{e}" in template:
            template = template.replace("{e}", draw(EXPR), 1)
        return template

    def body(depth: int, indent: str) -> list[str]:
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            if depth < 3 and draw(st.booleans()):
                header = fill(draw(st.sampled_from(COMPOUND)))
                lines.append(indent + header)
                if header.startswith(("menu", "collect")):
                    for handler in draw(st.lists(st.sampled_from(HANDLERS), min_size=1,
                                                 max_size=3)):
                        lines.append(indent + "    " + handler)
                        lines += body(depth + 2, indent + "        ")
                else:
                    lines += body(depth + 1, indent + "    ")
            else:
                lines.append(indent + fill(draw(st.sampled_from(SIMPLE))))
        return lines

    parts = ['const N = 3', 'const GROUP = "support"', "const OPEN = 08:00 + 30m"]
    for header in ("inbound:", "queue:", "after call:", "block b:"):
        if header == "inbound:" or draw(st.booleans()):
            parts.append(header)
            parts += body(0, "    ")
    return "\n".join(parts) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=scripts(), with_site=st.booleans())
def test_random_well_formed_scripts(site, text, with_site):
    check_and_compile(text, site=site if with_site else None)


def _typed_expressions() -> dict[str, st.SearchStrategy[str]]:
    """Well-typed expressions of each type, so that most generated scripts compile."""
    leaves = {
        "n": ["1", "0", "2.5", "x", "N", "score", "customer.score", "call.priority",
              "call.position"],
        "s": ['"support"', '""', "s", "GROUP", "call.caller", "customer.segment", "now.weekday"],
        "d": ["30s", "1h30m", "500ms", "d", "call.waited", "call.estimated_wait"],
        "t": ["08:30", "00:00", "23:59", "t", "now.time", "OPEN", "customer.since"],
        "b": ["true", "false", "flag", "customer.found", "call.queued"],
    }
    exprs = {k: st.deferred(lambda k=k: typed[k]) for k in leaves}

    def pair(a, op, b):
        return st.tuples(exprs[a], exprs[b]).map(lambda t: f"({t[0]} {op} {t[1]})")
    typed = {
        "n": st.sampled_from(leaves["n"]) | st.one_of(
            *(pair("n", op, "n") for op in "+-*/%"), pair("d", "/", "d"),
            exprs["s"].map(lambda e: f"len({e})"), exprs["d"].map(lambda e: f"seconds({e})"),
            exprs["n"].map(lambda e: f"-{e}")),
        "s": st.sampled_from(leaves["s"]) | st.one_of(
            pair("s", "+", "s"), exprs["n"].map(lambda e: f"to_text({e})"),
            exprs["t"].map(lambda e: f"to_text({e})")),
        "d": st.sampled_from(leaves["d"]) | st.one_of(
            pair("d", "+", "d"), pair("d", "-", "d"), pair("d", "*", "n"), pair("t", "-", "t"),
            st.just('estimated_wait("support")')),
        "t": st.sampled_from(leaves["t"]) | st.one_of(pair("t", "+", "d"), pair("t", "-", "d")),
        "b": st.sampled_from(leaves["b"]) | st.one_of(
            *(pair(k, op, k) for k in "ndt" for op in ("<", ">=", "==")), pair("s", "!=", "s"),
            pair("b", "and", "b"), pair("b", "or", "b"), exprs["b"].map(lambda e: f"not {e}"),
            st.tuples(exprs["s"], exprs["s"]).map(lambda t: f"{t[0]} in [{t[1]}, \"x\"]"),
            st.just('is_open("office")')),
    }
    return typed


TYPED = _typed_expressions()
TYPED_SIMPLE = [
    "play {p}", "play {p}, {p}", 'play hot "outage"', "say number {n}",
    'say amount {n} currency "SEK"', "say digits {s}", "say duration {d}", 'music "jazz"',
    "music off", "wait 5s", "set x = {n}", "set s = {s}", "set d = {d}", "set t = {t}",
    "set flag = {b}", "set call.priority = 5", 'set call.language = "sv"',
    'lookup "customers" by {s} into customer', "do crm_score({s}, {n}) into score", "log {s}",
    "log {n}", "log {d}", "log {t}", "log {b}", "save {s} = {n}", "pass",
]
PHASE_SIMPLE = {
    "inbound": ["answer", "queue to {g} priority 5 credit 10s target 20s when empty goto b",
                'voicemail to "a@example.com" max 30s', 'transfer to "+4681234"'],
    "queue": ["add group {g} priority 2", "remove group {g}", "announce position",
              "announce wait", 'offer callback prompt "cb-offer"', "requeue to {g}"],
    "after": ["requeue to {g}", "stop"],
}


@st.composite
def typed_scripts(draw):
    def fill(template: str) -> str:
        for key, strategy in TYPED.items():
            while "{" + key + "}" in template:
                template = template.replace("{" + key + "}", draw(strategy), 1)
        template = template.replace("{g}", '"support"').replace("{p}", '"welcome"')
        return template

    def body(phase: str, depth: int, indent: str, in_loop: bool) -> list[str]:
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["simple"] * 4 + ["if", "loop", "menu", "collect"]))
            if depth >= 3 or kind == "simple":
                options = TYPED_SIMPLE + PHASE_SIMPLE[phase] + (["break"] if in_loop else [])
                lines.append(indent + fill(draw(st.sampled_from(options))))
            elif kind == "if":
                lines.append(indent + fill("if {b}:"))
                lines += body(phase, depth + 1, indent + "    ", in_loop)
                if draw(st.booleans()):
                    lines.append(indent + fill("elif {b}:"))
                    lines += body(phase, depth + 1, indent + "    ", in_loop)
                if draw(st.booleans()):
                    lines.append(indent + "else:")
                    lines += body(phase, depth + 1, indent + "    ", in_loop)
            elif kind == "loop":
                header = draw(st.sampled_from(["every 30s:", "while {b}:", "repeat 3 times:"]))
                lines.append(indent + fill(header))
                lines.append(indent + "    wait 1s")
                lines += body(phase, depth + 1, indent + "    ", True)
            elif kind == "menu":
                lines.append(indent + 'menu "main-menu" timeout 5s retries 2:')
                for handler in draw(st.lists(st.sampled_from(HANDLERS), min_size=1, max_size=4,
                                             unique=True).filter(lambda h: "key 1:" in h)):
                    lines.append(indent + "    " + handler)
                    lines += body(phase, depth + 2, indent + "        ", in_loop)
            else:
                lines.append(indent + 'collect v prompt "enter-number" digits 2 to 6 '
                             'valid if starts_with(v, "1"):')
                for handler in draw(st.lists(st.sampled_from(HANDLERS[2:]), min_size=1,
                                             unique=True)):
                    lines.append(indent + "    " + handler)
                    lines += body(phase, depth + 2, indent + "        ", in_loop)
        return lines

    parts = ['const N = 3 * 4', 'const GROUP = "support"', "const OPEN = 08:00 + 30m",
             "inbound:", '    set x = 0', '    set s = ""', "    set d = 0s", "    set t = 00:00",
             "    set flag = false", "    set score = 0", '    set v = ""',
             '    lookup "customers" by "1" into customer']
    parts += body("inbound", 0, "    ", False)
    parts.append('    queue to "support"')
    for header, phase in (("queue:", "queue"), ("after call:", "after")):
        if draw(st.booleans()):
            parts.append(header)
            parts += body(phase, 0, "    ", False)
    parts += ["block b:", '    play "closed"', "    hangup"]
    return "\n".join(parts) + "\n"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=typed_scripts(), with_site=st.booleans())
def test_random_well_typed_scripts_compile(site, text, with_site):
    """Well-typed input compiles (apart from flow checks), round-trips and disassembles."""
    result = compile_text(text, "typed.qs", site=site if with_site else None)
    assert_clean(text, result)
    flow_only = {"Q4001", "Q4002", "Q4004", "Q4005", "Q4007"}
    unexpected = [d for d in result.errors if d.code.code not in flow_only]
    assert not unexpected, "\n".join(d.render(result.source) for d in unexpected) + "\n" + text


# ------------------------------------------------------------------ deep and long input


def _deep(name: str) -> str:
    if name == "1000 nested parentheses":
        return "inbound:\n    set x = " + "(" * 1000 + "1" + ")" * 1000 + "\n"
    if name == "1000 nested brackets":
        return "inbound:\n    set x = " + "[" * 1000 + "]" * 1000 + "\n"
    if name == "200 nested ifs":
        return "inbound:\n" + "".join("    " * (i + 1) + "if true:\n" for i in range(200)) + \
            "    " * 201 + "hangup\n"
    if name == "5000-term sum":
        return "inbound:\n    set a = 1\n    set x = " + " + ".join(["a"] * 5000) + "\n"
    if name == "5000-term constant":
        return "const A = " + " + ".join(["1"] * 5000) + "\ninbound:\n    hangup\n"
    if name == "not x 5000 times":
        return "inbound:\n    set a = true\n    set x = " + "not " * 5000 + "a\n"
    if name == "minus x 5000 times":
        return "inbound:\n    set a = 1\n    set x = " + "- " * 5000 + "a\n"
    if name == "5000 fields":
        return 'inbound:\n    lookup "c" by "1" into c\n    set x = c' + ".f" * 5000 + "\n"
    if name == "5000 nested calls":
        return "inbound:\n    set x = " + "len(" * 5000 + '"a"' + ")" * 5000 + "\n"
    if name == "5000 elifs":
        return "inbound:\n    set x = 1\n    if x == 0:\n        hangup\n" + \
            "    elif x == 1:\n        hangup\n" * 5000
    if name == "1000 blocks in a goto chain":
        return "inbound:\n    goto b0\n" + "".join(
            f"block b{i}:\n    play \"tick\"\n    goto b{i + 1}\n" for i in range(1000)) + \
            "block b1000:\n    hangup\n"
    if name == "a 1 MB string":
        return 'inbound:\n    log "' + "a" * 1_000_000 + '"\n'
    if name == "20000 statements":
        return "inbound:\n" + '    play "a"\n' * 20000
    raise ValueError(name)


DEEP = ["1000 nested parentheses", "1000 nested brackets", "200 nested ifs", "5000-term sum",
        "5000-term constant", "not x 5000 times", "minus x 5000 times", "5000 fields",
        "5000 nested calls", "5000 elifs", "1000 blocks in a goto chain", "a 1 MB string",
        "20000 statements"]


@pytest.mark.parametrize("name", DEEP)
def test_deep_and_long_input(name):
    text = _deep(name)
    result = compile_text(text, "deep.qs")
    assert_clean(text, result)
    if not result.ok:
        assert {d.code.code for d in result.errors} <= {"Q0104"}, \
            [d.headline() for d in result.errors]


def test_nesting_up_to_the_limit_compiles():
    ifs = "inbound:\n    set x = 1\n" + "".join(
        "    " * (i + 1) + "if x == 1:\n" for i in range(99)) + "    " * 100 + "hangup\n"
    assert compile_text(ifs).ok
    parens = "inbound:\n    set x = " + "(" * 100 + "1" + ")" * 100 + "\n"
    assert compile_text(parens).ok
    long_sum = "inbound:\n    set a = 1\n    set x = " + " + ".join(["a"] * 1000) + "\n"
    assert compile_text(long_sum).ok


# ------------------------------------------------------------------ bytecode verification and the VM


def _compiled_corpus():
    programs = []
    for text in CORPUS_TEXTS:
        result = compile_text(text, "corpus.qs")
        if result.program is not None:
            programs.append(result.program)
    return programs


PROGRAMS = _compiled_corpus()
#: Values a hand-made constant pool may hold, the awkward ones included.
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5),
    st.sampled_from(["", "support", "#", "x" * 70_000]),
    st.tuples(st.text(max_size=3), st.integers(-3, 300)),
    st.tuples(st.just("queue"), st.integers(0, 3), st.just(("priority",)), st.integers(-2, 40)),
    st.tuples(st.text(max_size=3), st.integers(-3, 3), st.integers(-3, 3)),
)


class _AnyHost:
    """A host that answers every fact and metric, with a clock the test moves."""

    def __init__(self, value):
        self.value = value
        self.now = 0.0

    def fact(self, fact_id):
        return self.value

    def set_fact(self, fact_id, value):
        pass

    def metric(self, function_id, args):
        return self.value

    def clock(self):
        return self.now


def _run_every_phase(program, data) -> None:
    """Run each phase, answering effects at random, for a bounded number of effects.

    The only failure a script may have is a ScriptError (located); anything
    else escaping the VM would crash the session that runs the call.
    """
    from runtime.vm import Machine, ScriptError

    host = _AnyHost(data.draw(ODD_VALUES, label="facts"))
    machine = Machine(program, host, step_budget=3_000)
    answers = st.one_of(ODD_VALUES, st.sampled_from(["1", "", "empty", {"name": "x"}]))
    for phase in ("inbound", "queue", "after"):
        gen = machine.run(phase)
        value = None
        try:
            for _ in range(60):
                effect = gen.send(value)
                assert effect.pc >= 0
                host.now += data.draw(st.sampled_from([0.0, 0.5, 30.0]), label="time")
                value = data.draw(answers, label="answer")
        except StopIteration:
            pass
        except ScriptError as error:
            assert error.render().startswith("corpus.qs:")
            # A verified program never pops an empty stack nor runs past its end
            # (the VM would report those as an IndexError).
            assert not error.message.startswith("IndexError"), error.render()


def _mutate_program(program, data):
    code = list(program.code)
    constants = list(program.constants)
    ops = [int(op) for op in Op]
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        kind = data.draw(st.sampled_from(["op", "arg", "insert", "delete", "constant"]))
        index = data.draw(st.integers(0, max(0, len(code) - 1)), label="pc")
        if kind == "op" and code:
            code[index] = (data.draw(st.sampled_from(ops)), code[index][1])
        elif kind == "arg" and code:
            code[index] = (code[index][0], data.draw(st.integers(-2, len(code) + 2)
                                                     | st.integers(-2**31, 2**31 - 1)))
        elif kind == "insert":
            code.insert(index, (data.draw(st.sampled_from(ops)), data.draw(st.integers(0, 4))))
        elif kind == "delete" and code:
            del code[index]
        elif constants:
            constants[data.draw(st.integers(0, len(constants) - 1))] = data.draw(ODD_VALUES)
    mutated = copy.copy(program)
    mutated.code, mutated.constants = code, tuple(constants)
    mutated._line_index = []
    return mutated


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_programs_are_refused_by_the_verifier_or_run_cleanly(data):
    """Instructions and constants edited, the checksum recomputed: the verifier decides."""
    from qscript.bytecode import BytecodeError

    program = _mutate_program(data.draw(st.sampled_from(PROGRAMS), label="program"), data)
    try:
        raw = write_program(program)
    except (TypeError, struct.error):
        return  # not even encodable (an argument beyond 32 bits): no file to load
    try:
        loaded = read_program(raw)
    except BytecodeError as error:
        assert error.code in ("Q5003", "Q5005") and error.message
        return
    disassemble(loaded)
    _run_every_phase(loaded, data)


def test_an_add_group_of_no_group_is_refused_by_the_verifier():
    """The mutation the test above once found: one constant edit (an ODD_VALUES queue
    shape) gave statements.qs's `add group "sales" priority 3` no group. The stack
    stayed consistent (the group's string was left for `requeue to`, which ends the
    run), so the program loaded and the VM raised an IndexError taking its group."""
    from qscript.bytecode import BytecodeError

    program = compile_text((ROOT / "tests" / "data" / "compile" / "statements.qs").read_text(
        encoding="utf-8"), "corpus.qs").program
    pc = next(pc for pc, (op, _) in enumerate(program.code) if op == Op.ADD_GROUP)
    index = program.code[pc][1]
    assert program.constants[index] == ("queue", 1, ("priority",), -1)
    constants = list(program.constants)
    constants[index] = ("queue", 0, ("priority",), -1)
    mutated = copy.copy(program)
    mutated.constants = tuple(constants)
    with pytest.raises(BytecodeError) as caught:
        read_program(write_program(mutated))
    assert caught.value.code == "Q5003"
    assert caught.value.message == (f"instruction {pc} (ADD_GROUP) adds 0 groups; "
                                    "add group takes exactly one")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_compiled_programs_run_cleanly_whatever_the_outside_answers(data):
    _run_every_phase(read_program(write_program(data.draw(st.sampled_from(PROGRAMS)))), data)


# ------------------------------------------------------------------ run-time value bounds

GROWTH = {
    "n": ["n * n", "n * n + 1", "n + n * 1.5", "n * -3", "0 - n * n", "n / 0.001", "n * 2 % 7 + n * n"],
    "s": ["s + s", "s + to_text(n) + s", "to_text(n) + s + s", 's + "," + s'],
    "d": ["d * 10", "d + d * 2", "d / 0.01", "d * n"],
}
LIMIT_MESSAGES = ("too large", "characters long", "not a number", "at most 1 day")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_values_that_grow_hit_their_bounds_with_located_errors(data):
    from runtime.vm import Machine, ScriptError
    from runtime.vm.machine import MAX_TEXT_LENGTH

    lines = ["inbound:", "    set n = 3", '    set s = "ab"', "    set d = 2s"]
    chosen = data.draw(st.lists(st.sampled_from([(v, e) for v, es in GROWTH.items() for e in es]),
                                min_size=1, max_size=3), label="growth")
    loop = data.draw(st.sampled_from(["every 1s:", "while true:"]), label="loop")
    lines.append("    " + loop)
    for variable, expression in chosen:
        lines.append(f"        set {variable} = {expression}")
    if loop == "while true:":
        lines.append("        wait 1s")
    if data.draw(st.booleans(), label="waits on d"):
        lines.append("        wait d / 1000000")
    text = "\n".join(lines) + "\n"
    result = compile_text(text, "grow.qs")
    assert result.program is not None, [d.message for d in result.diagnostics]
    host = _AnyHost(0)
    machine = Machine(result.program, host)
    gen = machine.run("inbound")
    value = None
    try:
        for _ in range(3_000):
            gen.send(value)
            host.now += 1.0
            for held in machine.variables:
                if isinstance(held, str):
                    assert len(held) <= MAX_TEXT_LENGTH
                elif isinstance(held, int) and not isinstance(held, bool):
                    assert -2**63 <= held < 2**63
    except ScriptError as error:
        assert any(words in error.message for words in LIMIT_MESSAGES), error.message
        assert 5 <= error.line <= len(lines), error.render()
    else:
        pytest.fail(f"nothing stopped the growth of:\n{text}")
