"""The path a call took through its script, as a list of steps.

A :class:`Tracer` is plugged into a :class:`~runtime.core.center.ContactCenter`
(``center.tracer = Tracer()``) and records, per call, every effect the
script asked for (with the source line) and what happened to the call
(connected to an agent, ended). Two runs of the same script — in the
simulator and live — must produce the same path; `qscript test` checks
expectations against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.vm import effects as fx


@dataclass(frozen=True)
class Step:
    kind: str          # "play", "menu", "queue", ..., "connected", "ended"
    detail: str
    line: int = 0

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        text = f"{self.kind} {self.detail}" if self.detail else self.kind
        return text + where


def describe_effect(effect: fx.Effect) -> tuple[str, str]:
    """A stable (kind, detail) for an effect, independent of driver and timing."""
    if isinstance(effect, fx.Play):
        return "play", ", ".join(effect.prompts)
    if isinstance(effect, fx.PlayHot):
        return "play hot", effect.name
    if isinstance(effect, fx.Say):
        return f"say {effect.kind}", str(effect.value)
    if isinstance(effect, fx.MenuInput):
        return "menu", effect.prompt
    if isinstance(effect, fx.CollectInput):
        return "collect", effect.prompt
    if isinstance(effect, fx.Requeue):
        return "requeue", ", ".join(effect.groups)
    if isinstance(effect, fx.Queue):
        return "queue", ", ".join(effect.groups)
    if isinstance(effect, fx.AddGroup):
        return "add group", effect.group
    if isinstance(effect, fx.RemoveGroup):
        return "remove group", effect.group
    if isinstance(effect, fx.Announce):
        return "announce", effect.what
    if isinstance(effect, fx.OfferCallback):
        return "offer callback", effect.prompt
    if isinstance(effect, fx.Voicemail):
        return "voicemail", effect.address
    if isinstance(effect, fx.Transfer):
        return "transfer", effect.number
    if isinstance(effect, fx.Lookup):
        return "lookup", effect.lookup
    if isinstance(effect, fx.Command):
        return "do", effect.name
    if isinstance(effect, fx.Music):
        return "music", effect.moh_class or "off"
    if isinstance(effect, fx.Wait):
        return "wait", f"{effect.seconds:g}s"
    if isinstance(effect, fx.Log):
        return "log", str(effect.message)
    if isinstance(effect, fx.Save):
        return "save", f"{effect.key}={effect.value}"
    return type(effect).__name__.lower(), ""


@dataclass
class Tracer:
    """Records the steps of every call, keyed by call id."""

    steps: dict[str, list[Step]] = field(default_factory=dict)
    #: Leave out waits: their length depends on timing, not on the path.
    skip_waits: bool = True

    def __call__(self, session, event) -> None:
        path = self.steps.setdefault(session.call.call_id, [])
        if isinstance(event, tuple):
            line = session.program.position(event[2])[0] if len(event) > 2 else 0
            path.append(Step(event[0], str(event[1]), line))
            return
        if self.skip_waits and isinstance(event, fx.Wait):
            return
        kind, detail = describe_effect(event)
        line, _ = session.program.position(event.pc)
        path.append(Step(kind, detail, line))

    def path(self, call_id: str) -> list[Step]:
        return self.steps.get(call_id, [])
