"""Shared fixtures for the language-core tests: a test site and golden files.

Golden files (tests/data/errors/*.expected, tests/data/compile/*.disasm) are
rewritten from the current output instead of compared when the environment
variable ``QSCRIPT_UPDATE_GOLDEN=1`` is set; review the diff before committing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from hypothesis import settings

from qscript.symbols import CommandInfo, LookupInfo, Parameter, SiteSymbols

UPDATE_GOLDEN = os.environ.get("QSCRIPT_UPDATE_GOLDEN") == "1"

# CI (CI=true) runs the property tests with a fixed sequence of examples, so a
# submission's result does not depend on luck; developers' runs keep exploring
# new examples (and Hypothesis's database replays any failure they find).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: The site every site-dependent test checks against.
TEST_SITE = SiteSymbols(
    groups=frozenset({"support", "sales"}),
    prompts=frozenset({"welcome", "closed", "main-menu", "enter-number", "invalid", "cb-offer"}),
    calendars=frozenset({"office"}),
    hot_prompts=frozenset({"outage"}),
    languages=frozenset({"en", "sv"}),
    lookups={"customers": LookupInfo("customers", {"segment": "string", "score": "number",
                                                   "since": "time"})},
    commands={"crm_score": CommandInfo("crm_score", (Parameter("number", "string"),
                                                     Parameter("weight", "number")), "number",
                                       "Score of the customer in the CRM.")},
)


@pytest.fixture(scope="session")
def site() -> SiteSymbols:
    return TEST_SITE


def check_golden(path: Path, actual: str) -> None:
    """Compare ``actual`` with the golden file, or rewrite it under QSCRIPT_UPDATE_GOLDEN=1."""
    if UPDATE_GOLDEN:
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{path} does not exist; create it with QSCRIPT_UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            f"{path.name} (golden)", f"{path.name} (actual)"))
        pytest.fail(f"{path} differs from the output (QSCRIPT_UPDATE_GOLDEN=1 rewrites it "
                    f"if the change is intended):\n{diff}", pytrace=False)


@pytest.fixture
def golden():
    return check_golden
