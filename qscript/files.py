"""Reading input files without surprises: regular files only, up to a size limit.

``open(path).read()`` on a path a user typed can hang (a FIFO nobody writes
to), never end (``/dev/zero``), or fill the memory (a multi-gigabyte log
named by mistake). :func:`read_limited` refuses all three before reading,
with a message that says what the path is, and never blocks: the type is
checked before the file is opened and again on the open descriptor (the path
could be swapped in between), and the open is non-blocking.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnreadableFile(Exception):
    """A path that cannot be read as an input file; ``reason`` says why, without the path."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _kind_of(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _too_big(size: int, limit: int, kind: str) -> str:
    return f"the file is {size:,} bytes; {kind}s are limited to {limit:,} bytes"


def check_readable(path: str | Path, *, kind: str = "file") -> os.stat_result:
    """The file's status if ``path`` names a regular file; UnreadableFile otherwise."""
    name = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UnreadableFile(name, "no such file") from None
    except NotADirectoryError:
        raise UnreadableFile(name, "no such file (a part of the path is not a directory)") \
            from None
    except OSError as error:
        raise UnreadableFile(name, f"cannot read: {error.strerror or error}") from None
    what = _kind_of(info.st_mode)
    if what == "a directory":
        raise UnreadableFile(name, f"is a directory, not a {kind}")
    if what is not None:
        raise UnreadableFile(name, f"is {what}, not a regular file")
    return info


def read_limited(path: str | Path, limit: int, *, kind: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refusing anything else or more than ``limit``.

    ``kind`` names the file in messages ("script", "site file", ...). Raises
    :class:`UnreadableFile` (missing, a directory, a FIFO or device, no
    permission, too big).
    """
    name = str(path)
    info = check_readable(path, kind=kind)
    if info.st_size > limit:
        raise UnreadableFile(name, _too_big(info.st_size, limit, kind))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise UnreadableFile(name, f"cannot read: {error.strerror or error}") from None
    try:
        what = _kind_of(os.fstat(descriptor).st_mode)
        if what is not None:  # swapped since the check above
            raise UnreadableFile(name, f"is {what}, not a regular file")
        chunks, total = [], 0
        while True:
            try:
                chunk = os.read(descriptor, min(1 << 20, limit + 1 - total))
            except OSError as error:
                raise UnreadableFile(name, f"cannot read: {error.strerror or error}") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise UnreadableFile(name, _too_big(total, limit, kind))
        return b"".join(chunks)
    finally:
        os.close(descriptor)
