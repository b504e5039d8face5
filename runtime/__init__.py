"""QScript's runtime: VM, ACD, site configuration, simulator and the live ARI runtime."""

from __future__ import annotations

import json
import warnings
from pathlib import Path


def stale_compiled_modules(package: Path) -> list[str]:
    """Compiled modules (mypyc, see setup.py) older than their source, in a checkout.

    An editable install compiles the runtime's hot modules next to their
    ``.py`` files, and Python imports the compiled copy: an edit to the
    source has no effect until the next install. Only a source checkout (a
    ``pyproject.toml`` beside the package) is checked: an installed wheel's
    files carry their own times.
    """
    if not (package.parent / "pyproject.toml").exists():
        return []
    stale = []
    for compiled in package.rglob("*.so"):
        source = compiled.with_name(compiled.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > compiled.stat().st_mtime:
            stale.append(str(source.relative_to(package.parent)))
    return sorted(stale)


_stale = stale_compiled_modules(Path(__file__).resolve().parent)
if _stale:
    warnings.warn(f"the compiled runtime is older than {', '.join(_stale)}: reinstall "
                  "(pip install -e .) to compile your changes, or install with "
                  "QSCRIPT_PURE_PYTHON=1 to run the sources", stacklevel=2)


def build_record(package: Path | None = None) -> dict:
    """What the last install's build did (written by setup.py): ``mode`` is
    ``compiled``, ``pure`` (asked for with QSCRIPT_PURE_PYTHON) or
    ``fallback`` (with ``reason`` and ``cause``: ``type-errors`` or
    ``toolchain``); empty when unknown (an installed wheel, an old build)."""
    path = (package or Path(__file__).resolve().parent) / "_build.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


_build = build_record()
if _build.get("mode") == "fallback":
    warnings.warn(f"the runtime was not compiled ({_build.get('reason')}): running pure Python, "
                  "3-4x slower to simulate", stacklevel=2)
