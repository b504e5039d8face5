"""Persistent state: script versions, call records, agent states, hot prompts.

Everything that must survive a restart of ``qscript serve`` lives in a
database through SQLModel: SQLite by default (a file next to the site, nothing
to install), PostgreSQL in production (``database: postgresql://...`` in the
site file). The schema is created and upgraded on first use by the
Alembic migrations (runtime/store/migrate.py).

Nothing here runs on the event loop: the live runtime reads and deploys
from worker threads (``asyncio.to_thread``), and every other write — call
records, agent states, hot-prompt states — is a :class:`WriteOp` that the
outbox (runtime/store/outbox.py) hands to :meth:`Store.apply` from its writer
thread, in order, again after an outage. A write operation is plain JSON (the
outbox spools it to disk while the database is away) and applying it twice
leaves the database as applying it once: a call record is keyed by its call
id and arrival time, agent and hot-prompt states are "the state is now X".
New kinds of write register a writer in :data:`WRITERS`; the statistics
(runtime/store/writer.py) add ``contact`` and ``agent_activity``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import sqlalchemy.exc
from sqlalchemy import LargeBinary, Text, UniqueConstraint, event
from sqlalchemy.engine import make_url
from sqlmodel import Column, Field, Session, SQLModel, create_engine, select

from runtime.core.records import CallRecord
from runtime.store import migrate


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
    # One row per call: a write replayed after an outage finds the row it made before.
    __table_args__ = (UniqueConstraint("call_id", "arrived_at", name="calls_call_arrival"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    call_id: str                 # found by the unique (call_id, arrived_at) index
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
    agent: str = ""
    language: str = ""
    digits: str = ""
    saved: str = "{}"            # JSON object of `save` values
    error: str = ""
    # -- the contact record of the statistics (migration 0002; runtime/store/schema.py
    #    has the other statistics tables). `_ts` columns are UTC epoch seconds: the
    #    reports compute with them the same way on SQLite and PostgreSQL.
    channel: str = "voice"
    script_version: Optional[int] = None
    lookup_key: str = ""
    priority: int = 0
    first_group: str = ""
    arrived_ts: Optional[float] = Field(default=None, index=True)
    agent_ended_ts: Optional[float] = None
    slot: Optional[int] = None             # the 15-minute slot of arrival (arrived_ts // 900)
    wait: Optional[float] = None           # seconds queued: to the answer, or to leaving
    talk: Optional[float] = None           # seconds connected to the agent
    callback_answered: Optional[bool] = None   # outcome callback: was it answered
    threshold: Optional[float] = None      # the service-level threshold that applied
    short_abandon: Optional[float] = None  # the short-abandon threshold that applied


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


def _stored_time(moment: dt.datetime) -> dt.datetime:
    """The moment in UTC (a time without a zone is taken as UTC): a replayed write
    carries exactly the arrival time of the row it made the first time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _time_text(moment: dt.datetime | None) -> str | None:
    return None if moment is None else _stored_time(moment).isoformat()


def _time_from_text(text: str | None) -> dt.datetime | None:
    return None if text is None else _stored_time(dt.datetime.fromisoformat(text))


class StoreUnavailable(Exception):
    """The database cannot be reached (or is locked) now; trying again later may work."""


def is_transient(error: BaseException) -> bool:
    """Whether a failed write may succeed later (the database is down, locked, full).

    Anything else — a constraint the row violates, a value the column refuses —
    fails again on every try: the outbox sets such a write aside instead of
    retrying it forever in front of every other write.
    """
    if isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                          sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.TimeoutError,
                          StoreUnavailable, OSError)):
        return True
    return isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated


def describe_error(error: BaseException) -> str:
    """One line saying why the database failed, without SQL or parameters."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return (text[0] if text else type(original).__name__)[:300]


# ------------------------------------------------------------------ write operations


@dataclass(frozen=True)
class WriteOp:
    """One write for the outbox: a kind (a key of :data:`WRITERS`) and JSON data."""

    kind: str
    data: dict[str, Any]

    def to_line(self) -> str:
        """The op as one line of the spool (JSON, newline-terminated)."""
        return json.dumps({"kind": self.kind, "data": self.data}, separators=(",", ":"),
                          default=str) + "\n"

    @classmethod
    def from_line(cls, line: str) -> "WriteOp":
        """Read a spool line back; ValueError if it is not a whole op."""
        value = json.loads(line)
        if not isinstance(value, dict) or not isinstance(value.get("kind"), str) \
                or not isinstance(value.get("data"), dict):
            raise ValueError("not a write operation")
        return cls(value["kind"], value["data"])

    def describe(self) -> str:
        key = self.data.get("call_id") or self.data.get("agent_id") or self.data.get("name")
        return f"{self.kind} {key}" if key else self.kind


def call_op(record: CallRecord, epoch: dt.datetime, monotonic_at_epoch: float) -> WriteOp:
    """A finished call; times in the record are driver clock seconds.

    ``epoch`` (an aware datetime) is the wall time when the driver clock read
    ``monotonic_at_epoch``. The times are fixed here, once: a replay writes the
    same arrival time, which is half of the row's key.
    """
    def at(seconds: float | None) -> str | None:
        if seconds is None:
            return None
        return _time_text(epoch + dt.timedelta(seconds=seconds - monotonic_at_epoch))
    return WriteOp("call", {
        "call_id": record.call_id, "caller": record.caller, "dialled": record.dialled,
        "script": record.script, "script_hash": record.script_hash,
        "arrived_at": at(record.arrived_at), "queued_at": at(record.queued_at),
        "answered_at": at(record.answered_at), "ended_at": at(record.ended_at),
        "outcome": record.outcome, "groups": json.dumps(record.groups),
        "answered_group": record.answered_group or "", "agent": record.agent or "",
        "language": record.language, "digits": record.digits,
        "saved": json.dumps(dict(record.saved), default=str), "error": record.error or ""})


def agent_state_op(agent_id: str, logged_in: bool, ready: bool, pause_reason: str,
                   groups: dict[str, int]) -> WriteOp:
    return WriteOp("agent_state", {"agent_id": agent_id, "logged_in": logged_in, "ready": ready,
                                   "pause_reason": pause_reason, "groups": dict(groups),
                                   "updated_at": _time_text(_now())})


def hot_prompt_op(name: str, active: bool) -> WriteOp:
    return WriteOp("hot_prompt", {"name": name, "active": active,
                                  "updated_at": _time_text(_now())})


def _write_agent_state(session: Session, data: dict[str, Any]) -> None:
    updated = _time_from_text(data["updated_at"]) or _stored_time(_now())
    row = session.get(AgentRow, data["agent_id"]) or AgentRow(agent_id=data["agent_id"],
                                                               updated_at=updated)
    row.logged_in, row.ready = bool(data["logged_in"]), bool(data["ready"])
    row.pause_reason, row.groups = str(data["pause_reason"]), json.dumps(data["groups"])
    row.updated_at = updated
    session.add(row)


def _write_hot_prompt(session: Session, data: dict[str, Any]) -> None:
    updated = _time_from_text(data["updated_at"]) or _stored_time(_now())
    row = session.get(HotPromptRow, data["name"]) or HotPromptRow(name=data["name"],
                                                                  updated_at=updated)
    row.active, row.updated_at = bool(data["active"]), updated
    session.add(row)


#: kind -> the function that applies one op of that kind in a transaction; each
#: must be idempotent (applying an op twice leaves what applying it once left).
#: ``call``, ``contact`` and ``agent_activity`` are registered by runtime/store/writer.py.
WRITERS: dict[str, Callable[[Session, dict[str, Any]], None]] = {
    "agent_state": _write_agent_state,
    "hot_prompt": _write_hot_prompt,
}


# ------------------------------------------------------------------ the store


class Store:
    """The database behind the live runtime."""

    def __init__(self, url: str = "sqlite:///qscript.db"):
        self.url = url
        self.engine = create_engine(url, **_engine_options(url))
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # The schema comes from the migrations (upgrade to the newest revision), which
        # also recognise and upgrade a database made by create_all before they existed.
        migrate.upgrade(self.engine)
        # Numbering versions reads the last one, then inserts the next: one at a time.
        # Not around apply(): the outbox is its one caller, and a deploy must not wait
        # for an outbox write that is itself waiting out a locked SQLite (the database
        # orders concurrent writers itself).
        self._lock = threading.Lock()

    def apply(self, ops: list[WriteOp]) -> None:
        """Apply write operations in one transaction (all or none).

        Called by one writer, the outbox's thread, so that the ops keep their order.
        """
        with Session(self.engine) as session:
            for op in ops:
                writer = WRITERS.get(op.kind)
                if writer is None:
                    raise ValueError(f"unknown write operation {op.kind!r}")
                writer(session, op.data)
            session.commit()

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

    def replace_bytecode(self, name: str, version: int, bytecode: bytes) -> None:
        """Store a version's bytecode anew (recompiled from its unchanged source
        for another bytecode format); its number, source and hash stay."""
        with self._lock, Session(self.engine) as session:
            target = session.exec(select(ScriptVersion).where(
                ScriptVersion.name == name, ScriptVersion.version == version)).first()
            if target is not None:
                target.bytecode = bytecode
                session.add(target)
                session.commit()

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
        """Store a finished call now (see :func:`call_op`); the runtime goes through its outbox."""
        self.apply([call_op(record, epoch, monotonic_at_epoch)])

    def calls(self, limit: int = 100) -> list[CallRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(CallRow).order_by(CallRow.id.desc()).limit(limit)))

    def last_agent(self, caller: str, since: dt.datetime) -> str | None:
        """The agent who last answered this caller after ``since`` (previous-agent matching)."""
        if not caller:
            return None
        with Session(self.engine) as session:
            row = session.exec(select(CallRow).where(
                CallRow.caller == caller, CallRow.agent != "",
                CallRow.ended_at >= _stored_time(since))
                .order_by(CallRow.id.desc())).first()
            return row.agent if row else None

    # -- agents
    def save_agent(self, agent_id: str, logged_in: bool, ready: bool, pause_reason: str,
                   groups: dict[str, int]) -> None:
        self.apply([agent_state_op(agent_id, logged_in, ready, pause_reason, groups)])

    def agents(self) -> list[AgentRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(AgentRow)))

    # -- hot prompts
    def save_hot_prompt(self, name: str, active: bool) -> None:
        self.apply([hot_prompt_op(name, active)])

    def hot_prompts(self) -> dict[str, bool]:
        with Session(self.engine) as session:
            return {row.name: row.active for row in session.exec(select(HotPromptRow))}


def _deactivate(session: Session, name: str) -> None:
    """Mark every version of a script inactive (in the caller's transaction)."""
    for old in session.exec(select(ScriptVersion).where(
            ScriptVersion.name == name, ScriptVersion.active == True)):  # noqa: E712
        old.active = False
        session.add(old)


def _engine_options(url: str) -> dict[str, Any]:
    """Fail fast when the database is away, and notice a restarted server.

    SQLite waits 5 s for another writer's lock (the driver's default), then
    says "database is locked". PostgreSQL gets a 5 s connect timeout and TCP
    keepalives unless the URL sets its own, so a server that vanished is
    reported in seconds, not after the kernel's two-hour TCP timeout; pooled
    connections are checked before use (a restarted server killed them).
    """
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False}}
    given = set(make_url(url).query)
    defaults = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10,
                "keepalives_interval": 5, "keepalives_count": 3}
    connect_args = ({name: value for name, value in defaults.items() if name not in given}
                    if url.startswith("postgresql") else {})
    return {"connect_args": connect_args, "pool_pre_ping": True}


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the status view read while the runtime writes; NORMAL sync is
    # durable across application crashes, which is what matters here.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def iter_json(rows: Iterable[SQLModel]) -> list[dict]:
    return [row.model_dump(mode="json") for row in rows]


# The statistics writers register their kinds in WRITERS (they need the names above).
from . import writer as _statistics_writer  # noqa: E402,F401
# The web console's tables (users, audit log) and their writers, likewise.
from . import console as _console_tables  # noqa: E402,F401
# Uploaded prompt recordings (the console's prompt administration) register theirs too.
from . import prompt_recordings as _prompt_recordings  # noqa: E402,F401
