"""The console's users as the running console sees them.

A login reads the user from the database in a worker thread, so a user added
with ``qscript user add`` (or in the console) can log in at once; the copy is
kept, and while the database is down a login is checked against the kept
copy (users who never logged in since the start cannot log in then: there is
nothing to check their password against). Changes go through the outbox.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from runtime.store import console as tables
from runtime.store.database import StoreUnavailable
from runtime.web.security import Role, hash_password, verify_password

#: Failed logins allowed per user name and per address within FAILURE_WINDOW before
#: further tries are refused for that window: guessing passwords takes years.
MAX_FAILURES = 5
FAILURE_WINDOW = 300.0


@dataclass(frozen=True)
class WebUser:
    name: str
    role: Role
    agent_id: str
    active: bool
    password_hash: str

    @classmethod
    def from_row(cls, row: tables.WebUserRow) -> "WebUser":
        return cls(row.name, Role.named(row.role), row.agent_id, row.active, row.password_hash)

    def public(self) -> dict:
        """What a page may show of a user: never the hash."""
        return {"name": self.name, "role": self.role.label, "agent_id": self.agent_id,
                "active": self.active}


class LoginRefused(Exception):
    """A login that does not go through; the message is safe to show."""


class UserDirectory:
    def __init__(self, runtime, clock=time.monotonic):
        self.runtime = runtime
        self._clock = clock
        self._known: dict[str, WebUser] = {}
        self._failures: dict[str, deque[float]] = {}

    async def load(self) -> bool:
        """Read every user once at start (for logins during a later outage); False when
        the database could not be read."""
        try:
            rows = await self.runtime._in_store(lambda: tables.web_users(self.runtime.store))
        except StoreUnavailable:
            return False
        self._known = {row.name: WebUser.from_row(row) for row in rows}
        return True

    def known_names(self) -> list[str]:
        return sorted(self._known)

    async def find(self, name: str) -> WebUser | None:
        """The user as the database has it; while it is down, the copy kept (StoreUnavailable
        for a name not seen since the start: there is nothing to check a password against)."""
        try:
            row = await self.runtime._in_store(lambda: tables.web_user(self.runtime.store, name))
        except StoreUnavailable:
            if name in self._known:
                return self._known[name]
            raise
        if row is None:
            self._known.pop(name, None)
            return None
        user = WebUser.from_row(row)
        self._known[name] = user
        return user

    async def all(self) -> list[WebUser]:
        rows = await self.runtime._in_store(lambda: tables.web_users(self.runtime.store))
        self._known = {row.name: WebUser.from_row(row) for row in rows}
        return list(self._known.values())

    async def authenticate(self, name: str, password: str, address: str) -> WebUser:
        """The user, if name and password match; LoginRefused (one message for every
        wrong name or password, so it does not tell which names exist)."""
        for key in (f"user:{name}", f"address:{address}"):
            if self._too_many(key):
                raise LoginRefused("too many failed logins; try again in a few minutes")
        try:
            user = await self.find(name) if name else None
        except StoreUnavailable:
            raise LoginRefused("the database is unavailable, and this user has not logged in "
                               "since the console started; try again later") from None
        matches = verify_password(user.password_hash if user else None, password)
        if not matches or user is None:
            self._failed(f"user:{name}")
            self._failed(f"address:{address}")
            raise LoginRefused("wrong user name or password")
        if not user.active:
            raise LoginRefused(f'the user "{name}" is deactivated')
        self._failures.pop(f"user:{name}", None)
        return user

    def save(self, name: str, password: str | None, role: Role, agent_id: str, active: bool):
        """Create or change a user (through the outbox); the future says where it went."""
        password_hash = hash_password(password) if password is not None else None
        known = self._known.get(name)
        if known is None and password_hash is None:
            raise ValueError(f'a new user ("{name}") needs a password')
        self._known[name] = WebUser(name, role, agent_id, active,
                                    password_hash or (known.password_hash if known else ""))
        return self.runtime.outbox.submit(tables.web_user_op(name, password_hash, role.label,
                                                             agent_id, active))

    def _too_many(self, key: str) -> bool:
        failures = self._failures.get(key)
        if not failures:
            return False
        horizon = self._clock() - FAILURE_WINDOW
        while failures and failures[0] < horizon:
            failures.popleft()
        return len(failures) >= MAX_FAILURES

    def _failed(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(self._clock())
