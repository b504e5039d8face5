"""Lookups and custom commands in the live runtime never hold up other calls.

A lookup (an SQLite database locked by another program, a CSV file of many
megabytes re-read after a change) or a custom command (a CRM call that
hangs) may block for seconds. The live runtime serves every call from one
event loop: such work must run elsewhere, or one slow lookup freezes every
call in the centre. These tests run the live runtime on the in-process ARI
fake and measure how long another call waits for its events to be handled.

What a timeout means is tested too: a lookup that does not answer in time
(or fails) is "not found" and the call goes on; a command that does not
finish in time fails its call over, like a command that raises, with a
located error.

The same holds for what operators ask of the running runtime on the loop:
``status`` with thousands of waiting calls, ``metrics`` after millions of
events.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import threading
import time
from pathlib import Path

from runtime.live.runtime import LiveRuntime
from runtime.site import load_site_text
from runtime.store.database import Store

from fake_ari import FakeAri

SITE = """site: Blocking test
languages: [en]
groups:
  support: {{}}
  rescue: {{}}
agents:
  - {{id: alice, name: Alice, endpoint: PJSIP/alice, groups: [rescue]}}
prompts:
  main-menu: en/main-menu
  known: en/known
  unknown: en/unknown
numbers:
  default: test.qs
fallback: {{group: rescue}}
lookups:
  crm: {{type: sqlite, path: crm.db, table: customers, key: phone,
        fields: {{name: string}}{lookup_timeout}}}
  customers: {{type: csv, path: customers.csv, key: number, fields: {{name: string}}}}
commands: {{modules: [{module}]{command_timeout}}}
"""

COMMANDS = """import threading
import time

from qscript.extensions import command

#: Set by the tests: what a command saw of its call, and when it ended.
seen = []
finished = threading.Event()


@command
def slow_crm(call, number: str, seconds: float) -> str:
    time.sleep(seconds)
    # The context stays usable after the call has ended (it is the command's own copy).
    seen.append((call["caller"], call["record"].caller, call["digits"]))
    finished.set()
    return "case-" + number
"""

SCRIPT = """inbound:
    answer
    menu "main-menu" timeout 5s retries 0:
        key 1:
            do slow_crm(call.caller, 2) into case
            log case
            queue to "support"
        key 2:
            lookup "crm" by call.caller into customer
            if customer.found:
                play "known"
            else:
                play "unknown"
            queue to "support"
        key 3:
            lookup "customers" by call.caller into exported
            if exported.found:
                play "known"
            else:
                play "unknown"
            queue to "support"
        key 4:
            do slow_crm(call.caller, 0) into case
            log case
            queue to "support"
        key 5:
            queue to "support", "rescue"
        key 6:
            queue to "rescue"
    hangup
"""

_modules = itertools.count(1)


class Running:
    """A started LiveRuntime on the ARI fake, with a command module of its own."""

    def __init__(self, tmp_path: Path, *, lookup_timeout: str = "", command_timeout: str = "",
                 csv_rows: int = 3):
        self.module = f"qs_blocking_commands_{next(_modules)}"
        (tmp_path / "test.qs").write_text(SCRIPT)
        (tmp_path / f"{self.module}.py").write_text(COMMANDS)
        self.crm = tmp_path / "crm.db"
        with sqlite3.connect(self.crm) as db:
            db.execute("CREATE TABLE customers (phone TEXT, name TEXT)")
            db.execute("INSERT INTO customers VALUES ('0701111111', 'Ada')")
        db.close()
        self.customers = tmp_path / "customers.csv"
        write_customers(self.customers, csv_rows)
        site_text = SITE.format(
            module=self.module,
            lookup_timeout=f", timeout: {lookup_timeout}" if lookup_timeout else "",
            command_timeout=f", timeout: {command_timeout}" if command_timeout else "")
        self.site = load_site_text(site_text, "site.yaml", tmp_path)
        self.store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
        self.fake = FakeAri()
        self.records: list = []

    async def __aenter__(self) -> "Running":
        self.runtime = LiveRuntime(self.site, self.fake, self.store,
                                   loop=asyncio.get_running_loop())
        previous = self.runtime.center.on_record
        self.runtime.center.on_record = lambda r: (self.records.append(r),
                                                   previous(r) if previous is not None else None)
        await self.runtime.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runtime.close()
        self.site.close()
        self.store.close()

    @property
    def commands(self):
        import sys
        return sys.modules[self.module]

    def record(self, call_id: str):
        return next((r for r in self.records if r.call_id == call_id), None)

    async def start_call(self, channel: str, caller: str, key: str) -> None:
        """A call that reaches the menu and presses ``key``."""
        await self.reach_menu(channel, caller)
        self.fake.press(channel, key)

    async def reach_menu(self, channel: str, caller: str) -> None:
        self.fake.new_call(channel, caller=caller)
        await wait_until(lambda: any(r[0] == "play" and r[1] == channel
                                     for r in self.fake.requests), 2, f"{channel}'s menu")

    async def press_while_another_calls(self, channel: str, key: str, other: str) -> float:
        """``channel`` presses ``key`` as ``other`` calls in (the events arrive together);
        how long ``other`` waits for its answer (its first event handled)."""
        started = time.monotonic()
        self.fake.press(channel, key)
        self.fake.new_call(other, caller="0709999999")
        await wait_until(lambda: ("answer", other) in self.fake.requests, 10,
                         f"{other} to be answered")
        return time.monotonic() - started


def write_customers(path: Path, rows: int, name: str = "Customer") -> None:
    with path.open("w") as out:
        out.write("number,name\n")
        out.write("0701111111,Ada\n")
        for index in range(rows):
            out.write(f"07{index + 20_000_000:08d},{name} number {index}\n")


async def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


class LoopLag:
    """The longest the event loop was kept from running a 10 ms timer."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def __aenter__(self) -> "LoopLag":
        async def tick():
            while True:
                before = time.monotonic()
                await asyncio.sleep(0.01)
                self.lags.append(time.monotonic() - before - 0.01)
        self._task = asyncio.create_task(tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()

    @property
    def worst(self) -> float:
        return max(self.lags, default=0.0)


def run(scenario) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 60))


def playbacks(fake: FakeAri, channel: str) -> list[str]:
    return [media for r in fake.requests if r[0] == "play" and r[1] == channel
            for media in r[2]]


# ------------------------------------------------------------------ commands


def test_a_slow_command_does_not_delay_another_call(tmp_path):
    async def scenario():
        async with Running(tmp_path) as running:
            async with LoopLag() as lag:
                await running.reach_menu("c1", "0701111111")
                # c1's command sleeps 2 s in the CRM.
                waited = await running.press_while_another_calls("c1", "1", "c2")
                assert waited < 0.3, f"the second call waited {waited:.2f}s for the command"
                await wait_until(running.commands.finished.is_set, 5, "the command to finish")
                await wait_until(lambda: running.runtime.center.acd.has_call("c1"), 2,
                                 "c1 to queue after its command")
            assert lag.worst < 0.2, f"the loop stalled {lag.worst:.2f}s"
            assert running.runtime.center.session_for("c1").record.log == ["case-0701111111"]
    run(scenario)


def test_a_command_that_exceeds_its_timeout_fails_its_call_over(tmp_path):
    async def scenario():
        async with Running(tmp_path, command_timeout="500ms") as running:
            running.runtime.agent_action("alice", "login", {"rescue": 0})
            started = time.monotonic()
            await running.start_call("c1", "0701111111", "1")
            session = running.runtime.center.session_for("c1")
            await wait_until(lambda: session.record.error, 3, "the call to fail over")
            assert 0.4 < time.monotonic() - started < 1.5
            assert session.record.error.endswith(
                "/test.qs:5:13: command failed: custom command 'slow_crm' did not finish "
                "within 0.5s")
            # The fallback group rings its agent: the caller is not left in silence.
            await wait_until(lambda: any(r[0] == "originate" for r in running.fake.requests), 2,
                             "the fallback group to ring alice")
            # The command's late result changes nothing.
            await wait_until(running.commands.finished.is_set, 5, "the command to finish")
            await asyncio.sleep(0.05)
            assert not session.record.log and session.record.outcome == "failed"
    run(scenario)


def test_a_caller_hanging_up_during_a_command_drops_its_result(tmp_path, caplog):
    async def scenario():
        async with Running(tmp_path) as running:
            await running.start_call("c1", "0701111111", "1")
            await asyncio.sleep(0.1)
            running.fake.caller_hangs_up("c1")
            await wait_until(lambda: running.record("c1"), 2, "the call to end")
            await wait_until(running.commands.finished.is_set, 5, "the command to finish")
            await asyncio.sleep(0.1)   # its result arrives on the loop, and is dropped
            record = running.record("c1")
            assert record.outcome == "hung_up" and record.error is None and not record.log
            assert running.runtime.center.session_for("c1") is None
            assert not running.runtime.center.acd.has_call("c1")
            # The command used its context after the call had ended, without harm.
            assert running.commands.seen == [("0701111111", "0701111111", "")]
    with caplog.at_level(logging.WARNING):
        run(scenario)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_work_still_waiting_for_a_worker_when_its_caller_hangs_up_never_runs(tmp_path):
    async def scenario():
        async with Running(tmp_path) as running:
            running.runtime.driver.command_workers.max_workers = 1
            await running.start_call("c1", "0701111111", "1")     # the one worker: 2 s
            await asyncio.sleep(0.05)
            await running.start_call("c2", "0702222222", "4")     # waits for the worker
            await asyncio.sleep(0.05)
            running.fake.caller_hangs_up("c2")
            await wait_until(running.commands.finished.is_set, 5, "the first command")
            await asyncio.sleep(0.2)
            assert [caller for caller, _, _ in running.commands.seen] == ["0701111111"]
    run(scenario)


# ------------------------------------------------------------------ lookups


class LockedDatabase:
    """Another program holding an SQLite database locked (an exclusive transaction)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.connection = sqlite3.connect(self.path, isolation_level=None,
                                          check_same_thread=False)
        self.connection.execute("BEGIN EXCLUSIVE")
        return self

    def __exit__(self, *exc):
        self.connection.execute("ROLLBACK")
        self.connection.close()


def test_a_locked_sqlite_lookup_does_not_delay_another_call(tmp_path):
    async def scenario():
        async with Running(tmp_path, lookup_timeout="1s") as running:
            with LockedDatabase(running.crm):
                async with LoopLag() as lag:
                    await running.reach_menu("c1", "0701111111")
                    waited = await running.press_while_another_calls("c1", "2", "c2")
                    assert waited < 0.3, f"the second call waited {waited:.2f}s for the lookup"
                    await wait_until(lambda: "sound:en/unknown" in playbacks(running.fake, "c1"),
                                     3, "c1 to go on as not found")
                assert lag.worst < 0.2, f"the loop stalled {lag.worst:.2f}s"
            session = running.runtime.center.session_for("c1")
            assert session.record.error is None
            # The worker's SQLite busy timeout and the call's timeout are both 1 s: either says so.
            assert any('lookup "crm"' in line and ("did not answer within 1s" in line or
                                                   "database is locked" in line)
                       and "not found" in line for line in session.record.log), session.record.log
            # Once the lock is gone, lookups find the customer again.
            await running.start_call("c3", "0701111111", "2")
            await wait_until(lambda: "sound:en/known" in playbacks(running.fake, "c3"), 3,
                             "c3 to be found")
    run(scenario)


def test_a_failing_lookup_is_not_found_and_the_call_goes_on(tmp_path):
    async def scenario():
        async with Running(tmp_path) as running:
            with sqlite3.connect(running.crm) as db:
                db.execute("DROP TABLE customers")     # the CRM's export replaced it
            db.close()
            await running.start_call("c1", "0701111111", "2")
            await wait_until(lambda: "sound:en/unknown" in playbacks(running.fake, "c1"), 3,
                             "c1 to go on as not found")
            session = running.runtime.center.session_for("c1")
            assert session.record.error is None
            assert any('lookup "crm" failed' in line and "no such table" in line
                       for line in session.record.log), session.record.log
    run(scenario)


def test_reloading_a_big_csv_file_does_not_delay_another_call(tmp_path):
    async def scenario():
        async with Running(tmp_path, csv_rows=3) as running:
            # A new export of 400,000 customers: the next lookup reads it (~1 s).
            write_customers(running.customers, 400_000, name="Exported")
            async with LoopLag() as lag:
                await running.reach_menu("c1", "0701111111")
                waited = await running.press_while_another_calls("c1", "3", "c2")
                assert waited < 0.3, f"the second call waited {waited:.2f}s for the reload"
                await wait_until(lambda: playbacks(running.fake, "c1")[-1:] in
                                 (["sound:en/known"], ["sound:en/unknown"]), 10,
                                 "c1's lookup to answer")
            assert lag.worst < 0.2, f"the loop stalled {lag.worst:.2f}s"
            lookup = running.site.lookups["customers"]
            await wait_until(lambda: len(lookup) == 400_001, 20, "the reload to finish")
    run(scenario)


def test_lookups_during_a_csv_reload_answer_from_the_previous_data(tmp_path):
    from runtime.site.lookups import CsvLookup
    async def scenario():
        async with Running(tmp_path, csv_rows=3) as running:
            lookup: CsvLookup = running.site.lookups["customers"]
            write_customers(running.customers, 200_000, name="Exported")
            reloading = threading.Thread(target=lookup.find, args=("0701111111",))
            reloading.start()
            await asyncio.sleep(0.05)
            started = time.monotonic()
            found = lookup.find("0720000001")      # in the previous data
            assert time.monotonic() - started < 0.05 and found == {"name": "Customer number 1"}
            reloading.join()
            assert lookup.find("0720000001") == {"name": "Exported number 1"}
    run(scenario)


def test_sqlite_lookups_from_many_threads_at_once(tmp_path):
    async def scenario():
        async with Running(tmp_path) as running:
            lookup = running.site.lookups["crm"]
            results, errors = [], []

            def look():
                try:
                    for _ in range(200):
                        results.append(lookup.find("0701111111"))
                except Exception as error:  # noqa: BLE001 - collected for the assertion
                    errors.append(error)
            threads = [threading.Thread(target=look) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors and results == [{"name": "Ada"}] * 1600
    run(scenario)


# ------------------------------------------------------------------ status


def test_status_lists_each_groups_waiting_calls_with_their_positions(tmp_path):
    async def scenario():
        async with Running(tmp_path) as running:
            for channel, key in (("c1", "5"), ("c2", "6"), ("c3", "5")):
                await running.start_call(channel, f"070000000{channel[1]}", key)
                await wait_until(lambda: running.runtime.center.acd.has_call(channel), 2,
                                 f"{channel} to queue")
            groups = {g["name"]: g for g in running.runtime.status()["groups"]}
            assert [(w["call_id"], w["position"]) for w in groups["support"]["waiting"]] == \
                [("c1", 1), ("c3", 3)]
            assert [(w["call_id"], w["position"]) for w in groups["rescue"]["waiting"]] == \
                [("c1", 1), ("c2", 2), ("c3", 3)]
            assert groups["support"]["calls_waiting"] == 2
    run(scenario)


def test_status_with_thousands_of_waiting_calls_does_not_stall_the_loop(tmp_path):
    """`qscript status` is built on the event loop: with 2,000 calls waiting in two
    groups it took a quarter of a second (a position for each call, each counting
    the calls ahead in both groups), every time a wallboard asked."""
    async def scenario():
        async with Running(tmp_path) as running:
            center = running.runtime.center
            for index in range(2000):
                running.fake.new_call(f"w{index}", caller=f"07{index:08d}")
            await wait_until(lambda: sum(r[0] == "play" for r in running.fake.requests) >= 2000,
                             20, "the calls to reach the menu")
            for index in range(2000):
                running.fake.press(f"w{index}", "5")
            await wait_until(lambda: center.acd.calls_waiting("rescue") == 2000, 30,
                             "the calls to queue")
            started = time.perf_counter()
            status = running.runtime.status()
            took = time.perf_counter() - started
            assert len(status["groups"][0]["waiting"]) == 2000
            assert took < 0.08, f"status took {took * 1000:.0f} ms on the event loop"
    run(scenario)


# ------------------------------------------------------------------ metrics


def test_metrics_after_many_events_do_not_stall_the_loop(tmp_path):
    """GET /metrics sorted the 200,000 latency samples kept, three times per recorder
    (~0.2 s on the loop each time a monitor asked)."""
    async def scenario():
        async with Running(tmp_path) as running:
            recorders = (running.runtime.driver.latency, running.runtime.center.handoff)
            for recorder in recorders:
                for index in range(300_000):
                    recorder.record((index * 7919 % 1000) / 100_000)   # not in runs
            started = time.perf_counter()
            metrics = running.runtime.metrics()
            took = time.perf_counter() - started
            assert metrics["latency"]["count"] == 300_000
            assert metrics["latency"]["p50_ms"] == 5.0 and metrics["handoff"]["p99_ms"] == 9.89
            assert took < 0.02, f"metrics took {took * 1000:.0f} ms on the event loop"
    run(scenario)


def test_latency_percentiles_follow_the_most_recent_samples():
    from runtime.core.latency import WINDOW, LatencyRecorder
    recorder = LatencyRecorder()
    for _ in range(WINDOW):
        recorder.record(0.001)
    for _ in range(WINDOW // 2 + 1):
        recorder.record(0.050)      # the runtime got slower: the median says so
    summary = recorder.summary()
    assert summary == {"count": WINDOW + WINDOW // 2 + 1, "p50_ms": 50.0, "p95_ms": 50.0,
                       "p99_ms": 50.0, "max_ms": 50.0}
    assert len(recorder.samples) == WINDOW
    recorder.clear()
    assert recorder.summary() == {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None,
                                  "max_ms": None}


# ------------------------------------------------------------------ voice messages


def test_a_voice_message_is_built_off_the_event_loop():
    """The message (the WAV base64-encoded) was built on the event loop: ~35 ms for
    five minutes of recording, while every call waited. It is built in the worker
    thread that sends it."""
    from aiosmtpd.controller import Controller

    from runtime.core.driver import CallInfo, Recording
    from runtime.live.mailer import Mailer

    received, built_in = [], []

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    class Watched(Mailer):
        def build_message(self, *args):
            built_in.append(threading.current_thread())
            return super().build_message(*args)

    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Keep(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        mailer = Watched(host="127.0.0.1", port=port)
        two_minutes = Recording("qs-long", 120.0, data=b"RIFF" + bytes(1_920_000))

        # The thread is what is checked, not the loop's lag: the SMTP server in
        # this process receives 2.5 MB in Python meanwhile and holds the GIL,
        # so a lag figure here measures the test's own server and the machine.
        async def scenario():
            sent = await mailer.send_voicemail("support@example.com", two_minutes,
                                               CallInfo("c1", "0701111111", "100"))
            assert sent and len(received) == 1 and len(received[0]) > 2_500_000
            assert built_in and built_in[0] is not threading.main_thread()
        run(scenario)
    finally:
        smtp.stop()


def test_a_failure_resuming_after_blocking_work_fails_only_that_call_over(tmp_path):
    async def scenario():
        async with Running(tmp_path) as running:
            running.runtime.agent_action("alice", "login", {"rescue": 0})
            await running.reach_menu("c1", "0701111111")
            session = running.runtime.center.session_for("c1")

            def broken_resume(result, error):
                raise KeyError("a bug in the runtime")
            running.runtime.driver.run_blocking(session.call, "lookup", lambda: None, 1.0,
                                                broken_resume)
            await wait_until(lambda: session.record.error, 2, "the call to fail over")
            assert "internal error resuming after a lookup or command: KeyError" in \
                session.record.error
            await wait_until(lambda: any(r[0] == "originate" for r in running.fake.requests), 2,
                             "the fallback group to ring alice")
    run(scenario)
