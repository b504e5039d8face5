"""What happened to a call: the record a session keeps and hands on when it ends.

The simulator aggregates records into its report; the live runtime stores
them in the database (call log, statistics, previous-agent matching).
"""

from __future__ import annotations

from dataclasses import dataclass, field


# Outcomes of a call, as recorded.
ANSWERED = "answered"          # connected to an agent
ABANDONED = "abandoned"        # the caller hung up while queued
TRANSFERRED = "transferred"    # sent to an external number
VOICEMAIL = "voicemail"        # left a voice message
CALLBACK = "callback"          # accepted a callback (then answered or not)
HUNG_UP = "hung_up"            # the script hung up, or the caller left outside the queue
FAILED = "failed"              # the script failed and the fallback took over


@dataclass
class CallRecord:
    call_id: str
    caller: str
    dialled: str
    script: str = ""                  # program source name
    script_hash: str = ""
    arrived_at: float = 0.0
    queued_at: float | None = None
    answered_at: float | None = None  # when an agent was connected
    agent_ended_at: float | None = None  # when the agent's part of the call ended
    ended_at: float | None = None
    outcome: str = HUNG_UP
    groups: list[str] = field(default_factory=list)   # groups joined, in order
    answered_group: str | None = None
    agent: str | None = None
    language: str = ""
    priority: int = 0
    #: The call's service-level target (`queue to ... target 20s`), when set;
    #: it replaces the group's threshold in the service-level figures.
    target: float | None = None
    digits: str = ""
    #: Estimated wait when the call joined the queue (for estimator accuracy).
    estimated_wait_at_entry: float | None = None
    announced_waits: list[float] = field(default_factory=list)
    saved: dict[str, object] = field(default_factory=dict)   # `save` statements
    log: list[str] = field(default_factory=list)             # `log` statements
    error: str | None = None
    voicemail_to: str | None = None
    transferred_to: str | None = None

    @property
    def waited(self) -> float | None:
        """Time from joining the queue to being answered (or leaving)."""
        if self.queued_at is None:
            return None
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else end - self.queued_at
