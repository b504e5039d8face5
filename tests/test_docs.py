"""Tests of the documentation (docs/, mkdocs.yml) and the examples (examples/).

* Every ```qscript block in docs/ that is a whole script (its first line of
  code opens a section: ``inbound:``, ``queue:``, ``after call:``,
  ``block NAME:`` or ``const``) checks without any error or warning, and,
  outside the examples page, also against the documentation's site
  (:data:`DOCS_SITE`: the support site's names). Blocks that are meant to be
  wrong are fenced ```qscript-error and start with ``# expect: CODE``; they
  must report that code.
* Every diagnostic code has its page, and the generated pages and sections
  are what ``docs/gen_error_pages.py`` produces (run it after changing a
  message, a built-in, an opcode or an example).
* Every statement of the grammar has a section in the reference, and the
  documented defaults are the compiler's.
* Every example checks (``--strict``) against its site and is formatted.
* ``mkdocs build --strict`` succeeds.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from qscript import codes, compiler
from qscript.api import check_text
from qscript.cli import main as cli_main
from qscript.formatter import format_source

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
REFERENCE = DOCS / "reference"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_error_pages", DOCS / "gen_error_pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
DOCS_SITE = gen.DOCS_SITE

# ============================================================== fenced blocks

_FENCE = re.compile(r"^```(\S*)\s*$")
_SECTION = re.compile(r"^(inbound|queue|after\s+call|block\s+\w+)\s*:|^const\s+\w+\s*=")
_EXPECT = re.compile(r"^#\s*expect:\s*(Q\d{4}(?:\s*,\s*Q\d{4})*)\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int         # line of the opening fence
    language: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(DOCS)}:{self.line}"

    @property
    def is_whole_script(self) -> bool:
        for line in self.text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                return bool(_SECTION.match(line))
        return False


def fenced_blocks(path: Path) -> list[Block]:
    blocks, language, start, body = [], None, 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _FENCE.match(line)
        if language is None and match:
            language, start, body = match.group(1), number, []
        elif language is not None and line.rstrip() == "```":
            blocks.append(Block(path, start, language, "\n".join(body) + "\n"))
            language = None
        elif language is not None:
            body.append(line)
    assert language is None, f"{path}:{start}: a code block is never closed"
    return blocks


ALL_BLOCKS = [b for p in sorted(DOCS.rglob("*.md")) for b in fenced_blocks(p)]
SCRIPTS = [b for b in ALL_BLOCKS if b.language == "qscript" and b.is_whole_script]
BROKEN = [b for b in ALL_BLOCKS if b.language == "qscript-error"]


def _rendered(result) -> str:
    return "\n\n".join(d.render(result.source) for d in result.diagnostics)


def test_the_docs_have_scripts_to_check():
    assert len(SCRIPTS) > 50 and len(BROKEN) > 40


@pytest.mark.parametrize("block", SCRIPTS, ids=lambda b: b.id)
def test_script_checks_clean(block: Block):
    result = check_text(block.text, block.id)
    assert not result.diagnostics, _rendered(result)


@pytest.mark.parametrize("block", [b for b in SCRIPTS if b.path.name != "examples.md"],
                         ids=lambda b: b.id)
def test_script_checks_clean_against_the_docs_site(block: Block):
    # The examples page is left out: each example is checked against its own
    # site file by test_example_checks_against_its_site.
    result = check_text(block.text, block.id, DOCS_SITE)
    assert not result.diagnostics, _rendered(result)


@pytest.mark.parametrize("block", BROKEN, ids=lambda b: b.id)
def test_broken_example_reports_its_code(block: Block):
    first = block.text.splitlines()[0]
    match = _EXPECT.match(first)
    assert match, f"{block.id}: a qscript-error block starts with '# expect: QNNNN'"
    expected = {c.strip() for c in match.group(1).split(",")}
    assert expected <= {c.code for c in codes.all_codes()}, f"unknown code in {first!r}"
    result = check_text(block.text, block.id, DOCS_SITE)
    reported = {d.code.code for d in result.diagnostics}
    assert expected <= reported, f"expected {sorted(expected)}, got:\n{_rendered(result)}"


def test_code_blocks_name_their_language():
    # A script in an unlabelled block would escape the checks above. design.md,
    # the design rationale, sketches section layout with "..." and is exempt.
    languages = {b.language for b in ALL_BLOCKS if b.path.name != "design.md"}
    assert languages <= {"qscript", "qscript-error", "text", "sh", "json", "yaml", "python"}, \
        languages

# ============================================================== error pages, generated text


def test_every_code_has_a_page():
    index = (DOCS / "errors" / "index.md").read_text(encoding="utf-8")
    for entry in codes.all_codes():
        page = DOCS / "errors" / f"{entry.code}.md"
        assert page.exists(), f"{page} is missing; run docs/gen_error_pages.py"
        assert page.read_text(encoding="utf-8").startswith(f"# {entry.code}: {entry.title}\n")
        assert f"]({entry.code}.md)" in index


def test_every_code_has_an_example_or_a_reason():
    explained = set(gen.CASES) | set(gen.SPECIAL) | set(gen.NO_EXAMPLE)
    assert {e.code for e in codes.all_codes()} <= explained


@pytest.mark.parametrize("code", sorted(gen.CASES))
def test_error_case_fix_is_clean(code: str):
    case = gen.CASES[code]
    if case.fixed is not None:
        result = check_text(case.fixed, f"{code} fixed", DOCS_SITE)
        assert not result.diagnostics, _rendered(result)


def test_generated_pages_are_up_to_date():
    stale = [str(path.relative_to(ROOT)) for path, _, _ in gen.stale_files()]
    assert not stale, (f"out of date: {', '.join(stale)}; run "
                       f"'.venv/bin/python docs/gen_error_pages.py' and commit the result")

# ============================================================== reference coverage

#: Grammar statement rules (``NAME_stmt``) and the reference heading that documents them.
STATEMENT_HEADINGS = {
    "answer": "answer", "hangup": "hangup", "stop": "stop", "pass": "pass", "break": "break",
    "play": "play", "play_hot": "play hot", "say": "say", "music": "music",
    "music_off": "music", "wait": "wait", "set": "set", "goto": "goto", "queue": "queue to",
    "requeue": "requeue to", "add_group": "add group", "remove_group": "remove group",
    "announce": "announce", "callback": "offer callback", "voicemail": "voicemail to",
    "transfer": "transfer to", "lookup": "lookup", "command": "do", "log": "log",
    "save": "save", "if": "if, elif, else", "every": "every", "while": "while",
    "repeat": "repeat", "menu": "menu", "collect": "collect",
}


def _reference_headings() -> set[str]:
    headings = set()
    for page in REFERENCE.glob("*.md"):
        headings |= set(re.findall(r"^## (.+)$", page.read_text(encoding="utf-8"), re.M))
    return headings


def test_every_statement_has_a_reference_section():
    grammar = (ROOT / "grammar" / "qscript.lark").read_text(encoding="utf-8")
    rules = set(re.findall(r"\b(\w+)_stmt\b", grammar))
    assert rules, "no statement rules found in the grammar"
    undocumented = rules - set(STATEMENT_HEADINGS)
    assert not undocumented, f"statements without a reference section: {sorted(undocumented)}"
    missing = {STATEMENT_HEADINGS[r] for r in rules} - _reference_headings()
    assert not missing, f"reference headings missing: {sorted(missing)}"


def _row(page: str, heading: str, option: str) -> str:
    """The table row of ``option`` in the section ``## heading`` of a reference page."""
    text = (REFERENCE / page).read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith(f"| `{option}")]
    assert len(rows) == 1, f"{page} ## {heading}: no single row for {option!r}"
    return rows[0]


def _seconds(value: float) -> str:
    value = int(value)
    return f"{value // 60}m" if value % 60 == 0 and value >= 60 else f"{value}s"


@pytest.mark.parametrize("page, heading, option, default", [
    ("input.md", "menu", "timeout", _seconds(compiler.DEFAULT_MENU_TIMEOUT)),
    ("input.md", "menu", "retries", str(compiler.DEFAULT_RETRIES)),
    ("input.md", "collect", "timeout", _seconds(compiler.DEFAULT_COLLECT_TIMEOUT)),
    ("input.md", "collect", "retries", str(compiler.DEFAULT_RETRIES)),
    ("input.md", "collect", "terminator", f'"{compiler.DEFAULT_TERMINATOR}"'),
    ("queueing.md", "offer callback", "key", compiler.DEFAULT_CALLBACK_KEY),
    ("queueing.md", "offer callback", "timeout", _seconds(compiler.DEFAULT_MENU_TIMEOUT)),
    ("queueing.md", "voicemail to", "max", _seconds(compiler.DEFAULT_VOICEMAIL_MAX)),
])
def test_documented_defaults_are_the_compilers(page, heading, option, default):
    cells = [c.strip() for c in _row(page, heading, option).strip("|").split("|")]
    assert f"`{default}`" in cells, f"{page} ## {heading} {option}: expected default {default}"

# ============================================================== examples


def _example_scripts() -> list[Path]:
    return sorted(EXAMPLES.glob("*/*.qs"))


def _site_for(script: Path) -> Path:
    own = script.parent / "site.yaml"
    return own if own.exists() else EXAMPLES / "support" / "site.yaml"


def _run_cli(args: list[str]):
    result = CliRunner().invoke(cli_main, args, catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize("script", _example_scripts(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_checks_against_its_site(script: Path):
    pytest.importorskip("runtime.site", reason="the site loader is not available")
    code, output = _run_cli(["check", "--strict", "--site", str(_site_for(script)), str(script)])
    assert code == 0, output


@pytest.mark.parametrize("script", _example_scripts(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_is_formatted(script: Path):
    text = script.read_text(encoding="utf-8")
    assert format_source(text, str(script)).text == text, f"run: qscript fmt {script}"


def test_every_example_folder_is_documented():
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders <= set(gen.EXAMPLE_FOLDERS), \
        f"add {sorted(folders - set(gen.EXAMPLE_FOLDERS))} to EXAMPLE_FOLDERS in gen_error_pages.py"
    for folder in folders - set(gen._NO_README):
        assert (EXAMPLES / folder / "README.md").exists(), f"examples/{folder} has no README.md"
        assert list((EXAMPLES / folder).glob("*.qs")), f"examples/{folder} has no script"


def test_docs_site_has_the_support_site_names():
    site_module = pytest.importorskip("runtime.site", reason="the site loader is not available")
    loaded = site_module.load_site(EXAMPLES / "support" / "site.yaml")
    try:
        site = loaded.symbols()
    finally:
        getattr(loaded, "close", lambda: None)()
    for kind in ("groups", "prompts", "calendars", "hot_prompts", "languages"):
        assert getattr(DOCS_SITE, kind) == getattr(site, kind), \
            f"{kind} of docs_site() in docs/gen_error_pages.py differ from examples/support/site.yaml"
    assert {n: i.fields for n, i in DOCS_SITE.lookups.items()} == \
        {n: i.fields for n, i in site.lookups.items()}


def test_custom_command_example_declares_its_commands():
    assert set(DOCS_SITE.commands) == {"blocked", "open_case"}
    assert DOCS_SITE.commands["open_case"].signature() == \
        "open_case(customer: string, channel: string) -> string"

# ============================================================== the site


def test_mkdocs_build_strict(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    for page in ("index.html", "tutorial/index.html", "reference/queueing/index.html",
                 "errors/Q1003/index.html", "bytecode/index.html", "cli/index.html"):
        assert (tmp_path / "site" / page).exists(), page
