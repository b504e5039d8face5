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

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qscript.cli import EXIT_FINDINGS, EXIT_USAGE

_err = Console(stderr=True, highlight=False)
_out = Console(highlight=False)


# ------------------------------------------------------------------ serve


@click.command()
@click.option("--site", "site_path", required=True, type=click.Path(dir_okay=False),
              help="Site configuration (YAML).")
@click.option("--ari-url", envvar="QSCRIPT_ARI_URL", help="ARI base URL (default: site ari.url).")
@click.option("--ari-user", envvar="QSCRIPT_ARI_USER", help="ARI user (default: site ari.user).")
@click.option("--app", envvar="QSCRIPT_ARI_APP", help="Stasis application name.")
@click.option("--control", "control", help="HOST:PORT of the control API (default 127.0.0.1:8089).")
@click.option("--database", envvar="QSCRIPT_DATABASE", help="SQLAlchemy URL (default: site database).")
@click.option("-v", "--verbose", is_flag=True, help="Log every call's steps.")
def serve(site_path, ari_url, ari_user, app, control, database, verbose) -> None:
    """Run scripts on live calls from Asterisk (ARI)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The HTTP and websocket libraries log every request at INFO: at a few
    # hundred calls that is thousands of lines a second and a third of the CPU.
    for noisy in ("httpx", "httpcore", "asyncari", "asyncswagger11", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    from .simulator.cli import load_site_or_exit
    site = load_site_or_exit(site_path, _err)
    from .ari.asyncari_adapter import AsyncariAdapter
    from .ari.port import AriConfig
    from .control import resolve_token, start_control, write_state
    from .live import LiveRuntime
    from .store import Store
    ari = site.ari
    password = (ari.password() if ari else None) or os.environ.get("QSCRIPT_ARI_PASSWORD", "")
    config = AriConfig(url=ari_url or (ari.url if ari else "http://127.0.0.1:8088"),
                       user=ari_user or (ari.user if ari else "qscript"), password=password,
                       app=app or (ari.app if ari else "qscript"))
    host, port = site.control.host, site.control.port
    if control:
        host, _, port_text = control.rpartition(":")
        if not port_text.isdigit():
            raise click.BadParameter("use HOST:PORT, e.g. 127.0.0.1:8089", param_hint="--control")
        port = int(port_text)
    token = resolve_token(site)

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
        shown_host = f"[{host}]" if ":" in host else host
        state = write_state(site_path, f"http://{shown_host}:{port}", token)
        _err.print(f"[green]serving[/] {escape(site.name)}: ARI {escape(config.url)} app "
                   f"{escape(config.app)}; control API http://{host}:{port} (token in {state})")
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
    from .live import default_spool_path
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


def _redact(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given, minus nothing secret
        return url.split("@")[-1]


# ------------------------------------------------------------------ control client


def _control(site_path: str | None, url: str | None, token: str | None) -> tuple[str, str]:
    url = url or os.environ.get("QSCRIPT_CONTROL_URL")
    token = token or os.environ.get("QSCRIPT_CONTROL_TOKEN")
    if (not url or not token) and site_path:
        from .control import state_file
        path = state_file(site_path)
        try:
            state = json.loads(path.read_text())
            url, token = url or state["url"], token or state["token"]
        except (OSError, ValueError, KeyError):
            _err.print(f"[red]error[/]: no running runtime found for {escape(site_path)} "
                       f"({escape(str(path))} is missing); start `qscript serve --site {escape(site_path)}`")
            sys.exit(EXIT_FINDINGS)
    if not url or not token:
        _err.print("[red]error[/]: give --site SITE (of a running `qscript serve`), or --url and "
                   "--token (or QSCRIPT_CONTROL_URL and QSCRIPT_CONTROL_TOKEN)")
        sys.exit(EXIT_USAGE)
    return url.rstrip("/"), token


#: Seconds to wait for the runtime's answer; a deploy or rollback may wait on
#: the database first (SQLite's 5 s busy timeout, PostgreSQL's 5 s connect timeout).
CONTROL_TIMEOUT = 10.0
STORE_TIMEOUT = 30.0


def _call(site_path, url, token, method: str, path: str, body: dict | None = None,
          timeout: float = CONTROL_TIMEOUT):
    import httpx
    base, secret = _control(site_path, url, token)
    try:
        response = httpx.request(method, base + path, json=body, timeout=timeout,
                                 headers={"Authorization": f"Bearer {secret}"})
    except httpx.HTTPError as error:
        _err.print(f"[red]error[/]: cannot reach the runtime at {escape(base)}: "
                   f"{escape(type(error).__name__)}")
        sys.exit(EXIT_FINDINGS)
    try:
        data = response.json()
    except ValueError:
        data = {"error": response.text}
    if response.status_code == 401:
        _err.print("[red]error[/]: the control API refused the token")
        sys.exit(EXIT_FINDINGS)
    return response.status_code, data


_client_options = [
    click.option("--site", "site_path", type=click.Path(dir_okay=False),
                 help="Site file of the running runtime (finds its control API)."),
    click.option("--url", help="Control API URL (or QSCRIPT_CONTROL_URL)."),
    click.option("--token", help="Control API token (or QSCRIPT_CONTROL_TOKEN)."),
]


def client_options(function):
    for option in reversed(_client_options):
        function = option(function)
    return function


@click.command()
@click.argument("action", type=click.Choice(["login", "logout", "ready", "pause", "groups"]))
@click.argument("agent_id")
@click.option("--group", "groups", multiple=True, help="Answer group (repeatable; login/groups).")
@click.option("--reason", default="", help="Pause reason.")
@client_options
def agent(action, agent_id, groups, reason, site_path, url, token) -> None:
    """Agent state: login, logout, ready, pause (with a reason), choose groups."""
    body = {"groups": list(groups)} if groups else {}
    if reason:
        body["reason"] = reason
    status, data = _call(site_path, url, token, "POST", f"/agents/{agent_id}/{action}", body)
    if status == 202:  # in effect, not in the database yet: say so, it is not an error
        _err.print(f"[yellow]{escape(agent_id)}: {action} {escape(data.get('message', ''))}[/]")
        return
    if status != 200:
        _err.print(f"[red]error[/]: {escape(str(data.get('error', data)))}")
        sys.exit(EXIT_FINDINGS)
    _err.print(f"{escape(agent_id)}: {action} ok")


_STATE_STYLE = {"ready": "green", "busy": "yellow", "ringing": "yellow", "wrap_up": "cyan",
                "paused": "dark_orange", "logged_out": "dim"}
_STATE_WORD = {"ready": "free", "busy": "busy", "ringing": "ringing", "wrap_up": "wrap-up",
               "paused": "paused", "logged_out": "logged out"}


def render_status(data: dict, console: Console) -> None:
    console.print(f"[bold]{escape(data.get('site', ''))}[/]  calls: {data['calls']}  "
                  f"ARI: {'[green]connected[/]' if data['connected'] else '[red]disconnected[/]'}"
                  f"  {_database_line(data.get('database'))}")
    groups = Table(title="Queues")
    for column in ("group", "waiting", "oldest", "logged in", "free", "busy", "service level",
                   "callers waiting (digits, waited)"):
        groups.add_column(column)
    for group in data["groups"]:
        callers = ", ".join(f"{w['caller'] or 'withheld'}"
                            + (f" [{w['digits']}]" if w['digits'] else "") + f" {w['waited_s']:.0f}s"
                            for w in group["waiting"])
        level = group["service_level_percent"]
        groups.add_row(group["name"], str(group["calls_waiting"]), f"{group['oldest_wait_s']:.0f}s",
                       str(group["agents_logged_in"]), str(group["agents_ready"]),
                       str(group["agents_busy"]), "—" if level is None else f"{level:.0f}%",
                       escape(callers))
    console.print(groups)
    agents = Table(title="Agents")
    for column in ("agent", "name", "state", "groups"):
        agents.add_column(column)
    for row in data["agents"]:
        style = _STATE_STYLE.get(row["state"], "")
        word = _STATE_WORD.get(row["state"], row["state"])
        if row.get("pause_reason") and row["state"] == "paused":
            word += f" ({row['pause_reason']})"
        agents.add_row(escape(row["id"]), escape(row.get("name") or ""), f"[{style}]{escape(word)}[/]",
                       escape(", ".join(row["groups"])))
    console.print(agents)


def _database_line(database: dict | None) -> str:
    """``database: ok``, or how long it has been down and what waits for it."""
    if not database:
        return ""
    unsaved = database.get("unsaved", 0)
    if database.get("state") == "down":
        line = (f"database: [red]down {database.get('down_for_s') or 0:.0f}s[/] "
                f"({escape(str(database.get('error') or ''))}), {unsaved} write(s) waiting")
        if database.get("spool_full"):
            line += " [red](spool full: newest held in memory)[/]"
        return line
    if database.get("state") == "recovering" or unsaved:
        return f"database: [yellow]catching up[/], {unsaved} write(s) waiting"
    rejected = database.get("rejected", 0)
    return "database: [green]ok[/]" + (f" [red]({rejected} write(s) refused, see "
                                       f"{escape(database.get('spool', ''))}.rejected)[/]"
                                       if rejected else "")


@click.command()
@client_options
@click.option("--json", "as_json", is_flag=True, help="Print the raw status as JSON.")
@click.option("--watch", "watch_seconds", type=float, default=None,
              help="Refresh every N seconds until interrupted.")
def status(site_path, url, token, as_json, watch_seconds) -> None:
    """Live view of groups, waiting calls and agents (free green, busy yellow, paused orange)."""
    while True:
        code, data = _call(site_path, url, token, "GET", "/status")
        if code != 200:
            _err.print(f"[red]error[/]: {escape(str(data))}")
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
@click.argument("script", type=click.Path(dir_okay=False, exists=True))
@click.option("--name", help="Script name (default: the file name without .qs).")
@click.option("--comment", default="", help="A note stored with the version.")
@client_options
def deploy(script, name, comment, site_path, url, token) -> None:
    """Compile SCRIPT and activate it on the running runtime (new calls get it at once)."""
    _deploy(script, name, comment, site_path, url, token)


def _deploy(script, name, comment, site_path, url, token, quiet=False) -> bool:
    text = Path(script).read_text(encoding="utf-8", errors="replace")
    name = name or Path(script).stem
    code, data = _call(site_path, url, token, "POST", f"/scripts/{name}",
                       {"source": text, "source_name": script, "comment": comment},
                       timeout=STORE_TIMEOUT)
    if code == 200:
        for note in data.get("diagnostics") or []:
            if note.get("severity") == "warning":
                _err.print(f"[yellow]{escape(note.get('rendered') or note.get('message', ''))}[/]")
        if not quiet:
            _err.print(f"[green]deployed[/] {escape(name)} version {data['version']} "
                       f"(sha256 {data['source_hash'][:12]})")
        return True
    if code != 422:  # not a verdict on the script: e.g. 503, the database is unavailable
        _err.print(f"[red]not deployed[/]: {escape(str(data.get('error', data)))}; "
                   "the running version stays")
        if not quiet:
            sys.exit(EXIT_FINDINGS)
        return False
    for diagnostic in data.get("diagnostics") or []:
        _err.print(escape(diagnostic.get("rendered") or diagnostic.get("message", "")))
    _err.print(f"[red]refused[/]: {escape(name)} does not compile; the running version stays")
    if not quiet:
        sys.exit(EXIT_FINDINGS)
    return False


@click.command()
@click.argument("name")
@click.option("--version", "version", type=int, default=None,
              help="Version to activate (default: the one before the active one).")
@client_options
def rollback(name, version, site_path, url, token) -> None:
    """Activate an earlier version of a deployed script."""
    code, data = _call(site_path, url, token, "POST", f"/scripts/{name}/rollback",
                       {"version": version} if version is not None else {},
                       timeout=STORE_TIMEOUT)
    if code != 200:
        message = "; ".join(d.get("message", "") for d in data.get("diagnostics") or []) \
            or data.get("error") or data
        _err.print(f"[red]error[/]: {escape(str(message))}")
        sys.exit(EXIT_FINDINGS)
    _err.print(f"[green]rolled back[/] {escape(name)} to version {data['version']}")


@click.command()
@click.argument("script", type=click.Path(dir_okay=False, exists=True))
@click.option("--name", help="Script name (default: the file name without .qs).")
@click.option("--interval", type=float, default=0.2, show_default=True, help="Seconds between checks.")
@client_options
def watch(script, name, interval, site_path, url, token) -> None:
    """Recompile SCRIPT on every save; deploy it when it compiles cleanly."""
    from qscript.api import load_source, check_source
    symbols = None
    if site_path:
        from .simulator.cli import load_site_or_exit
        symbols = load_site_or_exit(site_path, _err).symbols()
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
                    if _deploy(script, name, "watch", site_path, url, token, quiet=True):
                        _err.print(f"[green]{time.strftime('%H:%M:%S')} deployed[/] {escape(script)}")
                else:
                    _err.print(f"[red]{time.strftime('%H:%M:%S')} not deployed[/]: fix the errors above")
            time.sleep(interval)
    except KeyboardInterrupt:
        _err.print("stopped watching")


@click.command()
@click.argument("name")
@click.argument("state", type=click.Choice(["on", "off"]))
@client_options
def hot(name, state, site_path, url, token) -> None:
    """Switch a hot prompt on or off at run time (no redeploy)."""
    code, data = _call(site_path, url, token, "POST", f"/hot-prompts/{name}",
                       {"active": state == "on"})
    if code == 202:
        _err.print(f"[yellow]hot prompt {escape(name)} is {state}: "
                   f"{escape(data.get('message', ''))}[/]")
        return
    if code != 200:
        _err.print(f"[red]error[/]: {escape(str(data.get('error', data)))}")
        sys.exit(EXIT_FINDINGS)
    _err.print(f"hot prompt {escape(name)} is {state}")
