"""Passwords, login sessions, CSRF tokens and roles of the web console.

* Passwords are hashed with argon2id (argon2-cffi's defaults: a memory-hard
  hash, its parameters stored in the hash, so they can be raised later and old
  hashes still verify; :func:`needs_rehash` tells when to store a new one).
* A login session is a random 256-bit token in an HttpOnly, SameSite=Strict
  cookie; the server keeps what it stands for (user, role, CSRF token, last
  use), so logging out or deactivating a user ends it at once. Sessions are in
  memory: a restart of ``qscript serve`` asks everybody to log in again.
* Every state-changing request of a session carries its CSRF token (form field
  ``csrf`` or header ``X-CSRF-Token``), compared in constant time; SameSite
  cookies stop most cross-site requests already, the token stops the rest.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

COOKIE = "qscript_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
#: Verifying against this when the user does not exist makes a wrong name cost
#: as long as a wrong password: the time of a failed login does not tell which.
_DUMMY_HASH = _hasher.hash("no such user: the time of a failed login must not tell")


class Role(enum.IntEnum):
    """What a user may do; a higher role may do everything a lower one may."""

    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3

    @classmethod
    def named(cls, name: str) -> "Role":
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f'unknown role "{name}"; roles: agent, supervisor, admin') from None

    @property
    def label(self) -> str:
        return self.name.lower()


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise ValueError("a password may not begin or end with a space")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; False (after the same work) for a missing user."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@dataclass
class LoginSession:
    user: str
    role: Role
    agent_id: str
    address: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)

    def csrf_matches(self, supplied: str | None) -> bool:
        return bool(supplied) and hmac.compare_digest(self.csrf.encode(), str(supplied).encode())


class SessionTable:
    """The logged-in sessions, by the cookie's token (only a hash of it is kept,
    so a memory dump does not hand out live cookies)."""

    def __init__(self, idle_timeout: float, clock=time.monotonic):
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._sessions: dict[str, LoginSession] = {}

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def open(self, user: str, role: Role, agent_id: str, address: str) -> tuple[str, LoginSession]:
        token = secrets.token_urlsafe(32)
        session = LoginSession(user, role, agent_id, address, last_used=self._clock(),
                               created=self._clock())
        self._sessions[self._key(token)] = session
        return token, session

    def find(self, token: str | None) -> LoginSession | None:
        """The session of a cookie, if it is still open (each use renews its idle time)."""
        if not token:
            return None
        key = self._key(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_used > self.idle_timeout:
            del self._sessions[key]
            return None
        session.last_used = now
        return session

    def close(self, token: str | None) -> None:
        if token:
            self._sessions.pop(self._key(token), None)

    def close_user(self, user: str) -> int:
        """End every session of a user (deactivated, password or role changed)."""
        keys = [key for key, session in self._sessions.items() if session.user == user]
        for key in keys:
            del self._sessions[key]
        return len(keys)

    def __len__(self) -> int:
        return len(self._sessions)
