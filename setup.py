"""Build of QScript: the runtime's hot path compiled to C with mypyc.

The modules a simulated or live call runs through — VM, session, contact
centre, ACD, simulator — are compiled with mypyc (part of mypy) into C
extensions: the same source, type-checked, ~2x faster (benchmarks/
bench_simulator.py). Everything else, and everything in ``qscript/``, stays
plain Python.

``QSCRIPT_PURE_PYTHON=1 pip install -e .`` skips the compilation: for
working on these modules (an editable install would otherwise run the
compiled copies, not the .py files being edited). Without mypy or a C
compiler the install falls back to pure Python, with a warning.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

#: The modules compiled with mypyc. They must type-check cleanly under the
#: [tool.mypy] settings in pyproject.toml.
COMPILED = [
    "runtime/vm/machine.py",
    "runtime/vm/effects.py",
    "runtime/core/session.py",
    "runtime/core/center.py",
    "runtime/core/driver.py",
    "runtime/core/records.py",
    "runtime/acd/models.py",
    "runtime/acd/matching.py",
    "runtime/acd/metrics.py",
    "runtime/acd/engine.py",
    "runtime/acd/estimators.py",
    "runtime/acd/erlang.py",
    "runtime/simulator/events.py",
    "runtime/simulator/driver.py",
    "runtime/simulator/stats.py",
    "runtime/simulator/runner.py",
    "runtime/simulator/sampling.py",
    "runtime/core/latency.py",
]


HERE = Path(__file__).resolve().parent

#: What the last build did, for the runtime and the test suite to read
#: (runtime.build_record): pip hides a build's messages, so a runtime that
#: silently fell back to pure Python would otherwise go unnoticed.
BUILD_RECORD = HERE / "runtime" / "_build.json"


def record_build(mode: str, reason: str = "", cause: str = "") -> None:
    """mode: compiled | pure (asked for) | fallback; cause: type-errors | toolchain."""
    BUILD_RECORD.write_text(json.dumps({"mode": mode, "reason": reason, "cause": cause}) + "\n")


def _warn(message: str, cause: str = "toolchain") -> None:
    print(f"qscript build: {message}; installing pure Python", file=sys.stderr)
    remove_compiled_copies()
    record_build("fallback", message, cause)


def remove_compiled_copies() -> None:
    """Delete compiled modules left in the source tree by an earlier (editable)
    build: Python would import them instead of the sources."""
    for module in COMPILED:
        for stale in (HERE / module).parent.glob(Path(module).stem + ".*.so"):
            stale.unlink()
    remove_shared_libraries()


def remove_shared_libraries() -> None:
    """Delete earlier builds' shared libraries (each named after its module set)."""
    for group in HERE.glob("*__mypyc.*.so"):
        group.unlink()


#: pip runs this file for metadata too (egg_info, dist_info): no extensions
#: are needed then, and mypyc's type check and code generation take ~15 s.
_METADATA_ONLY = {"egg_info", "dist_info", "sdist"}


def compiled_extensions() -> list:
    if len(sys.argv) > 1 and sys.argv[1] in _METADATA_ONLY:
        return []
    if os.environ.get("QSCRIPT_PURE_PYTHON"):
        remove_compiled_copies()
        record_build("pure", "QSCRIPT_PURE_PYTHON is set")
        return []
    remove_shared_libraries()
    try:
        from mypyc.build import mypycify
    except ImportError:
        _warn("mypyc (mypy) is not available")
        return []
    try:
        extensions = mypycify(COMPILED, opt_level="3")
    except SystemExit:  # mypyc reports type errors by exiting
        _warn("mypyc could not compile the runtime (type errors above)", cause="type-errors")
        return []
    for extension in extensions:
        # mypyc compiles with -Werror; gcc's tautological-compare warning on
        # its generated code is harmless.
        extension.extra_compile_args.append("-Wno-tautological-compare")
    return extensions


class OptionalBuildExt(build_ext):
    """Compile if a C compiler works; otherwise keep the pure-Python modules.

    All or nothing: the compiled modules share one library, so if any part
    fails, whatever was built is removed again."""

    def run(self) -> None:
        if not self.extensions:
            return  # pure Python (asked for, or a fallback already recorded)
        try:
            super().run()
        except Exception as error:  # noqa: BLE001 - any compiler failure
            self._give_up(f"compiling failed ({error})")
            return
        record_build("compiled")

    def _give_up(self, reason: str) -> None:
        for ext in self.extensions:
            built = Path(self.get_ext_fullpath(ext.name))
            if built.exists():
                built.unlink()
        _warn(reason)


setup(ext_modules=compiled_extensions(), cmdclass={"build_ext": OptionalBuildExt})
