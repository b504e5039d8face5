"""Persistent state: script versions, call records, agent states, hot prompts.

Everything that must survive a restart of ``qscript serve`` lives in a
database through SQLModel: SQLite by default (a file next to the site, nothing
to install), PostgreSQL in production (``database: postgresql://...`` in the
site file). The schema is created on first use.

Writes happen off the event loop's critical path: the live runtime calls
these methods from a worker thread (``asyncio.to_thread``) so a slow disk
never delays a caller.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Iterable, Optional

from sqlalchemy import LargeBinary, Text, event
from sqlmodel import Column, Field, Session, SQLModel, create_engine, select

from .records import CallRecord


class ScriptVersion(SQLModel, table=True):
    """One deployed version of a script; exactly one per name is active."""

    __tablename__ = "script_versions"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True)             # the script's name (its file stem)
    version: int                              # 1, 2, 3, ... per name
    source: str = Field(sa_column=Column(Text, nullable=False))
    bytecode: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    source_hash: str
    created_at: dt.datetime
    active: bool = Field(default=False, index=True)
    comment: str = ""


class CallRow(SQLModel, table=True):
    """A finished call (the call log and the source of statistics)."""

    __tablename__ = "calls"
    id: Optional[int] = Field(default=None, primary_key=True)
    call_id: str = Field(index=True)
    caller: str = Field(default="", index=True)
    dialled: str = ""
    script: str = ""
    script_hash: str = ""
    arrived_at: dt.datetime
    queued_at: Optional[dt.datetime] = None
    answered_at: Optional[dt.datetime] = None
    ended_at: Optional[dt.datetime] = None
    outcome: str = ""
    groups: str = "[]"           # JSON list
    answered_group: str = ""
    agent: str = Field(default="", index=True)
    language: str = ""
    digits: str = ""
    saved: str = "{}"            # JSON object of `save` values
    error: str = ""


class AgentRow(SQLModel, table=True):
    """An agent's last known state, restored when the runtime restarts."""

    __tablename__ = "agents"
    agent_id: str = Field(primary_key=True)
    logged_in: bool = False
    ready: bool = False
    pause_reason: str = ""
    groups: str = "{}"           # JSON: group -> penalty
    updated_at: dt.datetime


class HotPromptRow(SQLModel, table=True):
    __tablename__ = "hot_prompts"
    name: str = Field(primary_key=True)
    active: bool = False
    updated_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Store:
    """The database behind the live runtime."""

    def __init__(self, url: str = "sqlite:///qscript.db"):
        self.url = url
        connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=connect_args)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        SQLModel.metadata.create_all(self.engine)
        self._lock = threading.Lock()  # SQLite allows one writer; keep writes in order

    def close(self) -> None:
        self.engine.dispose()

    # -- script versions
    def add_version(self, name: str, source: str, bytecode: bytes, source_hash: str,
                    comment: str = "", activate: bool = True) -> ScriptVersion:
        """Store a new version of a script (and make it the active one)."""
        with self._lock, Session(self.engine) as session:
            last = session.exec(select(ScriptVersion).where(ScriptVersion.name == name)
                                .order_by(ScriptVersion.version.desc())).first()
            version = ScriptVersion(name=name, version=(last.version + 1) if last else 1,
                                    source=source, bytecode=bytecode, source_hash=source_hash,
                                    created_at=_now(), comment=comment)
            if activate:
                _deactivate(session, name)
                version.active = True
            session.add(version)
            session.commit()
            session.refresh(version)
            return version

    def activate(self, name: str, version: int) -> ScriptVersion | None:
        with self._lock, Session(self.engine) as session:
            target = session.exec(select(ScriptVersion).where(
                ScriptVersion.name == name, ScriptVersion.version == version)).first()
            if target is None:
                return None
            _deactivate(session, name)
            target.active = True
            session.add(target)
            session.commit()
            session.refresh(target)
            return target

    def active_versions(self) -> list[ScriptVersion]:
        with Session(self.engine) as session:
            return list(session.exec(select(ScriptVersion).where(
                ScriptVersion.active == True)))  # noqa: E712

    def versions(self, name: str) -> list[ScriptVersion]:
        with Session(self.engine) as session:
            return list(session.exec(select(ScriptVersion).where(ScriptVersion.name == name)
                                     .order_by(ScriptVersion.version)))

    # -- calls
    def add_call(self, record: CallRecord, epoch: dt.datetime, monotonic_at_epoch: float) -> None:
        """Store a finished call; times in the record are driver clock seconds.

        ``epoch`` (an aware datetime) is the wall time when the driver clock
        read ``monotonic_at_epoch``.
        """
        def at(seconds):
            return None if seconds is None else epoch + dt.timedelta(seconds=seconds - monotonic_at_epoch)
        row = CallRow(call_id=record.call_id, caller=record.caller, dialled=record.dialled,
                      script=record.script, script_hash=record.script_hash,
                      arrived_at=at(record.arrived_at), queued_at=at(record.queued_at),
                      answered_at=at(record.answered_at), ended_at=at(record.ended_at),
                      outcome=record.outcome, groups=json.dumps(record.groups),
                      answered_group=record.answered_group or "", agent=record.agent or "",
                      language=record.language, digits=record.digits,
                      saved=json.dumps(dict(record.saved), default=str), error=record.error or "")
        with self._lock, Session(self.engine) as session:
            session.add(row)
            session.commit()

    def calls(self, limit: int = 100) -> list[CallRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(CallRow).order_by(CallRow.id.desc()).limit(limit)))

    def last_agent(self, caller: str, since: dt.datetime) -> str | None:
        """The agent who last answered this caller after ``since`` (previous-agent matching)."""
        if not caller:
            return None
        with Session(self.engine) as session:
            row = session.exec(select(CallRow).where(
                CallRow.caller == caller, CallRow.agent != "", CallRow.ended_at >= since)
                .order_by(CallRow.id.desc())).first()
            return row.agent if row else None

    # -- agents
    def save_agent(self, agent_id: str, logged_in: bool, ready: bool, pause_reason: str,
                   groups: dict[str, int]) -> None:
        with self._lock, Session(self.engine) as session:
            row = session.get(AgentRow, agent_id) or AgentRow(agent_id=agent_id, updated_at=_now())
            row.logged_in, row.ready, row.pause_reason = logged_in, ready, pause_reason
            row.groups = json.dumps(groups)
            row.updated_at = _now()
            session.add(row)
            session.commit()

    def agents(self) -> list[AgentRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(AgentRow)))

    # -- hot prompts
    def save_hot_prompt(self, name: str, active: bool) -> None:
        with self._lock, Session(self.engine) as session:
            row = session.get(HotPromptRow, name) or HotPromptRow(name=name, updated_at=_now())
            row.active, row.updated_at = active, _now()
            session.add(row)
            session.commit()

    def hot_prompts(self) -> dict[str, bool]:
        with Session(self.engine) as session:
            return {row.name: row.active for row in session.exec(select(HotPromptRow))}


def _deactivate(session: Session, name: str) -> None:
    """Mark every version of a script inactive (in the caller's transaction)."""
    for old in session.exec(select(ScriptVersion).where(
            ScriptVersion.name == name, ScriptVersion.active == True)):  # noqa: E712
        old.active = False
        session.add(old)


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the status view read while the runtime writes; NORMAL sync is
    # durable across application crashes, which is what matters here.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def iter_json(rows: Iterable[SQLModel]) -> list[dict]:
    return [row.model_dump(mode="json") for row in rows]
