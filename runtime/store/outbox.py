"""The outbox: every write to the store, in order, kept until the database has it.

The live runtime never writes to the database itself. Each write — a call
record, an agent state, a hot-prompt state, later statistics rows — is a
:class:`~runtime.store.database.WriteOp` put in the outbox (:meth:`Outbox.submit`, a
few microseconds on the event loop). One writer thread takes them in order,
in batches of up to ``batch_size`` per transaction, and applies them with
:meth:`Store.apply <runtime.store.database.Store.apply>`.

When a write fails because the database is away (PostgreSQL down, SQLite
locked by another process past its 5 s busy timeout, a full disk), the writer:

1. appends the failed batch and everything queued behind it to the **spool**,
   a file of JSON lines next to the database (or the site), and fsyncs it:
   from then on those writes survive a restart of the runtime;
2. retries with exponential backoff (``retry_first`` doubling up to
   ``retry_max``); while the spool is not empty, new writes are appended to
   it too, so the order of writes is the order they were made;
3. once a retry succeeds, writes the spool to the database from the front,
   batch by batch, then empties it, and goes back to writing directly.

The spool is replayed at start (:meth:`Outbox.start`, before the runtime
reads its state back). It is emptied only once all of it is in the
database; a runtime that stops half-way through replays it from the start
next time, which is harmless because every write is idempotent (see
runtime/store/database.py).

**The bound.** The spool stops growing at ``spool_max_bytes`` (256 MB, some
600,000 call records of about 400 bytes). Past it, new writes are *held in
memory* — never dropped: they are written when the database returns. This is logged
as an error at once and every ``log_every`` seconds, and ``health()``
says ``spool_full``; at shutdown the held writes are appended to the spool
past its bound, the last chance to keep them.

**A write the database refuses for good** (a value a column cannot hold, a
constraint) would block every write behind it if retried. Such a batch is
written op by op; an op that fails alone with an error that is not
transient is appended to ``<spool>.rejected`` with the error, logged as an
error and counted in ``health()["rejected"]``.

Each submitted op comes with a ``concurrent.futures.Future`` that resolves
to ``"saved"`` (in the database), ``"spooled"`` (on disk, to be written when
the database returns) or ``"rejected"``; the control API waits on it a
moment to tell an operator whether a change was saved.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .database import Store, StoreUnavailable, WriteOp, describe_error, is_transient

log = logging.getLogger("qscript.outbox")

SAVED = "saved"          # in the database
SPOOLED = "spooled"      # on disk in the spool; written when the database returns
REJECTED = "rejected"    # refused by the database for good; kept in <spool>.rejected


@dataclass(frozen=True)
class OutboxSettings:
    batch_size: int = 200              # ops per transaction
    retry_first: float = 0.5           # seconds before the first retry after a failure
    retry_max: float = 10.0            # the longest wait between retries
    spool_max_bytes: int = 256 * 1024 * 1024
    close_timeout: float = 10.0        # how long close() waits for the writer
    log_every: float = 60.0            # seconds between repeated outage errors in the log


class _Entry:
    """An op waiting in memory, with the future its submitter may wait on."""

    __slots__ = ("op", "future")

    def __init__(self, op: WriteOp, future: concurrent.futures.Future[str]):
        self.op = op
        self.future = future


def _resolve(future: concurrent.futures.Future[str], outcome: str) -> None:
    if not future.done():
        try:
            future.set_result(outcome)
        except concurrent.futures.InvalidStateError:  # resolved meanwhile (close())
            pass


class SpoolBatch:
    """Lines read from the front of the spool: the ops, and the place after them."""

    __slots__ = ("ops", "used", "lines", "unreadable")

    def __init__(self) -> None:
        self.ops: list[WriteOp] = []
        self.used = 0                 # bytes
        self.lines = 0                # lines, readable or not
        self.unreadable: list[tuple[str, str]] = []   # (line, why)


class Spool:
    """Append-only JSON lines on disk: the writes the database has not taken yet.

    Writes go to the end (fsync'd before anyone is told they are kept); the
    writer reads from ``offset``, the first line not yet in the database.
    Thread-safe: the writer and ``close()`` may both append.
    """

    def __init__(self, path: Path, max_bytes: int):
        self.path = path
        self.rejected_path = path.with_name(path.name + ".rejected")
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.offset = 0           # bytes of the file already in the database
        self.count = 0            # lines after the offset
        self.size = 0             # bytes of the file
        self._file: IO[bytes] | None = None
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._file = open(self.path, "a+b")
        if created:
            _fsync_directory(self.path.parent)
        self._file.seek(0)
        content = self._file.read()
        whole = content.rfind(b"\n") + 1
        if whole < len(content):
            # The runtime died while appending: the last line is incomplete. It was
            # never reported as kept; set it aside (not silently) and cut it off.
            torn = content[whole:]
            log.error("outbox spool %s ends with an incomplete line (%d bytes, the runtime "
                      "stopped while writing it); it is kept in %s", self.path, len(torn),
                      self.rejected_path)
            self._set_aside(torn.decode("utf-8", "replace"), "incomplete line")
            self._file.truncate(whole)
            os.fsync(self._file.fileno())
        self.size = whole
        self.count = content.count(b"\n")

    def append(self, lines: list[str], force: bool = False) -> int:
        """Append lines up to the size bound (all of them with ``force``); how many went in."""
        with self._lock:
            data, taken = bytearray(), 0
            for line in lines:
                encoded = line.encode("utf-8")
                if not force and self.size + len(data) + len(encoded) > self.max_bytes:
                    break
                data += encoded
                taken += 1
            if data:
                if self._file is None:      # after close(): a late write still goes to disk
                    with open(self.path, "ab") as late:
                        late.write(data)
                        late.flush()
                        os.fsync(late.fileno())
                else:
                    self._file.seek(0, os.SEEK_END)
                    self._file.write(data)
                    self._file.flush()
                    os.fsync(self._file.fileno())
                self.size += len(data)
                self.count += taken
            return taken

    def read(self, limit: int) -> "SpoolBatch":
        """Up to ``limit`` ops from the front; the place moves only with :meth:`advance`."""
        batch = SpoolBatch()
        with self._lock:
            if self._file is None:
                return batch
            self._file.seek(self.offset)
            while len(batch.ops) < limit and self.offset + batch.used < self.size:
                raw = self._file.readline()
                if not raw:
                    break
                batch.used += len(raw)
                batch.lines += 1
                text = raw.decode("utf-8", "replace")
                try:
                    batch.ops.append(WriteOp.from_line(text))
                except ValueError as error:
                    batch.unreadable.append((text.rstrip("\n"), f"unreadable: {error}"))
        return batch

    def advance(self, batch: "SpoolBatch") -> None:
        """The batch is in the database: move past it (set its unreadable lines aside)."""
        with self._lock:
            for line, error in batch.unreadable:
                log.error("outbox spool %s: a line that is not a write (%s) is kept in %s",
                          self.path, error, self.rejected_path)
                self._set_aside(line, error)
            self.offset += batch.used
            self.count -= batch.lines
            if self.count <= 0 and self._file is not None:
                self._file.truncate(0)
                os.fsync(self._file.fileno())
                self.offset = self.size = self.count = 0

    def reject(self, op: WriteOp, error: str) -> None:
        with self._lock:
            self._set_aside(op.to_line().rstrip("\n"), error)

    def _set_aside(self, line: str, error: str) -> None:
        import json
        with open(self.rejected_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"error": error, "line": line}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _fsync_directory(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


class Outbox:
    """Ordered, retried, spooled writes to a :class:`~runtime.store.database.Store` (see the module)."""

    def __init__(self, store: Store, spool_path: str | Path,
                 settings: OutboxSettings | None = None):
        self.store = store
        self.settings = settings or OutboxSettings()
        self.spool = Spool(Path(spool_path), self.settings.spool_max_bytes)
        self._cond = threading.Condition()
        self._memory: deque[_Entry] = deque()
        self._in_flight: list[_Entry] = []
        self._thread: threading.Thread | None = None
        self._closing = False
        self._closed = False
        # While the database is failing: when to try again, how long the last wait was.
        self._retry_at: float | None = None
        self._delay = self.settings.retry_first
        self._error: str | None = None
        self._down_since: float | None = None
        self._last_logged = 0.0
        self._held = False        # the spool is full: writes wait in memory
        self._written = 0
        self._rejected = 0

    # ------------------------------------------------------------ the runtime's side

    def start(self) -> None:
        """Write what an earlier run left in the spool, then start the writer thread.

        Raises :class:`StoreUnavailable` (naming the spool) when the database
        cannot take the spool now; the spool stays for the next start.
        """
        if self.spool.count:
            log.warning("outbox: writing %d write(s) an earlier run left in %s",
                        self.spool.count, self.spool.path)
            while self.spool.count:
                try:
                    self._drain_spool_batch()
                except Exception as error:  # noqa: BLE001 - only transient errors reach here
                    self.spool.close()
                    raise StoreUnavailable(
                        f"the database is unavailable ({describe_error(error)}); "
                        f"{self.spool.count} write(s) are kept in {self.spool.path} and will "
                        "be written at the next start") from error
            log.warning("outbox: the spool is written")
        self._thread = threading.Thread(target=self._run, name="qscript-outbox", daemon=True)
        self._thread.start()

    def submit(self, op: WriteOp) -> concurrent.futures.Future[str]:
        """Queue a write (never blocks on the database); the future says where it went."""
        entry = _Entry(op, concurrent.futures.Future())
        with self._cond:
            if not self._closed:
                self._memory.append(entry)
                self._cond.notify()
                return entry.future
        # After close(): nobody writes any more; keep it on disk at once.
        log.warning("outbox: %s submitted after close; appended to the spool", op.describe())
        self._spool_entries([entry], force=True)
        return entry.future

    def close(self) -> None:
        """Write what can be written, spool the rest, stop the writer."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        thread = self._thread
        if thread is not None:
            thread.join(self.settings.close_timeout)
        with self._cond:
            self._closed = True
            left = list(self._in_flight) + list(self._memory) if thread is None \
                or thread.is_alive() else list(self._memory)
            self._memory.clear()
        if left:
            # The writer is stuck in a database call (or never started): keep its
            # batch and the queue on disk. If the stuck call commits after all, the
            # replay finds the rows and writes nothing twice.
            log.error("outbox: the database did not take %d write(s) within %.0fs of "
                      "stopping; they are kept in %s", len(left), self.settings.close_timeout,
                      self.spool.path)
            self._spool_entries(left, force=True)
        if self.spool.count:
            log.warning("outbox: %d write(s) wait in %s for the next start",
                        self.spool.count, self.spool.path)
        self.spool.close()

    def health(self) -> dict[str, Any]:
        """The database's state and the outbox's depth, for ``status`` and ``metrics``."""
        with self._cond:
            in_memory = len(self._memory) + len(self._in_flight)
            down = self._retry_at is not None
            state = "down" if down else ("recovering" if self.spool.count else "ok")
            since = self._down_since
            return {
                "state": state,
                "error": self._error if down else None,
                "down_for_s": round(time.monotonic() - since, 1) if since is not None else None,
                "unsaved": in_memory + self.spool.count,
                "in_memory": in_memory,
                "spooled": self.spool.count,
                "spool_bytes": self.spool.size,
                "spool_max_bytes": self.spool.max_bytes,
                "spool_full": self._held,
                "spool": str(self.spool.path),
                "written": self._written,
                "rejected": self._rejected,
            }

    # ------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        while True:
            try:
                if not self._step():
                    return
            except Exception as error:  # noqa: BLE001 - a bug here: loud, and the queue is kept
                log.exception("outbox: the writer failed; the queued writes are kept in %s",
                              self.spool.path)
                with self._cond:
                    left = list(self._in_flight) + list(self._memory)
                    self._in_flight, self._memory = [], deque()
                self._spool_entries(left, force=True)
                self._failed(error)   # wait before the next round, then carry on

    def _step(self) -> bool:
        """One round of the writer; False when it is done (closing, nothing left it can do)."""
        with self._cond:
            while not self._has_work():
                if self._closing:
                    return False
                self._cond.wait(self._wait_time())
            if self._closed:          # close() gave up waiting and kept the rest itself
                return False
            closing = self._closing
            direct = self.spool.count == 0 and self._retry_at is None
            if direct:
                batch = [self._memory.popleft()
                         for _ in range(min(self.settings.batch_size, len(self._memory)))]
                self._in_flight = batch
            else:
                batch = list(self._memory)
                self._memory.clear()
                self._in_flight = batch
        if direct:
            self._write_directly(batch)
            return True
        if batch:
            self._spool_entries(batch, force=closing)
            with self._cond:
                self._in_flight = []
        if self.spool.count and (closing or self._retry_due()):
            try:
                self._drain_spool_batch()
            except Exception as error:  # noqa: BLE001 - transient: retried
                self._failed(error)
                if closing:
                    return False
        return True

    def _has_work(self) -> bool:
        if self._retry_at is None:
            return bool(self._memory) or self.spool.count > 0
        # The database is failing: spool new writes (unless the spool is full), or retry.
        return (bool(self._memory) and not self._held) or self._retry_due() \
            or (self._closing and bool(self._memory))

    def _wait_time(self) -> float | None:
        if self._retry_at is None:
            return None
        return max(0.0, self._retry_at - time.monotonic())

    def _retry_due(self) -> bool:
        return self._retry_at is None or time.monotonic() >= self._retry_at

    def _write_directly(self, batch: list[_Entry]) -> None:
        try:
            self.store.apply([entry.op for entry in batch])
        except Exception as error:  # noqa: BLE001 - sorted below: retried or set aside
            if is_transient(error):
                self._failed(error)
                with self._cond:
                    self._in_flight = []
                    self._memory.extendleft(reversed(batch))   # first in the spool, in order
                return
            self._write_one_by_one(batch)
            return
        with self._cond:
            self._in_flight = []
            self._written += len(batch)
        self._succeeded()
        for entry in batch:
            _resolve(entry.future, SAVED)

    def _write_one_by_one(self, batch: list[_Entry]) -> None:
        """A batch failed for a reason other than an outage: find the op the database refuses."""
        for index, entry in enumerate(batch):
            try:
                self.store.apply([entry.op])
            except Exception as error:  # noqa: BLE001 - sorted below
                if is_transient(error):
                    self._failed(error)
                    with self._cond:
                        self._in_flight = []
                        self._memory.extendleft(reversed(batch[index:]))
                    return
                self._reject(entry.op, error)
                _resolve(entry.future, REJECTED)
                continue
            with self._cond:
                self._written += 1
            _resolve(entry.future, SAVED)
        with self._cond:
            self._in_flight = []

    def _drain_spool_batch(self) -> None:
        """Write the next batch from the front of the spool; raises on a transient failure."""
        batch = self.spool.read(self.settings.batch_size)
        ops = batch.ops
        if not ops:
            self.spool.advance(batch)
            return
        try:
            self.store.apply(ops)
        except Exception as error:  # noqa: BLE001 - sorted below
            if is_transient(error):
                raise
            for op in ops:                       # one by one, to set aside only the bad op
                try:
                    self.store.apply([op])
                except Exception as single:  # noqa: BLE001 - sorted below
                    if is_transient(single):
                        raise
                    self._reject(op, single)
        self.spool.advance(batch)
        with self._cond:
            self._written += len(ops)
            if self.spool.count == 0:
                self._held = False
        self._succeeded()

    def _spool_entries(self, entries: list[_Entry], force: bool = False) -> None:
        """Append entries to the spool; those past the bound go back to memory, in order."""
        if not entries:
            return
        try:
            taken = self.spool.append([entry.op.to_line() for entry in entries], force=force)
        except OSError as error:
            taken = 0
            log.error("outbox: cannot write the spool %s (%s); %d write(s) are held in memory",
                      self.spool.path, error, len(entries))
        for entry in entries[:taken]:
            _resolve(entry.future, SPOOLED)
        held = entries[taken:]
        with self._cond:
            if held and not self._closed:
                self._memory.extendleft(reversed(held))
                if self._log_due(first=not self._held):
                    log.error("outbox: the spool %s is full (%d bytes, the bound); %d write(s) "
                              "are held in memory until the database is back and are lost if "
                              "the runtime is killed", self.spool.path, self.spool.size,
                              len(self._memory))
                self._held = True
            elif held:
                log.error("outbox: %d write(s) could not be kept (the spool %s cannot be "
                          "written): %s", len(held), self.spool.path,
                          ", ".join(entry.op.describe() for entry in held[:20]))

    def _reject(self, op: WriteOp, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {describe_error(error)}"
        log.error("outbox: the database refuses %s for good (%s); kept in %s",
                  op.describe(), reason, self.spool.rejected_path)
        try:
            self.spool.reject(op, reason)
        except OSError as failure:
            log.error("outbox: cannot write %s (%s): %s", self.spool.rejected_path, failure,
                      op.to_line().rstrip())
        with self._cond:
            self._rejected += 1

    def _failed(self, error: BaseException) -> None:
        now = time.monotonic()
        reason = describe_error(error)
        with self._cond:
            first = self._retry_at is None
            if first:
                self._down_since = now
                self._delay = self.settings.retry_first
            else:
                self._delay = min(self._delay * 2, self.settings.retry_max)
            self._retry_at = now + self._delay
            self._error = reason
            waiting = len(self._memory) + len(self._in_flight) + self.spool.count
        if self._log_due(first=first):
            log.error("database unavailable (%s): %d write(s) wait, kept in %s; retrying in "
                      "%.1fs", reason, waiting, self.spool.path, self._delay)

    def _succeeded(self) -> None:
        with self._cond:
            if self._retry_at is None:
                return
            down_for = time.monotonic() - (self._down_since or time.monotonic())
            self._retry_at = None
            self._error = None
            self._down_since = None
            self._delay = self.settings.retry_first
            left = self.spool.count
        if left:
            log.warning("database available again after %.1fs; writing the %d write(s) left "
                        "in the spool", down_for, left)
        else:
            log.warning("database available again after %.1fs; every waiting write is saved",
                        down_for)

    def _log_due(self, first: bool = False) -> bool:
        """Whether to log an outage error now: its first time, then every ``log_every`` s."""
        now = time.monotonic()
        if first or now - self._last_logged >= self.settings.log_every:
            self._last_logged = now
            return True
        return False
