"""The ``qscript`` command's entry point, kept free of imports.

Loading the CLI (click, rich, the compiler) takes a noticeable moment, longer
on a busy machine; a Ctrl-C in that moment must end the command as one at any
later time does ("interrupted", exit 130), not with a traceback.
"""

import sys

EXIT_INTERRUPTED = 130


def run() -> None:
    try:
        from .cli import run as run_cli
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    run_cli()
