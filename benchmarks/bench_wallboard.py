"""Open wallboards must not slow the calls: event->command p99 with 0 and 100 boards.

The live runtime runs against the in-process ARI fake (tests/runtime/fake_ari.py)
with a steady call load: RATE new calls a second, queued to one group of AGENTS
agents who answer at once and talk TALK seconds on average (uniform 0.5-1.5 x);
a caller nobody took hangs up after HOLD seconds, and every caller waiting hears
their position every 10 s. With the defaults (20 calls/s, 100 agents talking 6 s)
the offered load is above the agents' capacity, so the board shows a queue of
tens of waiting calls, ringing, talking and abandons: real updates every second.

Each phase is its own process (a fresh runtime, nothing left over from the
other): first no board, then BOARDS server-sent-event clients, real HTTP clients
(aiohttp ClientSession reading the stream) in a separate process, so that their
reading costs the machine but not the runtime's event loop (the browsers of a
call centre are elsewhere too). They read the console's own wallboard route,
GET /console/wallboard/events on the control server as ``qscript serve`` runs
it, with a supervisor's session cookie.

After WARMUP seconds the runtime's latency figures are cleared and SECONDS of
load are measured: runtime.metrics()["latency"] (ARI event -> first command,
p50/p95/p99, the bar is p99 < 20 ms), the event loop's lag, the runtime's CPU
share; for the boards: updates built, updates and bytes each board received, and
how old an update was when it arrived (its "at" to the client's clock).

    .venv/bin/python benchmarks/bench_wallboard.py [--boards 100] [--rate 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "runtime"))

SCRIPT = """inbound:
    answer
    queue to "support"
queue:
    every 10s:
        announce position
"""


def site_yaml(agents: int) -> str:
    lines = ["site: Wallboard load", "languages: [en]", "groups:",
             "  support: {service_level_threshold: 20s, service_level_target: 80%}",
             "prompts:", "  queue-position: beep", "agents:"]
    for number in range(agents):
        lines.append(f"  - {{id: agent{number:03d}, name: Agent {number}, "
                     f"endpoint: PJSIP/agent{number:03d}, groups: [support]}}")
    lines += ["numbers:", "  default: main.qs", "database: sqlite:///board.db"]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------ the runtime's process


def load_ari(talk: float):
    from fake_ari import FakeAri

    class LoadAri(FakeAri):
        """The fake, with agents who hang up after talking, and a bounded request log."""

        def __init__(self) -> None:
            super().__init__(play_seconds=0.5, answer_seconds=0.01)
            self.requests = deque(maxlen=1000)  # type: ignore[assignment]

        async def originate(self, endpoint, channel_id, app_args, timeout, caller_id="",
                            variables=None, formats="ulaw"):
            await super().originate(endpoint, channel_id, app_args, timeout, caller_id,
                                    variables, formats)
            seconds = self.answer_seconds + talk * random.uniform(0.5, 1.5)
            asyncio.get_running_loop().call_later(seconds, self._talked, channel_id)

        def _talked(self, channel_id: str) -> None:
            if channel_id in self.channels:
                self.agent_hangs_up(channel_id)

    return LoadAri()


async def make_calls(fake, rate: float, hold: float, stop: asyncio.Event) -> int:
    loop = asyncio.get_running_loop()
    made = 0
    interval = 1.0 / rate
    next_call = loop.time()
    while not stop.is_set():
        channel = f"caller-{made}"
        fake.new_call(channel, caller=f"07{made:08d}")
        made += 1
        loop.call_later(hold, lambda c=channel: c in fake.channels and fake.caller_hangs_up(c))
        next_call += interval
        await asyncio.sleep(max(0.0, next_call - loop.time()))
    return made


SUPERVISOR, PASSWORD = "board-sup", "bench-password-1"


async def serve_boards(runtime, port: int):
    """The control server with the web console (as ``qscript serve`` runs it), a
    supervisor logged in: the boards read /console/wallboard/events with that session's
    cookie (one login for all: a hundred argon2 checks would only time the login)."""
    import re

    import aiohttp
    from runtime.live.control import start_control
    runner = await start_control(runtime, "127.0.0.1", port, "bench-token")
    base = f"http://127.0.0.1:{port}/console"
    # (unsafe: the jar keeps cookies of an IP address, 127.0.0.1)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        form = await (await session.get(f"{base}/login")).text()
        token = re.search(r'name="login_token" value="([^"]+)"', form).group(1)
        answer = await session.post(f"{base}/login", allow_redirects=False, data={
            "name": SUPERVISOR, "password": PASSWORD, "login_token": token, "next": ""})
        assert answer.status == 302, await answer.text()
        cookie = next(c for c in session.cookie_jar if c.key == "qscript_session")
    headers = {"Cookie": f"qscript_session={cookie.value}", "Accept": "text/event-stream"}
    return runner, f"{base}/wallboard/events", headers, "GET /console/wallboard/events"


async def run_phase(args) -> dict:
    from runtime.live.runtime import LiveRuntime
    from runtime.site import load_site_text
    from runtime.store import console as tables
    from runtime.store.database import Store
    from runtime.web.security import hash_password

    # (the runtime warns of each slow hand-off: on a loaded machine, many; the figures
    # say it all)
    logging.basicConfig(level=logging.ERROR)
    workdir = Path(tempfile.mkdtemp(prefix="qscript-board-"))
    (workdir / "main.qs").write_text(SCRIPT)
    site = load_site_text(site_yaml(args.agents), str(workdir / "site.yaml"), workdir)
    os.chdir(workdir)
    fake = load_ari(args.talk)
    store = Store(f"sqlite:///{workdir / 'board.db'}")
    store.apply([tables.web_user_op(SUPERVISOR, hash_password(PASSWORD), "supervisor", "",
                                    True)])
    runtime = LiveRuntime(site, fake, store, loop=asyncio.get_running_loop())
    await runtime.start()
    for number in range(args.agents):
        runtime.agent_action(f"agent{number:03d}", "login")
    clients = runner = None
    route = "no board"
    if args.boards:
        runner, url, headers, route = await serve_boards(runtime, free_port())
        clients = subprocess.Popen(
            [sys.executable, __file__, "--clients", url, "--boards", str(args.boards),
             "--headers", json.dumps(headers)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while runtime.board.boards < args.boards and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    boards_connected = runtime.board.boards
    stop = asyncio.Event()
    caller = asyncio.create_task(make_calls(fake, args.rate, args.hold, stop))
    await asyncio.sleep(args.warmup)
    runtime.driver.latency.clear()
    runtime.loop_lag.clear()
    runtime.board.tick_time.clear()
    for recorder in runtime.gc_pauses:
        recorder.clear()
    builds, cpu, started = runtime.board.builds, time.process_time(), time.monotonic()
    await asyncio.sleep(args.seconds)
    metrics = runtime.metrics()
    window = time.monotonic() - started
    cpu = (time.process_time() - cpu) / window
    builds = runtime.board.builds - builds
    snapshot_bytes = len(json.dumps(runtime.board.build(), separators=(",", ":")))
    waiting = runtime.center.call_count()
    stop.set()
    made = await caller
    received = None
    if clients is not None:
        clients.send_signal(signal.SIGTERM)
        out, _ = clients.communicate(timeout=30)
        received = json.loads(out) if out.strip() else None
    if runner is not None:
        await runner.cleanup()
    await asyncio.sleep(0.2)   # the last requests go out before the runtime closes
    await runtime.close()
    return {"boards": args.boards, "boards_connected": boards_connected, "route": route,
            "calls_made": made, "calls_up_at_end": waiting,
            "event_to_command_ms": metrics["latency"], "loop_lag_ms": metrics["loop_lag"],
            "gc_pauses_ms": metrics["gc"],
            "runtime_cpu_share_of_one_core": round(cpu, 3), "window_s": round(window, 1),
            "updates_built": builds, "update_on_the_loop_ms": metrics["wallboard"]["update_ms"],
            "snapshot_bytes_at_end": snapshot_bytes,
            "boards_received": received}


# ------------------------------------------------------------ the boards' process


async def read_boards(url: str, count: int, headers: dict) -> dict:
    import aiohttp
    updates = [0] * count
    size = [0] * count
    delays: list[float] = []
    keepalives = [0]
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    errors: list[str] = []

    async def board(index: int, session) -> None:
        try:
            async with session.get(url, headers=headers) as response:
                if response.status != 200:
                    errors.append(f"HTTP {response.status}")
                    return
                pending = b""
                async for chunk in response.content.iter_any():
                    pending += chunk
                    *events, pending = pending.split(b"\n\n")
                    for event in events:
                        size[index] += len(event) + 2
                        if event.startswith(b":"):
                            keepalives[0] += 1
                            continue
                        if b"data: " not in event:
                            continue       # the stream's opening "retry:" line
                        updates[index] += 1
                        at = event.find(b'"at":')
                        if at >= 0:
                            end = event.find(b",", at)
                            delays.append(time.time() - float(event[at + 5:end]))
        except (aiohttp.ClientError, asyncio.CancelledError) as error:
            if not stopping.is_set():
                errors.append(repr(error))

    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=timeout) as session:
        tasks = [asyncio.create_task(board(n, session)) for n in range(count)]
        await stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    delays.sort()

    def at(fraction: float) -> float | None:
        return round(delays[int(fraction * (len(delays) - 1))] * 1000, 1) if delays else None
    return {"updates_per_board_min_max": [min(updates), max(updates)],
            "bytes_per_board_max": max(size), "keepalives": keepalives[0],
            "update_age_on_arrival_ms": {"p50": at(0.5), "p99": at(0.99), "max": at(1.0)},
            "errors": errors[:5]}


# ------------------------------------------------------------ the orchestration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="new calls per second")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--talk", type=float, default=6.0, help="mean talk seconds")
    parser.add_argument("--hold", type=float, default=20.0,
                        help="seconds an unanswered caller waits before hanging up")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clients", help=argparse.SUPPRESS)
    parser.add_argument("--headers", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients:
        print(json.dumps(asyncio.run(read_boards(args.clients, args.boards,
                                                 json.loads(args.headers)))))
        return
    if args.phase:
        print(json.dumps(asyncio.run(run_phase(args))))
        return
    results = []
    for boards in (0, args.boards):
        command = [sys.executable, __file__, "--phase", "--boards", str(boards)] + [
            f"--{name}={getattr(args, name)}"
            for name in ("rate", "agents", "talk", "hold", "warmup", "seconds")]
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    print(json.dumps(results, indent=2))
    for result in results:
        latency = result["event_to_command_ms"]
        print(f"{result['boards']:>4} boards: event->command p50 {latency['p50_ms']} ms, "
              f"p95 {latency['p95_ms']} ms, p99 {latency['p99_ms']} ms "
              f"({latency['count']} events), runtime CPU "
              f"{result['runtime_cpu_share_of_one_core']:.0%} of a core, "
              f"{result['updates_built']} updates built, each "
              f"{result['update_on_the_loop_ms']['p50_ms']} ms on the loop "
              f"(p99 {result['update_on_the_loop_ms']['p99_ms']} ms)")
    print(f"load average now: {[round(x, 2) for x in os.getloadavg()]} on {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
