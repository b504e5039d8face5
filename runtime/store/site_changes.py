"""The console's changes to the site, stored as a layer over the site file (migration 0006).

One row per changed entry (kind, name): its latest content as the site file
would write it (JSON), or removed. The runtime reads them at start, after the
site file, and applies them with :func:`runtime.site.changes.apply_changes`;
a change is written through the outbox like every state write (kind
``site_change``), so it is applied at once and kept through a database outage.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Engine
from sqlmodel import Column, Field, Session, SQLModel, select

from runtime.site.changes import SiteChange
from runtime.store.database import WRITERS, WriteOp, _stored_time, _time_from_text, _time_text


class SiteChangeRow(SQLModel, table=True):
    """The latest change of one agent, group or calendar made in the console."""

    __tablename__ = "site_changes"
    kind: str = Field(primary_key=True)       # agent | group | calendar
    name: str = Field(primary_key=True)       # agent id, group or calendar name
    entry: str = Field(sa_column=Column(Text, nullable=False))   # JSON; "null" when removed
    deleted: bool = False                     # removed (a group or calendar)
    changed_at: dt.datetime
    changed_by: str = ""                      # the console user (or "control API")


def site_change_op(change: SiteChange) -> WriteOp:
    return WriteOp("site_change", {
        "kind": change.kind, "name": change.name,
        "entry": None if change.entry is None else dict(change.entry),
        "changed_at": _time_text(change.changed_at), "changed_by": change.changed_by})


def _write_site_change(session: Session, data: dict[str, Any]) -> None:
    """Idempotent, and an older change (replayed late) never overwrites a newer one."""
    changed_at = _time_from_text(data["changed_at"]) or _stored_time(dt.datetime.now(dt.timezone.utc))
    row = session.get(SiteChangeRow, (data["kind"], data["name"]))
    if row is not None and _stored_time(row.changed_at) > changed_at:
        return
    row = row or SiteChangeRow(kind=data["kind"], name=data["name"], entry="null",
                               changed_at=changed_at)
    row.entry = json.dumps(data["entry"], ensure_ascii=False)
    row.deleted = data["entry"] is None
    row.changed_at, row.changed_by = changed_at, str(data.get("changed_by") or "")
    session.add(row)


WRITERS["site_change"] = _write_site_change


def stored_site_changes(engine: Engine) -> list[SiteChange]:
    """Every stored change, oldest first (the order they are applied in)."""
    with Session(engine) as session:
        rows = list(session.exec(select(SiteChangeRow)))
    changes = [SiteChange(row.kind, row.name, None if row.deleted else json.loads(row.entry),
                          _stored_time(row.changed_at), row.changed_by) for row in rows]
    return sorted(changes, key=lambda c: (c.changed_at, c.kind, c.name))
