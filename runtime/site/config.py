"""Site configuration: the YAML file that describes one contact centre.

A **site file** (usually ``site.yaml``) names everything a queue script may
refer to — answer groups, prompts, calendars, hot prompts, lookups, custom
commands — and how the runtime reaches the outside world. The checker uses it
to reject ``queue to "suport"`` at compile time; the runtime uses it to run
calls. Load one with `load_site()`; every mistake is reported at once,
with its line and column:

```text
site.yaml:7:5: error: groups.support: unknown key "servce_level_threshold"
   = help: did you mean "service_level_threshold"? (valid keys: description, ...)
```

## Conventions

* **Durations** are whole numbers with units, as in scripts: ``20s``, ``5m``,
  ``1h30m``, ``250ms``, ``1d``.
* **Times of day** are ``HH:MM`` (``08:00``); a range may end at ``24:00``.
  Write them as you like, quoted or not: the loader reads every value as the
  text you wrote, so YAML 1.1 surprises (``13:00`` read as the number 780,
  ``no`` as false, ``+4687001000`` losing its ``+``) cannot happen.
* **Booleans** are ``true``/``false`` (also yes/no, on/off).
* **Names** (groups, agents, prompts, calendars, hot prompts, ...) use letters,
  digits, ``_ . -``, at most 100 characters, starting with a letter, a digit or
  ``_``. A script's name is its file name without ``.qs``, under the same rule:
  the control API and ``qscript deploy`` address scripts, agents and hot
  prompts by these names in URLs.
* **Paths** are relative to the directory of the site file.
* **Secrets** are never written in the file: keys ending in ``_env`` name the
  environment variable that holds them (``password_env: QSCRIPT_SMTP_PASSWORD``).
  They are read when used, so checking a site in CI needs no secrets.
* **Unknown keys are errors** (with a did-you-mean), and so is a key written
  twice in one mapping (plain YAML would silently keep the last). YAML
  anchors, aliases and ``<<: *defaults`` merges work as usual.

## Top-level keys

| key | default | meaning |
| --- | --- | --- |
| ``version`` | ``1`` | format version; only 1 exists |
| ``site`` | the file name | display name |
| ``timezone`` | ``Europe/Stockholm`` | IANA zone name; calendars are evaluated in it |
| ``languages`` | ``[sv]`` | the call languages; the first is the default |
| ``groups`` | none | answer groups, see below |
| ``agents`` | none | list of agents, see below |
| ``calendars`` | none | opening hours, see below |
| ``prompts`` | none | the prompt catalogue, see below |
| ``hot_prompts`` | none | switchable extra prompts, see below |
| ``lookups`` | none | customer lookups, see below |
| ``commands`` | none | ``{modules: [mysite.commands], path: [.], timeout: 5s}``: Python modules with custom commands, imported with ``path`` (default: the site file's directory) on ``sys.path``; ``timeout`` (default 5s, at most 60s): how long a command may run on a live call before the call fails over |
| ``mail`` | none | SMTP for voice messages, see below |
| ``numbers`` | none | dialled number -> script file; ``default`` for any other number |
| ``fallback`` | none (hang up) | where a call goes when its script fails |
| ``ari`` | none | Asterisk ARI connection for the live runtime |
| ``control`` | ``127.0.0.1:8089`` | the run-time control API (agents, hot prompts, deploy and rollback, status) |
| ``database`` | ``sqlite:///qscript.db`` | SQLAlchemy URL; a relative SQLite path is relative to the site file |
| ``announcements`` | see below | defaults for queue announcements |
| ``web`` | see below | the browser console: IP lists, sessions, pause reasons, CRM link |

### groups

```yaml
groups:
  support: {service_level_threshold: 20s, service_level_target: 80%, wrap_up: 10s}
  sales:                      # all defaults
```

``description`` (text), ``service_level_threshold`` (duration, default 20s:
the service level counts calls answered within it), ``service_level_target``
(percentage, default 80%: the service level the group aims at; ``qscript status``
and ``qscript simulate --site`` judge each group's service level against it),
``wrap_up`` (duration, default 0s: time after a
call before the agent is offered the next), ``ring_timeout`` (duration,
default 15s: how long an agent's phone rings before the next agent is tried),
``short_abandon_threshold`` (duration, default 5s: a caller who hangs up sooner
than this after joining the group is a *short abandon*, which the service level
of the [reports](reports.md) leaves out; the threshold in force is recorded with
each call).

### agents

```yaml
agents:
  - id: alice                 # unique, required
    name: Alice Andersson     # default: the id
    endpoint: PJSIP/alice     # what the live runtime dials (TECH/resource)
    groups: {support: 0, sales: 1}   # group -> penalty, 0 best; a list means penalty 0
    wrap_up: 5s               # replaces the groups' wrap_up after each of their calls
    active: true              # false: the agent cannot log in (kept for statistics)
    variables: {"PJSIP_HEADER(add,Alert-Info)": auto-answer}   # set on the agent's leg when rung
```

``endpoint`` may be left out for sites that are only simulated. ``variables``
are channel variables the live runtime sets on the agent's leg when it rings
them (auto-answer headers, account codes).

### calendars

```yaml
calendars:
  office:
    hours:
      weekdays: "08:00-17:00"           # monday-friday
      friday: "08:00-12:00, 13:00-16:00"
      saturday: closed
    holidays: {country: SE}             # the default; `holidays: none` for none
    closed_on_holidays: true            # the default
    deviations:
      - {date: 2026-12-23, hours: "08:00-12:00", note: Christmas}
      - {from: 2026-07-01, to: 2026-07-31, hours: {weekdays: "09:00-15:00"}, note: summer}
      - {date: 2026-07-15, closed: true}
```

* ``hours``: keys ``monday`` ... ``sunday``, ``weekdays`` (Mon-Fri),
  ``weekend`` (Sat-Sun), ``daily``. A named day wins over ``weekdays`` /
  ``weekend``, which win over ``daily``. **A day no key covers is closed.**
  A value is ``closed``, a range ``"08:00-17:00"``, several ranges
  ``"08:00-12:00, 13:00-17:00"`` (or a YAML list of them); ``00:00-24:00``
  is the whole day. Ranges may not overlap or pass midnight (split them:
  ``monday: 22:00-24:00``, ``tuesday: 00:00-06:00``).
* ``holidays``: public holidays from the ``holidays`` library. ``country``
  (ISO code, default ``SE``), ``subdivision`` (a state or county where the
  country has them), ``categories`` (default ``[public, de_facto]`` as far as
  the country has them; for Sweden ``de_facto`` adds Midsummer Eve, Christmas
  Eve and New Year's Eve, which Swedish practice treats as holidays), and
  ``ignore`` (holiday names, in English as the library spells them, that
  are ordinary working days here, e.g. ``[Epiphany]``). Sundays are never
  holidays by themselves: the regular hours decide them.
* ``deviations``: exceptions for a ``date`` or an inclusive range
  (``from``/``to``), with ``hours`` or ``closed: true`` and an optional
  ``note``. ``hours`` is written as for one day (it then applies to every
  date covered) or, for a range, as a mapping like ``hours`` above (summer
  hours on weekdays only). A single date may refine a range; otherwise
  deviations may not overlap.

Precedence for a date (most specific first): a single-date deviation; else a
public holiday closes it (if ``closed_on_holidays``); else a date-range
deviation; else the regular hours. So ``date: 2026-12-24`` can open Christmas
Eve, while summer hours do not open Midsummer. See `runtime.site.calendar`.

### prompts and hot_prompts

```yaml
prompts:
  welcome: {sv: sv/welcome, en: en/welcome}   # per language
  hold: custom/hold                           # one for every language
  legal: {sv: sv/legal, any: common/legal}    # "any": for the other languages
  outage-msg: {sv: sv/outage, en: en/outage}
hot_prompts:
  outage: {prompt: outage-msg, active: false}
```

Values are Asterisk sound names without extension, or media URIs. A prompt
given per language must cover the default language (or have ``any``). A hot
prompt names the catalogue prompt it plays (default: its own name) and its
state when the runtime starts (``active``, default false). See
`runtime.site.prompts`.

### lookups

```yaml
lookups:
  customers: {type: csv, path: customers.csv, key: number,
              fields: {name: string, segment: string, balance: number}}
  crm: {type: sqlite, path: crm.db, table: customers, key: phone,
        fields: {name: string, vip: boolean}}
```

``type`` (csv or sqlite), ``path``, ``key`` (the column matched), ``fields``
(column -> value type: string, number, boolean, duration, time; ``found`` is
reserved), for sqlite ``table``, for csv ``delimiter`` (default ``,``; ``tab``
for tabs) and ``encoding`` (default UTF-8, with or without BOM; ``utf-16`` needs a
byte-order mark, ``utf-16-le``/``utf-16-be`` do not), and ``timeout``
(default 2s, at most 60s): how long a live call waits for the lookup before
it goes on as not found. The file, its header or table and columns are
checked when the site loads. See `runtime.site.lookups` for conversions and
reloading.

### mail, numbers, fallback, ari, control, database, announcements

```yaml
mail: {smtp_host: 127.0.0.1, smtp_port: 25, from: qscript@example.com,
       starttls: false, ssl: false, username: qscript, password_env: QSCRIPT_SMTP_PASSWORD,
       timeout: 10s}
numbers: {"+4687001000": support.qs, default: support.qs}
fallback: {group: support}    # or {dialplan: {context: from-queue, extension: "100", priority: 1}}
ari: {url: http://127.0.0.1:8088, user: qscript, app: qscript, password_env: QSCRIPT_ARI_PASSWORD}
control: {listen: 127.0.0.1:8089, token_env: QSCRIPT_CONTROL_TOKEN}
database: sqlite:///qscript.db
announcements: {position: true, wait: true, wait_style: approximate}
```

* ``mail``: ``from`` is required; ``smtp_host`` (default 127.0.0.1),
  ``smtp_port`` (25), ``starttls`` (false), ``ssl`` (false: implicit TLS,
  usually port 465; excludes ``starttls``), ``username`` (requires
  ``password_env``), ``timeout`` (10s).
* ``numbers``: keys are the dialled number, digits with an optional ``+``
  (write it without spaces), or ``default``; values are script files. Every
  script must exist when the site loads (`check_scripts_exist()`).
* ``fallback``: exactly one of ``group`` (an answer group of this site) or
  ``dialplan`` (``context``, required; ``extension``, default the dialled
  number; ``priority``, default 1), where the live runtime hands the channel
  back to Asterisk.
* ``ari``: ``user`` is required; ``url`` (default http://127.0.0.1:8088),
  ``app`` (default qscript), ``password_env`` (default QSCRIPT_ARI_PASSWORD),
  ``transfer_context`` (the dialplan context `transfer to NUMBER` continues in,
  at extension NUMBER; default ``default``), ``callback_endpoint`` (how a
  callback dials the customer, with ``{number}`` for the number; default
  ``Local/{number}@default``, e.g. ``PJSIP/{number}@trunk``), ``prompt_dir``
  (where the runtime writes prompt recordings uploaded in the web console;
  default ``/var/lib/asterisk/sounds/qscript``, relative paths are relative to
  the site file) and ``asterisk_prompt_dir`` (the same directory as Asterisk
  sees it, absolute; default ``prompt_dir``: set it when Asterisk runs in a
  chroot or container, e.g. ``prompt_dir: /srv/astroot/var/lib/qscript/prompts``,
  ``asterisk_prompt_dir: /var/lib/qscript/prompts``).
* ``control``: ``listen`` (host:port, ``[::1]:8089`` for IPv6), ``token_env``
  (default QSCRIPT_CONTROL_TOKEN).
* ``announcements``: ``position`` (true) and ``wait`` (true) say whether queue
  announcements include the caller's position and the estimated wait;
  ``wait_style`` is ``approximate`` ("about 5 minutes", the default),
  ``less-than`` ("less than 5 minutes") or ``padded`` (20% more, rounded up,
  so callers are rarely kept longer than announced).

``calendars``, ``hot_prompts`` and ``lookups`` entries also take a free-text
``description``.

### web

```yaml
web:
  allow: [127.0.0.1, 10.20.0.0/16]
  deny: [10.20.9.0/24]
  session_timeout: 12h
  secure_cookies: false
  pause_reasons: [lunch, meeting, training]
  crm_url: "https://crm.example.com/find?number={caller}&customer={digits}"
```

The browser console of ``qscript serve`` (docs: the web console).

* ``allow`` and ``deny``: IP addresses or networks; they apply to the console
  and the control API alike. ``deny`` is checked first; an empty ``allow``
  (the default) admits every address not denied.
* ``session_timeout``: a console login ends after this much inactivity
  (default 12h); ``secure_cookies`` (false) marks the session cookie
  ``Secure``: set it when the console is served over HTTPS.
* ``pause_reasons``: the reasons an agent picks from when pausing (default
  pause, lunch, meeting, training).
* ``crm_url``: the link the agent client opens for the current caller; the
  placeholders ``{caller}``, ``{dialled}``, ``{digits}``, ``{language}``,
  ``{call_id}``, ``{agent}``, ``{group}`` and ``{saved.NAME}`` (a value the
  script stored with ``save``) are filled URL-encoded; any other is an error.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from yaml.nodes import Node

from qscript.files import UnreadableFile, read_limited

from .model import Site
from .sections import read_calendars, read_hot_prompts, read_lookups, read_prompts
from .web import read_web
from .toplevel import (read_agents, read_ari, read_announcements, read_commands, read_control,
                       read_database, read_fallback, read_groups, read_languages, read_mail,
                       read_numbers, read_timezone, read_version)
from .yamlmarks import (MAX_SITE_BYTES, Location, Problem, Reader, SiteError, compose_yaml,
                        decode_site_bytes, did_you_mean)

TOP_LEVEL_KEYS = ("version", "site", "timezone", "languages", "groups", "agents", "calendars",
                  "prompts", "hot_prompts", "lookups", "commands", "mail", "numbers", "fallback",
                  "ari", "control", "database", "announcements", "web")


def load_site(path: str | Path, *, check_scripts: bool = True) -> Site:
    """Load and check a site file; raises :class:`SiteError` listing every problem.

    With ``check_scripts`` (the default) every script named under ``numbers``
    must exist, relative to the site file.
    """
    path = Path(path)
    name = str(path)
    try:
        data = read_limited(path, MAX_SITE_BYTES, kind="site file")
    except UnreadableFile as error:
        hint = "name the YAML file, e.g. site.yaml" if "directory" in error.reason else None
        raise SiteError([Problem(Location(name), error.reason, hint)]) from None
    text = decode_site_bytes(data, name)
    return load_site_text(text, name, path.parent, check_scripts=check_scripts, site_path=path)


def load_site_text(text: str, name: str = "<site>", base_dir: str | Path = ".", *,
                   check_scripts: bool = True, site_path: Path | None = None) -> Site:
    """Load a site from YAML text; relative paths resolve against ``base_dir``."""
    root = compose_yaml(text, name)
    reader = Reader(name)
    site = read_site(reader, root, Path(base_dir), site_path)
    if check_scripts:
        reader.problems.extend(check_scripts_exist(site))
    if reader.problems:
        site.close()
        raise SiteError(_in_order(reader.problems, name), {name: text})
    return site


def check_scripts_exist(site: Site) -> list[Problem]:
    """A problem for every ``numbers`` entry whose script file does not exist."""
    problems = []
    for route in site.numbers:
        if route.script.is_file():
            continue
        shown = _relative(route.script, site.base_dir)
        state = "is not a file" if route.script.exists() else "does not exist"
        nearby = [p.name for p in route.script.parent.glob("*.qs")] if route.script.parent.is_dir() \
            else []
        hint = _did_you_mean_file(route.script.name, nearby) or \
            "script paths are relative to the site file's directory"
        problems.append(Problem(route.where, f'numbers."{route.number}": the script "{shown}" {state}',
                                hint))
    return problems


def read_site(reader: Reader, root: Node, base_dir: Path, site_path: Path | None = None) -> Site:
    """Read every top-level section, reporting problems to ``reader``; returns a Site even
    when there are problems (with defaults in their place), so all sections get checked."""
    fields = reader.fields(root, "", TOP_LEVEL_KEYS)
    absolute_dir = base_dir.resolve()
    read_version(reader, fields)
    default_name = site_path.stem if site_path else "site"
    languages = read_languages(reader, fields.get("languages"))
    timezone = read_timezone(reader, fields.get("timezone"))
    groups = read_groups(reader, fields.get("groups"))
    prompts = read_prompts(reader, fields.get("prompts"), languages)
    return Site(
        name=reader.value(fields, "site", "", str.strip, default_name) or default_name,
        timezone=timezone,
        languages=languages,
        base_dir=absolute_dir,
        path=site_path.resolve() if site_path else None,
        groups=groups,
        agents=read_agents(reader, fields.get("agents"), groups),
        calendars=MappingProxyType(read_calendars(reader, fields.get("calendars"), timezone)
                                   if fields.get("calendars") is not None else {}),
        prompts=prompts,
        hot_prompts=MappingProxyType(read_hot_prompts(reader, fields.get("hot_prompts"), prompts)),
        lookups=MappingProxyType(read_lookups(reader, fields.get("lookups"), absolute_dir,
                                              _display_dir(reader))),
        command_modules=read_commands(reader, fields.get("commands"), absolute_dir),
        mail=read_mail(reader, fields.get("mail")),
        numbers=read_numbers(reader, fields.get("numbers"), absolute_dir),
        fallback=read_fallback(reader, fields.get("fallback"), groups),
        ari=read_ari(reader, fields.get("ari")),
        control=read_control(reader, fields.get("control")),
        database=read_database(reader, fields.get("database"), absolute_dir),
        announcements=read_announcements(reader, fields.get("announcements")),
        web=read_web(reader, fields.get("web")),
        source_name=reader.file,
    )


def _display_dir(reader: Reader) -> Path:
    """The site file's directory as messages show it (relative if the site name is)."""
    return Path(reader.file).parent if not reader.file.startswith("<") else Path(".")


def _in_order(problems: list[Problem], site_name: str) -> list[Problem]:
    """The site file's problems by position, then those found in other files (lookups)."""
    return sorted(problems, key=lambda p: (p.location.file != site_name, p.location.file,
                                           p.location.line, p.location.column))


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _did_you_mean_file(name: str, candidates: list[str]) -> str | None:
    hint = did_you_mean(name, candidates)
    return f"{hint} (in the same directory)" if hint else None
