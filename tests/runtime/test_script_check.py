"""The script editor's live diagnostics: the check payload and its control API route."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from runtime.live.control import build_app
from runtime.live.runtime import LiveRuntime
from runtime.live.script_check import check_payload
from runtime.site import load_site_text
from runtime.store.database import Store

from fake_ari import FakeAri

SITE = """site: Check test
languages: [en]
groups:
  support: {}
prompts:
  welcome: en/welcome
numbers:
  default: main.qs
"""
GOOD = 'inbound:\n    answer\n    play "welcome"\n    queue to "support"\n'
TOKEN = "check-token"


def load(tmp_path):
    (tmp_path / "main.qs").write_text(GOOD)
    return load_site_text(SITE, str(tmp_path / "site.yaml"), tmp_path)


def test_a_clean_script_has_no_diagnostics(tmp_path):
    assert check_payload(GOOD, "main", load(tmp_path)) == {
        "ok": True, "errors": 0, "warnings": 0, "diagnostics": []}


def test_an_unknown_group_is_reported_at_its_line_and_column_with_a_hint(tmp_path):
    payload = check_payload(GOOD.replace('"support"', '"suport"'), "main", load(tmp_path))
    assert payload["ok"] is False and payload["errors"] == 1
    [diagnostic] = payload["diagnostics"]
    assert (diagnostic["line"], diagnostic["col"], diagnostic["severity"]) == (4, 14, "error")
    assert diagnostic["code"].startswith("Q") and "suport" in diagnostic["message"]
    assert 'did you mean "support"' in (diagnostic["hint"] or "")
    assert diagnostic["end_line"] == 4 and diagnostic["end_col"] > diagnostic["col"]
    assert "main.qs:4:14" in diagnostic["rendered"]


def test_a_syntax_error_is_located(tmp_path):
    payload = check_payload("inbound:\n    answer\n    queue to\n", "main", load(tmp_path))
    assert not payload["ok"]
    assert payload["diagnostics"][0]["line"] == 3


def test_without_a_site_names_are_not_checked():
    assert check_payload(GOOD.replace('"support"', '"anything"'), "main")["ok"] is True


def test_the_control_api_checks_without_deploying(tmp_path):
    site = load(tmp_path)

    async def scenario():
        runtime = LiveRuntime(site, FakeAri(), Store(f"sqlite:///{tmp_path / 'q.db'}"),
                              loop=asyncio.get_running_loop())
        await runtime.start()
        client = TestClient(TestServer(build_app(runtime, TOKEN)))
        await client.start_server()
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            response = await client.post("/scripts/main/check", headers=headers,
                                         json={"source": GOOD.replace("welcome", "welcom")})
            answer = await response.json()
            assert response.status == 200 and answer["errors"] == 1, answer
            assert answer["diagnostics"][0]["line"] == 3
            assert [v.version for v in await runtime.stored_versions("main")] == [1]
            response = await client.post("/scripts/main/check", headers=headers, json={})
            assert response.status == 400
            assert 'check needs "source"' in (await response.json())["error"]
        finally:
            await client.close()
            await runtime.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
