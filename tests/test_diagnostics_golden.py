"""Golden tests of every diagnostic the checker can produce from a script.

Case files: ``tests/data/errors/<area>.qs`` hold many small scripts separated
by lines reading exactly ``---`` (the text before the first ``---`` is a file
comment, not a case). Each case is checked on its own, but padded with blank
lines so that the line numbers in its diagnostics are line numbers of the case
file. A case whose first line contains ``[site]`` is checked against the test
site of ``tests/conftest.py``; the others without a site.

Golden files: ``tests/data/errors/<area>.expected`` holds, for every case in
order, its first line and every diagnostic fully rendered (headline, source
line, carets, help), as ``qscript check`` prints them. After an intended
change of wording, regenerate them and review the diff before committing::

    QSCRIPT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_diagnostics_golden.py

``test_every_code_has_a_case`` makes sure that every code of the registry
(:func:`qscript.codes.all_codes`) is produced by at least one case, except the
few that no script text can produce, which are listed with the test that
covers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from qscript import codes
from qscript.api import check_text
from qscript.diagnostics import render_all

ERRORS = Path(__file__).parent / "data" / "errors"
AREAS = sorted(p.stem for p in ERRORS.glob("*.qs"))
SEPARATOR = "---"

#: Codes no script text can produce, and where they are tested instead.
NOT_FROM_SCRIPTS = {
    "Q0001": "unreadable file (missing, binary, not UTF-8, too large): test_cli.py",
    "Q5001": "bytecode file with wrong magic bytes: test_bytecode.py",
    "Q5002": "bytecode file of another format version: test_bytecode.py",
    "Q5003": "truncated or corrupt bytecode file: test_bytecode.py",
    "Q5004": "stale bytecode, reported when a .qsc is loaded: test_bytecode.py",
    "Q5005": "bytecode that fails verification (hand-made or damaged): test_bytecode.py",
    "Q9000": "internal compiler error (a crash turned into a diagnostic): test_cli.py",
}


@dataclass
class Case:
    area: str
    line: int       # line of the case's first line in the case file
    text: str       # the case, padded with blank lines to its place in the file

    @property
    def title(self) -> str:
        return self.text.lstrip("\n").split("\n", 1)[0]

    @property
    def needs_site(self) -> bool:
        return "[site]" in self.title


def read_cases(area: str) -> list[Case]:
    lines = (ERRORS / f"{area}.qs").read_text(encoding="utf-8").split("\n")
    cases, start = [], None
    for number, line in enumerate(lines + [SEPARATOR], start=1):
        if line.rstrip("\r") != SEPARATOR:
            continue
        if start is not None:
            body = "\n".join(lines[start - 1:number - 1])
            cases.append(Case(area, start, "\n" * (start - 1) + body + "\n"))
        start = number + 1
    return cases


def check_case(case: Case, site):
    return check_text(case.text, f"{case.area}.qs", site=site if case.needs_site else None)


def render_area(area: str, site) -> tuple[str, set[str]]:
    """The golden text of an area and the codes its cases produced."""
    out = [f"# Diagnostics of tests/data/errors/{area}.qs, case by case.",
           "# Regenerate with QSCRIPT_UPDATE_GOLDEN=1 (see tests/test_diagnostics_golden.py)."]
    seen = set()
    for case in read_cases(area):
        result = check_case(case, site)
        seen.update(d.code.code for d in result.diagnostics)
        out.append("")
        out.append(f"=== line {case.line}: {case.title}")
        out.append(render_all(result.diagnostics, result.source) or "(no diagnostics)")
    return "\n".join(out) + "\n", seen


def test_case_files_exist():
    assert AREAS, f"no case files in {ERRORS}"
    for area in AREAS:
        assert read_cases(area), f"{area}.qs has no cases"


@pytest.mark.parametrize("area", AREAS)
def test_golden(area, site, golden):
    text, _ = render_area(area, site)
    golden(ERRORS / f"{area}.expected", text)


@pytest.mark.parametrize("area", AREAS)
def test_case_titles_name_their_codes(area, site):
    """A case titled "Qnnnn: ..." must produce that code (and "OK" ones nothing)."""
    for case in read_cases(area):
        result = check_case(case, site)
        found = {d.code.code for d in result.diagnostics}
        title = case.title.lstrip("# ")
        if title.startswith("OK"):
            assert not found, f"{area}.qs:{case.line} should be clean, got {sorted(found)}"
        else:
            code = title.split(":")[0].split()[0]
            assert codes.lookup(code) is not None, f"{area}.qs:{case.line}: no code in title"
            assert code in found, f"{area}.qs:{case.line} ({title}) did not report {code}: " \
                                  f"{sorted(found)}"


def test_every_code_has_a_case(site):
    seen: set[str] = set()
    for area in AREAS:
        seen |= render_area(area, site)[1]
    registry = {c.code for c in codes.all_codes()}
    assert set(NOT_FROM_SCRIPTS) <= registry, "a listed exception is not a registered code"
    missing = registry - seen - set(NOT_FROM_SCRIPTS)
    assert not missing, f"codes without an error case in tests/data/errors: {sorted(missing)}"
    surprising = seen & set(NOT_FROM_SCRIPTS)
    assert not surprising, f"cases produced codes said not to come from scripts: {surprising}"


def test_cases_render_no_internal_errors_or_bad_positions(site):
    for area in AREAS:
        for case in read_cases(area):
            result = check_case(case, site)
            line_count = case.text.count("\n") + 1
            for diagnostic in result.diagnostics:
                assert diagnostic.code is not codes.INTERNAL, diagnostic.render(result.source)
                assert 0 <= diagnostic.span.line <= line_count
