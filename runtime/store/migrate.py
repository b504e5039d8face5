"""Bring a database to the current schema with the Alembic revisions shipped in
runtime/store/migrations/ (upgrade to head), on every open of the store.

Three cases:

* a new, empty database: every revision runs, from 0001;
* a database made by qscript before migrations existed (its tables came from
  ``SQLModel.metadata.create_all``; there is no ``alembic_version`` table): it
  is recognised by its ``script_versions`` and ``calls`` tables, stamped as
  revision 0001 — which is exactly that schema — and upgraded, keeping its data;
* a migrated database: the revisions it lacks run (none, usually).

A database newer than this qscript (a revision it does not know) is refused
with a clear message rather than used half-understood.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("qscript.store")

BASE_REVISION = "0001"
_MIGRATIONS = Path(__file__).with_name("migrations")
_BEFORE_MIGRATIONS = {"script_versions", "calls"}
# Alembic's command module keeps global state while it runs (alembic.context):
# one migration at a time in a process.
_lock = threading.Lock()


class SchemaError(Exception):
    """The database's schema cannot be used or brought up to date."""


def _config(connection: Connection):
    from alembic.config import Config   # imported when a store opens, not with the CLI

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = _config(None)  # type: ignore[arg-type]
    return ScriptDirectory.from_config(config).get_current_head() or BASE_REVISION


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Upgrade the database to the newest revision (see the module docstring)."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    with _lock, engine.begin() as connection:
        config = _config(connection)
        script = ScriptDirectory.from_config(config)
        current = current_revision(connection)
        if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
            raise SchemaError(f"the database is at schema revision {current}, newer than this "
                              f"qscript knows (up to {script.get_current_head()}); use a newer "
                              "qscript")
        if current is None and _BEFORE_MIGRATIONS <= set(inspect(connection).get_table_names()):
            log.warning("database %s was made before schema migrations; marking it as revision "
                        "%s and upgrading it", engine.url.render_as_string(hide_password=True),
                        BASE_REVISION)
            command.stamp(config, BASE_REVISION)
        try:
            command.upgrade(config, "head")
        except CommandError as error:
            raise SchemaError(f"cannot upgrade the database schema: {error}") from error
