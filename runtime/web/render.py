"""The console's Jinja2 environment: templates from runtime/web/templates, autoescaped.

Every page gets ``user`` (the logged-in user's public fields), ``csrf_token``,
``nav`` (the parts of the console the user's role may open) and ``site``.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import jinja2
from markupsafe import Markup

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(("html", "xml")),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.globals["static"] = static_url
    return env


def static_url(name: str) -> str:
    """A static file's URL with its content's hash, so a changed file is fetched anew
    (hashed once per version of the file, not on every page)."""
    path = STATIC / name
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return f"/console/static/{name}?v=missing"
    return f"/console/static/{name}?v={_content_hash(path, stamp)}"


@functools.lru_cache(maxsize=256)
def _content_hash(path: Path, _stamp: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def csrf_field(token: str) -> Markup:
    return Markup('<input type="hidden" name="csrf" value="{}">').format(token)
