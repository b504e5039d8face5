"""Every kind of site-file mistake gives a SiteError at the exact line and column.

The cases live in ``tests/data/site/errors.txt`` (one small site file per
case, expected errors inline); file-level failures that cannot be written as
text cases (binary, invalid UTF-8, missing file) are tested below.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.site import SiteError, load_site, load_site_text

CASES_FILE = Path(__file__).parents[1] / "data" / "site" / "errors.txt"
_EXPECT = re.compile(r"#\s*expect\s+(\d+):(\d+)\s+(.*)")


def _cases() -> list[tuple[str, str]]:
    text = CASES_FILE.read_text(encoding="utf-8")
    chunks = re.split(r"^=== (.*)\n", text, flags=re.MULTILINE)
    return [(chunks[i].strip(), chunks[i + 1]) for i in range(1, len(chunks), 2)]


def _expectations(case: str) -> list[tuple[int, int, str, str | None]]:
    found = []
    for line in case.splitlines():
        match = _EXPECT.match(line.strip())
        if match:
            message, _, hint = match.group(3).partition(" | ")
            found.append((int(match.group(1)), int(match.group(2)), message.strip(),
                          hint.strip() or None))
    return found


@pytest.mark.parametrize("name, case", _cases(), ids=[name for name, _ in _cases()])
def test_error_case(name, case, tmp_path):
    expected = _expectations(case)
    assert expected, f"case {name!r} expects no error"
    with pytest.raises(SiteError) as raised:
        load_site_text(case, "site.yaml", tmp_path)
    problems = list(raised.value.problems)
    unmatched = []
    for line, column, message, hint in expected:
        match = next((p for p in problems if (p.location.line, p.location.column) == (line, column)
                      and message in p.message and (hint is None or hint in (p.hint or ""))), None)
        if match is None:
            unmatched.append(f"{line}:{column} {message} | {hint}")
        else:
            problems.remove(match)
    report = "\n".join(p.render() for p in raised.value.problems)
    assert not unmatched, f"expected but not reported: {unmatched}\nreported:\n{report}"
    assert not problems, "reported but not expected:\n" + "\n".join(p.render() for p in problems)


def test_the_message_format_is_file_line_column_error(tmp_path):
    with pytest.raises(SiteError) as raised:
        load_site_text("site: x\ngrups: {}\n", "support/site.yaml", tmp_path)
    assert str(raised.value).splitlines() == [
        'support/site.yaml:2:1: error: unknown key "grups"',
        '   = help: did you mean "groups"? (valid keys: version, site, timezone, languages, '
        "groups, agents, calendars, prompts, hot_prompts, lookups, commands, mail, numbers, "
        "fallback, ari, control, database, announcements, web)",
    ]


def test_render_with_excerpts_shows_the_line_and_a_caret(tmp_path):
    with pytest.raises(SiteError) as raised:
        load_site_text("groups:\n  support: {wrap_up: 20 sec}\n", "site.yaml", tmp_path)
    rendered = raised.value.render(excerpts=True).splitlines()
    assert rendered[:4] == [
        'site.yaml:2:22: error: groups.support.wrap_up: "20 sec" is not a duration',
        "  |",
        "2 |   support: {wrap_up: 20 sec}",
        "  |                      ^",
    ]


def test_json_output_lists_every_problem(tmp_path):
    with pytest.raises(SiteError) as raised:
        load_site_text("timezone: Nowhere\ngrups: {}\n", "site.yaml", tmp_path)
    import json
    items = json.loads(raised.value.to_json())
    assert [(i["line"], i["column"]) for i in items] == [(1, 11), (2, 1)]


@pytest.mark.parametrize("data, message", [
    (b"", "the site file is empty"),
    (b"# only a comment\n", "the site file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "this is a binary file"),
    (b"site: x\n", None),
])
def test_file_level_problems(tmp_path, data, message):
    path = tmp_path / "site.yaml"
    path.write_bytes(data)
    if message is None:
        assert load_site(path).name == "x"
        return
    with pytest.raises(SiteError) as raised:
        load_site(path)
    assert str(raised.value).startswith(f"{path}: error: {message}")


def test_invalid_utf8_is_located(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_bytes("site: x\ngroups:\n  k\u00f6: {}\n".encode("latin-1"))
    with pytest.raises(SiteError) as raised:
        load_site(path)
    assert str(raised.value).startswith(f"{path}:3:4: error: the file is not valid UTF-8 "
                                        "(byte 0xf6)")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_bytes("\ufeffsite: Kundtjänst\n".encode("utf-8"))
    assert load_site(path).name == "Kundtjänst"


def test_a_missing_file_and_a_directory(tmp_path):
    with pytest.raises(SiteError, match="no such file"):
        load_site(tmp_path / "nope.yaml")
    with pytest.raises(SiteError, match="is a directory"):
        load_site(tmp_path)


def test_a_control_character_is_located(tmp_path):
    with pytest.raises(SiteError) as raised:
        load_site_text("site: x\ngroups: \x07\n", "site.yaml", tmp_path)
    assert str(raised.value).startswith("site.yaml:2:9: error: the file contains the "
                                        "character U+0007, which YAML does not allow")


def test_a_deeply_nested_file_gives_a_site_error(tmp_path):
    text = "site: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(SiteError):
        load_site_text(text, "site.yaml", tmp_path)
