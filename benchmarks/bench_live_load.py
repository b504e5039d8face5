"""Load on the live runtime through a real Asterisk.

Starts Asterisk (the test harness), runs `qscript serve` as its own process
(so its CPU can be measured alone), logs in simulated agents
(Local/<id>@qtest-agent, talking TALK seconds per call) and makes calls from
this process: Local channels into the runtime's Stasis app at RATE new calls
per second. Each caller hangs up after HOLD seconds if no agent took them, so
about RATE × HOLD calls are up at once (400 at the defaults). Calls wait with
music on hold and hear their position every 30 s.

Reported (goals from issue 4): no failed or leftover call; ARI event →
runtime command latency p50/p95/p99 (p99 < 20 ms); runtime CPU share of one
core (≤ 25%); agent hand-off p50/p95/p99 — from an agent becoming free to
the next caller being connected (p99 < 100 ms).

    .venv/bin/python benchmarks/bench_live_load.py [--rate 20] [--hold 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live.asterisk_harness import AsteriskHarness  # noqa: E402
from tests.live.callers import Callers  # noqa: E402

SCRIPT = """inbound:
    answer
    queue to "support"
queue:
    every 30s:
        announce position
"""


def site_yaml(agents: int, talk: float, control_port: int) -> str:
    lines = ["site: Load test", "languages: [en]", "groups:", "  support: {}",
             "prompts:", "  queue-position: beep", "agents:"]
    for number in range(agents):
        lines.append(f"  - {{id: agent{number:03d}, endpoint: Local/agent{number:03d}@qtest-agent, "
                     f"groups: [support], variables: {{AGENT_TALK_TIME: '{talk}', "
                     f"AGENT_ANSWER_DELAY: '0'}}}}")
    lines += ["numbers:", "  default: main.qs",
              "ari: {url: 'http://127.0.0.1:8088', user: qtest, app: qtest, "
              "password_env: QSCRIPT_ARI_PASSWORD}",
              "database: sqlite:///load.db"]
    return "\n".join(lines) + "\n"


class Connection:
    def __init__(self, harness):
        self.ari_url = "http://127.0.0.1:8088/ari"
        self.auth = ("qtest", "qtest")
        self.harness = harness

    def events_url(self, app=None, subscribe_all=False):
        return f"ws://127.0.0.1:8088/ari/events?app={app}&api_key=qtest:qtest"


def process_cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0.0 if it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


async def load(args, control: str, token: str, harness) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=control, headers=headers, timeout=10) as api:
        for number in range(args.agents):
            response = await api.post(f"/agents/agent{number:03d}/login", json={})
            response.raise_for_status()
        async with Callers(Connection(harness)) as callers:
            started = time.monotonic()
            before = (await api.get("/metrics")).json()
            asterisk_cpu = process_cpu_seconds(harness.pid())
            peak = 0
            made = 0
            hangups = []

            async def caller_session(channel):
                await asyncio.sleep(args.hold)
                await callers.hang_up(channel)

            interval = 1.0 / args.rate
            next_call = time.monotonic()
            while time.monotonic() - started < args.seconds:
                try:
                    channel = await callers.call("5000", caller=f"07{made:08d}")
                    made += 1
                    hangups.append(asyncio.create_task(caller_session(channel)))
                except httpx.HTTPError as error:
                    print("originate failed:", error)
                next_call += interval
                await asyncio.sleep(max(0.0, next_call - time.monotonic()))
                if made % args.rate == 0:
                    status = (await api.get("/metrics")).json()
                    peak = max(peak, status["calls"])
            after_load = (await api.get("/metrics")).json()
            window = time.monotonic() - started
            asterisk_cpu = (process_cpu_seconds(harness.pid()) - asterisk_cpu) / window
            load_average = os.getloadavg()
            await asyncio.gather(*hangups)
            await asyncio.sleep(args.talk + 5)  # drain
            drained = (await api.get("/metrics")).json()
            channels = (await callers.http.get("/channels")).json()
    cpu = (after_load["cpu_seconds"] - before["cpu_seconds"]) / window
    return {"calls_made": made, "peak_concurrent_calls": peak, "window_s": round(window, 1),
            "runtime_cpu_share_of_one_core": round(cpu, 3),
            "asterisk_cpu_share_of_one_core": round(asterisk_cpu, 3),
            "machine_load_average_1_5_15_min": [round(x, 2) for x in load_average],
            "machine_cpus": os.cpu_count(),
            "event_to_command_ms": after_load["latency"], "handoff_ms": after_load["handoff"],
            "handoff_stages_ms": after_load.get("handoff_stages"),
            "loop_lag_ms": after_load.get("loop_lag"), "gc_pauses_ms": after_load.get("gc"),
            "events_received": after_load.get("events"),
            "calls_left_in_runtime": drained["calls"], "channels_left_in_asterisk": len(channels)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--talk", type=float, default=10.0)
    parser.add_argument("--profile", help="write a py-spy profile of the runtime to this file")
    args = parser.parse_args()
    harness = AsteriskHarness()
    harness.start()
    workdir = Path(tempfile.mkdtemp(prefix="qscript-load-"))
    port = 18089
    (workdir / "main.qs").write_text(SCRIPT)
    (workdir / "site.yaml").write_text(site_yaml(args.agents, args.talk, port))
    token = "load-test-token"
    env = dict(os.environ, QSCRIPT_ARI_PASSWORD="qtest", QSCRIPT_CONTROL_TOKEN=token)
    server = subprocess.Popen([str(ROOT / ".venv/bin/qscript"), "serve", "--site",
                               str(workdir / "site.yaml"), "--control", f"127.0.0.1:{port}"],
                              cwd=workdir, env=env, stderr=open(workdir / "serve.log", "w"))
    try:
        control = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(control + "/status", headers={"Authorization": f"Bearer {token}"},
                             timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        spy = None
        if args.profile:
            spy = subprocess.Popen([str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(server.pid),
                                    "--duration", str(int(args.seconds)), "--format", "raw",
                                    "-o", args.profile, "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = asyncio.run(load(args, control, token, harness))
        if spy is not None:
            spy.wait(timeout=60)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)
    with sqlite3.connect(workdir / "load.db") as db:
        outcomes = dict(db.execute("select outcome, count(*) from calls group by outcome"))
    result["outcomes"] = outcomes
    result["failed_calls"] = outcomes.get("failed", 0)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
