"""The library API: what the CLI, the runtime and tests call.

Every function here takes text or a path and returns a result object with
the diagnostics; none raises for bad input. Unexpected internal failures are
turned into an internal-error diagnostic (Q9000) rather than a traceback.
"""

from __future__ import annotations

import gc
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import codes
from .ast import Script
from .checker import CheckResult, check
from .diagnostics import Diagnostic, DiagnosticBag
from .flow import check_flow
from .parser import parse
from .source import Source, SourceError, Span
from .symbols import SiteSymbols


@dataclass
class Compilation:
    """The outcome of checking (and, if asked, compiling) one script."""

    source: Source
    diagnostics: list[Diagnostic] = field(default_factory=list)
    script: Script | None = None
    checked: CheckResult | None = None
    phases: dict[str, frozenset[str]] | None = None
    program: object | None = None  # bytecode.Program when compiled without errors

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


def load_source(path: str | Path) -> tuple[Source | None, Compilation | None]:
    """Read a script file; on failure return a Compilation holding a Q0001 error."""
    try:
        return Source.from_path(path), None
    except SourceError as error:
        source = Source("", str(path))
        bag = DiagnosticBag(source)
        bag.report(codes.UNREADABLE, str(error).split(": ", 1)[-1], Span(0, 0, 0, 0))
        return None, Compilation(source, bag.items)


def check_source(source: Source, site: SiteSymbols | None = None, *,
                 compile: bool = False) -> Compilation:
    """Parse and check a script; with ``compile`` also produce bytecode when clean."""
    bag = DiagnosticBag(source)
    result = Compilation(source)
    try:
        _run_pipeline(source, site, bag, result, compile)
    except RecursionError:
        bag.report(codes.TOO_DEEP, "the script is nested too deeply to compile", Span.point(1, 1))
    except Exception:  # noqa: BLE001 - a crash must become a diagnostic, never a traceback
        detail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        bag.report(codes.INTERNAL, f"internal compiler error: {detail}", Span.point(1, 1),
                   help="please report this with the script that caused it")
    result.diagnostics = bag.sorted()
    return result


def _run_pipeline(source, site, bag, result, compile) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4000))
    # The pipeline allocates many small objects and no reference cycles that
    # matter; the cyclic collector's full passes over a large AST cost up to a
    # third of the compile time, so it is paused while compiling (as mypy does).
    collecting = gc.isenabled()
    gc.disable()
    try:
        script = parse(source, bag)
        if script is None:
            return
        result.script = script
        result.checked = check(script, bag, site)
        result.phases = check_flow(script, bag)
        if compile and not bag.has_errors:
            from .compiler import compile_script
            result.program = compile_script(result.checked, source)
    finally:
        sys.setrecursionlimit(limit)
        if collecting:
            gc.enable()


def check_text(text: str, name: str = "<script>", site: SiteSymbols | None = None) -> Compilation:
    return check_source(Source(text, name), site)


def compile_text(text: str, name: str = "<script>", site: SiteSymbols | None = None) -> Compilation:
    return check_source(Source(text, name), site, compile=True)


def compile_file(path: str | Path, site: SiteSymbols | None = None) -> Compilation:
    source, failed = load_source(path)
    if failed is not None:
        return failed
    return check_source(source, site, compile=True)
