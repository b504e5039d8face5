"""The console while its database is down: a private PostgreSQL server stopped mid-run
(tests/runtime/private_postgres.py; the machine's shared server is never stopped)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from conftest import ConsoleServer
from runtime.store import console as tables
from runtime.store.database import Store
from test_console_access import logged_in

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runtime"))
from private_postgres import private_postgres  # noqa: E402


@pytest.fixture
def postgres():
    yield from private_postgres()


def test_known_users_log_in_while_the_database_is_down_and_the_audit_log_catches_up(
        tmp_path, postgres):
    with ConsoleServer(tmp_path, database_url=postgres.url) as server:
        postgres.stop()
        try:
            session = logged_in(server, "sup")     # read at the start, checked from memory
            assert "sup (supervisor)" in session.get("/console/").text
        finally:
            postgres.start()
        deadline = time.monotonic() + 30
        check = Store(postgres.url)
        try:
            while time.monotonic() < deadline and not any(
                    e.action == "login" and e.user == "sup" for e in tables.audit_entries(check)):
                time.sleep(0.2)
            assert [(e.user, e.action) for e in tables.audit_entries(check)] == [("sup", "login")]
        finally:
            check.close()


def test_a_user_added_after_the_start_is_told_why_during_an_outage(tmp_path, postgres):
    with ConsoleServer(tmp_path, database_url=postgres.url) as server:
        server.store.apply([tables.web_user_op("late", server.store and
                                               tables.web_user(server.store, "sup").password_hash,
                                               "supervisor", "", True)])
        postgres.stop()
        try:
            import re
            import httpx
            with httpx.Client(base_url=server.url) as anonymous:
                token = re.search(r'name="login_token" value="([^"]+)"',
                                  anonymous.get("/console/login").text).group(1)
                answer = anonymous.post("/console/login", data={
                    "name": "late", "password": "secret-pass-1", "login_token": token})
            assert answer.status_code == 401
            assert "the database is unavailable" in answer.text
        finally:
            postgres.start()
