"""The build's safety net: a compiled module older than its source is reported."""

from __future__ import annotations

import os

from runtime import stale_compiled_modules


def _package(tmp_path, checkout: bool):
    if checkout:
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    package = tmp_path / "runtime"
    (package / "acd").mkdir(parents=True)
    source = package / "acd" / "engine.py"
    compiled = package / "acd" / "engine.cpython-311-x86_64-linux-gnu.so"
    source.write_text("# source\n")
    compiled.write_bytes(b"\0")
    return package, source, compiled


def test_an_edited_source_newer_than_its_compiled_module_is_reported(tmp_path):
    package, source, compiled = _package(tmp_path, checkout=True)
    os.utime(compiled, (1_000_000, 1_000_000))
    os.utime(source, (2_000_000, 2_000_000))
    assert stale_compiled_modules(package) == ["runtime/acd/engine.py"]


def test_a_fresh_build_is_not_reported(tmp_path):
    package, source, compiled = _package(tmp_path, checkout=True)
    os.utime(source, (1_000_000, 1_000_000))
    os.utime(compiled, (2_000_000, 2_000_000))
    assert stale_compiled_modules(package) == []


def test_an_installed_package_is_not_checked(tmp_path):
    package, source, compiled = _package(tmp_path, checkout=False)
    os.utime(compiled, (1_000_000, 1_000_000))
    os.utime(source, (2_000_000, 2_000_000))
    assert stale_compiled_modules(package) == []


def test_the_runtime_did_not_fall_back_to_pure_python_because_of_type_errors():
    """A compiled module that mypyc refuses makes the install fall back to pure
    Python with a message pip hides: the suite would pass and CI would run the
    slow runtime without anyone noticing. The build records what it did."""
    from runtime import build_record
    record = build_record()
    assert record.get("cause") != "type-errors", record.get("reason")


def test_the_build_record_is_read_and_a_missing_one_is_empty(tmp_path):
    from runtime import build_record
    assert build_record(tmp_path) == {}
    (tmp_path / "_build.json").write_text('{"mode": "fallback", "reason": "r", "cause": "toolchain"}')
    assert build_record(tmp_path)["mode"] == "fallback"
