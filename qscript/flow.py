"""Control-flow checks: unreachable code, loops that can spin, and phases.

These run after :mod:`qscript.checker` on the same AST:

* **Unreachable code** (warning Q4001): a statement after one that never
  completes normally (``goto``, ``hangup``, ``stop``, ``transfer``, ``queue
  to``, ``requeue``, an ``every`` loop without ``break``, an ``if`` whose
  branches all end so).
* **Loops that can spin** (error Q4002): a ``while`` body (``repeat`` is bounded by its count) with a
  path back to its start that neither plays, waits nor asks the caller
  anything, and cycles of ``goto`` between blocks with such a path. Without
  a wait such a loop would run the call's whole step budget in an instant.
* **Phases** (error Q4004): each block takes the phases of every place that
  reaches it (fixed point over the goto graph); a statement must be legal in
  every phase of its section or block.
* **Unused blocks** (warning Q4005).
"""

from __future__ import annotations

from . import ast, codes
from .diagnostics import DiagnosticBag, quote as _q

INBOUND, QUEUED, AFTER = "inbound", "queue", "after"
# With their preposition: "not allowed after the call", not "in after the call".
_PHASE_WORDS = {INBOUND: "in the inbound phase", QUEUED: "in the queue phase",
                AFTER: "after the call"}

#: Statements legal only in some phases (all others are legal everywhere).
ALLOWED_PHASES: dict[type, frozenset[str]] = {
    ast.Answer: frozenset({INBOUND}),
    ast.AddGroup: frozenset({QUEUED}),
    ast.RemoveGroup: frozenset({QUEUED}),
    ast.Announce: frozenset({QUEUED}),
    ast.OfferCallback: frozenset({QUEUED}),
    ast.Voicemail: frozenset({INBOUND, QUEUED}),
    ast.Transfer: frozenset({INBOUND, QUEUED}),
}
_QUEUE_TO = frozenset({INBOUND})
_REQUEUE = frozenset({QUEUED, AFTER})

_STATEMENT_NAMES = {
    ast.Answer: "answer", ast.AddGroup: "add group", ast.RemoveGroup: "remove group",
    ast.Announce: "announce", ast.OfferCallback: "offer callback", ast.Voicemail: "voicemail",
    ast.Transfer: "transfer",
}

#: Statements that make the caller wait (they play, wait or listen).
_WAITING = (ast.Play, ast.Say, ast.Wait, ast.Menu, ast.Collect, ast.Every, ast.Announce,
            ast.OfferCallback, ast.Voicemail)
#: Statements that never complete normally.
_ENDING = (ast.Goto, ast.Hangup, ast.Stop, ast.Transfer, ast.Queue, ast.Break)


def allowed_phases(stmt: ast.Stmt) -> frozenset[str] | None:
    if isinstance(stmt, ast.Queue):
        return _REQUEUE if stmt.requeue else _QUEUE_TO
    return ALLOWED_PHASES.get(type(stmt))


# ------------------------------------------------------------------ completion


def completes(stmt: ast.Stmt) -> bool:
    """Can control continue after this statement?"""
    if isinstance(stmt, _ENDING):
        return False
    if isinstance(stmt, ast.If):
        if stmt.orelse is None:
            return True
        return any(body_completes(b) for b in ast.children(stmt))
    if isinstance(stmt, ast.Every):
        return _contains_break(stmt.body)
    if isinstance(stmt, ast.While):
        always = isinstance(stmt.condition, ast.BoolLit) and stmt.condition.value
        return not always or _contains_break(stmt.body)
    if isinstance(stmt, ast.Menu):
        # Key handlers continue after the menu; when the retries run out the
        # failed: handler runs, or, without one, the script continues.
        failed = [h for h in stmt.handlers if h.kind == "failed"]
        keys = [h for h in stmt.handlers if h.kind == "key"]
        return any(body_completes(h.body) for h in keys) or not failed or \
            body_completes(failed[0].body)
    return True


def body_completes(body: tuple[ast.Stmt, ...]) -> bool:
    return all(completes(s) for s in body)


def _contains_break(body: tuple[ast.Stmt, ...]) -> bool:
    """Does a break in this body leave the loop that owns the body?"""
    for stmt in body:
        if isinstance(stmt, ast.Break):
            return True
        if isinstance(stmt, (ast.Every, ast.While, ast.Repeat)):
            continue  # a break in there leaves the inner loop
        if any(_contains_break(b) for b in ast.children(stmt)):
            return True
    return False


def completes_without_waiting(stmt: ast.Stmt) -> bool:
    """Is there a path through this statement that continues after it without waiting?"""
    if isinstance(stmt, _WAITING) or isinstance(stmt, _ENDING):
        return False
    if isinstance(stmt, ast.If):
        if stmt.orelse is None:
            return True
        return any(body_without_waiting(b) for b in ast.children(stmt))
    return True


def body_without_waiting(body: tuple[ast.Stmt, ...]) -> bool:
    return all(completes_without_waiting(s) for s in body)


# ------------------------------------------------------------------ the pass


class FlowChecker:
    def __init__(self, script: ast.Script, bag: DiagnosticBag):
        self.script = script
        self.bag = bag
        self.blocks = {s.name: s for s in script.sections if s.kind == "block"}
        # goto edges: (from section name, to block name, reachable without waiting, Goto node)
        self.edges: list[tuple[str, str, bool, ast.Node]] = []
        self.phase_entries: dict[str, set[str]] = {name: set() for name in self.blocks}

    def run(self) -> dict[str, frozenset[str]]:
        for section in self.script.sections:
            self._check_unreachable(section.body)
            self._collect_edges(section, section.body, True)
        phases = self._compute_phases()
        for section in self.script.sections:
            section_phases = phases.get(section.name if section.kind == "block" else section.kind)
            if section_phases:
                self._check_phases(section, section.body, section_phases)
        self._check_goto_cycles()
        self._check_requeue_before_waiting()
        for name, block in self.blocks.items():
            if not phases.get(name):
                self.bag.report(codes.UNUSED_BLOCK, f"block {_q(name)} is never used",
                                block.name_span, help=f'reach it with "goto {name}" or remove it')
        return {k: frozenset(v) for k, v in phases.items()}

    # -- unreachable code and spinning loops

    def _check_unreachable(self, body: tuple[ast.Stmt, ...]) -> None:
        for index, stmt in enumerate(body):
            for nested in ast.children(stmt):
                self._check_unreachable(nested)
            # `repeat N times` is bounded by its count, so only `while` can spin.
            if isinstance(stmt, ast.While) and body_without_waiting(stmt.body) \
                    and not _body_always_leaves(stmt.body):
                self.bag.report(codes.SPIN_LOOP, "this loop can go round without waiting",
                                stmt.span, help="add a wait (e.g. wait 5s) or a prompt to the "
                                "loop, or use every")
            if not completes(stmt) and index + 1 < len(body):
                following = body[index + 1]
                self.bag.report(codes.UNREACHABLE, "this statement can never run",
                                following.span, help=f"the statement at line {stmt.span.line} "
                                "never continues to the next line")
                break

    def _check_requeue_before_waiting(self) -> None:
        """Warn when the queue: section can reach `requeue to` before anything waits.

        `requeue to` starts the queue: section again from the top, so such a
        path can go round at once, again and again (the VM stops it after a
        while and hands the call to the fallback). A guarded path (`if "sales"
        not in call.groups: requeue to "sales"`) may well be fine, hence a
        warning, not an error.
        """
        section = self.script.section("queue")
        if section is None:
            return
        requeue = self._first_requeue(section.body, set())
        if requeue is not None:
            self.bag.report(codes.REQUEUE_WITHOUT_WAITING, "the queue: section can reach this "
                            "requeue before it waits, and requeue starts it again at once",
                            requeue.span, help="wait (or play, or announce) before requeueing, "
                            "or make sure the condition is false once requeued")

    def _first_requeue(self, body, visited: set[str]) -> ast.Queue | None:
        """The first `requeue to` reachable in body without waiting, following gotos."""
        for stmt in body:
            if isinstance(stmt, ast.Queue) and stmt.requeue:
                return stmt
            if isinstance(stmt, ast.Goto) and stmt.block in self.blocks \
                    and stmt.block not in visited:
                visited.add(stmt.block)
                return self._first_requeue(self.blocks[stmt.block].body, visited)
            if isinstance(stmt, (ast.If, ast.Every, ast.While, ast.Repeat)):
                # An every loop's first round runs before its wait.
                for nested in ast.children(stmt):
                    found = self._first_requeue(nested, visited)
                    if found is not None:
                        return found
            if not completes_without_waiting(stmt):
                return None
        return None

    # -- goto graph

    def _collect_edges(self, section: ast.Section, body, no_wait_so_far: bool) -> bool:
        """Record goto edges; return whether the end of body is reachable without waiting."""
        name = section.name if section.kind == "block" else section.kind
        for stmt in body:
            if isinstance(stmt, ast.Goto):
                self.edges.append((name, stmt.block, no_wait_so_far, stmt))
            if isinstance(stmt, ast.Queue):
                for option in stmt.options:
                    if option.name == "when_empty":
                        # A call that leaves the queue because it emptied is no
                        # longer queued: the target runs as in the inbound phase.
                        self.edges.append((name, option.target, False, option))
                        if option.target in self.phase_entries:
                            self.phase_entries[option.target].add(INBOUND)
            if isinstance(stmt, (ast.Menu, ast.Collect)):
                for handler in stmt.handlers:
                    self._collect_edges(section, handler.body, False)
            else:
                for nested in ast.children(stmt):
                    self._collect_edges(section, nested, no_wait_so_far)
            no_wait_so_far = no_wait_so_far and completes_without_waiting(stmt)
        return no_wait_so_far

    def _compute_phases(self) -> dict[str, set[str]]:
        phases: dict[str, set[str]] = {INBOUND: {INBOUND}, QUEUED: {QUEUED}, AFTER: {AFTER}}
        for name in self.blocks:
            phases[name] = set(self.phase_entries[name])
        changed = True
        while changed:
            changed = False
            for source, target, _, node in self.edges:
                if target not in self.blocks or isinstance(node, ast.Option):
                    continue
                before = len(phases[target])
                phases[target] |= phases.get(source, set())
                changed |= len(phases[target]) != before
        return phases

    def _check_goto_cycles(self) -> None:
        graph: dict[str, list[tuple[str, ast.Node]]] = {}
        for source, target, no_wait, node in self.edges:
            if no_wait and target in self.blocks:
                graph.setdefault(source, []).append((target, node))
        reported: set[int] = set()
        # A cycle is found once from each block on it; report it only the first
        # time (a <-> b is one loop, not one error per goto on it).
        cycles: set[frozenset[str]] = set()
        for start in graph:
            # Depth-first search for a path of no-wait gotos from start back to start.
            stack = [(start, iter(graph.get(start, ())))]
            visited = {start}
            while stack:
                node_name, edges = stack[-1]
                step = next(edges, None)
                if step is None:
                    stack.pop()
                    continue
                target, goto = step
                if target == start:
                    cycle = frozenset(name for name, _ in stack)
                    if id(goto) not in reported and start in self.blocks and cycle not in cycles:
                        reported.add(id(goto))
                        cycles.add(cycle)
                        self.bag.report(codes.SPIN_LOOP, f"this goto closes a loop through block "
                                        f"{_q(start)} that never waits", goto.span,
                                        help="add a wait or a prompt somewhere on the loop")
                elif target not in visited:
                    visited.add(target)
                    stack.append((target, iter(graph.get(target, ()))))

    # -- phases

    def _check_phases(self, section: ast.Section, body, phases: set[str]) -> None:
        for stmt in body:
            allowed = allowed_phases(stmt)
            if allowed is not None and not phases <= allowed:
                bad = sorted(phases - allowed)
                where = " and ".join(_PHASE_WORDS[p] for p in bad)
                name = _statement_name(stmt)
                via = "" if section.kind != "block" else f" (block {_q(section.name)} is reached {where})"
                self.bag.report(codes.WRONG_PHASE, f"{name} is not allowed {where}{via}",
                                stmt.span, help=_phase_hint(stmt))
            for nested in ast.children(stmt):
                self._check_phases(section, nested, phases)


def _body_always_leaves(body) -> bool:
    """True when every path through a loop body ends in break/goto/hangup etc."""
    return not body_completes(body)


def _statement_name(stmt: ast.Stmt) -> str:
    if isinstance(stmt, ast.Queue):
        return '"requeue to"' if stmt.requeue else '"queue to"'
    return f'"{_STATEMENT_NAMES[type(stmt)]}"'


def _phase_hint(stmt: ast.Stmt) -> str:
    if isinstance(stmt, ast.Queue) and not stmt.requeue:
        return 'a queued call changes groups with "add group" / "remove group", or "requeue to"'
    if isinstance(stmt, ast.Queue):
        return 'a call that is not queued yet joins queues with "queue to"'
    if isinstance(stmt, ast.Answer):
        return "the call is already answered once it is queued"
    if isinstance(stmt, (ast.AddGroup, ast.RemoveGroup, ast.Announce, ast.OfferCallback)):
        return 'these belong in the "queue:" section, which runs while the call waits'
    return "move it to a section where it applies"


def check_flow(script: ast.Script, bag: DiagnosticBag) -> dict[str, frozenset[str]]:
    """Run the control-flow checks; return each section's and block's phases."""
    return FlowChecker(script, bag).run()
