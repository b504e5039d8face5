"""Statistics speed: writing a busy day, and the daily report over a million calls.

Goals (issue 9): the writer takes the records of a simulated busy day
(100,000 calls with their queue segments, events and agent intervals;
synthetic_day.py) into SQLite at 20,000 calls/s or more; the daily report
over 1,000,000 calls takes under 2 s.

``write``: a fresh SQLite file per run (so the writer's bulk-load mode), best
of ``--runs``; the time covers turning the facts into rows and writing them,
with the index builds (generating the day is not timed); the CPU time is shown
too: on a shared machine wall time alone says little. ``report``: a database
of ``--days`` days of 100,000 calls (kept in ``--db`` between runs: building it
takes a minute or two), then over all of them: the daily report from the kept
15-minute figures and summed from the rows (a filter that matches every call
forces that path), the agent report from the kept agent figures and clipping
every interval (a period 1 ms short of whole quarter hours), and staffing.

    .venv/bin/python benchmarks/bench_statistics.py write [--calls 100000] [--runs 3]
    .venv/bin/python benchmarks/bench_statistics.py report [--days 10] [--db /tmp/stats-1m.db]

Timings on a shared 2-core machine vary by tens of percent from run to run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from synthetic_day import synthetic_day  # noqa: E402

from runtime.reports.kinds import KINDS, Options, Progress  # noqa: E402
from runtime.reports.selection import Selection, local_midnight  # noqa: E402
from runtime.reports.source import Source  # noqa: E402
from runtime.store.writer import StatisticsWriter  # noqa: E402

FIRST_DAY = dt.date(2026, 6, 1)


def _fresh(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            name.unlink()


def bench_write(calls: int, runs: int) -> None:
    day = synthetic_day(calls)
    segments = sum(len(c.segments) for c in day.contacts)
    events = sum(len(c.events) for c in day.contacts)
    print(f"a day of {len(day.contacts):,} calls: {segments:,} queue segments, {events:,} call "
          f"events, {len(day.intervals):,} agent intervals, {len(day.agent_events):,} agent events")
    best = None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "day.db"
        for run in range(runs):
            _fresh(path)
            writer = StatisticsWriter(path)
            started, cpu = time.perf_counter(), time.process_time()
            writer.write(day.contacts, day.intervals, day.agent_events, clock=day.clock)
            writer.close()
            total, cpu = time.perf_counter() - started, time.process_time() - cpu
            size = path.stat().st_size + Path(f"{path}-wal").stat().st_size \
                if Path(f"{path}-wal").exists() else path.stat().st_size
            print(f"run {run + 1}: {total:.2f} s ({cpu:.2f} s CPU): {len(day.contacts) / total:,.0f} "
                  f"calls/s ({size / 1e6:.0f} MB)")
            best = total if best is None else min(best, total)
    assert best is not None
    print(f"best: {len(day.contacts) / best:,.0f} calls/s (goal 20,000)")


def bench_report(days: int, db: Path, runs: int) -> None:
    tz = dt.timezone.utc
    if not db.exists():
        print(f"building {db}: {days} days of 100,000 calls ...")
        writer = StatisticsWriter(db)
        for index in range(days):
            day = synthetic_day(100_000, seed=index + 1, day=FIRST_DAY + dt.timedelta(days=index))
            started = time.perf_counter()
            writer.write(day.contacts, day.intervals, day.agent_events, clock=day.clock)
            print(f"  day {index + 1}: written in {time.perf_counter() - started:.1f} s")
        writer.close()
    writer = StatisticsWriter(db)
    source = Source(writer.engine, tz, {})
    start = local_midnight(FIRST_DAY, tz)
    end = local_midnight(FIRST_DAY + dt.timedelta(days=days), tz)
    with source.engine.connect() as connection:
        calls = connection.exec_driver_sql("SELECT COUNT(*) FROM calls").scalar_one()
    print(f"{calls:,} calls in {db}")
    shifted = start + dt.timedelta(milliseconds=1)     # not whole quarter hours
    for label, kind, selection in (
            ("daily report, kept figures", "daily", Selection(start, end, tz)),
            ("daily report, summed from the rows (a dialled number)", "daily",
             Selection(start, end, tz, dialled="5000")),
            ("agent report, kept agent figures", "agents", Selection(start, end, tz)),
            ("agent report of one agent, kept agent figures", "agents",
             Selection(start, end, tz, agent="agent007")),
            ("agent report, clipping every interval", "agents", Selection(shifted, end, tz)),
            ("staffing per hour, kept agent figures", "staffing", Selection(start, end, tz))):
        best = None
        for _ in range(runs):
            started = time.perf_counter()
            with source.engine.connect() as connection:
                report = KINDS[kind][0](connection, source, selection, Options(), Progress())
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        detail = f"{report.table('site').total[1]:,} calls offered" if kind == "daily" else \
            f"{len(report.tables[0].rows):,} rows"
        print(f"{label}: {best:.3f} s (best of {runs}; {detail})")
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write")
    write.add_argument("--calls", type=int, default=100_000)
    write.add_argument("--runs", type=int, default=3)
    report = commands.add_parser("report")
    report.add_argument("--days", type=int, default=10)
    report.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "qscript-stats-1m.db")
    report.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.command == "write":
        bench_write(args.calls, args.runs)
    else:
        bench_report(args.days, args.db, args.runs)


if __name__ == "__main__":
    main()
