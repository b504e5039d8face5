"""The site's web section and the `qscript user` command (no server, no browser)."""

from __future__ import annotations

from click.testing import CliRunner

import pytest

from qscript.cli import main
from runtime.site import SiteError, load_site_text
from runtime.store import console as tables
from runtime.store.database import Store
from runtime.web.security import Role, SessionTable, verify_password

BASE = "site: T\nlanguages: [en]\nagents:\n  - {id: alice, endpoint: PJSIP/alice}\n"


def test_the_web_section_reads_lists_reasons_and_the_crm_template():
    site = load_site_text(BASE + """web:
  allow: [10.0.0.0/8, 192.168.1.7, "::1"]
  deny: [10.9.0.0/16]
  session_timeout: 30m
  pause_reasons: [lunch, admin]
  crm_url: "https://crm.example.com/c?n={caller}&id={saved.customer_id}"
""", check_scripts=False)
    web = site.web
    assert web.session_timeout == 1800 and web.pause_reasons == ("lunch", "admin")
    assert web.crm_fields == ("caller", "saved.customer_id")
    assert web.admits("10.1.2.3") and not web.admits("10.9.0.1") and not web.admits("8.8.8.8")
    assert web.admits("::1") and web.admits("::ffff:192.168.1.7")


def test_a_site_without_a_web_section_admits_everyone_with_default_reasons():
    web = load_site_text(BASE, check_scripts=False).web
    assert web.admits("8.8.8.8") and "lunch" in web.pause_reasons and web.crm_url == ""


@pytest.mark.parametrize("section, message", [
    ("web: {allow: [10.0.0.300]}", 'web.allow[0]: "10.0.0.300" is not an IP address or network'),
    ("web: {crm_url: 'https://crm/x?n={phone}'}", 'unknown placeholder "{phone}" in crm_url'),
    ("web: {crm_url: 'ftp://crm/x'}", "is not an http(s) URL"),
    ("web: {crm_url: 'https://crm/x?n={caller'}", "crm_url:"),
    ("web: {pause_reasons: [out to lunch]}", '"out to lunch" is not a valid name'),
    ("web: {session_timeout: soon}", "web.session_timeout"),
    ("web: {colour: red}", 'web: unknown key "colour"'),
])
def test_a_bad_web_section_is_a_site_error_with_its_line(section, message):
    with pytest.raises(SiteError) as error:
        load_site_text(BASE + section + "\n", "site.yaml", check_scripts=False)
    rendered = error.value.render()
    assert message in rendered and "site.yaml:5:" in rendered


def test_sessions_end_after_their_idle_time_and_with_their_user():
    clock = [0.0]
    table = SessionTable(idle_timeout=60, clock=lambda: clock[0])
    token, session = table.open("sup", Role.SUPERVISOR, "", "127.0.0.1")
    clock[0] = 59
    assert table.find(token) is session       # each use renews the idle time
    clock[0] = 118
    assert table.find(token) is session
    clock[0] = 179
    assert table.find(token) is None
    token, _ = table.open("sup", Role.SUPERVISOR, "", "127.0.0.1")
    assert table.close_user("sup") == 1 and table.find(token) is None
    assert table.find("made-up") is None and table.find(None) is None


def run(*args, stdin: str | None = None):
    result = CliRunner().invoke(main, ["user", *args], input=stdin)
    assert "Traceback" not in result.output
    return result


def test_user_add_passwd_set_and_list(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(BASE)
    added = run("add", "alice", "--role", "agent", "--agent", "alice", "--site", str(site),
                "--password-stdin", stdin="first-password\n")
    assert added.exit_code == 0, added.output
    store = Store(f"sqlite:///{tmp_path / 'qscript.db'}")
    row = tables.web_user(store, "alice")
    assert row.role == "agent" and row.agent_id == "alice"
    assert verify_password(row.password_hash, "first-password")
    assert "first-password" not in row.password_hash
    assert run("passwd", "alice", "--site", str(site), "--password-stdin",
               stdin="second-password\n").exit_code == 0
    assert verify_password(tables.web_user(store, "alice").password_hash, "second-password")
    assert run("set", "alice", "--inactive", "--site", str(site)).exit_code == 0
    assert tables.web_user(store, "alice").active is False
    listing = run("list", "--site", str(site))
    assert "alice" in listing.output and "agent" in listing.output and "no" in listing.output


@pytest.mark.parametrize("args, stdin, code, message", [
    (["add", "x", "--role", "agent"], "long-password\n", 2, "give --agent ID"),
    (["add", "x", "--role", "agent", "--agent", "zed"], "long-password\n", 2, 'unknown agent "zed"'),
    (["add", "x", "--role", "admin"], "short\n", 2, "at least 10 characters"),
    (["add", "a b", "--role", "admin"], "long-password\n", 2, "not a valid user name"),
    (["passwd", "ghost"], "long-password\n", 1, 'no user "ghost"'),
])
def test_user_errors_say_what_is_wrong(tmp_path, args, stdin, code, message):
    site = tmp_path / "site.yaml"
    site.write_text(BASE)
    result = run(*args, "--site", str(site), "--password-stdin", stdin=stdin) \
        if args[0] in ("add", "passwd") else run(*args, "--site", str(site))
    assert result.exit_code == code and message in result.output


def test_user_needs_a_database(tmp_path):
    result = run("list")
    assert result.exit_code == 2 and "--site SITE or --db" in result.output
