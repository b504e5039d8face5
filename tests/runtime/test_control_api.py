"""The control API and the CLI commands that use it (agent, status, deploy, rollback, hot).

A LiveRuntime runs in a background thread with its own event loop, against
the in-process ARI fake (Asterisk itself is exercised in tests/live); the
commands run through click's CliRunner and talk HTTP to it, as they would to
a real `qscript serve`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from qscript.cli import main
from runtime.live.control import start_control, write_state
from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store.database import Store

from fake_ari import FakeAri

SITE = """site: Control test
languages: [en]
groups:
  support: {}
  sales: {}
agents:
  - {id: alice, name: Alice, endpoint: PJSIP/alice, groups: [support]}
  - {id: bob, name: Bob, endpoint: PJSIP/bob, groups: [sales], active: false}
prompts:
  outage-msg: beep
hot_prompts:
  outage: {prompt: outage-msg}
numbers:
  default: main.qs
"""
SCRIPT = 'inbound:\n    answer\n    queue to "support"\n'
TOKEN = "secret-token-for-tests"


class Server:
    def __init__(self, tmp_path: Path):
        (tmp_path / "main.qs").write_text(SCRIPT)
        (tmp_path / "site.yaml").write_text(SITE)
        self.site_path = tmp_path / "site.yaml"
        self.site = load_site_text(SITE, str(self.site_path), tmp_path)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.tmp_path = tmp_path

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def start():
            self.fake = FakeAri()
            self.runtime = LiveRuntime(self.site, self.fake,
                                       Store(f"sqlite:///{self.tmp_path / 'c.db'}"), loop=self.loop)
            await self.runtime.start()
            self.runner = await start_control(self.runtime, "127.0.0.1", self.port, TOKEN)
            self.ready.set()
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        async def stop():
            await self.runner.cleanup()
            await self.runtime.close()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def call(self, function):
        """Run a function in the runtime's thread and return its result."""
        async def run():
            return function()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)


@pytest.fixture
def server(tmp_path):
    with Server(tmp_path) as running:
        yield running


def cli(server, *args):
    result = CliRunner().invoke(main, [*args, "--url", server.url, "--token", TOKEN])
    assert "Traceback" not in result.output
    return result


def test_the_token_is_required(server):
    assert httpx.get(server.url + "/status").status_code == 401
    assert httpx.get(server.url + "/status",
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    result = CliRunner().invoke(main, ["status", "--url", server.url, "--token", "wrong"])
    assert result.exit_code == 1 and "refused the token" in result.output


def test_agents_log_in_pause_and_show_in_status(server):
    assert cli(server, "agent", "login", "alice").exit_code == 0
    status = json.loads(cli(server, "status", "--json").output)
    alice = next(a for a in status["agents"] if a["id"] == "alice")
    assert alice["state"] == "ready" and alice["groups"] == {"support": 0}
    assert cli(server, "agent", "pause", "alice", "--reason", "lunch").exit_code == 0
    status = json.loads(cli(server, "status", "--json").output)
    alice = next(a for a in status["agents"] if a["id"] == "alice")
    assert alice["state"] == "paused" and alice["pause_reason"] == "lunch"
    table = cli(server, "status").output
    assert "paused (lunch)" in table and "support" in table
    # the state is stored for a restart
    rows = server.call(lambda: server.runtime.store.agents())
    assert rows and rows[0].agent_id == "alice"


def test_unknown_or_deactivated_agents_and_groups_are_refused(server):
    result = cli(server, "agent", "login", "nobody")
    assert result.exit_code == 1 and 'unknown agent "nobody"' in result.output
    result = cli(server, "agent", "login", "bob")
    assert result.exit_code == 1 and "deactivated" in result.output
    result = cli(server, "agent", "login", "alice", "--group", "nosuch")
    assert result.exit_code == 1 and 'unknown answer group "nosuch"' in result.output
    result = cli(server, "agent", "groups", "alice", "--group", "sales")
    assert result.exit_code == 1  # alice is logged out: a clear 409, not a crash


def test_deploy_rollback_and_refusal(server, tmp_path):
    script = tmp_path / "main.qs"
    script.write_text('inbound:\n    answer\n    queue to "sales"\n')
    result = cli(server, "deploy", str(script))
    assert result.exit_code == 0 and "version 2" in result.output
    script.write_text('inbound:\n    queue to "nowhere"\n')
    result = cli(server, "deploy", str(script))
    assert result.exit_code == 1 and "Q1003" in result.output and "running version stays" in result.output
    assert server.call(lambda: server.runtime.versions["main"]) == 2
    result = cli(server, "rollback", "main")
    assert result.exit_code == 0 and "version 1" in result.output
    assert server.call(lambda: server.runtime.versions["main"]) == 1


def test_hot_prompts_switch_at_run_time(server):
    assert cli(server, "hot", "outage", "on").exit_code == 0
    assert server.call(lambda: server.runtime.center.hot_prompts["outage"]) is True
    result = cli(server, "hot", "nosuch", "on")
    assert result.exit_code == 1 and "unknown hot prompt" in result.output


def test_clients_find_the_runtime_through_the_site_file(server):
    write_state(server.site_path, server.url, TOKEN)
    result = CliRunner().invoke(main, ["status", "--site", str(server.site_path), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["site"] == "Control test"
    missing = CliRunner().invoke(main, ["status", "--site", str(server.tmp_path / "nowhere.yaml")])
    assert missing.exit_code == 1 and "no running runtime" in missing.output


def test_bad_requests_get_clear_errors(server):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = httpx.post(server.url + "/scripts/main", headers=headers, content=b"not json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    response = httpx.post(server.url + "/scripts/main", headers=headers, json={"nosource": 1})
    assert response.status_code == 400
    response = httpx.post(server.url + "/agents/alice/dance", headers=headers, json={})
    assert response.status_code == 404
    for groups in ({"support": None}, {"support": "high"}, {"support": -1}, [1, 2], "support"):
        response = httpx.post(server.url + "/agents/alice/login", headers=headers,
                              json={"groups": groups})
        assert response.status_code == 400, groups
        assert '"groups" must be' in response.json()["error"]


def test_watch_deploys_each_clean_save_within_a_second(server, tmp_path):
    import subprocess
    import sys
    import time

    script = tmp_path / "main.qs"
    script.write_text(SCRIPT)
    process = subprocess.Popen(
        [sys.executable, "-m", "qscript", "watch", str(script), "--url", server.url,
         "--token", TOKEN, "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def version():
            return server.call(lambda: server.runtime.versions["main"])

        deadline = time.monotonic() + 15
        while version() < 2 and time.monotonic() < deadline:  # the first check deploys
            time.sleep(0.05)
        assert version() == 2
        script.write_text('inbound:\n    answer\n    queue to "sales"\n')
        saved = time.monotonic()
        while version() < 3 and time.monotonic() - saved < 5:
            time.sleep(0.02)
        assert version() == 3
        assert time.monotonic() - saved < 1.0, "a save must take effect within a second"
        script.write_text('inbound:\n    queue to\n')          # a syntax error: caught locally
        time.sleep(0.6)
        script.write_text('inbound:\n    queue to "nowhere"\n')  # an unknown group: the server refuses
        time.sleep(1.0)
        assert version() == 3  # broken saves are shown, not deployed
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "Q0101" in output and "not deployed" in output
    assert "Q1003" in output and "running version stays" in output
    assert "Traceback" not in output


# ------------------------------------------------------------------ names in URLs


def test_a_name_with_a_slash_cannot_reach_another_route(server, tmp_path):
    """`deploy --name main/rollback` used to POST /scripts/main/rollback: a rollback."""
    script = tmp_path / "main.qs"
    script.write_text('inbound:\n    answer\n    queue to "sales"\n')
    assert cli(server, "deploy", str(script)).exit_code == 0   # version 2 active
    result = cli(server, "deploy", str(script), "--name", "main/rollback")
    assert result.exit_code == 2 and 'invalid script name "main/rollback"' in result.output
    assert server.call(lambda: server.runtime.versions["main"]) == 2
    for args in (["rollback", "../main"], ["hot", "out/age", "on"], ["agent", "login", "al ice"],
                 ["agent", "login", "x" * 101]):
        result = cli(server, *args)
        assert result.exit_code == 2, args
        assert "invalid" in result.output and "letters, digits" in result.output, args
    assert server.call(lambda: server.runtime.versions["main"]) == 2


def test_a_script_file_name_that_is_not_a_valid_name_needs_name(server, tmp_path):
    script = tmp_path / "my script.qs"
    script.write_text(SCRIPT)
    result = cli(server, "deploy", str(script))
    assert result.exit_code == 2 and 'invalid script name "my script"' in result.output
    assert "--name" in result.output
    assert cli(server, "deploy", str(script), "--name", "my-script").exit_code == 0


def test_the_server_refuses_invalid_names_in_paths(server):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in (("POST", "/scripts/main%2Frollback"), ("GET", "/scripts/a%20b"),
                         ("POST", "/scripts/.hidden/rollback"), ("POST", "/hot-prompts/out%2Fage"),
                         ("POST", "/agents/al%20ice/login"), ("GET", "/scripts/" + "x" * 101)):
        body = {"source": SCRIPT} if path == "/scripts/main%2Frollback" else {}
        response = httpx.request(method, server.url + path, headers=headers, json=body)
        assert response.status_code == 400, path
        assert "letters, digits" in response.json()["error"], path
    assert server.call(lambda: server.runtime.versions["main"]) == 1


# ------------------------------------------------------------------ request bodies


def _post(server, path, payload=None, content=None):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.post(server.url + path, headers=headers, json=payload, content=content)


@pytest.mark.parametrize("path, payload, expected", [
    ("/hot-prompts/outage", {"active": "false"}, '"active" must be true or false'),
    ("/hot-prompts/outage", {"active": 1}, '"active" must be true or false'),
    ("/hot-prompts/outage", {"active": None}, 'needs "active"'),
    ("/hot-prompts/outage", {}, 'needs "active"'),
    ("/hot-prompts/outage", {"activ": True}, 'unknown field "activ"'),
    ("/scripts/main/rollback", {"version": 1.9}, '"version" must be a whole number'),
    ("/scripts/main/rollback", {"version": True}, '"version" must be a whole number'),
    ("/scripts/main/rollback", {"version": "1"}, '"version" must be a whole number'),
    ("/scripts/main/rollback", {"version": 0}, '"version" must be a whole number from 1'),
    ("/scripts/main/rollback", {"version": 10 ** 30}, '"version" must be a whole number'),
    ("/scripts/main", {"source": SCRIPT, "source_name": 5}, '"source_name" must be'),
    ("/scripts/main", {"source": SCRIPT, "source_name": "a\nb"}, '"source_name" must be'),
    ("/scripts/main", {"source": SCRIPT, "comment": ["x"]}, '"comment" must be'),
    ("/scripts/main", {"source": SCRIPT, "comment": "x" * 1001}, '"comment" must be'),
    ("/scripts/main", {"source": 42}, '"source" must be'),
    ("/scripts/main", {"comment": "no source"}, 'needs "source"'),
    ("/agents/alice/pause", {"reason": 5}, '"reason" must be'),
    ("/agents/alice/pause", {"reason": "x" * 201}, '"reason" must be'),
    ("/agents/alice/login", {"groups": {"support": 10 ** 30}}, '"groups" must be'),
    ("/agents/alice/login", {"groups": {"sup port": 0}}, '"groups" must be'),
    ("/agents/alice/login", {"groups": ["support"], "reason": 7}, '"reason" must be'),
    ("/agents/alice/logout", {"groups": ["support"]}, 'unknown field "groups"'),
    ("/agents/alice/groups", {}, 'needs "groups"'),
    ("/agents/alice/ready", {"groups": ["support"]}, 'unknown field "groups"'),
])
def test_every_field_is_checked_and_refused_with_what_is_expected(server, path, payload,
                                                                   expected):
    before = server.call(lambda: (dict(server.runtime.center.hot_prompts),
                                  dict(server.runtime.versions)))
    response = _post(server, path, payload)
    assert response.status_code == 400, (path, payload, response.text)
    assert expected in response.json()["error"], response.json()
    after = server.call(lambda: (dict(server.runtime.center.hot_prompts),
                                 dict(server.runtime.versions)))
    assert after == before  # nothing was done


def test_the_string_false_does_not_switch_a_hot_prompt_on(server):
    assert _post(server, "/hot-prompts/outage", {"active": "false"}).status_code == 400
    assert server.call(lambda: server.runtime.center.hot_prompts["outage"]) is False
    assert _post(server, "/hot-prompts/outage", {"active": True}).status_code == 200
    assert server.call(lambda: server.runtime.center.hot_prompts["outage"]) is True


@pytest.mark.parametrize("content", [b"[1, 2]", b'"text"', b"NaN", b'{"version": Infinity}',
                                     b"[" * 100_000, b'{"version": 1' + b"0" * 5000 + b"}",
                                     b"\xff\xfe{}"])
def test_bodies_that_are_not_json_objects_are_400(server, content):
    response = _post(server, "/scripts/main/rollback", content=content)
    assert response.status_code == 400, response.text
    assert "JSON" in response.json()["error"]


def test_an_oversized_body_is_413_in_json(server):
    from runtime.live.control import MAX_BODY
    response = _post(server, "/scripts/main", content=b'{"source": "' + b"x" * (MAX_BODY + 10)
                     + b'"}')
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


def test_a_script_as_large_as_the_compiler_accepts_can_be_deployed(server):
    from qscript.source import MAX_SOURCE_BYTES
    filler = "# " + "é" * 1000 + "\n"
    text = SCRIPT + filler * ((MAX_SOURCE_BYTES - len(SCRIPT) - 10) // len(filler.encode()))
    assert len(text.encode()) <= MAX_SOURCE_BYTES
    response = httpx.post(server.url + "/scripts/main", json={"source": text}, timeout=60,
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text[:300]
    too_big = text + "#" * (MAX_SOURCE_BYTES - len(text.encode()) + 1)
    response = httpx.post(server.url + "/scripts/main", json={"source": too_big}, timeout=60,
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400 and '"source" must be' in response.json()["error"]


@pytest.mark.parametrize("args, message", [
    (["agent", "groups", "alice"], "--group"),
    (["agent", "ready", "alice", "--group", "support"], "--group is for login and groups"),
    (["agent", "login", "alice", "--reason", "lunch"], "--reason is for pause"),
])
def test_agent_options_that_do_not_fit_the_action_are_usage_errors(server, args, message):
    result = cli(server, *args)
    assert result.exit_code == 2 and message in result.output


def test_agent_groups_replaces_the_groups(server):
    assert cli(server, "agent", "login", "alice").exit_code == 0
    assert cli(server, "agent", "groups", "alice", "--group", "sales").exit_code == 0
    status = json.loads(cli(server, "status", "--json").output)
    assert next(a for a in status["agents"] if a["id"] == "alice")["groups"] == {"sales": 0}


def test_status_gives_each_groups_service_level_target(server):
    status = json.loads(cli(server, "status", "--json").output)
    targets = {g["name"]: g["service_level_target_percent"] for g in status["groups"]}
    assert targets == {"support": 80.0, "sales": 80.0}


# ------------------------------------------------------------------ what failed, said plainly


class Canned:
    """An HTTP server answering every request with one canned response (status, body)."""

    def __init__(self, status: int, body: bytes, content_type="application/json", delay=0.0):
        import http.server
        import time as time_module
        canned = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                time_module.sleep(canned.delay)
                self.send_response(canned.status)
                self.send_header("Content-Type", canned.content_type)
                self.send_header("Content-Length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.status, self.body, self.content_type, self.delay = status, body, content_type, delay
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _deploy_against(canned, tmp_path, *extra):
    script = tmp_path / "main.qs"
    script.write_text(SCRIPT)
    try:
        return CliRunner().invoke(main, ["deploy", str(script), "--url", canned.url,
                                         "--token", TOKEN, *extra])
    finally:
        canned.close()


@pytest.mark.parametrize("status, body, content_type, expected", [
    (500, b'{"error": "internal error: database is locked"}', "application/json",
     ["HTTP 500", "internal error: database is locked"]),
    (400, b'{"error": "\\"comment\\" must be a text"}', "application/json",
     ["HTTP 400", '"comment" must be a text']),
    (502, b"<html><body>Bad Gateway</body></html>", "text/html", ["HTTP 502", "Bad Gateway"]),
    (404, b"[1, 2]", "application/json", ["HTTP 404"]),
    (200, b"[]", "application/json", ["unexpected answer"]),
    (200, b'{"ok": true}', "application/json", ["unexpected answer"]),
])
def test_deploy_says_what_failed(tmp_path, status, body, content_type, expected):
    result = _deploy_against(Canned(status, body, content_type), tmp_path)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is None or \
        isinstance(result.exception, SystemExit), result.exception
    assert "does not compile" not in result.output
    for text in expected:
        assert text in result.output, result.output


def test_deploy_that_times_out_says_the_version_is_unknown(tmp_path):
    result = _deploy_against(Canned(200, b"{}", delay=3), tmp_path, "--timeout", "0.5")
    assert result.exit_code == 1
    assert "did not answer within 0.5 s" in result.output
    assert "may" in result.output and "qscript status" in result.output
    assert "does not compile" not in result.output


def test_deploy_to_nobody_says_the_connection_was_refused(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "main.qs"
    script.write_text(SCRIPT)
    result = CliRunner().invoke(main, ["deploy", str(script), "--url", f"http://127.0.0.1:{port}",
                                       "--token", TOKEN])
    assert result.exit_code == 1
    assert f"cannot reach the runtime at http://127.0.0.1:{port}" in result.output
    assert "refused" in result.output.lower() and "does not compile" not in result.output


@pytest.mark.parametrize("args", [["agent", "login", "alice"], ["hot", "outage", "on"],
                                  ["rollback", "main"], ["status"]])
def test_other_commands_survive_odd_answers(tmp_path, args):
    for status, body in ((400, b"[1]"), (500, b'"oops"'), (200, b"[]"), (409, b"{}")):
        canned = Canned(status, body)
        try:
            result = CliRunner().invoke(main, [*args, "--url", canned.url, "--token", TOKEN])
        finally:
            canned.close()
        assert result.exit_code == 1, (args, status, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            (args, status, repr(result.exception))


def test_watch_keeps_watching_while_the_runtime_is_down(tmp_path):
    import subprocess
    import sys
    import time
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "main.qs"
    script.write_text(SCRIPT)
    process = subprocess.Popen(
        [sys.executable, "-m", "qscript", "watch", str(script), "--url", f"http://127.0.0.1:{port}",
         "--token", TOKEN, "--interval", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)
        assert process.poll() is None, "watch stopped when the runtime could not be reached"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"cannot reach the runtime at http://127.0.0.1:{port}" in output
    assert "Traceback" not in output


def test_changes_through_the_api_are_in_the_audit_log(server):
    from runtime.store.console import audit_entries
    assert cli(server, "agent", "login", "alice").exit_code == 0
    assert cli(server, "agent", "pause", "alice", "--reason", "lunch").exit_code == 0
    assert cli(server, "hot", "outage", "on").exit_code == 0
    failed = cli(server, "agent", "login", "nobody")  # refused: nothing changed, nothing logged
    assert failed.exit_code == 1

    def logged():
        return [(e.user, e.action, e.target, json.loads(e.detail))
                for e in reversed(audit_entries(server.runtime.store))]
    import time
    deadline = time.monotonic() + 5
    while len(logged()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logged() == [("control-api", "agent.login", "alice", {}),
                        ("control-api", "agent.pause", "alice", {"reason": "lunch"}),
                        ("control-api", "hot_prompt.on", "outage", {})]
