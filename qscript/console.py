"""The rich consoles the CLI prints through, configured once.

Everything the CLI shows may contain text it did not write: script lines,
site values, scenario names, saved values, what a running runtime answers.
Rich would read ``[bold]`` in it as markup and ``:thumbs_up:`` as an emoji
code, and wrap long lines at the terminal's width (80 columns when the output
is not a terminal), which breaks the ``file:line:col`` an editor or CI parses.
So every console has emoji codes and highlighting off and soft wrapping on
(lines are never broken or cropped), and text that is not ours is passed
through :func:`rich.markup.escape` or as a :class:`rich.text.Text`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A console for CLI output (see the module docstring); ``options`` go to rich."""
    settings: dict[str, Any] = {"stderr": stderr, "highlight": False, "emoji": False,
                                "soft_wrap": True}
    settings.update(options)
    return Console(**settings)
