"""Compile speed: a generated 10,000-line script, end to end (parse, check, compile).

Goal (issue 2): at least 25,000 lines per second on one core.

    .venv/bin/python benchmarks/bench_compile.py            # plain timing
    .venv/bin/python -m pytest benchmarks/bench_compile.py  # pytest-benchmark
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_script import generate  # noqa: E402

from qscript.api import compile_text  # noqa: E402
from qscript.parser import _parser  # noqa: E402

LINES = 10_000


def compile_once(text: str):
    result = compile_text(text, "bench.qs")
    assert result.ok, result.errors[:3]
    return result


def test_compile_10k_lines(benchmark):
    text = generate(LINES)
    _parser()  # load the grammar (cached on disk) outside the timing
    result = benchmark(compile_once, text)
    lines = text.count("\n")
    benchmark.extra_info["lines"] = lines
    benchmark.extra_info["lines_per_second"] = lines / benchmark.stats.stats.median
    assert result.program.code


def main() -> None:
    text = generate(LINES)
    lines = text.count("\n")
    _parser()
    compile_once(text)  # warm up
    times = []
    for _ in range(7):
        started = time.perf_counter()
        result = compile_once(text)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"{lines:,} lines, {len(result.program.code):,} instructions: median {median * 1000:.0f} ms "
          f"(best {min(times) * 1000:.0f} ms) = {lines / median:,.0f} lines/s "
          f"(best {lines / min(times):,.0f} lines/s)")


if __name__ == "__main__":
    main()
