"""Stored script versions whose bytecode this runtime refuses (another bytecode
format, written before an upgrade, or damaged): serve compiles them again from
their stored source, or refuses to start / roll back with the reason — it
never runs a program it has not verified, and never leaves the database saying
one version is active while another runs."""

from __future__ import annotations

import asyncio
import struct

import pytest

from qscript.bytecode import FORMAT_VERSION
from runtime.store.database import Store

from fake_ari import FakeAri
from test_live_runtime_unit import make_runtime

GOOD = 'inbound:\n    answer\n    queue to "support"\n'
#: Compiled by an older QScript; the checks of this one refuse it (Q2004).
NO_LONGER_COMPILES = 'inbound:\n    answer\n    queue to "support" priority 5.5\n'


def _old_format(bytecode: bytes) -> bytes:
    """The same program in a bytecode format this runtime does not read."""
    data = bytearray(bytecode)
    data[4:6] = struct.pack("<H", FORMAT_VERSION - 1)
    return bytes(data)


def _store_old_version(tmp_path, source: str) -> None:
    """What the database of the previous release holds: version 1 of "test",
    active, its bytecode in the previous format."""
    from qscript.api import check_source
    from qscript.source import Source
    program = check_source(Source(GOOD, "test.qs"), None, compile=True).program
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.add_version("test", source, _old_format(program.to_bytes()), program.hash_hex)
    store.close()


def test_a_stored_version_in_an_older_bytecode_format_is_compiled_again_at_start(tmp_path, caplog):
    _store_old_version(tmp_path, GOOD)

    async def scenario():
        runtime = make_runtime(tmp_path, FakeAri(), script=GOOD)
        await runtime.start()
        assert runtime.versions == {"test": 1}          # the same version, not a new one
        stored = runtime.store.versions("test")
        assert len(stored) == 1
        assert struct.unpack("<H", stored[0].bytecode[4:6])[0] == FORMAT_VERSION
        await runtime.close()
    asyncio.run(scenario())
    assert "compiled again from its stored source" in caplog.text


def test_a_stored_version_that_no_longer_compiles_stops_the_start_with_the_reason(tmp_path):
    _store_old_version(tmp_path, NO_LONGER_COMPILES)

    async def scenario():
        runtime = make_runtime(tmp_path, FakeAri(), script=GOOD)
        with pytest.raises(RuntimeError) as refused:
            await runtime.start()
        message = str(refused.value)
        assert "stored version 1 of test cannot run" in message
        assert "Q5002" in message and "Q2004" in message
        assert "5.5" in message  # the offending source line is shown
        await runtime.close()
    asyncio.run(scenario())


def test_rolling_back_to_a_version_that_cannot_run_changes_nothing(tmp_path):
    _store_old_version(tmp_path, NO_LONGER_COMPILES)
    # A good version 2 was deployed after the upgrade: the runtime starts on it.
    from qscript.api import check_source
    from qscript.source import Source
    program = check_source(Source(GOOD, "test.qs"), None, compile=True).program
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.add_version("test", GOOD, program.to_bytes(), program.hash_hex)
    store.close()

    async def scenario():
        runtime = make_runtime(tmp_path, FakeAri(), script=GOOD)
        await runtime.start()
        assert runtime.versions == {"test": 2}
        result = await runtime.rollback("test", 1)
        assert not result.ok and "cannot run" in result.diagnostics[0]["message"]
        assert runtime.versions == {"test": 2}
        assert [v.version for v in runtime.store.active_versions()] == [2]
        await runtime.close()
    asyncio.run(scenario())
