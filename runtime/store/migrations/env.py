"""Alembic's environment: run the revisions on the connection qscript hands over, or
(an operator running ``alembic`` by hand) on the URL given with ``-x url=...``."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine

config = context.config


def _run(connection) -> None:
    # Plain revisions only (no autogenerate here): the models are compared with the
    # migrated schema by a test instead (tests/runtime/test_statistics_migrations.py).
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


shared = config.attributes.get("connection")
if shared is not None:
    _run(shared)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("QSCRIPT_DATABASE")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///qscript.db ... "
                         "(or set QSCRIPT_DATABASE)")
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = create_engine(url)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
