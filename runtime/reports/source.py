"""The statistics database a report reads, and the site settings it judges by.

``--site SITE`` gives the database (its ``database:``), the time zone and the
groups' settings (service-level target, thresholds); ``--db`` names a database
directly (a URL, or the path of an SQLite file). A missing SQLite file is an
error, not an empty report: it usually means the wrong path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from .model import ReportError


@dataclass
class GroupTargets:
    """What a report needs of a group (defaults: the site file's defaults)."""

    service_level_threshold: float = 20.0
    service_level_target: float = 0.8
    short_abandon_threshold: float = 5.0


@dataclass
class Source:
    engine: Engine
    tz: dt.tzinfo
    groups: Mapping[str, Any] = field(default_factory=dict)   # name -> a site Group
    site_name: str = ""

    def targets(self, group: str) -> GroupTargets:
        settings = self.groups.get(group)
        if settings is None:
            return GroupTargets()
        return GroupTargets(float(settings.service_level_threshold),
                            float(settings.service_level_target),
                            float(getattr(settings, "short_abandon_threshold", 5.0)))

    def close(self) -> None:
        self.engine.dispose()


def database_url(db: str) -> str:
    """A URL as given, or an SQLite URL for a path."""
    if "://" in db:
        try:
            make_url(db)
        except sa.exc.ArgumentError:
            raise ReportError(f'--db: "{db}" is not a database URL', 2) from None
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def open_source(site_path: str | None, db: str | None, tz: dt.tzinfo | None) -> Source:
    """Open the database (bringing its schema up to date) and gather the settings."""
    from ..store.database import _engine_options, _sqlite_pragmas
    from ..store.migrate import SchemaError, upgrade

    site = None
    if site_path is not None:
        from ..site import SiteError, load_site
        try:
            site = load_site(site_path)
        except SiteError as error:
            raise ReportError(error.render(), 1) from None
    if db is not None:
        url = database_url(db)
    elif site is not None:
        url = site.database
    else:
        raise ReportError("say which database to report on: --site SITE or --db PATH|URL", 2)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).is_file():
            raise ReportError(f"no statistics database at {path or url} (give the site's "
                              "database with --site, or --db PATH)", 1)
    try:
        engine = sa.create_engine(url, **_engine_options(url))
    except (sa.exc.ArgumentError, ImportError) as error:
        raise ReportError(f"cannot use the database {url}: {error}", 1) from None
    if url.startswith("sqlite"):
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        upgrade(engine)
    except SchemaError as error:
        engine.dispose()
        raise ReportError(str(error), 1) from None
    except sa.exc.SQLAlchemyError as error:
        engine.dispose()
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise ReportError(f"cannot read the database "
                          f"{parsed.render_as_string(hide_password=True)}: "
                          f"{reason[0] if reason else type(error).__name__}", 1) from None
    zone_ = tz or (site.timezone if site is not None else None)
    if zone_ is None:
        from .selection import zone
        zone_ = zone(None)
    return Source(engine, zone_, dict(site.groups) if site is not None else {},
                  site.name if site is not None else "")
