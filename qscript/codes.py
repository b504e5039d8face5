"""The registry of diagnostic codes.

Every diagnostic the toolchain can emit has a code here, defined once, with a
one-line title and a short explanation. The docs build renders one page per
code from this table (``docs/errors/``) and the golden tests check that every
code has a case, so a new code cannot be added without both.

Numbering: Q0xxx reading and syntax, Q1xxx names, Q2xxx types, Q3xxx menus and
input, Q4xxx control flow and phases, Q5xxx bytecode files, Q9xxx internal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    severity: Severity
    title: str
    explanation: str


_CODES: dict[str, Code] = {}


def _define(code: str, severity: Severity, title: str, explanation: str) -> Code:
    assert code not in _CODES, f"duplicate diagnostic code {code}"
    entry = Code(code, severity, title, " ".join(explanation.split()))
    _CODES[code] = entry
    return entry


E, W = Severity.ERROR, Severity.WARNING

# -- reading and syntax -------------------------------------------------------
UNREADABLE = _define("Q0001", E, "unreadable source",
    "The file is not a text file QScript can read: it is binary, not UTF-8, "
    "or larger than the 5 MB limit.")
UNEXPECTED_CHARACTER = _define("Q0100", E, "unexpected character",
    "A character that cannot start any token, such as `$` or `@`, or a string "
    "that is not closed on its line.")
UNEXPECTED_TOKEN = _define("Q0101", E, "syntax error",
    "The tokens do not form a statement. The message lists what was expected "
    "at that point.")
UNEXPECTED_END = _define("Q0102", E, "unexpected end of file",
    "The file ends in the middle of a statement or before a block has a body.")
BAD_INDENT = _define("Q0103", E, "inconsistent indentation",
    "A line is indented to a column that matches no enclosing block. Indent "
    "each block by the same amount, conventionally four spaces.")
TOO_DEEP = _define("Q0104", E, "nesting too deep",
    "Blocks or expressions are nested more deeply than the limit of 100 levels.")
BAD_LITERAL = _define("Q0105", E, "invalid literal",
    "A literal is malformed: a time of day outside 00:00–23:59, a duration "
    "unit repeated, or an unknown escape in a string.")
EMPTY_SCRIPT = _define("Q0106", E, "no inbound section",
    "Every script needs an `inbound:` section: it is where a call starts.")

# -- names ---------------------------------------------------------------------
UNKNOWN_VARIABLE = _define("Q1001", E, "unknown variable",
    "A name is read that is never assigned with `set`, `collect`, `lookup` or "
    "`do ... into`, nor declared with `const`.")
UNKNOWN_BLOCK = _define("Q1002", E, "unknown block",
    "`goto` (or `when empty goto`) names a block that no `block NAME:` section "
    "defines.")
UNKNOWN_GROUP = _define("Q1003", E, "unknown answer group",
    "The answer group is not defined in the site configuration.")
UNKNOWN_PROMPT = _define("Q1004", E, "unknown prompt",
    "The prompt is not in the site's prompt catalogue.")
UNKNOWN_CALENDAR = _define("Q1005", E, "unknown calendar",
    "The calendar is not defined in the site configuration.")
UNKNOWN_LOOKUP = _define("Q1006", E, "unknown lookup",
    "`lookup` names a lookup that the site configuration does not declare.")
UNKNOWN_COMMAND = _define("Q1007", E, "unknown command",
    "`do` names a custom command that the site configuration does not declare.")
UNKNOWN_FUNCTION = _define("Q1008", E, "unknown function",
    "The called function is not one of QScript's built-in functions.")
UNKNOWN_ATTRIBUTE = _define("Q1009", E, "unknown attribute",
    "The name after the dot is not a fact of `call` or `now`, nor a field of "
    "the lookup result.")
DUPLICATE_SECTION = _define("Q1010", E, "duplicate section",
    "A section (`inbound`, `queue`, `after call`, a block or a constant) is "
    "defined twice.")
UNKNOWN_HOT_PROMPT = _define("Q1011", E, "unknown hot prompt",
    "The hot prompt is not declared in the site configuration.")
READ_ONLY = _define("Q1012", E, "cannot assign",
    "Only variables and the settable call facts (`call.language`, "
    "`call.priority`) can be assigned; constants, other facts and built-in "
    "names cannot.")
RESERVED_NAME = _define("Q1013", E, "name shadows a built-in",
    "A variable, constant or block may not be named `call` or `now`, nor after "
    "a built-in function.")

# -- types ---------------------------------------------------------------------
TYPE_MISMATCH = _define("Q2001", E, "type mismatch",
    "An operator or statement got a value of the wrong type, for example a "
    "string where a duration is needed (`wait \"10\"` instead of `wait 10s`).")
ARGUMENT_COUNT = _define("Q2002", E, "wrong number of arguments",
    "A function or custom command was called with more or fewer arguments "
    "than its signature declares.")
CONFLICTING_TYPES = _define("Q2003", E, "variable used with two types",
    "A variable is assigned values of different types in different places. A "
    "variable has one type for the whole script.")
BAD_VALUE = _define("Q2004", E, "invalid value",
    "A value is out of range for where it is used: a negative timeout, more "
    "than 20 retries, a digit count over 32, a priority outside 0–99, or a "
    "count or priority that is not a whole number (`priority 5.5`, `digits 2.5`, "
    "`retries 1.5`, `repeat 2.5 times`). Values computed during the call are "
    "checked when they are used: a run-time error hands the call to the fallback.")
TOO_LARGE = _define("Q2005", E, "value too large",
    "A constant expression builds a value larger than a script may hold: a "
    "string of more than 65,536 characters, or a number beyond about 1.8e308. "
    "The same limits hold for values built during the call, where they are "
    "run-time errors.")
UNKNOWN_TYPE = _define("Q2006", E, "type cannot be inferred",
    "A variable's type is inferred from the values assigned to it, and every "
    "variable starts a call at the zero value of its type (`0`, `\"\"`, `0s`, "
    "...). A variable only ever assigned values computed from itself "
    "(`set total = total + 1m`) has no type to start from: `total + 1m` may be a "
    "duration or a time of day. Assign it a first value of its type.")

# -- menus and input -------------------------------------------------------------
DUPLICATE_KEY = _define("Q3001", E, "duplicate menu key",
    "The same key is handled twice in one menu; the second branch could never run.")
BAD_KEY = _define("Q3002", E, "invalid key",
    "A key must be a single telephone key: a digit 0–9, `\"*\"` or `\"#\"`.")
DUPLICATE_HANDLER = _define("Q3003", E, "duplicate handler",
    "A menu or collect has two `invalid:`, `timeout:` or `failed:` handlers.")
DUPLICATE_OPTION = _define("Q3004", E, "duplicate option",
    "An option such as `timeout` or `priority` is given twice in one statement.")
MISPLACED_HANDLER = _define("Q3005", E, "handler not allowed here",
    "`key` handlers belong to `menu`; `collect` accepts only `invalid:`, "
    "`timeout:` and `failed:`.")
EMPTY_MENU = _define("Q3006", E, "menu without keys",
    "A menu needs at least one `key` handler.")
SURPLUS_HANDLER = _define("Q3007", W, "handler can never run",
    "An `invalid:` handler on a `collect` without a `valid if` or digit range, "
    "or similar, can never run.")
MISPLACED_OPTION = _define("Q3008", E, "option not allowed here",
    "The statement does not take this option. `add group` takes only `priority` "
    "and `credit` (the call keeps its other queue options); `offer callback` "
    "needs a `prompt` that tells the caller which key accepts.")

# -- control flow and phases ------------------------------------------------------
UNREACHABLE = _define("Q4001", W, "unreachable code",
    "The statement can never run: it follows a `goto`, `hangup`, `stop`, "
    "`transfer` or (in the inbound phase) `queue to` in the same block.")
SPIN_LOOP = _define("Q4002", E, "loop can spin without waiting",
    "A `while` loop, or a cycle of `goto`s, can go round without playing, "
    "waiting or asking the caller anything. It would burn the call's step "
    "budget in an instant. Add a `wait`, or use `every`.")
BREAK_OUTSIDE_LOOP = _define("Q4003", E, "break outside a loop",
    "`break` leaves the innermost `every`, `while` or `repeat` loop and is "
    "meaningless elsewhere.")
WRONG_PHASE = _define("Q4004", E, "statement not allowed in this phase",
    "Some statements only make sense in some phases: `answer` before "
    "queueing, `announce` and `add group` while queued, `requeue` while "
    "queued or after the call. Blocks take the phases of every place that "
    "jumps to them.")
UNUSED_BLOCK = _define("Q4005", W, "block never used",
    "No `goto` reaches this block, so it never runs.")
INTERVAL_TOO_SHORT = _define("Q4006", E, "interval too short",
    "`every` needs an interval of at least one second.")
CONSTANT_CONDITION = _define("Q4007", W, "condition is always the same",
    "The condition of an `if` or `while` is a constant, so one branch never runs.")
REQUEUE_WITHOUT_WAITING = _define("Q4008", W, "requeue before waiting",
    "`requeue to` starts the `queue:` section again from the top. If the "
    "section can reach `requeue to` before it waits, plays or announces "
    "anything, it can go round at once, forever: the VM stops a call that "
    "starts a phase 100 times without waiting (a run-time error; the call goes "
    "to the fallback). Wait first, or guard the requeue with a condition that "
    "is false once the call is requeued.")

# -- bytecode files -----------------------------------------------------------------
NOT_BYTECODE = _define("Q5001", E, "not a QScript bytecode file",
    "The file does not start with the QScript bytecode magic bytes.")
WRONG_FORMAT_VERSION = _define("Q5002", E, "unsupported bytecode format version",
    "The file was written by a QScript with another bytecode format. "
    "Recompile the script with this version (`qscript compile`).")
CORRUPT_BYTECODE = _define("Q5003", E, "corrupt bytecode file",
    "The file is truncated or its contents do not decode.")
UNVERIFIABLE_BYTECODE = _define("Q5005", E, "bytecode fails verification",
    "The file decodes, but some path through its instructions could not run: "
    "an instruction pops more values than the stack holds, is reached with "
    "different stack depths, gets a value of the wrong kind (a string where a "
    "wait needs seconds), or the code runs past its last instruction. A file "
    "written by `qscript compile` always verifies; this one was damaged or "
    "made by hand. It is refused as a whole, before any call runs it.")
STALE_BYTECODE = _define("Q5004", W, "bytecode does not match its source",
    "The source file changed since the bytecode was compiled (the recorded "
    "source hash differs).")

# -- internal ---------------------------------------------------------------------
INTERNAL = _define("Q9000", E, "internal compiler error",
    "The compiler failed on this input. This is a bug in QScript: please report "
    "it with the script.")


def all_codes() -> list[Code]:
    """Every registered code, in numeric order."""
    return sorted(_CODES.values(), key=lambda c: c.code)


def lookup(code: str) -> Code | None:
    return _CODES.get(code.upper())
