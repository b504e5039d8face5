"""The web console's tables: its users and the audit log of what they changed.

Users are read at login (in a worker thread) and kept in memory, so a login
still works while the database is down with the last copy read; a user made
with ``qscript user add`` while the runtime runs is found at its first login.
Audit entries are written through the outbox like every other change, so an
admin action taken during a database outage is logged when it is back.

Passwords are stored as argon2id hashes (argon2-cffi, see runtime/web/security.py),
never in clear; nothing here logs them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional

from sqlalchemy import Text
from sqlmodel import Column, Field, Session, SQLModel, select

from runtime.store.database import WRITERS, Store, WriteOp, _now, _stored_time, _time_from_text, \
    _time_text

ROLES = ("agent", "supervisor", "admin")


class WebUserRow(SQLModel, table=True):
    """A console login: a name, an argon2 hash, a role and (agents) the site agent it acts as."""

    __tablename__ = "web_users"
    name: str = Field(primary_key=True)
    password_hash: str
    role: str = "agent"                 # agent | supervisor | admin
    agent_id: str = ""                  # the site agent an agent user is (empty: none)
    active: bool = True
    created_at: dt.datetime
    updated_at: dt.datetime


class AuditRow(SQLModel, table=True):
    """One change made in the console or through the control API: who, from where, what."""

    __tablename__ = "audit_log"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: dt.datetime = Field(index=True)
    user: str = Field(index=True)
    role: str = ""
    address: str = ""
    action: str = Field(index=True)     # e.g. agent.pause, script.deploy, prompt.upload
    target: str = ""
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON object


# ------------------------------------------------------------------ writes (outbox ops)


def web_user_op(name: str, password_hash: str | None, role: str, agent_id: str,
                active: bool) -> WriteOp:
    """Create or change a user; ``password_hash`` None keeps the stored one."""
    if role not in ROLES:
        raise ValueError(f'unknown role "{role}"; roles: {", ".join(ROLES)}')
    return WriteOp("web_user", {"name": name, "password_hash": password_hash, "role": role,
                                "agent_id": agent_id, "active": active,
                                "at": _time_text(_now())})


def audit_op(user: str, role: str, address: str, action: str, target: str,
             detail: dict[str, Any]) -> WriteOp:
    return WriteOp("audit", {"user": user, "role": role, "address": address, "action": action,
                             "target": target, "detail": json.dumps(detail, default=str,
                                                                     sort_keys=True),
                             "at": _time_text(_now())})


def _write_web_user(session: Session, data: dict[str, Any]) -> None:
    at = _time_from_text(data["at"]) or _stored_time(_now())
    row = session.get(WebUserRow, data["name"])
    if row is None:
        if not data["password_hash"]:
            raise ValueError(f'a new user ("{data["name"]}") needs a password')
        row = WebUserRow(name=data["name"], password_hash=data["password_hash"], created_at=at,
                         updated_at=at)
    elif data["password_hash"]:
        row.password_hash = data["password_hash"]
    row.role, row.agent_id, row.active = data["role"], data["agent_id"], bool(data["active"])
    row.updated_at = at
    session.add(row)


def _write_audit(session: Session, data: dict[str, Any]) -> None:
    # Idempotent on replay: the same entry (same moment, user and action) is written once.
    at = _time_from_text(data["at"]) or _stored_time(_now())
    exists = session.exec(select(AuditRow).where(
        AuditRow.at == at, AuditRow.user == data["user"], AuditRow.action == data["action"],
        AuditRow.target == data["target"])).first()
    if exists is None:
        session.add(AuditRow(at=at, user=data["user"], role=data["role"],
                             address=data["address"], action=data["action"],
                             target=data["target"], detail=data["detail"]))


WRITERS["web_user"] = _write_web_user
WRITERS["audit"] = _write_audit


# ------------------------------------------------------------------ reads


def web_users(store: Store) -> list[WebUserRow]:
    with Session(store.engine) as session:
        return list(session.exec(select(WebUserRow).order_by(WebUserRow.name)))


def web_user(store: Store, name: str) -> WebUserRow | None:
    with Session(store.engine) as session:
        return session.get(WebUserRow, name)


def audit_entries(store: Store, limit: int = 200, user: str | None = None,
                  action: str | None = None) -> list[AuditRow]:
    """The newest audit entries first."""
    query = select(AuditRow)
    if user:
        query = query.where(AuditRow.user == user)
    if action:
        query = query.where(AuditRow.action.startswith(action))  # type: ignore[attr-defined]
    with Session(store.engine) as session:
        return list(session.exec(query.order_by(AuditRow.id.desc()).limit(limit)))  # type: ignore[union-attr]
