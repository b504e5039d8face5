"""The QScript virtual machine: runs compiled programs, one call at a time."""

from .machine import DEFAULT_STEP_BUDGET, Host, Machine, Outcome, ScriptError, format_value

__all__ = ["DEFAULT_STEP_BUDGET", "Host", "Machine", "Outcome", "ScriptError", "format_value"]
