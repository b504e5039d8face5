"""Generate the documentation pages that are derived from the code.

Run from anywhere (paths are relative to the repository)::

    .venv/bin/python docs/gen_error_pages.py           # write the pages
    .venv/bin/python docs/gen_error_pages.py --check   # exit 1 if any is out of date

It writes:

* ``docs/errors/index.md`` and one page per diagnostic code,
  ``docs/errors/QNNNN.md``, from :mod:`qscript.codes` and the cases below: a
  failing example, the diagnostic ``qscript`` prints for it (captured by
  running the real CLI on the example), and how to fix it;
* the generated sections (between ``<!-- generated: NAME -->`` and
  ``<!-- end generated: NAME -->``) of ``docs/reference/lexical.md`` (the
  keywords, from the grammar), ``docs/reference/facts-and-functions.md``
  (from :mod:`qscript.builtins`), ``docs/bytecode.md`` (the instruction
  set, from the ``Op`` enum's comments in :mod:`qscript.bytecode`) and
  ``docs/site.md`` (the site file format, from the module docstring of
  ``runtime/site/config.py``);
* ``docs/examples.md``, from the ``examples/`` folders.

``tests/test_docs.py`` checks that the committed pages equal this output, so
after changing a diagnostic message, a built-in, an opcode or an example, run
this script and commit what it changes.

Site-dependent diagnostics (unknown group, prompt, ...) are captured against
:data:`DOCS_SITE`, the names of ``examples/support/site.yaml``; the CLI's site
loader is replaced by it while capturing, everything else runs as shipped.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qscript import bytecode, cli, codes  # noqa: E402
from qscript.builtins import FACTS, FUNCTIONS  # noqa: E402
from qscript.extensions import load_modules  # noqa: E402
from qscript.symbols import LookupInfo, SiteSymbols  # noqa: E402

GENERATOR = "docs/gen_error_pages.py"

# ============================================================== the docs site


def _example_commands() -> dict:
    """The custom commands of examples/custom-command/crm_commands.py."""
    folder = str(EXAMPLES / "custom-command")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return {name: registered.info for name, registered in
            sorted(load_modules(["crm_commands"]).items())}


def docs_site() -> SiteSymbols:
    """The names every example in the documentation is checked against.

    They are those of examples/support/site.yaml (tests/test_docs.py checks
    that they agree), plus the custom commands of the custom-command example.
    """
    return SiteSymbols(
        groups=frozenset({"support", "sales", "overflow", "gold"}),
        prompts=frozenset({
            "welcome", "main-menu", "closed", "enter-customer-number", "invalid-number",
            "invalid-choice", "no-input", "cb-offer", "cb-confirm", "leave-message",
            "survey-q1", "thanks", "outage-msg", "hold-music"}),
        calendars=frozenset({"office", "gold-line"}),
        hot_prompts=frozenset({"outage"}),
        languages=frozenset({"sv", "en"}),
        lookups={"customers": LookupInfo(
            "customers", {"name": "string", "segment": "string", "balance": "number"})},
        commands=_example_commands(),
    )


DOCS_SITE = docs_site()

# ============================================================== error cases


@dataclass(frozen=True)
class Case:
    """How a diagnostic page shows its code.

    ``example`` is a script that produces the code (its first line becomes
    ``# expect: CODE``); ``fix`` says how to fix it, in Markdown; ``fixed`` is
    the corrected script, which must check cleanly. ``site``: check against
    :data:`DOCS_SITE` (for names only a site can know).
    """

    example: str
    fix: str
    fixed: str | None = None
    site: bool = False


def _s(text: str) -> str:
    """A script written as an indented triple-quoted string, dedented."""
    lines = text.strip("\n").splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines) + "\n"


CASES: dict[str, Case] = {
    "Q0100": Case(
        _s("""
            inbound:
                answer
                play 'welcome'
                queue to "support"
        """),
        "Strings are written in double quotes. Other characters that start no token — "
        "`$`, `;`, `{`, `&`, `|`, `!` — have a hint of their own: one statement a line, "
        "blocks by indentation, `and`, `or`, `not`, `!=`.",
        _s("""
            inbound:
                answer
                play "welcome"
                queue to "support"
        """)),
    "Q0101": Case(
        _s("""
            inbound:
                if call.caller = "+46701234567":
                    queue to "gold"
                queue to "support"
        """),
        "Read the list of what was expected. Here `=` assigns (in `set`); comparing "
        "is written `==`.",
        _s("""
            inbound:
                if call.caller == "+46701234567":
                    queue to "gold"
                queue to "support"
        """)),
    "Q0102": Case(
        _s("""
            inbound:
                queue to "support" when empty goto closed

            block closed:
        """),
        "Finish the statement, or give the section or block its indented body.",
        _s("""
            inbound:
                queue to "support" when empty goto closed

            block closed:
                play "closed"
                hangup
        """)),
    "Q0103": Case(
        _s("""
            inbound:
                if not is_open("office"):
                    play "closed"
                  hangup
                queue to "support"
        """),
        "Indent the line to the column of the block it belongs to. `qscript fmt` "
        "rewrites a script with four spaces a level once it parses.",
        _s("""
            inbound:
                if not is_open("office"):
                    play "closed"
                    hangup
                queue to "support"
        """)),
    "Q0104": Case(
        "inbound:\n    set x = " + "(" * 101 + "1" + ")" * 101 + "\n    queue to \"support\"\n",
        "Split the expression with `set` into named parts, or flatten the nesting "
        "(blocks: move deep branches into `block`s reached with `goto`).",
        _s("""
            inbound:
                set x = 1
                queue to "support"
        """)),
    "Q0105": Case(
        _s("""
            inbound:
                if now.time >= 17:60:
                    hangup
                queue to "support"
        """),
        "Times of day run from `00:00` to `23:59`; a duration names each unit once "
        "(`1h30m`, not `1h30m15m`); the string escapes are `\\n`, `\\t`, `\\\"` and `\\\\`.",
        _s("""
            inbound:
                if now.time >= 18:00:
                    hangup
                queue to "support"
        """)),
    "Q0106": Case(
        _s("""
            queue:
                music "default"
                every 30s:
                    announce position
        """),
        "Add an `inbound:` section: it answers, greets and queues the call.",
        _s("""
            inbound:
                answer
                queue to "support"

            queue:
                music "default"
                every 30s:
                    announce position
        """)),
    "Q1001": Case(
        _s("""
            inbound:
                collect customer_no digits 6
                lookup "customers" by customer_number into customer
                queue to "support"
        """),
        "Check the spelling, or assign the variable (with `set`, `collect`, `lookup` or "
        "`do ... into`) somewhere in the script.",
        _s("""
            inbound:
                collect customer_no digits 6
                lookup "customers" by customer_no into customer
                queue to "support"
        """)),
    "Q1002": Case(
        _s("""
            inbound:
                if not is_open("office"):
                    goto closd
                queue to "support"

            block closed:
                play "closed"
                hangup
        """),
        "Correct the name, or define the block with `block NAME:`. (The misspelling also "
        "leaves block `closed` unused, hence the warning.)",
        _s("""
            inbound:
                if not is_open("office"):
                    goto closed
                queue to "support"

            block closed:
                play "closed"
                hangup
        """)),
    "Q1003": Case(
        _s("""
            inbound:
                answer
                queue to "suport"
        """),
        "Use a group the site defines, or add the group to the site configuration.",
        _s("""
            inbound:
                answer
                queue to "support"
        """), site=True),
    "Q1004": Case(
        _s("""
            inbound:
                answer
                play "welcom"
                queue to "support"
        """),
        "Use a prompt from the site's catalogue, or add (record or upload) the prompt.",
        _s("""
            inbound:
                answer
                play "welcome"
                queue to "support"
        """), site=True),
    "Q1005": Case(
        _s("""
            inbound:
                if not is_open("offices"):
                    hangup
                queue to "support"
        """),
        "Use a calendar the site defines, or define it.",
        _s("""
            inbound:
                if not is_open("office"):
                    hangup
                queue to "support"
        """), site=True),
    "Q1006": Case(
        _s("""
            inbound:
                lookup "customer" by call.caller into customer
                queue to "support"
        """),
        "Use a lookup the site declares, or declare it with its fields.",
        _s("""
            inbound:
                lookup "customers" by call.caller into customer
                queue to "support"
        """), site=True),
    "Q1007": Case(
        _s("""
            inbound:
                do open_ticket(call.caller, "phone") into case_number
                queue to "support"
        """),
        "Use a command one of the site's command modules defines (see "
        "[custom commands](../reference/custom-commands.md)), or write it. Without a site "
        "the checker cannot know the commands and accepts any `do`.",
        _s("""
            inbound:
                do open_case(call.caller, "phone") into case_number
                queue to "support"
        """), site=True),
    "Q1008": Case(
        _s("""
            inbound:
                if agents_free("support") > 0:
                    queue to "support"
                queue to "sales"
        """),
        "Use one of the [built-in functions](../reference/facts-and-functions.md#built-in-functions); "
        "for anything else write a [custom command](../reference/custom-commands.md).",
        _s("""
            inbound:
                if agents_ready("support") > 0:
                    queue to "support"
                queue to "sales"
        """)),
    "Q1009": Case(
        _s("""
            inbound:
                log call.callerid
                queue to "support"
        """),
        "Use one of the [facts](../reference/facts-and-functions.md) of `call` or `now`, "
        "`found`, or a field the site declares for the lookup.",
        _s("""
            inbound:
                log call.caller
                queue to "support"
        """)),
    "Q1010": Case(
        _s("""
            inbound:
                queue to "support"

            queue:
                music "default"

            queue:
                every 30s:
                    announce position
        """),
        "Merge the two definitions into one.",
        _s("""
            inbound:
                queue to "support"

            queue:
                music "default"
                every 30s:
                    announce position
        """)),
    "Q1011": Case(
        _s("""
            inbound:
                answer
                play hot "outages"
                queue to "support"
        """),
        "Use a hot prompt the site declares, or declare it.",
        _s("""
            inbound:
                answer
                play hot "outage"
                queue to "support"
        """), site=True),
    "Q1012": Case(
        _s("""
            inbound:
                set call.caller = "anonymous"
                queue to "support"
        """),
        "Keep the value in a variable of your own instead.",
        _s("""
            inbound:
                set caller = "anonymous"
                queue to "support"
        """)),
    "Q1013": Case(
        _s("""
            inbound:
                set estimated_wait = call.estimated_wait
                queue to "support"
        """),
        "Choose another name.",
        _s("""
            inbound:
                set expected_wait = call.estimated_wait
                queue to "support"
        """)),
    "Q2001": Case(
        _s("""
            inbound:
                answer
                wait 30
                queue to "support"
        """),
        "Give the value the type the statement or operator needs: a unit for a duration "
        "(`30s`), quotes for a string, `to_number(...)` or `to_text(...)` to convert. The "
        "[types](../reference/types.md) page lists what each operator accepts.",
        _s("""
            inbound:
                answer
                wait 30s
                queue to "support"
        """)),
    "Q2002": Case(
        _s("""
            inbound:
                if agents_ready() > 0:
                    queue to "support"
                queue to "sales"
        """),
        "Pass the arguments the signature in the help line asks for.",
        _s("""
            inbound:
                if agents_ready("support") > 0:
                    queue to "support"
                queue to "sales"
        """)),
    "Q2003": Case(
        _s("""
            inbound:
                set choice = 1
                if call.dialled == "+46812345000":
                    set choice = "sales"
                queue to "support"
        """),
        "Use one type for the variable, or a second variable for the other value.",
        _s("""
            inbound:
                set choice = "support"
                if call.dialled == "+46812345000":
                    set choice = "sales"
                queue to choice
        """)),
    "Q2004": Case(
        _s("""
            inbound:
                queue to "support" priority 100
        """),
        "Use a value in the range the message gives.",
        _s("""
            inbound:
                queue to "support" priority 99
        """)),
    "Q2005": Case(
        _s("""
            const LINE = "-------------------------------------------------------------"
            const WIDE = LINE + LINE + LINE + LINE + LINE + LINE + LINE + LINE
            const PAGE = WIDE + WIDE + WIDE + WIDE + WIDE + WIDE + WIDE + WIDE
            const BOOK = PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE + PAGE

            inbound:
                log BOOK
                queue to "support"
        """),
        "A string holds at most 65,536 characters, a number at most about 1.8e308, "
        "whether built by `qscript check` from constants or during the call (where the "
        "limit is a run-time error). Keep constants to what a call needs.",
        _s("""
            const LINE = "-------------------------------------------------------------"

            inbound:
                log LINE
                queue to "support"
        """)),
    "Q2006": Case(
        _s("""
            inbound:
                queue to "support"

            queue:
                every 30s:
                    set waited_here = waited_here + 30s
                    if waited_here > 3m:
                        offer callback prompt "cb-offer"
        """),
        "Give the variable a first value of its type before the loop, so its type "
        "(and its value on every call) is known.",
        _s("""
            inbound:
                set waited_here = 0s
                queue to "support"

            queue:
                every 30s:
                    set waited_here = waited_here + 30s
                    if waited_here > 3m:
                        offer callback prompt "cb-offer"
        """)),
    "Q3001": Case(
        _s("""
            inbound:
                menu "main-menu":
                    key 1:
                        queue to "support"
                    key 1:
                        queue to "sales"
                queue to "support"
        """),
        "Give each branch its own key.",
        _s("""
            inbound:
                menu "main-menu":
                    key 1:
                        queue to "support"
                    key 2:
                        queue to "sales"
                queue to "support"
        """)),
    "Q3002": Case(
        _s("""
            inbound:
                menu "main-menu":
                    key 1:
                        queue to "support"
                    key 10:
                        queue to "sales"
                queue to "support"
        """),
        "A menu reads one key. To read several digits, use `collect`.",
        _s("""
            inbound:
                menu "main-menu":
                    key 1:
                        queue to "support"
                    key 0:
                        queue to "sales"
                queue to "support"
        """)),
    "Q3003": Case(
        _s("""
            inbound:
                menu "main-menu":
                    key 1:
                        queue to "sales"
                    timeout:
                        play "no-input"
                    timeout:
                        play "welcome"
                queue to "support"
        """),
        "Merge the handlers into one.",
        _s("""
            inbound:
                menu "main-menu":
                    key 1:
                        queue to "sales"
                    timeout:
                        play "no-input"
                queue to "support"
        """)),
    "Q3004": Case(
        _s("""
            inbound:
                menu "main-menu" timeout 5s retries 2 timeout 10s:
                    key 1:
                        queue to "sales"
                queue to "support"
        """),
        "Keep one of them.",
        _s("""
            inbound:
                menu "main-menu" timeout 10s retries 2:
                    key 1:
                        queue to "sales"
                queue to "support"
        """)),
    "Q3005": Case(
        _s("""
            inbound:
                collect customer_no digits 6:
                    key 0:
                        goto operator
                queue to "support"

            block operator:
                queue to "sales"
        """),
        "Branch on the entry after the `collect` (`if customer_no == \"0\":`), or use a "
        "`menu` for single keys.",
        _s("""
            inbound:
                collect customer_no digits 1 to 6
                if customer_no == "0":
                    goto operator
                queue to "support"

            block operator:
                queue to "sales"
        """)),
    "Q3006": Case(
        _s("""
            inbound:
                menu "main-menu":
                    timeout:
                        play "no-input"
                queue to "support"
        """),
        "Add the `key` branches; to just play a prompt, use `play`.",
        _s("""
            inbound:
                menu "main-menu":
                    key 1:
                        queue to "sales"
                    timeout:
                        play "no-input"
                queue to "support"
        """)),
    "Q3007": Case(
        _s("""
            inbound:
                collect customer_no prompt "enter-customer-number":
                    invalid:
                        play "invalid-number"
                queue to "support"
        """),
        "Say what a valid entry is (`digits 6`, `digits 6 to 10`, `valid if ...`), or "
        "remove the handler.",
        _s("""
            inbound:
                collect customer_no prompt "enter-customer-number" digits 6:
                    invalid:
                        play "invalid-number"
                queue to "support"
        """)),
    "Q3008": Case(
        _s("""
            inbound:
                queue to "support"
            queue:
                every 60s:
                    if call.waited > 2m:
                        add group "overflow" priority 2 target 30s
        """),
        "Give `add group` only `priority` and `credit`; the call's other queue options "
        "stay as they were set by `queue to`.",
        _s("""
            inbound:
                queue to "support"
            queue:
                every 60s:
                    if call.waited > 2m:
                        add group "overflow" priority 2
        """)),
    "Q4001": Case(
        _s("""
            inbound:
                answer
                queue to "support"
                play "welcome"
        """),
        "Move the statement before the one that ends the path, or remove it. Remember "
        "that `queue to` ends the inbound phase: what the caller hears while waiting "
        "belongs in `queue:`.",
        _s("""
            inbound:
                answer
                play "welcome"
                queue to "support"
        """)),
    "Q4002": Case(
        _s("""
            inbound:
                answer
                while agents_ready("support") == 0:
                    log "waiting for an agent"
                queue to "support"
        """),
        "Make every round wait: add a `wait`, a prompt, or use `every`, which waits "
        "between rounds by itself.",
        _s("""
            inbound:
                answer
                while agents_ready("support") == 0 and call.elapsed < 2m:
                    play "welcome"
                    wait 10s
                queue to "support"
        """)),
    "Q4003": Case(
        _s("""
            inbound:
                if not is_open("office"):
                    break
                queue to "support"
        """),
        "Use `goto` to leave for a block, `stop` to end the phase, or `hangup`.",
        _s("""
            inbound:
                if not is_open("office"):
                    hangup
                queue to "support"
        """)),
    "Q4004": Case(
        _s("""
            inbound:
                answer
                announce wait
                queue to "support"
        """),
        "Move the statement to a section where it applies: the "
        "[phases](../reference/phases.md) page lists where each statement is legal. "
        "For a block, look at every `goto` that reaches it.",
        _s("""
            inbound:
                answer
                queue to "support"

            queue:
                announce wait
        """)),
    "Q4005": Case(
        _s("""
            inbound:
                queue to "support"

            block closed:
                play "closed"
                hangup
        """),
        "Reach the block with `goto` (or `when empty goto`), or remove it.",
        _s("""
            inbound:
                if not is_open("office"):
                    goto closed
                queue to "support"

            block closed:
                play "closed"
                hangup
        """)),
    "Q4006": Case(
        _s("""
            inbound:
                queue to "support"

            queue:
                every 500ms:
                    announce position
        """),
        "Use an interval of a second or more.",
        _s("""
            inbound:
                queue to "support"

            queue:
                every 30s:
                    announce position
        """)),
    "Q4007": Case(
        _s("""
            inbound:
                if false:
                    play "outage-msg"
                queue to "support"
        """),
        "To switch a prompt on and off without a new script, use a hot prompt "
        "(`play hot`, `hot_prompt_active(...)`); otherwise remove the dead branch.",
        _s("""
            inbound:
                if hot_prompt_active("outage"):
                    play "outage-msg"
                queue to "support"
        """)),
    "Q4008": Case(
        _s("""
            inbound:
                queue to "support"

            queue:
                if agents_logged_in("support") == 0:
                    requeue to "sales"
                every 30s:
                    announce position
        """),
        "Wait, play or announce before the requeue, and requeue only while the call is "
        "not already in the group it is sent to. Otherwise, when nobody is logged in to "
        "`support`, the call requeues, the section starts again and requeues at once, "
        "until the VM stops it.",
        _s("""
            inbound:
                queue to "support"

            queue:
                every 30s:
                    announce position
                    if agents_logged_in("support") == 0 and "sales" not in call.groups:
                        requeue to "sales"
        """)),
}

#: Codes shown with a shell session instead of a script: code -> (command, fix).
SPECIAL: dict[str, tuple[str, str]] = {
    "Q0001": ("check greeting.wav",
              "Check the path: give `qscript` the `.qs` script, saved as UTF-8 text."),
    "Q5001": ("disasm support.qsc",
              "Give the command a file written by `qscript compile`, or the `.qs` script "
              "itself."),
    "Q5002": ("disasm support.qsc",
              "Compile the script again with this version: `qscript compile support.qs`."),
    "Q5003": ("disasm support.qsc",
              "Compile the script again (`qscript compile support.qs`); if a copy was "
              "damaged on the way, copy it again."),
    "Q5005": ("simulate support.qsc --model model.yaml",
              "Compile the script again (`qscript compile support.qs`) and use that file; "
              "a `.qsc` is not meant to be edited by hand."),
}

#: Codes without an example, with what to say instead.
NO_EXAMPLE: dict[str, str] = {
    "Q5004": "Commands that load a bytecode file (`qscript disasm`, `qscript simulate`, "
             "`qscript test` when given a `.qsc`) compare the SHA-256 hash recorded in it "
             "with the script next to it and warn when they differ:\n\n"
             "```text\nsupport.qsc: warning[Q5004]: support.qs changed since this file was "
             "compiled\n   = help: recompile with `qscript compile support.qs`\n```\n\n"
             "The file still loads: it is the program as it was compiled.\n\n"
             "## How to fix it\n\nCompile the script again: `qscript compile support.qs`.\n",
    "Q9000": "There is no example: an input that produced this code would be a bug, and "
             "is fixed as soon as it is found.\n\n"
             "## What to do\n\nReport it together with the script that caused it; the "
             "message ends with the last line of the Python error. Diagnostics found before "
             "the failure are still reported. (A failure outside the compiler makes the CLI "
             "print `internal error` and exit with code 123; run it again with "
             "`QSCRIPT_DEBUG=1` in the environment to see the traceback.)\n",
}

# ============================================================== capturing CLI output

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_cli(args: list[str], files: dict[str, bytes], site: bool = False) -> tuple[int, str]:
    """Run ``qscript ARGS`` in a temporary directory holding ``files``.

    Returns the exit code and what the command printed (stdout, then stderr).
    With ``site``, ``--site`` loads :data:`DOCS_SITE`.
    """
    from click.testing import CliRunner

    runner = CliRunner()
    with tempfile.TemporaryDirectory() as directory, contextlib.chdir(directory):
        for name, data in files.items():
            Path(name).write_bytes(data)
        patch = mock.patch.object(cli, "_site_symbols",
                                  lambda path: DOCS_SITE if path is not None else None)
        with patch:
            result = runner.invoke(cli.main, args, catch_exceptions=False)
    text = result.stdout + result.stderr
    return result.exit_code, _ANSI.sub("", text)


def example_script(code: str) -> str:
    return f"# expect: {code}\n{CASES[code].example}"


def capture_case(code: str) -> tuple[str, str]:
    """The command line and the output of checking a case's example."""
    case = CASES[code]
    args = ["check", "--site", "site.yaml", "example.qs"] if case.site else ["check", "example.qs"]
    _, output = run_cli(args, {"example.qs": example_script(code).encode()}, case.site)
    return "qscript " + " ".join(args), output


def _compiled_bytes() -> bytes:
    from qscript.api import compile_text

    result = compile_text('inbound:\n    answer\n    queue to "support"\n', "support.qs")
    return result.program.to_bytes()


def capture_special(code: str) -> tuple[str, str]:
    command, _ = SPECIAL[code]
    if code == "Q0001":
        files = {"greeting.wav": b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"}
    elif code == "Q5001":
        files = {"support.qsc": b"inbound:\n    answer\n"}
    elif code == "Q5002":
        data = bytearray(_compiled_bytes())
        data[4:6] = (bytecode.FORMAT_VERSION + 1).to_bytes(2, "little")
        files = {"support.qsc": bytes(data)}
    elif code == "Q5005":  # edited by hand: the queue made a wait (of a string), checksum made right
        program = bytecode.read_program(_compiled_bytes())
        pc = next(i for i, (op, _) in enumerate(program.code) if op == bytecode.Op.QUEUE)
        program.code[pc] = (int(bytecode.Op.WAIT), 0)
        files = {"support.qsc": bytecode.write_program(program), "model.yaml": b""}
    else:  # Q5003: a file cut short on the way
        files = {"support.qsc": _compiled_bytes()[:60]}
    _, output = run_cli(command.split(), files)
    return "qscript " + command, output


# ============================================================== error pages


def _severity_word(entry: codes.Code) -> str:
    return "Error" if entry.severity is codes.Severity.ERROR else "Warning"


def error_page(entry: codes.Code) -> str:
    out = [f"# {entry.code}: {entry.title}", "",
           f"**{_severity_word(entry)}.** {entry.explanation}", ""]
    if entry.code in CASES:
        case = CASES[entry.code]
        command, output = capture_case(entry.code)
        out += ["## Example", "", "```qscript-error", example_script(entry.code).rstrip("\n"),
                "```", "", f"`{command}` prints:", "", "```text", output.rstrip("\n"), "```",
                "", "## How to fix it", "", case.fix, ""]
        if case.fixed:
            out += ["```qscript", case.fixed.rstrip("\n"), "```", ""]
    elif entry.code in SPECIAL:
        command, fix = SPECIAL[entry.code]
        shown, output = capture_special(entry.code)
        out += ["## Example", "", "```text", f"$ {shown}", output.rstrip("\n"), "```", "",
                "## How to fix it", "", fix, ""]
    elif entry.code in NO_EXAMPLE:
        out += [NO_EXAMPLE[entry.code]]
    else:
        raise SystemExit(f"{GENERATOR}: no example for {entry.code}; add one to CASES")
    out += ["See also: [all diagnostics](index.md), `qscript explain " + entry.code + "`."]
    return "\n".join(out).rstrip("\n") + "\n"


_RANGES = [
    ("Q0", "Reading and syntax"), ("Q1", "Names"), ("Q2", "Types and values"),
    ("Q3", "Menus and input"), ("Q4", "Control flow and phases"), ("Q5", "Bytecode files"),
    ("Q9", "Internal"),
]


def errors_index() -> str:
    out = ["# Diagnostics", "",
           "Every error and warning QScript reports has a code. `qscript check` prints it "
           "in the first line of the diagnostic (`error[Q1003]`), `qscript explain CODE` "
           "explains it in the terminal, and each code has a page here with an example "
           "and how to fix it.", "",
           "Errors stop a script from compiling; warnings do not (unless "
           "`qscript check --strict`). The checker reports every problem it finds in one "
           "run, not just the first.", "",
           "The examples that need a site are checked against the names of the support "
           "site (see [the reference](../reference/index.md#the-site-in-the-examples)).", ""]
    entries = codes.all_codes()
    for prefix, heading in _RANGES:
        group = [e for e in entries if e.code.startswith(prefix)]
        if not group:
            continue
        out += [f"## {heading}", "", "| Code | Severity | Title |", "| --- | --- | --- |"]
        out += [f"| [{e.code}]({e.code}.md) | {e.severity.value} | {e.title} |" for e in group]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# ============================================================== generated sections


def _md(text: str) -> str:
    """Table-cell text: pipes escaped."""
    return text.replace("|", "\\|")


def facts_table(owner: str) -> str:
    out = ["| Fact | Type | Settable | Meaning |", "| --- | --- | --- | --- |"]
    for fact in FACTS:
        if fact.owner == owner:
            out.append(f"| `{fact.qualified}` | {fact.type} | {'yes' if fact.settable else ''} "
                       f"| {_md(fact.doc)} |")
    return "\n".join(out)


def functions_table() -> str:
    out = ["| Function | Returns | Meaning |", "| --- | --- | --- |"]
    for function in FUNCTIONS:
        params = ", ".join(f"{name}: {type_}" for name, type_ in function.params)
        resource = {"group": " The group must be defined by the site.",
                    "calendar": " The calendar must be defined by the site.",
                    "hot_prompt": " The hot prompt must be declared by the site."
                    }.get(function.resource or "", "")
        out.append(f"| `{function.name}({params})` | {function.returns} | "
                   f"{_md(function.doc)}{resource} |")
    return "\n".join(out)


def keywords_list() -> str:
    grammar = (ROOT / "grammar" / "qscript.lark").read_text(encoding="utf-8")
    grammar = re.sub(r"//[^\n]*", "", grammar)
    words = sorted(set(re.findall(r'"([A-Za-z_]+)"', grammar)))
    return " ".join(f"`{w}`" for w in words)


_OP_LINE = re.compile(r"^\s+([A-Z_]+) = (\d+)\s*#\s?(.*)$")
_OP_SECTION = re.compile(r"^\s+# -- (.*)$")


def opcode_tables() -> str:
    """The instruction set, one table per group, from the comments of ``class Op``."""
    source = Path(bytecode.__file__).read_text(encoding="utf-8")
    body = source.split("class Op(IntEnum):", 1)[1].split("\n\n\n", 1)[0]
    out: list[str] = []
    for line in body.splitlines():
        section = _OP_SECTION.match(line)
        if section:
            title = section.group(1)
            out += ["", f"### {title[0].upper()}{title[1:]}", "",
                    "| Opcode | Number | Stack | Notes |", "| --- | --- | --- | --- |"]
            continue
        match = _OP_LINE.match(line)
        if match:
            name, number, comment = match.groups()
            # The comment is "STACK PICTURE   (notes)" or "STACK PICTURE   notes"; a
            # picture with alternatives ("... | ...") is kept whole.
            comment = comment.strip()
            parts = re.split(r"\s{2,}", comment, maxsplit=1)
            if "|" in comment or len(parts) == 1:
                stack, notes = re.sub(r"\s{2,}", " ", comment), ""
            else:
                stack, notes = parts
            if notes.startswith("(") and notes.endswith(")"):
                notes = notes[1:-1]
            out.append(f"| `{name}` | {number} | `{stack}` | {_md(notes)} |")  # a code span may hold "|"
    documented = {m.group(1) for m in map(_OP_LINE.match, body.splitlines()) if m}
    missing = {op.name for op in bytecode.Op} - documented
    if missing:
        raise SystemExit(f"{GENERATOR}: opcodes without a comment line: {sorted(missing)}")
    return "\n".join(out).strip("\n")


SITE_CONFIG_MODULE = ROOT / "runtime" / "site" / "config.py"


def site_format() -> str:
    """The site file format: the Markdown docstring of runtime/site/config.py, less its
    summary line (the page has its own title). Read with :mod:`ast`, not imported."""
    import ast
    tree = ast.parse(SITE_CONFIG_MODULE.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree, clean=True) or ""
    _summary, _, body = docstring.partition("\n")
    if not body.strip():
        raise SystemExit(f"{GENERATOR}: {SITE_CONFIG_MODULE} has no documentation to publish")
    return body.strip("\n")


GENERATED_SECTIONS = {
    "docs/reference/lexical.md": {"keywords": keywords_list},
    "docs/reference/facts-and-functions.md": {
        "call-facts": lambda: facts_table("call"),
        "now-facts": lambda: facts_table("now"),
        "functions": functions_table,
    },
    "docs/bytecode.md": {"opcodes": opcode_tables},
    "docs/site.md": {"site-format": site_format},
}


def fill_sections(text: str, sections: dict, path: str) -> str:
    for name, make in sections.items():
        begin = f"<!-- generated: {name} ({GENERATOR}) -->"
        end = f"<!-- end generated: {name} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit(f"{GENERATOR}: {path} has no section {begin} ... {end}")
        text = pattern.sub(lambda _: f"{begin}\n\n{make()}\n\n{end}", text)
    return text


# ============================================================== examples page

#: The example folders, in the order the page shows them.
EXAMPLE_FOLDERS = ["basic", "menus", "calendar", "priority", "overflow", "callback",
                   "voicemail", "survey", "previous-agent", "custom-command", "support"]
_LANGUAGES = {".qs": "qscript", ".py": "python", ".yaml": "yaml", ".txt": "text"}
#: Title and text for example folders without a README.md of their own.
_NO_README = {
    "basic": ("The smallest script",
              "Every call is answered and queued to the answer group `main`. This example "
              "has its own site configuration, `examples/basic/site.yaml`, which defines "
              "`main`:\n\n```sh\nqscript check --site examples/basic/site.yaml "
              "examples/basic/single-group.qs\n```"),
}


def examples_page() -> str:
    out = ["# Examples", "",
           "The `examples/` folder of the repository has one folder per feature, each with "
           "a script that passes `qscript check`. This page shows them all; it is generated "
           f"from the folders by `{GENERATOR}`.", "",
           "The scripts use the names of the support site (`examples/support/site.yaml`): "
           "answer groups `support`, `sales`, `overflow` and `gold`, the calendar `office`, "
           "the hot prompt `outage`, the lookup `customers` and the prompts listed in "
           "[the reference](reference/index.md#the-site-in-the-examples). Check one with:", "",
           "```sh", "qscript check --site examples/support/site.yaml examples/callback/callback.qs",
           "```", ""]
    for folder in EXAMPLE_FOLDERS:
        path = EXAMPLES / folder
        if not path.is_dir():
            continue
        readme = path / "README.md"
        title = folder
        if readme.exists():
            lines = readme.read_text(encoding="utf-8").strip("\n").splitlines()
            if lines and lines[0].startswith("# "):
                title, lines = lines[0][2:].strip(), lines[1:]
            out += [f"## {title}", ""]
            body = "\n".join("#" + line if line.startswith("#") else line for line in lines)
            out += [body.strip("\n"), ""]
        else:
            title, text = _NO_README.get(folder, (folder, ""))
            out += [f"## {title}", ""] + ([text, ""] if text else [])
        shown = sorted(p for p in path.iterdir()
                       if p.suffix in (".qs", ".py") and not p.name.startswith("_"))
        shown.sort(key=lambda p: p.suffix != ".qs")
        for file in shown:
            out += [f"`examples/{folder}/{file.name}`:", "",
                    f"```{_LANGUAGES[file.suffix]}",
                    file.read_text(encoding="utf-8").rstrip("\n"), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


# ============================================================== driver


def expected_files() -> dict[Path, str]:
    """Every generated file with the content it should have."""
    files: dict[Path, str] = {DOCS / "errors" / "index.md": errors_index()}
    for entry in codes.all_codes():
        files[DOCS / "errors" / f"{entry.code}.md"] = error_page(entry)
    for relative, sections in GENERATED_SECTIONS.items():
        path = ROOT / relative
        files[path] = fill_sections(path.read_text(encoding="utf-8"), sections, relative)
    files[DOCS / "examples.md"] = examples_page()
    return files


def stale_files() -> list[tuple[Path, str, str | None]]:
    """(path, current text, expected text) for every file that is out of date.

    The expected text is None for a page of a code that no longer exists.
    """
    expected = expected_files()
    stale: list[tuple[Path, str, str | None]] = []
    for path, text in expected.items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            stale.append((path, current, text))
    for path in sorted((DOCS / "errors").glob("Q*.md")):
        if path not in expected:
            stale.append((path, path.read_text(encoding="utf-8"), None))
    return stale


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_files()
        for path, current, text in stale:
            name = str(path.relative_to(ROOT))
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(True), (text or "").splitlines(True),
                name, name + " (generated)"))
        if stale:
            print(f"{len(stale)} generated file(s) out of date; run {GENERATOR}")
            return 1
        print("generated documentation is up to date")
        return 0
    (DOCS / "errors").mkdir(exist_ok=True)
    changed = 0
    for path, _, text in stale_files():
        if text is None:
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        changed += 1
    print(f"{changed} file(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
