"""Readers for the larger sections of a site file: calendars, prompts, hot prompts, lookups.

Each reader turns YAML nodes into model objects, reporting every problem to
the :class:`~runtime.site.yamlmarks.Reader` and carrying on with a sensible
default, so that one run finds all mistakes. The file format is documented in
:mod:`runtime.site.config`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from pathlib import Path
from types import MappingProxyType
from typing import Sequence
from zoneinfo import ZoneInfo

import holidays as holidays_library
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from qscript.symbols import VALUE_TYPES

from .calendar import WEEKDAYS, Calendar, Deviation, HolidayRules, known_holiday_names
from runtime.core.blocking import DEFAULT_LOOKUP_TIMEOUT
from .lookups import Lookup, LookupSpec, open_lookup
from .prompts import ANY_LANGUAGE, HotPrompt, Prompt, PromptCatalogue
from .values import (BadValue, TimeRange, check_no_overlap, parse_bool, parse_identifier,
                     parse_name, parse_opening_hours, parse_time_range, parse_work_timeout)
from .yamlmarks import Reader, did_you_mean, is_null, join_path

# ------------------------------------------------------------------ calendars

CALENDAR_KEYS = ("description", "hours", "holidays", "closed_on_holidays", "deviations")
#: Day keys of ``hours``; a named weekday wins over ``weekdays``/``weekend``, which win over ``daily``.
HOURS_KEYS = (*WEEKDAYS, "weekdays", "weekend", "daily")
_DAY_GROUPS = {"daily": range(7), "weekdays": range(5), "weekend": range(5, 7)}
HOLIDAY_KEYS = ("country", "subdivision", "categories", "ignore")
DEVIATION_KEYS = ("date", "from", "to", "hours", "closed", "note")
DEFAULT_HOLIDAY_CATEGORIES = ("public", "de_facto")


def read_calendars(reader: Reader, node: Node, timezone: ZoneInfo) -> dict[str, Calendar]:
    calendars = {}
    for entry in reader.entries(node, "calendars"):
        name = reader.parse(entry.key_node, "calendars", parse_name)
        if name is not None:
            calendars[name] = read_calendar(reader, name, entry.value, timezone)
    return calendars


def read_calendar(reader: Reader, name: str, node: Node, timezone: ZoneInfo) -> Calendar:
    path = f"calendars.{name}"
    fields = reader.fields(node, path, CALENDAR_KEYS, required=("hours",))
    weekly = read_weekly_hours(reader, fields.get("hours"), join_path(path, "hours"))
    closes = reader.value(fields, "closed_on_holidays", path, parse_bool, True)
    holidays_node = fields.get("holidays")
    rules = read_holiday_rules(reader, holidays_node, join_path(path, "holidays"), closes)
    deviations = read_deviations(reader, fields.get("deviations"), join_path(path, "deviations"))
    return Calendar(name, timezone, weekly, rules, deviations)


def read_weekly_hours(reader: Reader, node: Node | None, path: str):
    """Seven days of ranges, Monday first; a day no key covers is closed."""
    week: list[tuple[TimeRange, ...]] = [()] * 7
    if node is None:
        return tuple(week)
    if isinstance(node, ScalarNode) and not is_null(node):
        reader.report(node, f"{path}: give the hours per day, not one value",
                      f'e.g. {{weekdays: "{node.value}"}} or {{daily: "{node.value}"}}')
        return tuple(week)
    fields = reader.fields(node, path, HOURS_KEYS)
    # Broadest first, so that narrower keys overwrite: daily < weekdays/weekend < monday...
    for key in ("daily", "weekdays", "weekend", *WEEKDAYS):
        value = fields.get(key)
        if value is None:
            continue
        ranges = read_ranges(reader, value, join_path(path, key))
        days = _DAY_GROUPS.get(key, [WEEKDAYS.index(key)] if key in WEEKDAYS else [])
        for day in days:
            week[day] = ranges
    return tuple(week)


def read_ranges(reader: Reader, node: Node, path: str) -> tuple[TimeRange, ...]:
    """``"08:00-12:00, 13:00-17:00"``, ``closed``, or a list of ranges."""
    if isinstance(node, SequenceNode):
        ranges = [reader.parse(item, path, parse_time_range) for item in node.value]
        if None in ranges:
            return ()
        try:
            return check_no_overlap(ranges)
        except BadValue as error:
            reader.report(node, f"{path}: {error.message}", error.hint)
            return ()
    return reader.parse(node, path, parse_opening_hours) or ()


def read_holiday_rules(reader: Reader, node: Node | None, path: str,
                       closes: bool) -> HolidayRules | None:
    """Public holidays: Swedish by default, ``holidays: none`` (or false) for none."""
    if node is None:
        return HolidayRules(closes=closes)
    if isinstance(node, ScalarNode) and node.value.strip().lower() in ("none", "false", "no", "off"):
        return None
    fields = reader.fields(node, path, HOLIDAY_KEYS)
    countries = holidays_library.list_supported_countries()
    country = reader.value(fields, "country", path, lambda t: _country(t, countries), None)
    if country is None and "country" in fields:
        return HolidayRules(closes=closes)  # the rest can only be checked for a known country
    country = country or "SE"
    subdivision = reader.value(fields, "subdivision", path,
                               lambda t: _subdivision(t, country, countries), None)
    supported = holidays_library.country_holidays(country).supported_categories
    default = tuple(c for c in DEFAULT_HOLIDAY_CATEGORIES if c in supported)
    categories = default
    if fields.get("categories") is not None:
        categories = tuple(_list_of(reader, fields.get("categories"), join_path(path, "categories"),
                                    lambda t: _category(t, supported)))
    ignore: list[str] = []
    if fields.get("ignore") is not None:
        names = known_holiday_names(country, subdivision, categories)
        ignore = _list_of(reader, fields.get("ignore"), join_path(path, "ignore"),
                          lambda t: _holiday_name(t, names))
    return HolidayRules(country, subdivision, categories, frozenset(n.lower() for n in ignore), closes)


def _country(text: str, countries: dict) -> str:
    code = text.strip().upper()
    if code not in countries:
        raise BadValue(f'"{text}" is not a country the holidays library knows',
                       did_you_mean(code, countries) or "use an ISO 3166 code such as SE, NO or DK")
    return code


def _subdivision(text: str, country: str, countries: dict) -> str:
    known = countries.get(country, [])
    if text.strip() not in known:
        raise BadValue(f'"{text}" is not a subdivision of {country}',
                       did_you_mean(text.strip(), known) or
                       (f"known: {', '.join(known)}" if known else f"{country} has no subdivisions"))
    return text.strip()


def _category(text: str, supported: Sequence[str]) -> str:
    if text.strip() not in supported:
        raise BadValue(f'"{text}" is not a holiday category of this country',
                       f"categories: {', '.join(supported)}")
    return text.strip()


def _holiday_name(text: str, names: set[str]) -> str:
    if text.strip() not in names:
        raise BadValue(f'"{text}" is not a holiday name of this calendar',
                       did_you_mean(text.strip(), names) or "names: " + ", ".join(sorted(names)))
    return text.strip()


def read_deviations(reader: Reader, node: Node | None, path: str) -> tuple[Deviation, ...]:
    deviations: list[tuple[Deviation, Node]] = []
    for index, item in enumerate(reader.items(node, path) if node is not None else []):
        deviation = read_deviation(reader, item, f"{path}[{index}]")
        if deviation is not None:
            _check_deviation_overlap(reader, deviation, item, deviations, f"{path}[{index}]")
            deviations.append((deviation, item))
    return tuple(d for d, _ in deviations)


def read_deviation(reader: Reader, node: Node, path: str) -> Deviation | None:
    fields = reader.fields(node, path, DEVIATION_KEYS)
    if not isinstance(node, MappingNode):
        return None
    note = reader.value(fields, "note", path, str, "")
    first = last = None
    if "date" in fields:
        if "from" in fields or "to" in fields:
            reader.report(node, f"{path}: give either date or from/to, not both")
        first = last = reader.value(fields, "date", path, parse_date, None)
    elif "from" in fields and "to" in fields:
        first = reader.value(fields, "from", path, parse_date, None)
        last = reader.value(fields, "to", path, parse_date, None)
        if first and last and last < first:
            reader.report(fields.get("to"), f"{path}.to: the range ends before it starts")
            return None
    else:
        reader.report(node, f"{path}: a deviation needs a date (date: 2026-12-24) or a range "
                            f"(from: 2026-07-01, to: 2026-07-31)")
    hours = _deviation_hours(reader, fields, path)
    if first is None or last is None or hours is None:
        return None
    return Deviation(first, last, hours, note)


def _deviation_hours(reader: Reader, fields, path: str):
    """The deviation's hours per weekday, or None after reporting a problem."""
    closed = reader.value(fields, "closed", path, parse_bool, None)
    hours_node = fields.get("hours")
    if hours_node is not None and closed:
        reader.report(fields.get("closed"), f"{path}: give either hours or closed: true, not both")
        return None
    if isinstance(hours_node, MappingNode):
        return read_weekly_hours(reader, hours_node, join_path(path, "hours"))
    if hours_node is not None:
        return (read_ranges(reader, hours_node, join_path(path, "hours")),) * 7
    if closed:
        return ((),) * 7
    reader.report(fields.node, f'{path}: say what happens that day: hours: "08:00-12:00" '
                               f"or closed: true")
    return None


def _check_deviation_overlap(reader: Reader, new: Deviation, node: Node, earlier, path: str):
    """Two single-date deviations for one date, or two overlapping ranges, are a mistake."""
    for other, other_node in earlier:
        if new.single_day != other.single_day:
            continue  # a single date inside a range is the intended exception to the range
        if new.first <= other.last and other.first <= new.last:
            line = other_node.start_mark.line + 1
            reader.report(node, f"{path}: overlaps the deviation at line {line}",
                          "each date may have one deviation (a single date may refine a range)")
            return


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise BadValue(f'"{text}" is not a date', "write dates as YYYY-MM-DD, e.g. 2026-12-24") \
            from None


def _list_of(reader: Reader, node: Node, path: str, parser) -> list:
    if isinstance(node, ScalarNode) and not is_null(node):
        items = [node]  # a single value where a list is expected
    else:
        items = reader.items(node, path)
    values = [reader.parse(item, path, parser) for item in items]
    return [v for v in values if v is not None]


# ------------------------------------------------------------------ prompts

_SOUND_EXTENSIONS = (".wav", ".wav16", ".gsm", ".sln", ".sln16", ".ulaw", ".alaw", ".g722",
                     ".g729", ".mp3", ".ogg")


def parse_media(text: str) -> str:
    """An Asterisk sound name (``sv/welcome``) or a media URI (``sound:...``)."""
    media = text.strip()
    if not media or re.search(r"\s", media):
        raise BadValue(f'"{text}" is not a media name', "media names have no spaces: sv/welcome")
    if ":" not in media and media.lower().endswith(_SOUND_EXTENSIONS):
        stem = media.rsplit(".", 1)[0]
        raise BadValue(f'"{media}" names a file extension',
                       f'write Asterisk sound names without it ("{stem}"); Asterisk picks the format')
    return media


def read_prompts(reader: Reader, node: Node | None, languages: Sequence[str]) -> PromptCatalogue:
    prompts = {}
    for entry in reader.entries(node, "prompts") if node is not None else []:
        name = reader.parse(entry.key_node, "prompts", parse_name)
        if name is not None:
            prompts[name] = read_prompt(reader, name, entry, languages)
    return PromptCatalogue(languages[0], MappingProxyType(prompts))


def read_prompt(reader: Reader, name: str, entry, languages: Sequence[str]) -> Prompt:
    path = f"prompts.{name}"
    if not isinstance(entry.value, MappingNode):
        return Prompt(name, {}, reader.parse(entry.value, path, parse_media))
    by_language, any_language = {}, None
    for item in reader.entries(entry.value, path):
        media = reader.parse(item.value, join_path(path, item.key), parse_media)
        if item.key == ANY_LANGUAGE:
            any_language = media
        elif item.key in languages:
            by_language[item.key] = media
        else:
            hint = did_you_mean(item.key, [*languages, ANY_LANGUAGE])
            valid = f"the site's languages are {', '.join(languages)}; '{ANY_LANGUAGE}' is for the rest"
            reader.report(item.key_node, f'{path}: "{item.key}" is not one of the site\'s languages',
                          f"{hint} ({valid})" if hint else valid)
    if languages[0] not in by_language and any_language is None and by_language:
        reader.report(entry.key_node, f'{path}: no media for the default language "{languages[0]}"',
                      f"add {languages[0]}: ... or {ANY_LANGUAGE}: ... so every call can play it")
    return Prompt(name, by_language, any_language)


def read_hot_prompts(reader: Reader, node: Node | None,
                     catalogue: PromptCatalogue) -> dict[str, HotPrompt]:
    hot = {}
    for entry in reader.entries(node, "hot_prompts") if node is not None else []:
        name = reader.parse(entry.key_node, "hot_prompts", parse_name)
        if name is None:
            continue
        path = f"hot_prompts.{name}"
        fields = reader.fields(entry.value, path, ("prompt", "active", "description"))
        prompt = reader.value(fields, "prompt", path, parse_name, name)
        if prompt not in catalogue:
            where = fields.get("prompt") or entry.key_node
            hint = did_you_mean(prompt, catalogue.names()) or "add it under prompts:"
            reader.report(where, f'{path}: plays the prompt "{prompt}", which the catalogue '
                                 f"does not define", hint)
        hot[name] = HotPrompt(name, prompt, reader.value(fields, "active", path, parse_bool, False))
    return hot


# ------------------------------------------------------------------ lookups

LOOKUP_KEYS = ("type", "path", "key", "fields", "table", "delimiter", "encoding", "timeout",
               "description")
LOOKUP_TYPES = ("csv", "sqlite")
#: The field every lookup record has (set by the VM), so the site may not declare it.
RESERVED_FIELDS = ("found",)


def read_lookups(reader: Reader, node: Node | None, base_dir: Path,
                 display_dir: Path) -> dict[str, Lookup]:
    lookups = {}
    for entry in reader.entries(node, "lookups") if node is not None else []:
        name = reader.parse(entry.key_node, "lookups", parse_name)
        spec = read_lookup_spec(reader, name, entry.value, base_dir, display_dir) if name else None
        if spec is not None:
            lookup, problems = open_lookup(spec)
            reader.problems.extend(problems)
            lookups[name] = lookup
    return lookups


def read_lookup_spec(reader: Reader, name: str, node: Node, base_dir: Path,
                     display_dir: Path) -> LookupSpec | None:
    path = f"lookups.{name}"
    before = len(reader.problems)
    fields = reader.fields(node, path, LOOKUP_KEYS, required=("type", "path", "key", "fields"))
    kind = reader.value(fields, "type", path, _lookup_type, None)
    file_text = reader.value(fields, "path", path, str.strip, "")
    key = reader.value(fields, "key", path, str.strip, "")
    declared = _lookup_fields(reader, fields.get("fields"), join_path(path, "fields"))
    table = reader.value(fields, "table", path, parse_identifier, None)
    delimiter = reader.value(fields, "delimiter", path, _delimiter, ",")
    encoding = reader.value(fields, "encoding", path, _encoding, "utf-8-sig")
    timeout = reader.value(fields, "timeout", path, parse_work_timeout, DEFAULT_LOOKUP_TIMEOUT)
    _check_kind_keys(reader, fields, kind, path)
    if file_text and not (base_dir / file_text).is_file():
        shown = display_dir / file_text
        state = "is not a file" if (base_dir / file_text).exists() else "does not exist"
        reader.report(fields.get("path"), f'{path}.path: "{shown}" {state}',
                      "paths are relative to the site file's directory")
    if len(reader.problems) > before or not (kind and file_text and key):
        return None
    return LookupSpec(name, kind, (base_dir / file_text).resolve(), key, declared,
                      str(display_dir / file_text), table, delimiter, encoding,
                      reader.location(fields.get("path")), timeout)


def _check_kind_keys(reader: Reader, fields, kind: str | None, path: str) -> None:
    if kind == "sqlite" and "table" not in fields:
        reader.report(fields.node, f'{path}: an sqlite lookup needs "table"')
    if kind == "csv" and "table" in fields:
        reader.report(fields.entries["table"].key_node, f'{path}: "table" is for sqlite lookups')
    for csv_only in ("delimiter", "encoding"):
        if kind == "sqlite" and csv_only in fields:
            reader.report(fields.entries[csv_only].key_node,
                          f'{path}: "{csv_only}" is for csv lookups')


def _lookup_fields(reader: Reader, node: Node | None, path: str) -> dict[str, str]:
    declared = {}
    for entry in reader.entries(node, path) if node is not None else []:
        name = reader.parse(entry.key_node, path, parse_identifier)
        if name in RESERVED_FIELDS:
            reader.report(entry.key_node, f'{path}: "{name}" is reserved',
                          "every record has found (true when the key was found); rename the column")
            continue
        value_type = reader.parse(entry.value, join_path(path, entry.key), _value_type)
        if name and value_type:
            declared[name] = value_type
    if isinstance(node, MappingNode) and not node.value:
        reader.report(node, f"{path}: declare at least one field")
    return declared


def _lookup_type(text: str) -> str:
    if text.strip() not in LOOKUP_TYPES:
        hint = did_you_mean(text.strip(), LOOKUP_TYPES)
        raise BadValue(f'"{text}" is not a lookup type',
                       f"{hint} (types: csv, sqlite)" if hint else "types: csv, sqlite")
    return text.strip()


def _value_type(text: str) -> str:
    if text.strip() not in VALUE_TYPES:
        hint = did_you_mean(text.strip(), VALUE_TYPES)
        valid = "types: " + ", ".join(VALUE_TYPES)
        raise BadValue(f'"{text}" is not a value type', f"{hint} ({valid})" if hint else valid)
    return text.strip()


def _delimiter(text: str) -> str:
    value = "\t" if text in ("tab", "\\t", "\t") else text
    if len(value) != 1:
        raise BadValue(f'"{text}" is not a single character', 'write e.g. ";" or tab')
    return value


def _encoding(text: str) -> str:
    try:
        codecs.lookup(text.strip())
    except LookupError:
        raise BadValue(f'"{text}" is not an encoding Python knows', "e.g. utf-8, cp1252") from None
    return text.strip()
