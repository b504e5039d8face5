"""Customer lookups: ``lookup "customers" by caller into customer``.

A lookup finds one record by a key (caller number, keyed-in customer number)
in a CSV file or an SQLite database and returns its declared fields converted
to their value types; a key that is not there gives ``None`` (the VM makes a
record with ``found = false``). Conversion rules, the same for both sources:

* ``string``: the text, stripped of surrounding spaces;
* ``number``: an int when whole (``42``), else a float (``12.5``); with
  ``delimiter: ";"`` a decimal comma is accepted too (``12,5``), as Swedish
  spreadsheet programs write it;
* ``boolean``: true/false, yes/no, on/off, 1/0 (any case);
* ``duration``: seconds, from ``20s``/``5m``/``1h30m`` (as in scripts);
* ``time``: minutes after midnight, from ``HH:MM`` (as in scripts);
* an empty cell or SQL ``NULL``: the type's zero value ("", 0, false, 0s, 00:00).

**CSV** files are read whole when the site loads; every bad row is a load
error. The file is read again when its modification time or size changes
(checked on each lookup: a ``stat`` costs microseconds); if the new file is
broken, the lookup keeps the previous data and logs why, so a half-written
export never fails live calls. The lookup that notices the change reads the
file; lookups meanwhile (in other threads) answer from the previous data at
once instead of waiting for it.

**SQLite** databases are opened read-only (``file:...?mode=ro``) and queried
with a parameterised ``SELECT`` per lookup; the table and columns are checked
when the site loads. A value that does not convert is logged and read as the
zero value. Each thread has its own connection, whose busy timeout is the
lookup's ``timeout``: lookups in several threads run side by side.

Lookups are safe to call from several threads at once: the live runtime
runs them in worker threads, with the ``timeout`` of their spec (see
:mod:`runtime.core.blocking`). Closing a lookup (the runtime stopping, a
site replaced) is safe while reads run: a connection in use is closed by its
own thread when the read ends, and reads after the close raise
:class:`LookupClosed`, which a call reports as the lookup failing.
CSV lookups hold nothing open between reads.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from qscript.files import UnreadableFile, read_limited
from qscript.symbols import LookupInfo

from runtime.core.blocking import DEFAULT_LOOKUP_TIMEOUT
from .values import FALSE_WORDS, TRUE_WORDS, BadValue, parse_duration, parse_time
from .yamlmarks import Location, Problem, did_you_mean

log = logging.getLogger(__name__)

#: The largest CSV file a lookup reads (it is held in memory whole).
MAX_LOOKUP_BYTES = 200_000_000
ZERO_VALUES = {"string": "", "number": 0, "boolean": False, "duration": 0, "time": 0}


@dataclass(frozen=True)
class LookupSpec:
    """A lookup as the site file declares it."""

    name: str
    kind: str                      # "csv" or "sqlite"
    path: Path                     # resolved against the site file's directory
    key: str                       # the column matched against the key
    fields: Mapping[str, str]      # field name -> value type
    display_path: str = ""         # the path as messages show it
    table: str | None = None       # sqlite only
    delimiter: str = ","           # csv only
    encoding: str = "utf-8-sig"    # csv only
    where: Location = field(default_factory=lambda: Location("<site>"))
    timeout: float = DEFAULT_LOOKUP_TIMEOUT   # seconds a live lookup may take

    @property
    def shown_path(self) -> str:
        return self.display_path or str(self.path)


def convert(text: str, value_type: str, *, decimal_comma: bool = False):
    """A cell's text as a value of ``value_type``; raises :class:`BadValue`."""
    text = text.strip()
    if not text:
        return ZERO_VALUES[value_type]
    if value_type == "string":
        return text
    if value_type == "number":
        return _number(text, decimal_comma)
    if value_type == "boolean":
        word = text.lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise BadValue(f'"{text}" is not a boolean', "write true/false, yes/no or 1/0")
    if value_type == "duration":
        return parse_duration(text)
    if value_type == "time":
        return parse_time(text)
    raise BadValue(f'unknown value type "{value_type}"')


def _number(text: str, decimal_comma: bool) -> int | float:
    if decimal_comma and "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f'"{text}" is not a number') from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadValue(f'"{text}" is not a number')
    return value


class Lookup:
    """The common surface of every lookup source."""

    def __init__(self, spec: LookupSpec):
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def timeout(self) -> float:
        """Seconds a live call waits for this lookup before it goes on as not found."""
        return self.spec.timeout

    def info(self) -> LookupInfo:
        """What the checker needs: the field names and their types."""
        return LookupInfo(self.spec.name, dict(self.spec.fields))

    def open(self) -> list[Problem]:
        """Check (and for CSV, read) the source; the problems found, if any."""
        raise NotImplementedError

    def find(self, key: str) -> dict | None:
        """The record for ``key`` as {field: value}, or None when there is none."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the lookup holds open (nothing, by default)."""

    def _problem(self, message: str, hint: str | None = None, line: int = 0,
                 column: int = 1) -> Problem:
        location = Location(self.spec.shown_path, line, column if line else 0)
        return Problem(location, message, hint)


# ------------------------------------------------------------------ CSV


class CsvLookup(Lookup):
    """A CSV file held in memory as {key: record}, reloaded when the file changes."""

    def __init__(self, spec: LookupSpec):
        super().__init__(spec)
        self._records: dict[str, dict] = {}
        self._signature: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def open(self) -> list[Problem]:
        signature = self._file_signature()
        if signature is None:
            return [Problem(self.spec.where, f'lookups.{self.name}: the file '
                            f'"{self.spec.shown_path}" does not exist',
                            "paths are relative to the site file's directory")]
        records, problems = self._read()
        if not problems:
            self._records, self._signature = records, signature
        return problems

    def find(self, key: str) -> dict | None:
        self._reload_if_changed()
        record = self._records.get(str(key).strip())
        return dict(record) if record is not None else None

    def __len__(self) -> int:
        return len(self._records)

    def _file_signature(self) -> tuple[int, int] | None:
        try:
            stat = self.spec.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _reload_if_changed(self) -> None:
        signature = self._file_signature()
        if signature is None or signature == self._signature:
            return  # a file that vanished keeps serving the last good data
        # One thread reads the new file; the others answer from the previous
        # data meanwhile rather than wait (a big export takes seconds to read).
        if not self._lock.acquire(blocking=False):
            return
        try:
            if signature == self._signature:
                return
            # Remembered even if the read fails, so a broken file is not re-read on every call.
            self._signature = signature
            records, problems = self._read()
            if problems:
                log.warning("lookup %s: keeping the previous data; %s has errors:\n%s", self.name,
                            self.spec.shown_path, "\n".join(p.headline() for p in problems[:5]))
                return
            self._records = records   # one assignment: a reader sees the old or the new data
            log.info("lookup %s: reloaded %d records from %s", self.name, len(records),
                     self.spec.shown_path)
        finally:
            self._lock.release()

    def _read(self) -> tuple[dict[str, dict], list[Problem]]:
        # Read as bytes first, with the file checked and the size limited (a FIFO put in
        # its place must not hang a live call), then decoded whole so that a bad byte can
        # be located.
        try:
            data = read_limited(self.spec.path, MAX_LOOKUP_BYTES, kind="lookup file")
        except UnreadableFile as error:
            return {}, [self._problem(f"cannot read the file: it {error.reason}"
                                      if error.reason.startswith("is ") else
                                      f"cannot read the file: {error.reason}")]
        try:
            text = decode_lookup_bytes(data, self.spec.encoding)
        except BadEncoding as error:
            return {}, [self._problem(error.message, error.hint, error.line, error.column)]
        try:
            return self._parse(csv.reader(io.StringIO(text, newline=""),
                                          delimiter=self.spec.delimiter))
        except csv.Error as error:
            return {}, [self._problem(f"cannot read the file: {error}")]

    def _parse(self, rows) -> tuple[dict[str, dict], list[Problem]]:
        problems: list[Problem] = []
        header = next(rows, None)
        if header is None:
            return {}, [self._problem("the file is empty; the first line must name the columns")]
        columns = {name.strip(): index for index, name in enumerate(header)}
        problems += self._check_header(columns)
        if problems:
            return {}, problems
        key_index = columns[self.spec.key]
        wanted = [(name, columns[name], kind) for name, kind in self.spec.fields.items()]
        records: dict[str, dict] = {}
        first_line: dict[str, int] = {}
        line = rows.line_num
        for row in rows:
            start, line = line + 1, rows.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines are allowed anywhere
            if len(row) != len(header):
                problems.append(self._problem(f"this row has {len(row)} values but the header "
                                              f"names {len(header)} columns", line=start))
                continue
            key = row[key_index].strip()
            if not key:
                problems.append(self._problem(f'empty key (column "{self.spec.key}")', line=start))
                continue
            if key in first_line:
                problems.append(self._problem(f'duplicate key "{key}"',
                                              f"it is first used on line {first_line[key]}",
                                              line=start))
                continue
            first_line[key] = start
            record = self._convert_row(row, wanted, start, problems)
            if record is not None:
                records[key] = record
        return records, problems

    def _check_header(self, columns: dict[str, int]) -> list[Problem]:
        problems = []
        needed = [(self.spec.key, "key column")] + [(f, "field") for f in self.spec.fields]
        for name, role in needed:
            if name not in columns:
                hint = did_you_mean(name, columns)
                listing = "the header has: " + ", ".join(columns)
                problems.append(self._problem(f'the header has no column "{name}" (the lookup\'s '
                                              f"{role})", f"{hint} ({listing})" if hint else listing,
                                              line=1))
        return problems

    def _convert_row(self, row, wanted, line: int, problems: list[Problem]) -> dict | None:
        record, decimal_comma = {}, self.spec.delimiter == ";"
        for name, index, kind in wanted:
            try:
                record[name] = convert(row[index], kind, decimal_comma=decimal_comma)
            except BadValue as error:
                problems.append(self._problem(f'column "{name}" ({kind}): {error.message}',
                                              error.hint, line=line))
                return None
        return record


class BadEncoding(Exception):
    """Bytes that are not text in the lookup's encoding, with where (line 0: the whole file)."""

    def __init__(self, message: str, hint: str, line: int = 0, column: int = 1):
        super().__init__(message)
        self.message, self.hint, self.line, self.column = message, hint, line, column


#: Encodings whose byte order comes from a byte-order mark at the start of the file.
_BOM_ENCODINGS = {"utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE),
                  "utf-32": (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)}
_ENCODING_HINT = ("save it as UTF-8, or set the lookup's encoding (e.g. encoding: cp1252 for "
                  "Excel on Windows)")


def decode_lookup_bytes(data: bytes, encoding: str) -> str:
    """The text of a CSV file in ``encoding``; :class:`BadEncoding` says where it is not."""
    codec = codecs.lookup(encoding).name
    shown = "UTF-8" if codec in ("utf-8", "utf-8-sig") else encoding
    marks = _BOM_ENCODINGS.get(codec)
    if marks is not None and data and not data.startswith(marks):
        raise BadEncoding(f"the file has no byte-order mark, which encoding {encoding} needs "
                          "to know the byte order",
                          f"set encoding: {codec}-le or {codec}-be (Excel's \"Unicode text\" is "
                          f"{codec}-le)")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        before = data[:error.start].decode(encoding, errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        bad = data[error.start:error.end][:4]
        what = " ".join(f"0x{b:02x}" for b in bad)
        detail = f"byte{'s' if len(bad) > 1 else ''} {what}" if error.reason != "truncated data" \
            else "it ends in the middle of a character"
        raise BadEncoding(f"the file is not valid {shown} ({detail})", _ENCODING_HINT,
                          line, column) from None
    except UnicodeError as error:  # other codec complaints, raised without a position
        raise BadEncoding(f"the file is not valid {shown}: {error}", _ENCODING_HINT) from None


# ------------------------------------------------------------------ SQLite


class LookupClosed(Exception):
    """A lookup used after (or while) its site was closed: reloaded, or the runtime stopped."""


class _ThreadConnection:
    """One thread's SQLite connection, and whether a read is using it.

    ``busy`` and closing are decided under the lookup's lock: a connection is
    closed by :meth:`SqliteLookup.close` only while no read uses it, else by
    the thread of the read when it finishes. CPython's sqlite3 module can crash
    (a segmentation fault) when one thread closes a connection another thread
    is reading from.
    """

    __slots__ = ("sqlite", "busy")

    def __init__(self, sqlite: sqlite3.Connection):
        self.sqlite = sqlite
        self.busy = False


class SqliteLookup(Lookup):
    """A table in an SQLite database, opened read-only and queried per lookup."""

    def __init__(self, spec: LookupSpec):
        super().__init__(spec)
        self._local = threading.local()        # this thread's connection
        self._connections: list[_ThreadConnection] = []   # every thread's, for close()
        self._lock = threading.Lock()
        self._closed = False
        columns = ", ".join(_quote_identifier(f) for f in spec.fields)
        # Identifiers cannot be parameters; they come from the site file and are quoted.
        self._query = (f"SELECT {columns} FROM {_quote_identifier(spec.table or '')} "
                       f"WHERE {_quote_identifier(spec.key)} = ? LIMIT 1")

    def open(self) -> list[Problem]:
        if not self.spec.path.is_file():
            return [Problem(self.spec.where, f'lookups.{self.name}: the database '
                            f'"{self.spec.shown_path}" does not exist',
                            "paths are relative to the site file's directory")]
        try:
            connection = self._connect()
            columns = [row[1] for row in connection.execute(
                f"PRAGMA table_info({_quote_identifier(self.spec.table or '')})")]
            if not columns:
                tables = [row[0] for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
                hint = did_you_mean(self.spec.table or "", tables)
                listing = "its tables: " + (", ".join(tables) or "none")
                return [self._problem(f'the database has no table "{self.spec.table}"',
                                      f"{hint} ({listing})" if hint else listing)]
        except sqlite3.Error as error:
            self.close()
            return [self._problem(f"cannot read the database: {error}")]
        problems = []
        for name in [self.spec.key, *self.spec.fields]:
            if name not in columns:
                hint = did_you_mean(name, columns)
                listing = f"table {self.spec.table} has: " + ", ".join(columns)
                problems.append(self._problem(f'table "{self.spec.table}" has no column "{name}"',
                                              f"{hint} ({listing})" if hint else listing))
        return problems

    def find(self, key: str) -> dict | None:
        connection = self._thread_connection()
        with self._lock:
            if self._closed:  # closed between taking the connection and marking it busy
                raise self._closed_error()
            connection.busy = True
        try:
            row = connection.sqlite.execute(self._query, (str(key).strip(),)).fetchone()
        except sqlite3.Error as error:
            if self._closed:  # (an interrupted read says only "interrupted")
                raise LookupClosed(f'lookup "{self.name}" was closed while it read '
                                   f"({error})") from None
            raise
        finally:
            self._release(connection)
        if row is None:
            return None
        return {name: self._value(name, kind, value)
                for (name, kind), value in zip(self.spec.fields.items(), row)}

    def close(self) -> None:
        """Close every thread's connection; one a read is using, once that read ends.

        A read in progress is interrupted (a long scan stops; a wait for a locked
        database ends at its busy timeout) and then raises :class:`LookupClosed`,
        or returns what it found if it had finished. Later finds raise
        :class:`LookupClosed`.
        """
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
            for connection in connections:
                if connection.busy:
                    connection.sqlite.interrupt()   # safe from any thread while it is open
                else:
                    connection.sqlite.close()

    def _release(self, connection: _ThreadConnection) -> None:
        """The read is over: close the connection now if the lookup was closed meanwhile."""
        with self._lock:
            connection.busy = False
            if self._closed:
                connection.sqlite.close()   # this thread's own, no longer in use: safe
                self._local.connection = None

    def _closed_error(self) -> LookupClosed:
        return LookupClosed(f'lookup "{self.name}" is closed (its site was reloaded or the '
                            "runtime stopped)")

    def _connect(self) -> sqlite3.Connection:
        """This thread's SQLite connection (see :meth:`_thread_connection`)."""
        return self._thread_connection().sqlite

    def _thread_connection(self) -> _ThreadConnection:
        """This thread's connection: an SQLite connection must not be used by two
        threads at once, and one shared under a lock would make every lookup wait
        for a slow one."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            uri = f"{self.spec.path.resolve().as_uri()}?mode=ro"
            # check_same_thread=False only so that close() may close it from another
            # thread, which it does only while no read uses it (see _ThreadConnection).
            sqlite = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                     timeout=self.spec.timeout)
            with self._lock:
                if self._closed:
                    sqlite.close()
                    raise self._closed_error()
                connection = _ThreadConnection(sqlite)
                self._connections.append(connection)
            self._local.connection = connection
        return connection

    def _value(self, name: str, kind: str, value):
        if value is None:
            return ZERO_VALUES[kind]
        if kind == "number" and isinstance(value, (int, float)):
            return value
        if kind == "boolean" and isinstance(value, int):
            return bool(value)
        try:
            return convert(str(value), kind)
        except BadValue as error:
            log.warning("lookup %s: field %s: %s; read as %r", self.name, name, error.message,
                        ZERO_VALUES[kind])
            return ZERO_VALUES[kind]


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def open_lookup(spec: LookupSpec) -> tuple[Lookup, list[Problem]]:
    """A lookup for the spec, opened, with the problems found while opening it."""
    lookup: Lookup = CsvLookup(spec) if spec.kind == "csv" else SqliteLookup(spec)
    return lookup, lookup.open()
