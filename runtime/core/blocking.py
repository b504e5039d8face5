"""Blocking work off the event loop: a bounded pool of worker threads.

The live runtime serves every call from one asyncio event loop. A customer
lookup (an SQLite database locked by another program, a CSV file re-read
after a change) or a custom command (a CRM call) may block for seconds; run
on the loop, it would freeze every call in the centre. The ARI driver runs
such work in a :class:`WorkerPool` and gives up waiting after a timeout
(:class:`WorkTimedOut`); see :meth:`runtime.core.driver.Driver.run_blocking`.

Why not :class:`concurrent.futures.ThreadPoolExecutor`: its threads are
joined when the interpreter exits, so one custom command stuck for ever (an
HTTP call without a timeout) would keep ``qscript serve`` from stopping.
The threads here are daemons: a stuck one holds a worker, not the process.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from typing import Any, Callable


#: Seconds a custom command may run before its call fails over (site: commands.timeout).
DEFAULT_COMMAND_TIMEOUT = 5.0
#: Seconds a lookup may take before the call goes on as not found (site: lookups.*.timeout).
DEFAULT_LOOKUP_TIMEOUT = 2.0
#: The longest timeout a site may set: a caller waits in silence meanwhile.
MAX_TIMEOUT = 60.0


class WorkTimedOut(Exception):
    """Blocking work did not finish within its timeout (it may still be running)."""

    def __init__(self, seconds: float):
        super().__init__(f"did not finish within {seconds:g}s")
        self.seconds = seconds


class WorkerPool:
    """At most ``max_workers`` daemon threads running submitted work in order.

    Threads are started when work arrives and no thread is idle, up to the
    bound; work beyond it waits in a queue. A future cancelled while its
    work waits (its call hung up, its timeout passed) is skipped: a backlog
    behind a stuck database drains without running work nobody waits for.
    """

    def __init__(self, name: str, max_workers: int):
        if max_workers < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.name = name
        self.max_workers = max_workers
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._busy = 0
        self._waiting = 0
        self._closed = False

    def submit(self, work: Callable[[], Any]) -> concurrent.futures.Future:
        """Queue ``work``; the future has its result or the exception it raised."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} workers are stopped")
            self._waiting += 1
            if self._idle <= self._waiting - 1 and len(self._threads) < self.max_workers:
                self._start_thread()
        self._queue.put((future, work))
        return future

    def close(self) -> None:
        """Stop taking work; cancel what waits; threads end when their work does."""
        with self._lock:
            self._closed = True
            threads = len(self._threads)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in range(threads):
            self._queue.put(None)

    def stats(self) -> dict[str, int]:
        """The pool's state, for the runtime's metrics: a ``busy`` count that stays at
        ``workers`` means work is stuck (a command that never returns)."""
        with self._lock:
            return {"workers": self.max_workers, "threads": len(self._threads),
                    "busy": self._busy, "waiting": self._waiting}

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=f"qscript-{self.name}-"
                                  f"{len(self._threads) + 1}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
                if item is not None:
                    self._waiting -= 1
            if item is None:
                return
            future, work = item
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            with self._lock:
                self._busy += 1
            try:
                result = work()
            except BaseException as error:  # noqa: BLE001 - handed to whoever waits for it
                future.set_exception(error)
            else:
                future.set_result(result)
            finally:
                with self._lock:
                    self._busy -= 1
            del future, work, item  # do not hold the result while idle
