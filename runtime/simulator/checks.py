"""Checks of a script, a site and a traffic model together, before anything runs.

Each file is checked on its own when it is loaded; these checks need two of
them. A model whose agents serve none of the answer groups the script queues
to would simulate a day of callers waiting for nobody, and report nothing
but abandons (or never end): it is refused. A group the script uses that no
agent of the model serves is a warning; a model group the site does not
define (a misspelling) an error.

The script's groups are those its ``queue to``, ``requeue to`` and ``add
group`` statements name with a string or a string constant; a group computed
at run time is not known, and makes the set incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass

from qscript import ast
from qscript.bytecode import Program

from ..site.yamlmarks import Location, Problem, did_you_mean
from .model import Model


@dataclass(frozen=True)
class ScriptGroups:
    """The answer groups a script queues calls to."""

    names: frozenset[str]
    #: False when a group is computed at run time (the names are not all of them).
    complete: bool


def script_groups(program: Program) -> ScriptGroups:
    """The groups of ``queue to``, ``requeue to`` and ``add group`` known without running."""
    from qscript.api import check_text
    checked = check_text(program.source_text, program.source_name).checked
    if checked is None:
        return ScriptGroups(frozenset(), complete=False)
    names: set[str] = set()
    complete = True
    for section in checked.script.sections:
        for statement in ast.walk_statements(section.body):
            if isinstance(statement, ast.Queue):
                groups: tuple[ast.Expr, ...] = statement.groups
            elif isinstance(statement, ast.AddGroup):
                groups = (statement.group,)
            else:
                continue
            for group in groups:
                name = _static_string(group, checked.consts)
                if name is None:
                    complete = False
                else:
                    names.add(name)
    return ScriptGroups(frozenset(names), complete)


def _static_string(expr: ast.Expr, consts: dict[str, object]) -> str | None:
    if isinstance(expr, ast.StringLit):
        return expr.value
    if isinstance(expr, ast.Name):
        value = consts.get(expr.id)
        return value if isinstance(value, str) else None
    return None


def served_groups(model: Model) -> set[str]:
    """The groups at least one agent of the model logs into."""
    return {group for team in model.agents if team.count > 0 for group in team.groups}


def _listed(names) -> str:
    return ", ".join(f'"{name}"' for name in sorted(names))


def check_model(model: Model, program: Program, site=None,
                model_file: str = "<model>") -> tuple[list[Problem], list[str]]:
    """(errors, warnings) of running ``program`` with ``model`` (and ``site``)."""
    errors: list[Problem] = []
    warnings: list[str] = []
    agents_at = model.agents_location or Location(model_file)
    site_groups = set(site.groups) if site is not None else None
    if site_groups is not None:
        for index, team in enumerate(model.agents):
            for group in team.groups:
                if group not in site_groups:
                    errors.append(Problem(
                        team.group_locations.get(group, agents_at),
                        f'agents[{index}].groups: the site has no answer group "{group}"',
                        did_you_mean(group, site_groups) or
                        f"the site's groups: {_listed(site_groups)}"))
    used = script_groups(program)
    served = served_groups(model)
    queues = bool(used.names) or not used.complete
    if queues and (not served or used.complete and not used.names & served):
        wanted = f"calls to {_listed(used.names)}" if used.names else "calls"
        serving = f"the model's agents serve {_listed(served)}" if served else \
            "the model has no agents"
        suggestions = [hint for name in sorted(served)
                       if (hint := did_you_mean(name, used.names)) is not None]
        example = f"e.g. groups: [{sorted(used.names)[0]}]" if used.names else ""
        errors.append(Problem(
            agents_at, f"agents: no agent serves an answer group of the script: it queues "
                       f"{wanted}, and {serving}",
            " ".join(suggestions[:1] + [f"give a team the script's groups {example}".strip()])))
    elif served:
        for group in sorted(used.names - served):
            warnings.append(f'no agent of the model serves "{group}", a group the script queues '
                            f"calls to: those calls wait until the caller gives up "
                            f"(the model's agents serve {_listed(served)})")
    return errors, warnings
