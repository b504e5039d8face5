"""The console's forms for agents, groups and calendars, to and from site entries.

A form's fields become the entry *as the site file would write it* (plain
texts: ``"10s"``, ``"08:00-17:00"``), which :mod:`runtime.live.site_admin`
hands to the site file's readers; nothing is checked here that they check
(a bad duration gets their message, shown on the form). An empty field is
left out of the entry, so the site file's default applies, as when the key
is not written in the file.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from runtime.site.sections import HOURS_KEYS

GROUP_FIELDS = ("description", "service_level_threshold", "service_level_target", "wrap_up",
                "ring_timeout", "short_abandon_threshold")
#: The defaults the group form shows as placeholders (runtime.site.toplevel.read_groups).
GROUP_DEFAULTS = {"description": "", "service_level_threshold": "20s",
                  "service_level_target": "80%", "wrap_up": "0s", "ring_timeout": "15s",
                  "short_abandon_threshold": "5s"}
AGENT_TEXT_FIELDS = ("name", "endpoint", "wrap_up")
DEVIATION_TEXT_FIELDS = ("date", "from", "to", "hours", "note")
#: Empty deviation rows under the existing ones, for new deviations.
NEW_DEVIATION_ROWS = 3


def _text(form: Mapping[str, str], key: str) -> str:
    return str(form.get(key, "")).strip()


def _shown(value: Any) -> str:
    """A value of an entry as a form field shows it (lists joined with commas)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_shown(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}={_shown(inner)}" for key, inner in value.items())
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def _is_true(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "yes", "on", "1")


# ------------------------------------------------------------------ agents


def agent_groups(entry: Mapping[str, Any] | None) -> dict[str, str]:
    """The agent's groups and penalties as texts (a list in the file means penalty 0)."""
    groups = (entry or {}).get("groups") or {}
    if isinstance(groups, list):
        return {str(name): "0" for name in groups}
    if isinstance(groups, dict):
        return {str(name): "0" if penalty is None else str(penalty)
                for name, penalty in groups.items()}
    return {}


def agent_form(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """The agent form's values for an entry (None: a new agent)."""
    entry = entry or {}
    values: dict[str, Any] = {key: _shown(entry.get(key)) for key in AGENT_TEXT_FIELDS}
    values["active"] = entry.get("active") is None or _is_true(entry.get("active"))
    values["groups"] = agent_groups(entry)
    values["variables"] = dict(entry.get("variables") or {})
    return values


def agent_entry(form: Mapping[str, str], groups: Iterable[str],
                current: Mapping[str, Any] | None) -> dict[str, Any]:
    """The agent entry a submitted form gives. ``groups``: the site's groups (a checkbox
    ``group.NAME`` and a penalty ``penalty.NAME`` each); the agent's channel variables,
    not on the form, are kept from ``current``."""
    entry: dict[str, Any] = {}
    for key in AGENT_TEXT_FIELDS:
        if _text(form, key):
            entry[key] = _text(form, key)
    chosen = {name: _text(form, f"penalty.{name}") or "0" for name in groups
              if form.get(f"group.{name}")}
    if chosen:
        entry["groups"] = chosen
    entry["active"] = "true" if form.get("active") else "false"
    if current and current.get("variables"):
        entry["variables"] = current["variables"]
    return entry


# ------------------------------------------------------------------ groups


def group_form(entry: Mapping[str, Any] | None) -> dict[str, str]:
    entry = entry or {}
    return {key: _shown(entry.get(key)) for key in GROUP_FIELDS}


def group_entry(form: Mapping[str, str]) -> dict[str, Any]:
    return {key: _text(form, key) for key in GROUP_FIELDS if _text(form, key)}


# ------------------------------------------------------------------ calendars


def calendar_form(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """The calendar form's values: hours per key, holiday rules, deviations as rows."""
    entry = entry or {}
    hours = entry.get("hours") or {}
    holidays = entry.get("holidays")
    no_holidays = isinstance(holidays, str) and holidays.strip().lower() in (
        "none", "false", "no", "off")
    rules = holidays if isinstance(holidays, dict) else {}
    rows: list[dict[str, Any]] = []
    for deviation in entry.get("deviations") or []:
        if isinstance(deviation, dict):
            row: dict[str, Any] = {key: _shown(deviation.get(key))
                                   for key in DEVIATION_TEXT_FIELDS}
            row["closed"] = _is_true(deviation.get("closed"))
            rows.append(row)
    rows.extend({**{key: "" for key in DEVIATION_TEXT_FIELDS}, "closed": False}
                for _ in range(NEW_DEVIATION_ROWS))
    closes = entry.get("closed_on_holidays")
    return {
        "description": _shown(entry.get("description")),
        "hours": {key: _shown(hours.get(key)) if isinstance(hours, dict) else ""
                  for key in HOURS_KEYS},
        "no_holidays": no_holidays,
        "holidays": {key: _shown(rules.get(key))
                     for key in ("country", "subdivision", "categories", "ignore")},
        "closed_on_holidays": closes is None or _is_true(closes),
        "deviations": rows,
    }


def calendar_entry(form: Mapping[str, str], rows: int) -> dict[str, Any]:
    """The calendar entry a submitted form gives (``rows`` deviation rows were shown).

    A deviation's hours for a range may differ per day: ``weekdays=09:00-15:00;
    saturday=closed`` (as the file's mapping ``{weekdays: ..., saturday: ...}``).
    A row left empty is no deviation.
    """
    entry: dict[str, Any] = {}
    if _text(form, "description"):
        entry["description"] = _text(form, "description")
    entry["hours"] = {key: _text(form, f"hours.{key}") for key in HOURS_KEYS
                      if _text(form, f"hours.{key}")}
    if form.get("no_holidays"):
        entry["holidays"] = "none"
    else:
        rules: dict[str, Any] = {}
        for key in ("country", "subdivision"):
            if _text(form, f"holidays.{key}"):
                rules[key] = _text(form, f"holidays.{key}")
        for key in ("categories", "ignore"):
            if _text(form, f"holidays.{key}"):
                rules[key] = _words(_text(form, f"holidays.{key}"))
        if rules:
            entry["holidays"] = rules
        entry["closed_on_holidays"] = "true" if form.get("closed_on_holidays") else "false"
    deviations = [d for d in (_deviation(form, index) for index in range(rows)) if d]
    if deviations:
        entry["deviations"] = deviations
    return entry


def _deviation(form: Mapping[str, str], index: int) -> dict[str, Any] | None:
    prefix = f"deviation.{index}."
    deviation: dict[str, Any] = {}
    for key in ("date", "from", "to", "note"):
        if _text(form, prefix + key):
            deviation[key] = _text(form, prefix + key)
    hours = _text(form, prefix + "hours")
    if hours:
        deviation["hours"] = _per_day(hours) if "=" in hours else hours
    if form.get(prefix + "closed"):
        deviation["closed"] = "true"
    return deviation or None


def _per_day(text: str) -> dict[str, str]:
    """``weekdays=09:00-15:00; saturday=closed`` -> {"weekdays": ..., "saturday": ...}."""
    days: dict[str, str] = {}
    for part in text.split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            days[key.strip()] = value.strip()
    return days
