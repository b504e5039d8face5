"""CLI commands for the live runtime: serve, agent, status, deploy, rollback, watch, hot."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import quote

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qscript.cli import EXIT_FINDINGS, EXIT_USAGE
from qscript.console import make_console

_err = make_console(stderr=True)
_out = make_console(soft_wrap=False)  # the status tables, laid out to fit the terminal


# ------------------------------------------------------------------ serve


@click.command()
@click.option("--site", "site_path", required=True, type=click.Path(),
              help="Site configuration (YAML).")
@click.option("--ari-url", envvar="QSCRIPT_ARI_URL", help="ARI base URL (default: site ari.url).")
@click.option("--ari-user", envvar="QSCRIPT_ARI_USER", help="ARI user (default: site ari.user).")
@click.option("--app", envvar="QSCRIPT_ARI_APP", help="Stasis application name.")
@click.option("--control", "control",
              help="HOST:PORT of the control API (default: the site's control.listen, "
                   "127.0.0.1:8089); :PORT means 127.0.0.1:PORT.")
@click.option("--allow-remote-control", is_flag=True,
              help="Let the control API listen on an address other machines can reach.")
@click.option("--database", envvar="QSCRIPT_DATABASE", help="SQLAlchemy URL (default: site database).")
@click.option("-v", "--verbose", is_flag=True, help="Log every call's steps.")
def serve(site_path, ari_url, ari_user, app, control, allow_remote_control, database,
          verbose) -> None:
    """Run scripts on live calls from Asterisk (ARI)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The HTTP and websocket libraries log every request at INFO: at a few
    # hundred calls that is thousands of lines a second and a third of the CPU.
    for noisy in ("httpx", "httpcore", "asyncari", "asyncswagger11", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if ari_url is not None:
        ari_url = _check_ari_url(ari_url)
    from runtime.simulator.cli import load_site_or_exit
    site = load_site_or_exit(site_path, _err)
    from runtime.live.ari.asyncari_adapter import AsyncariAdapter
    from runtime.live.ari.port import AriConfig
    from runtime.live.control import resolve_token, start_control, write_state
    from runtime.live.runtime import LiveRuntime
    from runtime.store.database import Store
    ari = site.ari
    password = (ari.password() if ari else None) or os.environ.get("QSCRIPT_ARI_PASSWORD", "")
    config = AriConfig(url=ari_url or (ari.url if ari else "http://127.0.0.1:8088"),
                       user=ari_user or (ari.user if ari else "qscript"), password=password,
                       app=app or (ari.app if ari else "qscript"))
    host, port = _control_address(control, site.control.host, site.control.port,
                                  allow_remote_control)
    token = resolve_token(site)
    if not is_sendable_token(token):
        raise click.UsageError(f"the control token (from ${site.control.token_env}) must be "
                               "printable ASCII without spaces: it travels in an HTTP header")

    async def run() -> None:
        url = database or site.database
        try:
            store = Store(url)
        except Exception as error:  # noqa: BLE001 - any database failure, said plainly
            _err.print(f"[red]error[/]: cannot open the database {escape(_redact(url))}: "
                       f"{escape(str(error).splitlines()[0])}{escape(_spool_note(url, site))}")
            raise SystemExit(EXIT_FINDINGS) from None
        runtime = LiveRuntime(site, AsyncariAdapter(config), store)
        try:
            await runtime.start()
        except Exception as error:  # noqa: BLE001 - report, do not trace back
            _err.print(f"[red]error[/]: cannot start: {escape(str(error))}")
            raise SystemExit(EXIT_FINDINGS) from None
        try:
            runner = await start_control(runtime, host, port, token)
        except OSError as error:
            _err.print(f"[red]error[/]: cannot listen on {escape(host)}:{port} for the control "
                       f"API: {escape(error.strerror or str(error))}")
            await runtime.close()
            raise SystemExit(EXIT_FINDINGS) from None
        control_url = f"http://{_url_host(host)}:{port}"
        try:
            state = write_state(site_path, control_url, token)
        except OSError as error:
            _err.print(f"[red]error[/]: cannot write the control state file next to the site "
                       f"({escape(error.filename or site_path)}): "
                       f"{escape(error.strerror or str(error))}; the qscript commands find the "
                       "runtime through it")
            await runner.cleanup()
            await runtime.close()
            store.close()
            raise SystemExit(EXIT_FINDINGS) from None
        if allow_remote_control and not _is_loopback(host):
            _err.print(f"[bold red]WARNING[/]: the control API listens on {escape(control_url)}, "
                       "reachable from other machines, over plain HTTP: anyone who learns the "
                       "token controls agents, scripts and hot prompts. Put a TLS proxy in "
                       "front and firewall the port.")
        _err.print(f"[green]serving[/] {escape(site.name)}: ARI {escape(mask_url_password(config.url))} "
                   f"app {escape(config.app)}; control API {escape(control_url)} "
                   f"(token in {escape(str(state))}); web console {escape(control_url)}/console/")
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
        _err.print("stopping")
        await runner.cleanup()
        await runtime.close()
        store.close()

    asyncio.run(run())


def _spool_note(url: str, site) -> str:
    """What waits in the outbox spool for the database, for the start error."""
    from runtime.live.runtime import default_spool_path
    path = default_spool_path(url, site)
    try:
        with open(path, "rb") as handle:
            waiting = sum(1 for _ in handle)
    except OSError:
        return ""
    if not waiting:
        return ""
    return (f"; {waiting} write(s) made while it was unavailable are kept in {path} and are "
            "written when serve starts with the database back")


def _control_address(option: str | None, site_host: str, site_port: int,
                     allow_remote: bool) -> tuple[str, int]:
    """Where the control API listens: ``--control`` (as the site's ``control.listen``
    reads it: ``:PORT`` is loopback), else the site's; a usage error (exit 2) for a
    malformed address, or for one other machines can reach without ``--allow-remote-control``."""
    from runtime.site.values import BadValue, parse_host_port
    host, port, origin = site_host, site_port, "the site's control.listen"
    if option is not None:
        try:
            host, port = parse_host_port(option)
        except BadValue as error:
            hint = f" ({error.hint})" if error.hint else ""
            raise click.BadParameter(f"{error.message}{hint}", param_hint="--control") from None
        origin = "--control"
    if not allow_remote and not _is_loopback(host):
        raise click.UsageError(
            f"{origin} is {_url_host(host)}:{port}, not a loopback address: the control API "
            "would be reachable from other machines. Listen on 127.0.0.1, or give "
            "--allow-remote-control to mean it (and put a TLS proxy in front).")
    return host, port


def _is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    import ipaddress
    import socket
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False  # an unknown name cannot be bound anyway; do not call it safe
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _check_ari_url(url: str) -> str:
    """``--ari-url`` (or QSCRIPT_ARI_URL): an http(s) URL without credentials."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f'"{mask_url_password(url)}" is not an http(s) URL, '
                                 "e.g. http://127.0.0.1:8088", param_hint="--ari-url")
    if parts.username is not None or parts.password is not None:
        raise click.BadParameter(
            f'"{mask_url_password(url)}" holds credentials: give the user with --ari-user and '
            "the password in the environment variable QSCRIPT_ARI_PASSWORD (or the site's "
            "ari.password_env), never in the URL", param_hint="--ari-url")
    return url.strip().rstrip("/")


def mask_url_password(url: str) -> str:
    """``url`` with the password of its user part replaced by ``***``, for messages."""
    from urllib.parse import urlsplit, urlunsplit
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("@")[-1]
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    netloc = f"{user}:***@{hostport}" if colon else f"{user}@{hostport}"
    return urlunsplit(parts._replace(netloc=netloc))


def _redact(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given, minus nothing secret
        return url.split("@")[-1]


# ------------------------------------------------------------------ control client


class Seconds(click.ParamType):
    """A finite number of seconds within a range (click's FloatRange lets nan through)."""

    name = "seconds"

    def __init__(self, minimum: float, maximum: float):
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value, param, ctx):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not self.minimum <= seconds <= self.maximum:  # also false for nan
            self.fail(f"{value} is not a number of seconds from {self.minimum:g} to "
                      f"{self.maximum:g}", param, ctx)
        return seconds


def _check_name(kind: str, name: str) -> str:
    """``name`` if it follows the name rule (docs/live.md), else a usage error (exit 2)."""
    from runtime.site.values import NAME_RULE, is_valid_name
    if not is_valid_name(name):
        raise click.BadParameter(f'invalid {kind} "{name}": {NAME_RULE}')
    return name


def _name_argument(kind: str):
    """A click callback checking one name, or each of several (a repeatable option)."""
    def check(ctx, param, value):
        if value is None:
            return None
        for name in (value if isinstance(value, tuple) else (value,)):
            _check_name(kind, name)
        return value
    return check


def _segment(name: str) -> str:
    """A name as one URL path segment (valid names need no quoting; this is the belt)."""
    return quote(name, safe="")


def _script_name(script: str, name: str | None) -> str:
    """The name a script is deployed under: ``--name``, else the file name without .qs."""
    if name is not None:
        return name  # checked by its option
    stem = Path(script).stem
    try:
        return _check_name("script name", stem)
    except click.BadParameter as error:
        raise click.UsageError(f"{error.message} (from the file name); give one with --name") \
            from None


def _control(site_path: str | None, url: str | None, token: str | None) -> tuple[str, str]:
    url = url or os.environ.get("QSCRIPT_CONTROL_URL")
    token = token or os.environ.get("QSCRIPT_CONTROL_TOKEN")
    if (not url or not token) and site_path:
        from runtime.live.control import state_file
        from qscript.files import UnreadableFile, read_limited
        path = state_file(site_path)
        try:
            state = json.loads(read_limited(path, 64_000, kind="state file"))
            if not isinstance(state.get("url"), str) or not isinstance(state.get("token"), str):
                raise ValueError("the state file does not hold a URL and a token")
            url, token = url or state["url"], token or state["token"]
        except (UnreadableFile, ValueError, AttributeError) as error:
            reason = "is missing" if isinstance(error, UnreadableFile) and \
                error.reason == "no such file" else f"cannot be used: {_reason(error)}"
            _err.print(f"[red]error[/]: no running runtime found for {escape(site_path)} "
                       f"({escape(str(path))} {escape(reason)}); start "
                       f"`qscript serve --site {escape(site_path)}`")
            sys.exit(EXIT_FINDINGS)
    if not url or not token:
        _err.print("[red]error[/]: give --site SITE (of a running `qscript serve`), or --url and "
                   "--token (or QSCRIPT_CONTROL_URL and QSCRIPT_CONTROL_TOKEN)")
        sys.exit(EXIT_USAGE)
    if not is_sendable_token(token):
        _err.print("[red]error[/]: the control token must be printable ASCII without spaces "
                   "(it travels in an HTTP header)")
        sys.exit(EXIT_USAGE)
    return url.rstrip("/"), token


def is_sendable_token(token: str) -> bool:
    """Whether a token can travel in an ``Authorization: Bearer`` header."""
    return bool(token) and all("!" <= c <= "~" for c in token)


def _reason(error: Exception) -> str:
    if hasattr(error, "reason"):
        return str(error.reason)
    return "it is not the JSON a running `qscript serve` writes" if isinstance(
        error, (ValueError, AttributeError)) else str(error)


#: Seconds a command waits for the runtime's answer (--timeout); a deploy or rollback
#: may wait on the database first (SQLite's 5 s busy timeout, PostgreSQL's 5 s connect
#: timeout), and a deploy compiles.
DEFAULT_TIMEOUT = 10.0
STORE_TIMEOUT = 30.0


def _call(site_path, url, token, method: str, path: str, body: dict | None = None, *,
          timeout: float | None = None, unanswered: str = ""):
    """(HTTP status, the answer's JSON object); exits 1 with what went wrong when the
    runtime cannot be reached, does not answer in time (``unanswered`` says what that
    leaves open), refuses the token, or answers with something that is not a JSON object."""
    import httpx
    base, secret = _control(site_path, url, token)
    shown = escape(mask_url_password(base))
    seconds = timeout or DEFAULT_TIMEOUT
    try:
        response = httpx.request(method, base + path, json=body, timeout=seconds,
                                 headers={"Authorization": f"Bearer {secret}"})
    except httpx.TimeoutException:
        _err.print(f"[red]error[/]: the runtime at {shown} did not answer within {seconds:g} s"
                   + (f"; {escape(unanswered)}" if unanswered else ""))
        sys.exit(EXIT_FINDINGS)
    except httpx.HTTPError as error:
        _err.print(f"[red]error[/]: cannot reach the runtime at {shown}: "
                   f"{escape(_connection_problem(error))}")
        sys.exit(EXIT_FINDINGS)
    if response.status_code == 401:
        _err.print("[red]error[/]: the control API refused the token")
        sys.exit(EXIT_FINDINGS)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        what = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        _err.print(f"[red]error[/]: unexpected answer from the runtime at {shown} ({what}): "
                   f"{escape(_plain_text(response.text))}")
        sys.exit(EXIT_FINDINGS)
    return response.status_code, data


def _connection_problem(error: Exception) -> str:
    """Why a connection failed, in words ("[Errno 111] Connection refused")."""
    text = str(error).strip() or type(error).__name__
    return mask_url_password(text.splitlines()[0])


def _plain_text(text: str, limit: int = 200) -> str:
    """A body for a message: tags dropped (a proxy's HTML error page), one line, short."""
    import re
    words = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return (words[:limit] + "...") if len(words) > limit else (words or "(empty)")


def _refusal(code: int, data: dict) -> str:
    """What the runtime said when it did not do what was asked: ``HTTP 409: reason``."""
    message = data.get("error")
    if not isinstance(message, str):
        notes = data.get("diagnostics")
        messages = [str(d.get("message", "")) for d in notes if isinstance(d, dict)] \
            if isinstance(notes, list) else []
        message = "; ".join(m for m in messages if m) or json.dumps(data)[:200]
    return f"HTTP {code}: {message}"


_client_options = [
    click.option("--site", "site_path", type=click.Path(),
                 help="Site file of the running runtime (finds its control API)."),
    click.option("--url", help="Control API URL (or QSCRIPT_CONTROL_URL)."),
    click.option("--token", help="Control API token (or QSCRIPT_CONTROL_TOKEN)."),
    click.option("--timeout", type=Seconds(0.1, 3600), default=None,
                 help=f"Seconds to wait for the runtime (default {DEFAULT_TIMEOUT:g}; "
                      f"deploy, watch and rollback {STORE_TIMEOUT:g})."),
]


def client_options(function):
    for option in reversed(_client_options):
        function = option(function)
    return function


@click.command()
@click.argument("action", type=click.Choice(["login", "logout", "ready", "pause", "groups"]))
@click.argument("agent_id", callback=_name_argument("agent id"))
@click.option("--group", "groups", multiple=True, callback=_name_argument("answer group name"),
              help="Answer group (repeatable; login/groups).")
@click.option("--reason", default="", help="Pause reason.")
@client_options
def agent(action, agent_id, groups, reason, site_path, url, token, timeout) -> None:
    """Agent state: login, logout, ready, pause (with a reason), choose groups."""
    if groups and action not in ("login", "groups"):
        raise click.UsageError("--group is for login and groups")
    if action == "groups" and not groups:
        raise click.UsageError("agent groups replaces the agent's groups: give them with --group "
                               "(repeatable)")
    if reason and action != "pause":
        raise click.UsageError("--reason is for pause")
    body = {"groups": list(groups)} if groups else {}
    if reason:
        body["reason"] = reason
    status, data = _call(site_path, url, token, "POST", f"/agents/{_segment(agent_id)}/{action}",
                         body, timeout=timeout)
    if status == 202:  # in effect, not in the database yet: say so, it is not an error
        _err.print(f"[yellow]{escape(agent_id)}: {action} {_text(data.get('message', ''))}[/]")
        return
    if status != 200:
        _err.print(f"[red]error[/]: {escape(_refusal(status, data))}")
        sys.exit(EXIT_FINDINGS)
    _err.print(f"{escape(agent_id)}: {action} ok")


_STATE_STYLE = {"ready": "green", "busy": "yellow", "ringing": "yellow", "wrap_up": "cyan",
                "paused": "dark_orange", "logged_out": "dim"}
_STATE_WORD = {"ready": "free", "busy": "busy", "ringing": "ringing", "wrap_up": "wrap-up",
               "paused": "paused", "logged_out": "logged out"}


def render_status(data: dict, console: Console) -> None:
    """The status tables. Every value comes from the runtime's answer and is shown as
    text (escaped, never read as markup), whatever it holds."""
    connected = "[green]connected[/]" if data.get("connected") else "[red]disconnected[/]"
    database = data.get("database")
    console.print(f"[bold]{_text(data.get('site', ''))}[/]  calls: {_text(data.get('calls'))}  "
                  f"ARI: {connected}"
                  f"  {_database_line(database if isinstance(database, dict) else None)}")
    groups = Table(title="Queues")
    for column in ("group", "waiting", "oldest", "logged in", "free", "busy", "service level",
                   "callers waiting (digits, waited)"):
        groups.add_column(column)
    for group in data.get("groups") or []:
        callers = ", ".join(f"{w.get('caller') or 'withheld'}"
                            + (f" [{w['digits']}]" if w.get("digits") else "")
                            + f" {_whole_seconds(w.get('waited_s'))}"
                            for w in group.get("waiting") or [])
        groups.add_row(_text(group.get("name")), _text(group.get("calls_waiting")),
                       _whole_seconds(group.get("oldest_wait_s")),
                       _text(group.get("agents_logged_in")), _text(group.get("agents_ready")),
                       _text(group.get("agents_busy")), _service_level(group),
                       escape(callers))
    console.print(groups)
    agents = Table(title="Agents")
    for column in ("agent", "name", "state", "groups"):
        agents.add_column(column)
    for row in data.get("agents") or []:
        state = str(row.get("state"))
        style = _STATE_STYLE.get(state, "")
        word = _STATE_WORD.get(state, state)
        if row.get("pause_reason") and state == "paused":
            word += f" ({row['pause_reason']})"
        agents.add_row(_text(row.get("id")), _text(row.get("name") or ""),
                       f"[{style}]{escape(word)}[/]" if style else escape(word),
                       escape(", ".join(str(g) for g in row.get("groups") or [])))
    console.print(agents)


def _database_line(database: dict | None) -> str:
    """``database: ok``, or how long it has been down and what waits for it."""
    if not database:
        return ""
    unsaved = _text(database.get("unsaved", 0))
    if database.get("state") == "down":
        down_for = database.get("down_for_s") or 0
        line = (f"database: [red]down {_whole_seconds(down_for)}[/] "
                f"({_text(database.get('error') or '')}), {unsaved} write(s) waiting")
        if database.get("spool_full"):
            line += " [red](spool full: newest held in memory)[/]"
        return line
    if database.get("state") == "recovering" or database.get("unsaved"):
        return f"database: [yellow]catching up[/], {unsaved} write(s) waiting"
    rejected = database.get("rejected", 0)
    return "database: [green]ok[/]" + (f" [red]({_text(rejected)} write(s) refused, see "
                                       f"{_text(database.get('spool', ''))}.rejected)[/]"
                                       if rejected else "")


def _text(value) -> str:
    """A value from the runtime's answer, as markup-safe text."""
    return escape("" if value is None else str(value))


def _whole_seconds(value) -> str:
    return f"{value:.0f}s" if isinstance(value, (int, float)) else _text(value)


def _service_level(group: dict) -> str:
    """The group's service level, judged against its target when the runtime sends one:
    ``78% < 80% target`` in red, ``92% ≥ 80% target`` in green."""
    level, target = group.get("service_level_percent"), group.get("service_level_target_percent")
    if not isinstance(target, (int, float)):
        target = None
    if level is None:
        return "—" if target is None else f"— (target {target:.0f}%)"
    if not isinstance(level, (int, float)):
        return _text(level)
    if target is None:
        return f"{level:.0f}%"
    if level >= target:
        return f"[green]{level:.0f}% ≥ {target:.0f}% target[/]"
    return f"[red]{level:.0f}% < {target:.0f}% target[/]"


@click.command()
@client_options
@click.option("--json", "as_json", is_flag=True, help="Print the raw status as JSON.")
@click.option("--watch", "watch_seconds", type=Seconds(0.1, 3600), default=None,
              help="Refresh every N seconds until interrupted.")
def status(site_path, url, token, timeout, as_json, watch_seconds) -> None:
    """Live view of groups, waiting calls and agents (free green, busy yellow, paused orange)."""
    while True:
        code, data = _call(site_path, url, token, "GET", "/status", timeout=timeout)
        if code != 200:
            _err.print(f"[red]error[/]: {escape(_refusal(code, data))}")
            sys.exit(EXIT_FINDINGS)
        if as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            if watch_seconds:
                _out.clear()
            render_status(data, _out)
        if not watch_seconds:
            return
        time.sleep(watch_seconds)


@click.command()
@click.argument("script", type=click.Path())
@click.option("--name", callback=_name_argument("script name"),
              help="Script name (default: the file name without .qs).")
@click.option("--comment", default="", help="A note stored with the version.")
@client_options
def deploy(script, name, comment, site_path, url, token, timeout) -> None:
    """Compile SCRIPT and activate it on the running runtime (new calls get it at once)."""
    from qscript.api import load_source
    name = _script_name(script, name)
    source, failed = load_source(script)
    if failed is not None:  # missing, a directory or FIFO, too big, not UTF-8: error Q0001
        for diagnostic in failed.diagnostics:
            _err.print(escape(diagnostic.render(failed.source)))
        sys.exit(EXIT_FINDINGS)
    _deploy(source.text, script, name, comment, site_path, url, token, timeout=timeout)


def _deploy(text, script, name, comment, site_path, url, token, quiet=False,
            timeout=None) -> bool:
    """Send a script; True when deployed. A failure says what failed: the script does
    not compile (422, with its diagnostics), the runtime refused the request or failed
    (its status and message), or it could not be reached or did not answer."""
    code, data = _call(site_path, url, token, "POST", f"/scripts/{_segment(name)}",
                       {"source": text, "source_name": script, "comment": comment},
                       timeout=timeout or STORE_TIMEOUT,
                       unanswered="the deploy may still have happened: see the active "
                                  "version with `qscript status`")
    notes = [d for d in data.get("diagnostics") or [] if isinstance(d, dict)] \
        if isinstance(data.get("diagnostics"), list) else []
    if code == 200 and isinstance(data.get("version"), int):
        for note in notes:
            if note.get("severity") == "warning":
                _err.print(f"[yellow]{escape(str(note.get('rendered') or note.get('message', '')))}[/]")
        if not quiet:
            _err.print(f"[green]deployed[/] {escape(name)} version {data['version']} "
                       f"(sha256 {escape(str(data.get('source_hash', ''))[:12])})")
        return True
    if code == 200:
        _err.print(f"[red]error[/]: unexpected answer from the runtime to the deploy of "
                   f"{escape(name)}: {escape(json.dumps(data)[:200])}; see the active version "
                   "with `qscript status`")
    elif code == 422:
        for diagnostic in notes:
            _err.print(escape(str(diagnostic.get("rendered") or diagnostic.get("message", ""))))
        _err.print(f"[red]refused[/]: {escape(name)} does not compile; the running version stays")
    elif code < 500:
        _err.print(f"[red]refused[/]: the runtime refused the deploy of {escape(name)} "
                   f"({escape(_refusal(code, data))}); the running version stays")
    elif code == 503:  # e.g. the database is unavailable: nothing was changed
        _err.print(f"[red]not deployed[/]: the runtime cannot deploy {escape(name)} now "
                   f"({escape(_refusal(code, data))}); the running version stays")
    else:
        _err.print(f"[red]error[/]: the runtime failed to deploy {escape(name)} "
                   f"({escape(_refusal(code, data))}); see the active version with "
                   "`qscript status`")
    if not quiet:
        sys.exit(EXIT_FINDINGS)
    return False


@click.command()
@click.argument("name", callback=_name_argument("script name"))
@click.option("--version", "version", type=click.IntRange(1, 2**31 - 1), default=None,
              help="Version to activate (default: the one before the active one).")
@client_options
def rollback(name, version, site_path, url, token, timeout) -> None:
    """Activate an earlier version of a deployed script."""
    code, data = _call(site_path, url, token, "POST", f"/scripts/{_segment(name)}/rollback",
                       {"version": version} if version is not None else {},
                       timeout=timeout or STORE_TIMEOUT,
                       unanswered="the rollback may still have happened: see the active "
                                  "version with `qscript status`")
    if code != 200 or not isinstance(data.get("version"), int):
        _err.print(f"[red]error[/]: {escape(_refusal(code, data))}")
        sys.exit(EXIT_FINDINGS)
    _err.print(f"[green]rolled back[/] {escape(name)} to version {data['version']}")


@click.command()
@click.argument("script", type=click.Path())
@click.option("--name", callback=_name_argument("script name"),
              help="Script name (default: the file name without .qs).")
@click.option("--interval", type=Seconds(0.01, 60), default=0.2, show_default=True,
              help="Seconds between checks (0.01 to 60).")
@client_options
def watch(script, name, interval, site_path, url, token, timeout) -> None:
    """Recompile SCRIPT on every save; deploy it when it compiles cleanly."""
    from qscript.api import load_source, check_source
    name = _script_name(script, name)
    symbols = None
    if site_path:
        from runtime.simulator.cli import load_site_or_exit
        symbols = load_site_or_exit(site_path, _err).symbols()
    from qscript.files import UnreadableFile, read_limited
    from qscript.source import MAX_SOURCE_BYTES
    try:
        read_limited(script, MAX_SOURCE_BYTES, kind="script")
    except UnreadableFile as error:
        _err.print(f"[red]error[/]: {escape(str(error))}")
        sys.exit(EXIT_FINDINGS)
    path = Path(script)
    last = None
    _err.print(f"watching {escape(script)} (Ctrl-C to stop)")
    try:
        while True:
            try:
                stamp = path.stat().st_mtime_ns
            except OSError:
                stamp = None
            if stamp is not None and stamp != last:
                last = stamp
                source, failed = load_source(script)
                result = failed or check_source(source, symbols, compile=True)
                for diagnostic in result.diagnostics:
                    _err.print(escape(diagnostic.render(result.source)))
                if result.ok:
                    if _deploy_while_watching(source.text, script, name, site_path, url,
                                              token, timeout):
                        _err.print(f"[green]{time.strftime('%H:%M:%S')} deployed[/] {escape(script)}")
                else:
                    _err.print(f"[red]{time.strftime('%H:%M:%S')} not deployed[/]: fix the errors above")
            time.sleep(interval)
    except KeyboardInterrupt:
        _err.print("stopped watching")


def _deploy_while_watching(text, script, name, site_path, url, token, timeout) -> bool:
    """A deploy from ``watch``: a runtime that is down or refuses is reported and watching
    goes on (the next save tries again); only not knowing where it is stops it."""
    try:
        return _deploy(text, script, name, "watch", site_path, url, token, quiet=True,
                       timeout=timeout)
    except SystemExit as exit:
        if exit.code == EXIT_USAGE:
            raise
        return False


@click.command()
@click.argument("name", callback=_name_argument("hot prompt name"))
@click.argument("state", type=click.Choice(["on", "off"]))
@client_options
def hot(name, state, site_path, url, token, timeout) -> None:
    """Switch a hot prompt on or off at run time (no redeploy)."""
    code, data = _call(site_path, url, token, "POST", f"/hot-prompts/{_segment(name)}",
                       {"active": state == "on"}, timeout=timeout)
    if code == 202:
        _err.print(f"[yellow]hot prompt {escape(name)} is {state}: "
                   f"{_text(data.get('message', ''))}[/]")
        return
    if code != 200:
        _err.print(f"[red]error[/]: {escape(_refusal(code, data))}")
        sys.exit(EXIT_FINDINGS)
    _err.print(f"hot prompt {escape(name)} is {state}")
