"""The ``qscript`` command line: a thin click layer over :mod:`qscript.api`.

Exit codes (documented in docs/cli.md):

* 0 — success (warnings may have been printed)
* 1 — the input has errors (diagnostics printed; a script that cannot be
  read — missing, a directory, binary, not UTF-8 — is error Q0001), or
  ``fmt --check`` found files to reformat, or a bytecode file was refused
* 2 — usage error: unknown option, missing argument, bad option value
* 123 — internal error (a bug in QScript; the message says how to report it)
* 130 — interrupted (Ctrl-C)

No input, however broken, makes the CLI print a Python traceback; set
``QSCRIPT_DEBUG=1`` to see one for an internal error.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import traceback
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from . import __version__
from .api import Compilation, compile_file, load_source, check_source
from .bytecode import BytecodeError, read_program
from .codes import all_codes, lookup as lookup_code
from .console import make_console
from .diagnostics import Diagnostic
from .files import UnreadableFile, read_limited
from .source import MAX_SOURCE_BYTES, Source

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 123
EXIT_INTERRUPTED = 130
#: The largest bytecode file read (a script of MAX_SOURCE_BYTES compiles to far less).
MAX_BYTECODE_BYTES = 64_000_000

_stdout = make_console()
_stderr = make_console(stderr=True)


# ------------------------------------------------------------------ output


def _print_diagnostic(diagnostic: Diagnostic, source: Source | None, console: Console) -> None:
    colour = "red" if diagnostic.is_error else "yellow"
    lines = diagnostic.render(source).splitlines()
    head = escape(lines[0])
    marker = f"{diagnostic.severity.value}[{diagnostic.code.code}]"
    console.print(head.replace(marker, f"[bold {colour}]{marker}[/]", 1))
    for line in lines[1:]:
        if line.lstrip().startswith("= help:"):
            console.print(f"[cyan]{escape(line)}[/]")
        elif set(line.split("|")[-1].strip()) == {"^"}:
            console.print(f"[{colour}]{escape(line)}[/]")
        else:
            console.print(escape(line))


def _report(results: list[Compilation], output_format: str) -> int:
    """Print diagnostics of several scripts; return the exit code."""
    if output_format == "json":
        payload = [d.to_json() for r in results for d in r.diagnostics]
        click.echo(json.dumps(payload, indent=2))
    else:
        for result in results:
            for diagnostic in result.diagnostics:
                _print_diagnostic(diagnostic, result.source, _stderr)
                _stderr.print()
        errors = sum(len(r.errors) for r in results)
        warnings = sum(len(r.warnings) for r in results)
        if errors or warnings:
            summary = f"{errors} error{'s' if errors != 1 else ''}, " \
                      f"{warnings} warning{'s' if warnings != 1 else ''}"
            _stderr.print(f"[bold]{summary}[/] in {len(results)} file{'s' if len(results) != 1 else ''}")
    return EXIT_FINDINGS if any(not r.ok for r in results) else EXIT_OK


def _site_symbols(site_path: str | None):
    """Load the site configuration's symbols, or exit 1 with its errors."""
    if site_path is None:
        return None
    from runtime.site import SiteError, load_site  # the runtime owns the site format
    try:
        return load_site(site_path).symbols()
    except SiteError as error:
        _stderr.print(f"[red]{escape(error.render())}[/]")
        raise SystemExit(EXIT_FINDINGS) from None


_site_option = click.option("--site", "site_path", type=click.Path(),
                            help="Site configuration (YAML) to check names against.")
# Script arguments are plain paths: a directory or a missing file is reported
# by load_source as error Q0001 (exit 1), like any other unreadable script,
# rather than by click as a usage error for some kinds of unreadable path only.
_script_path = click.Path()
_format_option = click.option("--format", "output_format", type=click.Choice(["text", "json"]),
                              default="text", show_default=True, help="Diagnostics format.")


# ------------------------------------------------------------------ commands


class LazyGroup(click.Group):
    """A group whose runtime commands are imported only when used.

    The language commands (check, compile, ...) must start fast and must not
    need the runtime's dependencies; simulate, serve and friends live in the
    runtime package and are loaded on demand.
    """

    LAZY = {
        "simulate": "runtime.simulator.cli:simulate",
        "test": "runtime.simulator.scenarios_cli:test_command",
        "serve": "runtime.live.cli:serve",
        "agent": "runtime.live.cli:agent",
        "status": "runtime.live.cli:status",
        "deploy": "runtime.live.cli:deploy",
        "rollback": "runtime.live.cli:rollback",
        "watch": "runtime.live.cli:watch",
        "hot": "runtime.live.cli:hot",
        "report": "runtime.reports.cli:report",
        "user": "runtime.web.cli:user",
    }

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.LAZY))

    def invoke(self, ctx):
        # Ctrl-C: a short word and the conventional exit code 130 (128 + SIGINT), not
        # click's "Aborted!" with exit 1, which means "the input has errors" here.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _stderr.print("interrupted")
            raise SystemExit(EXIT_INTERRUPTED) from None

    def get_command(self, ctx, name):
        if name in self.LAZY:
            import importlib
            module, attribute = self.LAZY[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qscript")
def main() -> None:
    """QScript: queue scripts for call and contact centres."""


@main.command()
@click.argument("scripts", nargs=-1, required=True, type=_script_path)
@_site_option
@_format_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def check(scripts: tuple[str, ...], site_path: str | None, output_format: str, strict: bool) -> None:
    """Check scripts and report every error and warning."""
    site = _site_symbols(site_path)
    results = []
    for path in scripts:
        source, failed = load_source(path)
        results.append(failed if failed else check_source(source, site))
    code = _report(results, output_format)
    if strict and any(r.warnings for r in results):
        code = EXIT_FINDINGS
    if code == EXIT_OK and output_format == "text":
        _stderr.print(f"[green]ok[/]: {len(results)} script{'s' if len(results) != 1 else ''} checked")
    sys.exit(code)


@main.command()
@click.argument("script", type=_script_path)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Bytecode file to write (default: SCRIPT with .qsc).")
@_site_option
@_format_option
def compile(script: str, output: str | None, site_path: str | None, output_format: str) -> None:
    """Compile a script to a bytecode file (.qsc)."""
    target = Path(output) if output else Path(script).with_suffix(".qsc")
    _refuse_to_overwrite_inputs(target, {"the script being compiled": script,
                                         "the site file": site_path})
    result = compile_file(script, _site_symbols(site_path))
    code = _report([result], output_format)
    if result.program is None:
        sys.exit(code or EXIT_FINDINGS)
    data = result.program.to_bytes()
    try:
        write_output(target, data)
    except OSError as error:
        _stderr.print(f"[red]error[/]: cannot write {escape(str(target))}: {escape(error.strerror or str(error))}")
        sys.exit(EXIT_FINDINGS)
    if output_format == "text":
        _stderr.print(f"[green]compiled[/] {escape(script)} → {escape(str(target))} "
                      f"({len(result.program.code)} instructions, {len(data):,} bytes, "
                      f"sha256 {result.program.hash_hex[:12]})")
    sys.exit(EXIT_OK)


def _refuse_to_overwrite_inputs(target: Path, inputs: dict[str, str | None]) -> None:
    """Exit 1 when the output file is one of the inputs, under whatever name.

    Compared by device and inode, so the same file reached through another
    path, a symlink or a hard link is recognised too.
    """
    for role, path in inputs.items():
        if path is None:
            continue
        try:
            same = os.path.samefile(target, path)
        except OSError:
            continue  # one of them does not exist (yet): nothing to overwrite
        if same:
            _stderr.print(f"[red]error[/]: will not write the bytecode to {escape(str(target))}: "
                          f"it is {role} ({escape(path)})\n"
                          "   = help: name another output file with -o")
            sys.exit(EXIT_FINDINGS)


def write_output(target: Path, data: bytes) -> None:
    """Write an output file as compilers do: through a symlink to the file it names;
    a regular file atomically (see :func:`write_file_atomically`); a device or a pipe
    (``-o /dev/null``, ``-o /dev/stdout``) by writing to it, never by replacing it."""
    real = Path(os.path.realpath(target))
    try:
        is_regular = stat.S_ISREG(real.stat().st_mode)
    except FileNotFoundError:
        is_regular = True  # a new file
    if not is_regular:
        with open(real, "wb") as handle:
            handle.write(data)
        return
    write_file_atomically(real, data)


def write_file_atomically(target: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same directory.

    Readers never see a half-written file (an interrupted or failed write
    leaves the old file as it was), and a symlink at ``target`` is replaced,
    not written through.
    """
    import tempfile
    directory = target.parent
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, (0o666 & ~_umask()) if mode is None else mode)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _warn_if_stale(path: str, program) -> None:
    """Warn (Q5004) when the script a .qsc was compiled from has changed since."""
    from .codes import STALE_BYTECODE
    from .bytecode import source_hash
    source_path = Path(program.source_name)
    if not source_path.is_absolute():
        source_path = Path(path).parent / source_path.name
    try:
        current = read_limited(source_path, MAX_SOURCE_BYTES, kind="script").decode("utf-8-sig")
    except (UnreadableFile, UnicodeDecodeError):
        return  # the source is not here (or not a script): nothing to compare with
    if source_hash(current) != program.source_hash:
        _stderr.print(f"{escape(path)}: [bold yellow]warning[{STALE_BYTECODE.code}][/]: "
                      f"{escape(str(source_path))} changed since this file was compiled\n"
                      f"   = help: recompile with `qscript compile {escape(str(source_path))}`")


def load_program_or_exit(path: str, site=None):
    """A Program from a .qsc file or by compiling a .qs file; exit 1 with a message on failure."""
    is_bytecode_name = path.endswith(".qsc")
    try:
        data = read_limited(path, MAX_BYTECODE_BYTES,
                            kind="bytecode file" if is_bytecode_name else "script")
    except UnreadableFile as error:
        if is_bytecode_name:
            _stderr.print(f"[red]error[/]: {escape(str(error))}")
            sys.exit(EXIT_FINDINGS)
        data = b""  # compiling it below reports why, as error Q0001
    if data[:4] == b"QSBC" or is_bytecode_name:
        try:
            program = read_program(data)
        except BytecodeError as error:
            _stderr.print(f"{escape(path)}: [bold red]error[{error.code}][/]: {escape(error.message)}")
            sys.exit(EXIT_FINDINGS)
        _warn_if_stale(path, program)
        return program
    result = compile_file(path, site)
    if result.program is None:
        _report([result], "text")
        sys.exit(EXIT_FINDINGS)
    return result.program


@main.command()
@click.argument("file", type=_script_path)
@_site_option
def disasm(file: str, site_path: str | None) -> None:
    """Show the instructions of a script (.qs) or bytecode file (.qsc) beside its source."""
    from .disasm import disassemble
    program = load_program_or_exit(file, _site_symbols(site_path))
    click.echo(disassemble(program), nl=False)


@main.command()
@click.argument("files", nargs=-1, required=True, type=_script_path)
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; exit 1 if a file is not formatted.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a diff instead of rewriting.")
def fmt(files: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Rewrite scripts in the canonical layout (idempotent)."""
    import difflib
    from .formatter import format_source
    code = EXIT_OK
    for path in files:
        source, failed = load_source(path)
        if failed is not None:
            _report([failed], "text")
            code = EXIT_FINDINGS
            continue
        result = format_source(source.text, path)
        if result.text is None:
            _report([Compilation(source, result.diagnostics)], "text")
            code = EXIT_FINDINGS
            continue
        if result.text == source.text:
            continue
        if show_diff:
            click.echo("".join(difflib.unified_diff(
                source.text.splitlines(True), result.text.splitlines(True),
                f"{path} (original)", f"{path} (formatted)")), nl=False)
        if check_only or show_diff:
            _stderr.print(f"would reformat {escape(path)}")
            code = EXIT_FINDINGS
        else:
            try:
                _rewrite_in_place(path, result.text.encode("utf-8"))
            except OSError as error:
                _stderr.print(f"[red]error[/]: cannot rewrite {escape(path)}: "
                              f"{escape(error.strerror or str(error))}; it is left as it was")
                code = EXIT_FINDINGS
                continue
            _stderr.print(f"reformatted {escape(path)}")
    sys.exit(code)


def _rewrite_in_place(path: str, data: bytes) -> None:
    """Replace a script's contents whole: through a symlink to the file it names,
    keeping its permissions; an interrupted rewrite leaves the old text."""
    real = Path(os.path.realpath(path))
    mode = real.stat().st_mode & 0o7777
    if not os.access(real, os.W_OK):  # the rename below would bypass the file's own mode
        raise PermissionError(13, "Permission denied", str(real))
    write_file_atomically(real, data, mode=mode)


@main.command()
@click.argument("code", required=False)
def explain(code: str | None) -> None:
    """Explain a diagnostic code (e.g. Q1003), or list them all."""
    if code is None:
        for entry in all_codes():
            click.echo(f"{entry.code}  {entry.severity.value:<7}  {entry.title}")
        return
    entry = lookup_code(code)
    if entry is None:
        _stderr.print(f"[red]error[/]: unknown code {escape(code)}; `qscript explain` lists them")
        sys.exit(EXIT_USAGE)
    click.echo(f"{entry.code} ({entry.severity.value}): {entry.title}\n\n{entry.explanation}")


def run() -> None:
    """Entry point: run the CLI, turning any unexpected exception into exit 123."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _stderr.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:  # noqa: BLE001 - never show users a traceback
        if os.environ.get("QSCRIPT_DEBUG"):
            traceback.print_exc()
        _stderr.print(f"[bold red]internal error[/]: {escape(type(error).__name__)}: "
                      f"{escape(str(error))}\nThis is a bug in QScript. Run again with "
                      "QSCRIPT_DEBUG=1 for details and report it.")
        sys.exit(EXIT_INTERNAL)
