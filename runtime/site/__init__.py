"""Site configuration: load a site file, and the calendars, prompts and lookups it defines.

    from runtime.site import load_site
    site = load_site("examples/support/site.yaml")     # raises SiteError listing every problem
    site.symbols()                                      # what the checker needs
    site.calendar("office").is_open(datetime.now())
    site.prompt_media("welcome", "en")
    site.lookup("customers").find("1001")

The file format is documented in :mod:`runtime.site.config`.
"""

from .calendar import Calendar, CalendarStatus, Deviation, HolidayRules
from .config import check_scripts_exist, load_site, load_site_text
from .lookups import CsvLookup, Lookup, LookupSpec, SqliteLookup
from .model import (Agent, AnnouncementDefaults, AriConfig, CommandModule, CommandsConfig,
                    ControlConfig, DialplanTarget, Fallback, Group, MailConfig, NumberRoute, Site)
from .prompts import HotPrompt, HotPromptSwitches, Prompt, PromptCatalogue, UnknownPrompt
from .values import TimeRange
from .yamlmarks import Location, Problem, SiteError

__all__ = [
    "Agent", "AnnouncementDefaults", "AriConfig", "Calendar", "CalendarStatus", "CommandModule",
    "CommandsConfig", "ControlConfig", "CsvLookup", "Deviation", "DialplanTarget", "Fallback",
    "Group", "HolidayRules", "HotPrompt", "HotPromptSwitches", "Location", "Lookup", "LookupSpec",
    "MailConfig", "NumberRoute", "Problem", "Prompt", "PromptCatalogue", "Site", "SiteError",
    "SqliteLookup", "TimeRange", "UnknownPrompt", "check_scripts_exist", "load_site",
    "load_site_text",
]
