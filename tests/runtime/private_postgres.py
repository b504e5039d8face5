"""A private PostgreSQL server for tests that stop and restart the database.

The machine's PostgreSQL (127.0.0.1:5432) is shared by every test run and
must never be stopped; outage tests start their own server instead: Debian's
binaries (``/usr/lib/postgresql/*/bin``), a fresh cluster in a temporary
directory, a free port on 127.0.0.1, trust authentication. PostgreSQL refuses
to run as root, so under root the server runs as the ``postgres`` user
(``runuser``) in a directory that user owns.

Setting up a cluster takes about half a second; stopping (``-m immediate``,
as a crash or a killed server would) and starting again a tenth of one.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def postgres_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory (None: not installed)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda path: int(Path(path).parent.name)
                        if Path(path).parent.name.isdigit() else 0)
    for candidate in reversed(candidates):
        if (Path(candidate) / "pg_ctl").is_file() and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivatePostgres:
    """One throw-away PostgreSQL cluster; ``stop()``/``start()`` make an outage."""

    def __init__(self, binaries: Path):
        self.binaries = binaries
        self.directory = Path(tempfile.mkdtemp(prefix="qscript-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        # fsync=off: the tests check our outbox, not PostgreSQL's durability;
        # an immediate stop kills the processes, not the OS, so nothing is lost.
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"),
                  "-w", "-t", "30", "-o",
                  f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c max_connections=50", "start")

    def stop(self) -> None:
        """Stop at once, as a crash would: clients see their connections reset."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        result = subprocess.run(self._command("pg_ctl", "-D", str(self.data), "status"),
                                capture_output=True, text=True)
        return result.returncode == 0

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.directory / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.binaries / program), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self._as_postgres else command

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(self._command(program, *args), capture_output=True, text=True,
                                cwd=self.directory, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}\n{self.log()[-2000:]}")


def private_postgres():
    """The body of an outage test's ``postgres`` fixture: a server, destroyed afterwards.

    Missing server binaries fail the test (CI has them): an outage test that does not
    run would hide the very case it exists for.
    """
    import pytest
    binaries = postgres_binaries()
    if binaries is None:
        pytest.fail("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                    "apt-get install postgresql")
    server = PrivatePostgres(binaries)
    try:
        yield server
    finally:
        server.destroy()
