"""The console's Jinja2 environment: templates from runtime/web/templates, autoescaped.

Every page gets ``user`` (the logged-in user's public fields), ``csrf_token``,
``nav`` (the parts of the console the user's role may open) and ``site``.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

#: The console's parts, in menu order: (path, label, lowest role).
NAVIGATION: list[tuple[str, str, int]] = []


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(("html", "xml")),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.globals["static"] = static_url
    return env


def static_url(name: str) -> str:
    """A static file's URL with its content's hash, so a changed file is fetched anew."""
    import hashlib
    path = STATIC / name
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "missing"
    return f"/console/static/{name}?v={version}"


def csrf_field(token: str) -> Markup:
    return Markup('<input type="hidden" name="csrf" value="{}">').format(token)
