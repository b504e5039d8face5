"""What the script editor shows beside the text: the compiler's diagnostics as JSON.

The web console's editor posts the text as the administrator types (debounced)
and marks each diagnostic at its line and column; the control API offers the
same (``POST /scripts/{name}/check``). The script is checked against the
running site's names (groups, prompts, calendars...), exactly as a deploy
would check it, but not compiled to bytecode: a check of a few hundred lines
takes milliseconds, so it keeps up with typing.
"""

from __future__ import annotations

from typing import Any

from qscript.api import check_source
from qscript.source import Source


def check_payload(source_text: str, name: str, site=None) -> dict[str, Any]:
    """``{"ok", "errors", "warnings", "diagnostics": [...]}`` for a script's text.

    Each diagnostic has ``line``/``col`` (1-based, where it starts), ``end_line``/
    ``end_col``, ``code`` (``Q0203``; ``qscript explain CODE`` says more),
    ``severity`` (error or warning), ``message``, ``hint`` (how to fix it, or
    None), ``notes`` and ``rendered`` (the text form with the source excerpt).
    """
    symbols = site.symbols() if site is not None else None
    result = check_source(Source(source_text, f"{name}.qs"), symbols)
    diagnostics = [_diagnostic(d, result.source) for d in result.diagnostics]
    errors = sum(1 for d in result.diagnostics if d.is_error)
    return {"ok": errors == 0, "errors": errors, "warnings": len(diagnostics) - errors,
            "diagnostics": diagnostics}


def _diagnostic(diagnostic, source: Source) -> dict[str, Any]:
    data = diagnostic.to_json()
    return {"line": data["line"], "col": data["column"], "end_line": data["end_line"],
            "end_col": data["end_column"], "code": data["code"], "severity": data["severity"],
            "message": data["message"], "hint": data["help"], "notes": data["notes"],
            "rendered": diagnostic.render(source)}
