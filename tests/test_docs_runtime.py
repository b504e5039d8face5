"""Tests of the runtime documentation: docs/site.md, simulation.md, testing.md, live.md, cli.md.

* ``docs/site.md``'s reference section is generated from the module
  docstring of ``runtime/site/config.py`` (``docs/gen_error_pages.py``), and
  is in sync with it.
* Every ```yaml block of these pages that is a whole file loads with the real
  loader: site files (site.md, live.md) with
  :func:`runtime.site.load_site_text`, traffic models (simulation.md) with
  :func:`runtime.simulator.model.load_model_text`, scenario files
  (testing.md) with :func:`runtime.simulator.scenarios.load_scenarios` — and the
  scenarios pass, unless the block starts with ``# expect: fail``, when one
  must fail. Blocks that are not whole files start with ``# fragment``; they
  must still be YAML.
* The YAML examples of the generated site reference, taken together, load as
  one site (less the problems listed in :data:`KNOWN_SITE_DOC_PROBLEMS`).
* Every command ``qscript --help`` lists has a ``## qscript NAME`` section in
  docs/cli.md, and the options there are the command's real options.
* The JSON keys documented in simulation.md are those ``qscript simulate
  --json`` prints; the Python example there prints what it says.
* The new pages are in the mkdocs nav (``mkdocs build --strict`` itself runs in
  tests/test_docs.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from qscript.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
SUPPORT = EXAMPLES / "support"

site_module = pytest.importorskip("runtime.site", reason="the runtime is not installed")
from runtime.simulator.scenarios import load_scenarios, run_scenario  # noqa: E402
from runtime.simulator.model import load_model_text  # noqa: E402
from runtime.site import SiteError, load_site, load_site_text  # noqa: E402
from qscript.api import compile_file  # noqa: E402


def _load_generator():
    if "gen_error_pages" in sys.modules:     # loaded by tests/test_docs.py already
        return sys.modules["gen_error_pages"]
    spec = importlib.util.spec_from_file_location("gen_error_pages", DOCS / "gen_error_pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()

# ============================================================== fenced blocks

_FENCE = re.compile(r"^```(\S*)\s*$")
_GENERATED = re.compile(r"<!-- generated: (\S+) .*?-->(.*?)<!-- end generated: \1 -->", re.S)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int          # line of the opening fence
    language: str
    text: str
    generated: bool    # inside a generated section

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def is_fragment(self) -> bool:
        return self.first_line.startswith("# fragment")

    @property
    def expects_failure(self) -> bool:
        return self.first_line == "# expect: fail"


def fenced_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    generated_lines: set[int] = set()
    for match in _GENERATED.finditer(text):
        first = text.count("\n", 0, match.start()) + 1
        last = text.count("\n", 0, match.end()) + 1
        generated_lines |= set(range(first, last + 1))
    blocks, language, start, body = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        match = _FENCE.match(line)
        if language is None and match:
            language, start, body = match.group(1), number, []
        elif language is not None and line.rstrip() == "```":
            blocks.append(Block(path, start, language, "\n".join(body) + "\n",
                                start in generated_lines))
            language = None
        elif language is not None:
            body.append(line)
    assert language is None, f"{path}:{start}: a code block is never closed"
    return blocks


def yaml_blocks(page: str) -> list[Block]:
    return [b for b in fenced_blocks(DOCS / page) if b.language == "yaml"]


def whole(page: str) -> list[Block]:
    return [b for b in yaml_blocks(page) if not b.is_fragment and not b.generated]


PAGES = ("site.md", "simulation.md", "testing.md", "live.md")


def test_the_pages_have_examples():
    assert len(whole("site.md")) >= 2
    assert len(whole("simulation.md")) >= 2
    assert len(whole("testing.md")) >= 2
    assert [b for b in yaml_blocks("site.md") if b.generated], "site.md has no generated examples"


@pytest.mark.parametrize("block", [b for p in PAGES for b in yaml_blocks(p)], ids=lambda b: b.id)
def test_yaml_blocks_are_yaml(block: Block):
    # Fragments and generated examples too: at least the YAML must be well formed.
    yaml.compose(block.text)

# ============================================================== site.md


def test_site_page_is_generated_from_the_loader_docstring():
    page = DOCS / "site.md"
    text = page.read_text(encoding="utf-8")
    expected = gen.fill_sections(text, gen.GENERATED_SECTIONS["docs/site.md"], "docs/site.md")
    assert text == expected, "docs/site.md is out of date; run '.venv/bin/python docs/gen_error_pages.py'"
    import runtime.site.config as config
    body = config.__doc__.split("\n", 1)[1].strip()
    assert body.splitlines()[0] in text and "## Top-level keys" in text


@pytest.mark.parametrize("block", whole("site.md") + whole("live.md"), ids=lambda b: b.id)
def test_site_example_loads(block: Block):
    # Relative paths (customers.csv) resolve against the support example;
    # scripts under numbers are not required to exist.
    try:
        site = load_site_text(block.text, block.id, SUPPORT, check_scripts=False)
    except SiteError as error:
        pytest.fail(error.render())
    site.close()


#: Problems of the YAML examples in runtime/site/config.py's docstring when they
#: are read together as one site. Each is a mistake in the docstring, to be
#: fixed there (then its entry here can go); a new problem fails the test.
KNOWN_SITE_DOC_PROBLEMS: tuple[str, ...] = ()


def test_site_reference_examples_load_together(tmp_path: Path):
    generated = [b for b in yaml_blocks("site.md") if b.generated]
    text = "languages: [sv, en]\n" + "".join(b.text for b in generated)
    shutil.copy(SUPPORT / "customers.csv", tmp_path / "customers.csv")
    with contextlib.closing(sqlite3.connect(tmp_path / "crm.db")) as db:
        db.execute("CREATE TABLE customers (phone TEXT, name TEXT, vip INTEGER)")
        db.commit()
    try:
        load_site_text(text, "site.md", tmp_path, check_scripts=False).close()
        problems = []
    except SiteError as error:
        problems = [p.message for p in error.problems]
    unexpected = [m for m in problems if m not in KNOWN_SITE_DOC_PROBLEMS]
    assert not unexpected, "\n".join(unexpected)


def test_the_support_site_is_what_site_md_says():
    # site.md describes examples/support/site.yaml's calendar; keep them in step.
    import datetime as dt
    site = load_site(SUPPORT / "site.yaml")
    try:
        office = site.calendar("office")
        for stamp, open_ in (("2026-12-07T16:30", True), ("2026-12-11T16:30", False),
                             ("2026-06-19T10:00", False), ("2026-07-08T14:30", True),
                             ("2026-07-08T15:30", False), ("2026-12-24T10:00", True),
                             ("2026-12-24T13:00", False), ("2026-12-25T10:00", False),
                             ("2027-01-06T10:00", False)):
            assert office.is_open(dt.datetime.fromisoformat(stamp)) is open_, stamp
    finally:
        site.close()

# ============================================================== simulation.md


#: Problems of traffic-model examples that are bugs in the model loader, not in
#: the page: ``arrivals.profile`` entries, written as its docstring says, are
#: rejected (runtime/simulator/model.py passes the entry's mapping to
#: ``reader.parse``, which wants a scalar). Remove when fixed.
KNOWN_MODEL_PROBLEMS: tuple[str, ...] = ()


@pytest.mark.parametrize("block", whole("simulation.md"), ids=lambda b: b.id)
def test_model_example_loads(block: Block):
    try:
        load_model_text(block.text, block.id)
    except SiteError as error:
        unexpected = [p for p in error.problems
                      if not any(known in p.message for known in KNOWN_MODEL_PROBLEMS)]
        assert not unexpected, error.render()


def test_basic_model_on_the_page_is_the_example():
    blocks = whole("simulation.md")
    assert blocks[0].text == (EXAMPLES / "basic" / "model.yaml").read_text(encoding="utf-8")


def _documented(text: str, prefix: str) -> set[str]:
    """Keys written as table rows ``| `PREFIXkey` |``."""
    return set(re.findall(r"^\| `" + re.escape(prefix) + r"(\w+)` \|", text, re.M))


def test_simulation_json_keys_are_documented(tmp_path: Path):
    model = tmp_path / "model.yaml"
    model.write_text('start: "2026-12-07T08:00:00"\nduration: 10m\n'
                     "arrivals: {rate_per_hour: 600}\n"
                     "handle_time: {distribution: exponential, mean: 60s}\n"
                     "patience: {distribution: exponential, mean: 60s}\n"
                     "agents: [{count: 10, groups: [main]}]\n", encoding="utf-8")
    result = CliRunner().invoke(cli_main, [
        "simulate", str(EXAMPLES / "basic" / "single-group.qs"), "--site",
        str(EXAMPLES / "basic" / "site.yaml"), "--model", str(model), "--replications", "2",
        "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    section = _section("simulation.md", "JSON output")
    assert _documented(section, "totals.") == set(report["totals"])
    assert _documented(section, "") == set(report)
    assert set(report["confidence95"]) == {"service_level", "asa_s", "abandon_rate", "occupancy"}


def test_simulation_python_example_prints_what_it_says():
    blocks = [b for b in fenced_blocks(DOCS / "simulation.md") if b.language == "python"]
    assert blocks
    for block in blocks:
        expected = [line[2:] for line in block.text.splitlines() if line.startswith("# ")
                    and not line.startswith("# 100 agents")]
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(block.text, block.id, "exec"), {})  # noqa: S102 - our own docs
        assert output.getvalue().splitlines() == expected

# ============================================================== testing.md


def _scenario_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "support"
    shutil.copytree(SUPPORT, folder)
    return folder


@pytest.mark.parametrize("block", whole("testing.md"), ids=lambda b: b.id)
def test_scenario_example_loads_and_runs(block: Block, tmp_path: Path):
    folder = _scenario_dir(tmp_path)
    path = folder / "example.test.yaml"
    path.write_text(block.text, encoding="utf-8")
    suite = load_scenarios(path)
    site = load_site(suite.site) if suite.site else None
    try:
        result = compile_file(suite.script, site.symbols() if site else None)
        assert result.ok, result.diagnostics
        outcomes = [run_scenario(s, result.program, site, suite.start) for s in suite.scenarios]
    finally:
        if site is not None:
            site.close()
    failures = {o.scenario.name: o.failures for o in outcomes if not o.passed}
    if block.expects_failure:
        assert failures, f"{block.id} is marked '# expect: fail' but every scenario passed"
    else:
        assert not failures, failures


def test_failure_output_on_the_page_is_real(tmp_path: Path):
    # The FAIL example's output on the page is what qscript test prints for it.
    block = next(b for b in whole("testing.md") if b.expects_failure)
    folder = _scenario_dir(tmp_path)
    (folder / "fail.test.yaml").write_text(block.text, encoding="utf-8")
    result = CliRunner().invoke(cli_main, ["test", "--no-coverage", str(folder / "fail.test.yaml")],
                                catch_exceptions=False, env={"COLUMNS": "2000"})
    assert result.exit_code == 1
    page = (DOCS / "testing.md").read_text(encoding="utf-8")
    for line in result.stdout.splitlines():
        if line.strip().startswith(("fail.test.yaml:", "path:")):
            shown = line.replace(str(folder) + "/", "")
            assert shown in page, f"testing.md does not show: {shown}"

# ============================================================== cli.md


def _commands() -> dict[str, click.Command]:
    ctx = click.Context(cli_main)
    return {name: cli_main.get_command(ctx, name) for name in cli_main.list_commands(ctx)}


def test_help_lists_the_commands_cli_md_shows():
    result = CliRunner().invoke(cli_main, ["--help"], prog_name="qscript", terminal_width=78)
    assert result.exit_code == 0, result.output
    listed = set(re.findall(r"^  (\w+)\s{2,}", result.output.split("Commands:", 1)[1], re.M))
    assert listed == set(_commands())
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    shown = page.split("```text\n$ qscript --help\n", 1)[1].split("```", 1)[0]
    assert shown == result.output, "update the 'qscript --help' output at the top of docs/cli.md"


def _section(page: str, heading: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert f"\n## {heading}\n" in text, f"{page} has no section '## {heading}'"
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


_CLIENT_SECTION = "Commands for a running runtime"
_CLIENT_OPTIONS = {"--site", "--url", "--token"}
_CLIENTS = {"agent", "status", "deploy", "rollback", "watch", "hot"}


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_has_a_section_with_its_options(name: str):
    command = _commands()[name]
    section = _section("cli.md", f"qscript {name}")
    options = {o for p in command.params if isinstance(p, click.Option)
               for o in p.opts + p.secondary_opts if o.startswith("--") and o != "--help"}
    documented_here = set(re.findall(r"(--[a-z][a-z-]*)", section))
    if name in _CLIENTS:
        assert options >= _CLIENT_OPTIONS
        documented_here |= _CLIENT_OPTIONS & set(re.findall(r"(--[a-z-]+)",
                                                              _section("cli.md", _CLIENT_SECTION)))
    missing = options - documented_here
    assert not missing, f"docs/cli.md ## qscript {name} does not mention {sorted(missing)}"
    # Options in the section's tables must exist (no invented options).
    rows = re.findall(r"^\| `(--[a-z-]+)", section, re.M)
    invented = set(rows) - options
    assert not invented, f"docs/cli.md ## qscript {name} documents unknown options {sorted(invented)}"

# ============================================================== mkdocs


def test_new_pages_are_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in PAGES:
        assert re.search(rf":\s*{re.escape(page)}\s*$", config, re.M), f"{page} is not in the nav"
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in PAGES:
        assert f"]({page})" in index, f"docs/index.md does not link to {page}"
