"""Logins, sessions, roles, CSRF, IP lists and the audit log of the web console.

Plain HTTP (httpx) against a running console; the browser tests are in
test_console_browser.py.
"""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import PASSWORD, TOKEN, ConsoleServer, SITE
from runtime.store import console as tables


def client(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=10)


def logged_in(server, name: str) -> httpx.Client:
    session = client(server)
    form = session.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    answer = session.post("/console/login", data={"name": name, "password": PASSWORD,
                                                  "login_token": token, "next": ""})
    assert answer.status_code == 302, answer.text
    return session


def csrf_of(session: httpx.Client) -> str:
    return session.get("/console/me", headers={"Accept": "application/json"}).json()["csrf"]


def test_pages_need_a_login_and_lead_to_the_login_form(console_server):
    with client(console_server) as anonymous:
        answer = anonymous.get("/console/")
        assert answer.status_code == 302
        assert answer.headers["location"].startswith("/console/login?next=")
        assert anonymous.get("/").headers["location"] == "/console/"
        assert anonymous.get("/console/me", headers={"Accept": "application/json"}).status_code == 401


def test_a_login_opens_a_session_in_an_http_only_strict_cookie(console_server):
    session = logged_in(console_server, "sup")
    cookie = next(c for c in session.cookies.jar if c.name == "qscript_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = session.get("/console/")
    assert page.status_code == 200 and "sup (supervisor)" in page.text
    headers = page.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"


@pytest.mark.parametrize("name, password", [("sup", "wrong-password"), ("nobody", PASSWORD)])
def test_a_wrong_name_or_password_gets_one_message(console_server, name, password):
    with client(console_server) as anonymous:
        token = re.search(r'name="login_token" value="([^"]+)"',
                          anonymous.get("/console/login").text).group(1)
        answer = anonymous.post("/console/login", data={"name": name, "password": password,
                                                        "login_token": token})
        assert answer.status_code == 401
        assert "wrong user name or password" in answer.text
        assert "qscript_session" not in answer.cookies


def test_repeated_failures_lock_the_name_out_for_a_while(console_server):
    with client(console_server) as anonymous:
        for attempt in range(6):
            token = re.search(r'name="login_token" value="([^"]+)"',
                              anonymous.get("/console/login").text).group(1)
            answer = anonymous.post("/console/login", data={
                "name": "sup", "password": "not-the-password", "login_token": token})
        assert "too many failed logins" in answer.text
        token = re.search(r'name="login_token" value="([^"]+)"',
                          anonymous.get("/console/login").text).group(1)
        right = anonymous.post("/console/login", data={"name": "sup", "password": PASSWORD,
                                                       "login_token": token})
        assert right.status_code == 401 and "too many failed logins" in right.text


def test_a_login_form_from_elsewhere_is_refused(console_server):
    with client(console_server) as anonymous:
        answer = anonymous.post("/console/login", data={"name": "sup", "password": PASSWORD,
                                                        "login_token": "forged"})
        assert answer.status_code == 403 and "expired" in answer.text


def test_a_change_without_the_csrf_token_is_refused(console_server):
    session = logged_in(console_server, "alice")
    assert session.post("/console/logout").status_code == 403
    assert session.post("/console/logout", headers={"X-CSRF-Token": "guess"}).status_code == 403
    answer = session.post("/console/logout", headers={"X-CSRF-Token": csrf_of(session)})
    assert answer.status_code == 302
    assert session.get("/console/").status_code == 302  # logged out: back to the login


def test_next_after_login_stays_inside_the_console(console_server):
    with client(console_server) as anonymous:
        token = re.search(r'name="login_token" value="([^"]+)"',
                          anonymous.get("/console/login").text).group(1)
        answer = anonymous.post("/console/login", data={
            "name": "sup", "password": PASSWORD, "login_token": token,
            "next": "//evil.example.com/console/"})
        assert answer.headers["location"] == "/console/"


def test_a_deactivated_user_cannot_log_in(console_server):
    console_server.store.apply([tables.web_user_op("sup", None, "supervisor", "", False)])
    with client(console_server) as anonymous:
        token = re.search(r'name="login_token" value="([^"]+)"',
                          anonymous.get("/console/login").text).group(1)
        answer = anonymous.post("/console/login", data={"name": "sup", "password": PASSWORD,
                                                        "login_token": token})
        assert answer.status_code == 401 and "deactivated" in answer.text


def test_logins_and_logouts_are_in_the_audit_log(console_server):
    session = logged_in(console_server, "admin")
    session.post("/console/logout", headers={"X-CSRF-Token": csrf_of(session)})

    def entries():
        return [(e.user, e.action, e.address) for e in tables.audit_entries(console_server.store)]
    import time
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(entries()) < 2:
        time.sleep(0.05)
    assert entries()[:2] == [("admin", "logout", "127.0.0.1"), ("admin", "login", "127.0.0.1")]


def test_pages_never_show_the_control_token_or_a_password_hash(console_server):
    session = logged_in(console_server, "admin")
    text = session.get("/console/").text + session.get("/console/me").text
    stored = tables.web_user(console_server.store, "admin").password_hash
    assert TOKEN not in text and stored not in text and PASSWORD not in text


def test_the_deny_list_refuses_the_console_and_the_control_api(tmp_path):
    site = SITE + "  deny: [127.0.0.0/8]\n"
    with ConsoleServer(tmp_path, site) as server, client(server) as anonymous:
        assert anonymous.get("/console/login").status_code == 403
        answer = anonymous.get("/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 403 and "web.deny" in answer.json()["error"]


def test_an_allow_list_without_the_address_refuses_it(tmp_path):
    site = SITE + "  allow: [10.0.0.0/8]\n"
    with ConsoleServer(tmp_path, site) as server, client(server) as anonymous:
        assert anonymous.get("/console/login").status_code == 403
    site = SITE + "  allow: [10.0.0.0/8, 127.0.0.1]\n"
    (tmp_path / "2").mkdir()
    with ConsoleServer(tmp_path / "2", site) as server, client(server) as anonymous:
        assert anonymous.get("/console/login").status_code == 200


def test_no_password_or_token_reaches_the_log(console_server, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    with client(console_server) as anonymous:
        token = re.search(r'name="login_token" value="([^"]+)"',
                          anonymous.get("/console/login").text).group(1)
        anonymous.post("/console/login", data={"name": "sup", "password": "a-wrong-secret-99",
                                               "login_token": token})
    session = logged_in(console_server, "admin")
    session.post("/console/admin/users", data={
        "csrf": csrf_of(session), "name": "newbie", "role": "supervisor",
        "password": "newbies-secret-77"})
    session.get("/status", headers={"Authorization": f"Bearer {TOKEN}"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PASSWORD, "a-wrong-secret-99", "newbies-secret-77", TOKEN):
        assert secret not in logged
