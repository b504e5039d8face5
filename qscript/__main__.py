"""``python -m qscript``: the same as the ``qscript`` command."""

from .cli import run

run()
