"""``python -m qscript``: the same as the ``qscript`` command."""

from .entry import run

run()
