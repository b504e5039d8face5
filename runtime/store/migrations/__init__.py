"""Alembic migrations of the QScript database (runtime/store/migrate.py runs them).

One revision per schema change, each written to run on SQLite and PostgreSQL.
``alembic.ini`` beside this file lets an operator run Alembic by hand (see
docs/reports.md, "The database"); ``qscript`` itself never needs that.
"""

from pathlib import Path

#: The alembic.ini an operator passes to ``alembic -c``.
INI = Path(__file__).with_name("alembic.ini")
