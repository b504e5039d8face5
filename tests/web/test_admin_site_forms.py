"""The admin forms of agents, groups and calendars turn into site entries and back.

A form shown for an entry and submitted unchanged gives an entry that the
site file's readers read to the same agent, group or calendar.
"""

from __future__ import annotations

import datetime as dt

from runtime.site import load_site_text
from runtime.site.changes import SiteChange, apply_changes, entry_data
from runtime.web.admin_site_forms import (agent_entry, agent_form, calendar_entry, calendar_form,
                                          group_entry, group_form)

SITE = """site: Forms
groups:
  support: {wrap_up: 10s, service_level_target: 90%}
  sales:
agents:
  - {id: alice, name: Alice, endpoint: PJSIP/alice, groups: {support: 0, sales: 2},
     wrap_up: 5s, variables: {"PJSIP_HEADER(add,Alert-Info)": auto-answer}}
calendars:
  office:
    hours: {weekdays: "08:00-12:00, 13:00-17:00", saturday: closed}
    holidays: {country: SE, ignore: [Epiphany]}
    deviations:
      - {date: 2026-12-23, hours: "08:00-12:00", note: Christmas}
      - {from: 2026-07-01, to: 2026-07-31, hours: {weekdays: "09:00-15:00"}, note: summer}
      - {date: 2026-07-15, closed: true}
"""
NOW = dt.datetime(2026, 12, 3, tzinfo=dt.timezone.utc)


def submitted(values: dict) -> dict[str, str]:
    """What a browser sends for a form with these values (checked boxes send "on")."""
    form: dict[str, str] = {}
    for key, value in values.items():
        if value is True:
            form[key] = "on"
        elif value not in (False, None, ""):
            form[key] = str(value)
    return form


def reread(site, kind, name, entry):
    return apply_changes(site, [SiteChange(kind, name, entry, NOW)])


def test_an_agent_form_submitted_unchanged_gives_the_same_agent():
    site = load_site_text(SITE, "site.yaml", check_scripts=False)
    values = agent_form(entry_data(site, "agent", "alice"))
    assert values["groups"] == {"support": "0", "sales": "2"} and values["active"] is True
    form = submitted({"name": values["name"], "endpoint": values["endpoint"],
                      "wrap_up": values["wrap_up"], "active": True,
                      **{f"group.{g}": True for g in values["groups"]},
                      **{f"penalty.{g}": p for g, p in values["groups"].items()}})
    entry = agent_entry(form, site.groups, entry_data(site, "agent", "alice"))
    assert reread(site, "agent", "alice", {"id": "alice", **entry}).agent("alice") == \
        site.agent("alice")
    unticked = agent_entry({"name": "Alice"}, site.groups, None)
    assert unticked == {"name": "Alice", "active": "false"}


def test_a_group_form_leaves_defaults_out():
    site = load_site_text(SITE, "site.yaml", check_scripts=False)
    values = group_form(entry_data(site, "group", "support"))
    assert values["wrap_up"] == "10s" and values["ring_timeout"] == ""
    entry = group_entry(submitted(values))
    assert entry == {"wrap_up": "10s", "service_level_target": "90%"}
    assert reread(site, "group", "support", entry).groups == site.groups


def test_a_calendar_form_submitted_unchanged_gives_the_same_calendar():
    site = load_site_text(SITE, "site.yaml", check_scripts=False)
    values = calendar_form(entry_data(site, "calendar", "office"))
    assert values["hours"]["weekdays"] == "08:00-12:00, 13:00-17:00"
    assert values["deviations"][1]["hours"] == "weekdays=09:00-15:00"
    assert len(values["deviations"]) == 3 + 3   # the three, and three empty rows for new ones
    form = submitted({"description": values["description"],
                      **{f"hours.{k}": v for k, v in values["hours"].items()},
                      "no_holidays": values["no_holidays"],
                      **{f"holidays.{k}": v for k, v in values["holidays"].items()},
                      "closed_on_holidays": values["closed_on_holidays"]})
    for index, row in enumerate(values["deviations"]):
        form.update(submitted({f"deviation.{index}.{k}": v for k, v in row.items()}))
    entry = calendar_entry(form, len(values["deviations"]))
    assert reread(site, "calendar", "office", entry).calendar("office") == site.calendar("office")


def test_no_holidays_and_a_new_deviation_from_the_form():
    site = load_site_text(SITE, "site.yaml", check_scripts=False)
    entry = calendar_entry({"hours.daily": "00:00-24:00", "no_holidays": "on",
                            "deviation.0.date": "2026-12-24", "deviation.0.closed": "on",
                            "deviation.0.note": "Christmas Eve"}, 3)
    assert entry == {"hours": {"daily": "00:00-24:00"}, "holidays": "none",
                     "deviations": [{"date": "2026-12-24", "note": "Christmas Eve",
                                     "closed": "true"}]}
    office = reread(site, "calendar", "office", entry).calendar("office")
    assert office.is_open(dt.datetime(2026, 12, 25, 3, 0))     # Christmas Day: no holidays
    assert not office.is_open(dt.datetime(2026, 12, 24, 12, 0))
