"""The agent client's link to an external CRM: the site's ``web.crm_url``, filled from a call.

The template (checked when the site loads, :func:`runtime.site.web.parse_crm_url`:
an unknown placeholder is a site error) names call fields in braces::

    https://crm.example.com/find?number={caller}&customer={digits}&id={saved.customer_id}

Each value is URL-encoded whole (``+46 70`` becomes ``%2B46%2070``, ``&`` becomes
``%26``), so what a caller keys in can never add a parameter or change the path.
"""

from __future__ import annotations

import string
from typing import Any, Mapping
from urllib.parse import quote


def fill_crm_url(template: str, call: Mapping[str, Any]) -> str:
    """The link for a call's screen pop (runtime.core.agent_view): every placeholder
    replaced by the call's value, URL-encoded; "" for one the call has not got."""
    return _FORMATTER.vformat(template, (), _Values(call))


class _Values(dict):
    """Placeholder values: ``{caller}`` from the call, ``{saved.NAME}`` from what the
    script saved (read whole: a dotted name is not an attribute lookup)."""

    def __init__(self, call: Mapping[str, Any]):
        super().__init__()
        self.call = call

    def __missing__(self, name: str) -> str:
        if name.startswith("saved."):
            value = (self.call.get("saved") or {}).get(name[len("saved."):])
        else:
            value = self.call.get(name)
        return quote(_text(value), safe="")


class _Formatter(string.Formatter):
    def get_field(self, field_name, args, kwargs):
        return kwargs[field_name], field_name


_FORMATTER = _Formatter()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
