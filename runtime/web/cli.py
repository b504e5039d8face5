"""``qscript user``: the web console's users, in the site's database.

    qscript user add NAME --role admin --site site.yaml      # asks for the password twice
    qscript user add alice --role agent --agent alice --site site.yaml
    qscript user passwd NAME --site site.yaml
    qscript user set NAME [--role R] [--agent ID] [--active/--inactive] --site site.yaml
    qscript user list --site site.yaml

The first admin is made here; after that admins can manage users in the
console too. ``--password-stdin`` reads the password from standard input
(one line), for scripts; a password is never an option (it would be in the
shell history and the process list).

These write the database directly (not a running runtime's outbox): a
running ``qscript serve`` reads a user at each login, so changes count at
the next login. A password, role or deactivation change does not end
sessions already open in a running console; the console's user page does.
"""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from qscript.console import make_console

EXIT_FAILED, EXIT_USAGE = 1, 2


class UserError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def _database_options(function):
    function = click.option("--db", help="The database instead: a URL or an SQLite file path.")(
        function)
    return click.option("--site", "site_path", type=click.Path(),
                        help="Site file: its database holds the users.")(function)


@click.group("user", context_settings={"help_option_names": ["-h", "--help"]})
def user() -> None:
    """The web console's users: add, passwd, set, list."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["agent", "supervisor", "admin"]), required=True)
@click.option("--agent", "agent_id", default="", help="The site agent an agent user acts as.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_database_options
def add(name, role, agent_id, password_stdin, site_path, db):
    """Add a user NAME with a ROLE (asks for the password)."""
    def work(store, site):
        from runtime.store import console as tables
        from runtime.web.security import hash_password
        _check_name(name)
        if tables.web_user(store, name) is not None:
            raise UserError(f'the user "{name}" exists already; change it with `qscript user '
                            'set` or `qscript user passwd`')
        _check_agent(role, agent_id, site)
        password = _read_password(password_stdin)
        store.apply([tables.web_user_op(name, hash_password(password), role, agent_id, True)])
        return f'added the {role} "{name}"' + (f' (agent {agent_id})' if agent_id else "")
    _run(work, site_path, db)


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_database_options
def passwd(name, password_stdin, site_path, db):
    """Set a new password for NAME."""
    def work(store, site):
        from runtime.store import console as tables
        from runtime.web.security import hash_password
        row = _existing(store, name)
        password = _read_password(password_stdin)
        store.apply([tables.web_user_op(name, hash_password(password), row.role, row.agent_id,
                                        row.active)])
        return f'changed the password of "{name}"'
    _run(work, site_path, db)


@user.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(["agent", "supervisor", "admin"]))
@click.option("--agent", "agent_id", help="The site agent an agent user acts as ('' for none).")
@click.option("--active/--inactive", default=None, help="Let the user log in, or not.")
@_database_options
def set_user(name, role, agent_id, active, site_path, db):
    """Change a user's role, agent or whether they may log in."""
    def work(store, site):
        from runtime.store import console as tables
        row = _existing(store, name)
        new_role = role or row.role
        new_agent = row.agent_id if agent_id is None else agent_id
        _check_agent(new_role, new_agent, site)
        store.apply([tables.web_user_op(name, None, new_role, new_agent,
                                        row.active if active is None else active)])
        return f'changed "{name}"'
    _run(work, site_path, db)


@user.command("list")
@_database_options
def list_users(site_path, db):
    """The users, their roles and agents."""
    def work(store, site):
        from rich.table import Table
        from runtime.store import console as tables
        table = Table("user", "role", "agent", "active", "changed")
        for row in tables.web_users(store):
            table.add_row(escape(row.name), row.role, escape(row.agent_id or "-"),
                          "yes" if row.active else "no", f"{row.updated_at:%Y-%m-%d %H:%M}")
        make_console().print(table)
        return None
    _run(work, site_path, db)


def _run(work, site_path, db) -> None:
    err = make_console(stderr=True)
    try:
        store, site = _open(site_path, db)
        try:
            message = work(store, site)
        finally:
            store.close()
    except UserError as error:
        err.print(f"[red]error:[/] {escape(str(error))}")
        sys.exit(error.exit_code)
    if message:
        err.print(f"[green]{escape(message)}[/]")


def _open(site_path, db):
    import sqlalchemy.exc

    from runtime.store.database import Store, describe_error
    from runtime.store.migrate import SchemaError
    site = None
    if site_path is not None:
        from runtime.site import SiteError, load_site
        try:
            site = load_site(site_path, check_scripts=False)
        except SiteError as error:
            raise UserError(error.render()) from None
    if db is not None:
        url = db if "://" in db else f"sqlite:///{db}"
    elif site is not None:
        url = site.database
    else:
        raise UserError("say which database holds the users: --site SITE or --db PATH|URL",
                        EXIT_USAGE)
    try:
        return Store(url), site
    except SchemaError as error:
        raise UserError(str(error)) from None
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as error:
        raise UserError(f"cannot open the database: {describe_error(error)}") from None


def _existing(store, name: str):
    from runtime.store import console as tables
    row = tables.web_user(store, name)
    if row is None:
        known = ", ".join(r.name for r in tables.web_users(store)) or "none yet"
        raise UserError(f'no user "{name}" (users: {known})')
    return row


def _check_name(name: str) -> None:
    from runtime.site.values import NAME_RULE, is_valid_name
    if not is_valid_name(name):
        raise UserError(f'"{name}" is not a valid user name: {NAME_RULE}', EXIT_USAGE)


def _check_agent(role: str, agent_id: str, site) -> None:
    if role == "agent" and not agent_id:
        raise UserError("an agent user acts as a site agent: give --agent ID", EXIT_USAGE)
    if agent_id and site is not None and site.agent(agent_id) is None:
        known = ", ".join(a.id for a in site.agents) or "none"
        raise UserError(f'unknown agent "{agent_id}" in the site file (agents: {known})',
                        EXIT_USAGE)


def _read_password(from_stdin: bool) -> str:
    from runtime.web.security import check_password_rules
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    try:
        check_password_rules(password)
    except ValueError as error:
        raise UserError(str(error), EXIT_USAGE) from None
    return password
