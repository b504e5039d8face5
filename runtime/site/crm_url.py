"""The agent client's link to an external CRM: a URL template filled from the call.

The site's ``web.crm_url``, for example::

    https://crm.example.com/find?number={caller}&customer={digits}

names call fields in braces; the agent's screen pop shows the link with them
filled in, each URL-encoded (``+46 70`` becomes ``%2B46%2070``), so a caller's
digits can never add a parameter or change the path. The template is checked
when the site loads: a placeholder that is not a call field nor a field of a
declared lookup (``{customers.name}``) is an error there, not a broken link on
an agent's page. Only ``http`` and ``https`` links are accepted (a
``javascript:`` link on the page would run in the console's origin).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote

#: The call fields a template may name, and what each is.
CALL_FIELDS = {
    "caller": "the caller's number",
    "dialled": "the number the caller dialled",
    "digits": "the digits the caller keyed in",
    "menu": "the last menu key the caller pressed",
    "language": "the call's language",
    "call_id": "the call's id",
    "agent": "the agent's id",
    "group": "the group the call was offered for",
}


class BadCrmUrl(ValueError):
    """A template that cannot be filled (its message says where and why)."""


@dataclass(frozen=True)
class CrmUrl:
    """A checked template: :meth:`fill` makes the link for one call."""

    template: str
    fields: tuple[str, ...]

    def fill(self, values: Mapping[str, Any]) -> str:
        """The link: every placeholder replaced by its value, URL-encoded ("" when unknown)."""
        filled = {name: quote(_text(values.get(name)), safe="") for name in self.fields}
        return _FORMATTER.vformat(self.template, (), _Fields(filled))


class _Fields(dict):
    """Dotted placeholders ({customers.name}) are looked up whole, not as attributes."""


class _Formatter(string.Formatter):
    def get_field(self, field_name, args, kwargs):
        return kwargs[field_name], field_name


_FORMATTER = _Formatter()


def parse_crm_url(template: str, lookups: Mapping[str, Any] | None = None) -> CrmUrl:
    """Check a template against the call fields and the site's lookups (name -> an
    object with ``fields``, a mapping of field names). BadCrmUrl says what is wrong."""
    if not isinstance(template, str) or not template.strip():
        raise BadCrmUrl("must be a URL text, e.g. https://crm.example.com/find?number={caller}")
    if not template.lower().startswith(("http://", "https://")):
        raise BadCrmUrl(f"must start with http:// or https://, not {template[:40]!r}")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:  # a lone { or }
        raise BadCrmUrl(f"{error} (write {{{{ and }}}} for braces themselves)") from None
    known = dict(CALL_FIELDS)
    for lookup_name, lookup in (lookups or {}).items():
        for field in _fields_of(lookup):
            known[f"{lookup_name}.{field}"] = f"the field {field} of lookup {lookup_name}"
    fields: list[str] = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name == "" or spec or conversion:
            raise BadCrmUrl(f"placeholder {{{name}{'!' + conversion if conversion else ''}"
                            f"{':' + spec if spec else ''}}} must be a plain field name, "
                            f"one of: {', '.join(sorted(known))}")
        if name not in known:
            raise BadCrmUrl(f"unknown placeholder {{{name}}}; it may be one of: "
                            f"{', '.join(sorted(known))}")
        if name not in fields:
            fields.append(name)
    return CrmUrl(template, tuple(fields))


def call_values(view: Mapping[str, Any]) -> dict[str, Any]:
    """The placeholder values of a screen pop's call (see runtime.core.agent_view)."""
    values = {name: view.get(name, "") for name in CALL_FIELDS}
    for lookup_name, found in (view.get("lookups") or {}).items():
        for field, value in (found or {}).items():
            values[f"{lookup_name}.{field}"] = value
    return values


def _fields_of(lookup: Any) -> list[str]:
    """The field names of a site lookup (runtime.site.lookups.Lookup), a LookupInfo
    or a plain mapping of field names."""
    if hasattr(lookup, "info"):
        lookup = lookup.info()
    fields = getattr(lookup, "fields", lookup)
    return list(fields or ())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)
