"""The facts of the statistics: what the runtime hands over when a call or an agent's state ends.

This is the API between whatever observes calls (the session, the centre and
the ACD, in the simulator and live) and the statistics database. Facts are
plain Python objects whose times are **driver-clock seconds** — the numbers
``driver.now()`` returns, the ones a :class:`~runtime.core.records.CallRecord`
already carries — and a :class:`WallClock` says once which wall time a
driver-clock reading is. The conversion to UTC happens when the facts become
rows (:mod:`runtime.store.writer`), exactly once, so that a write replayed
after an outage carries the same times as the first attempt.

Two ways in, the same rows out (see docs/reports.md, "Feeding the statistics"):

* live: ``outbox.submit(contact_op(facts, clock, site.groups))`` when a call
  ends, ``outbox.submit(agent_activity_op(intervals, events, clock))`` when an
  agent's state changes (or in small batches);
* the simulator, a whole day at once:
  ``StatisticsWriter(url).write(contacts, intervals, events, clock, site.groups)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from runtime.core.records import CallRecord

# -- how a call left a group (QueueSegment.how)
ANSWERED: Final = "answered"                  # an agent of this group answered it
ANSWERED_ELSEWHERE: Final = "answered_elsewhere"  # queued here too, answered by another group
ABANDONED: Final = "abandoned"                # the caller hung up while waiting
REMOVED: Final = "removed"                    # `remove group`, an overflow that left this group
CALLBACK: Final = "callback"                  # the caller accepted a callback while queued here
TRANSFERRED: Final = "transferred"            # the script transferred the waiting call
VOICEMAIL: Final = "voicemail"                # the script sent the waiting caller to voicemail
ENDED: Final = "ended"                        # anything else that ended the wait (hangup, goto, failure)
SEGMENT_ENDINGS: Final = (ANSWERED, ANSWERED_ELSEWHERE, ABANDONED, REMOVED, CALLBACK, TRANSFERRED,
                          VOICEMAIL, ENDED)

# -- event kinds (Event.kind)
ENTERED: Final = "entered"                    # the call joined a group (data: position)
ANNOUNCED: Final = "announced"                # position / wait announced (data: what, value)
OVERFLOWED: Final = "overflowed"              # the script added a group (data: to)
LEFT_GROUP: Final = "removed"                 # the script removed the call from a group
CALLBACK_OFFERED: Final = "callback_offered"
CALLBACK_TAKEN: Final = "callback_taken"      # data: key (the key the caller pressed), if any
RING: Final = "ring"                          # an agent's phone rings for the call
RING_NO_ANSWER: Final = "ring_no_answer"      # ... and was not answered (data: ring seconds)
ABANDON: Final = "abandoned"                  # data: position
ANSWER: Final = "answered"                    # an agent was connected (data: ring seconds)
TRANSFER: Final = "transferred"               # data: to (the number)
VOICEMAIL_LEFT: Final = "voicemail"           # data: to (the address), key
COMPLETED: Final = "completed"                # the agent's part ended (data: by = caller | agent)
LOGIN: Final = "login"                        # agent events: data: groups (a list)
LOGOUT: Final = "logout"
PAUSE: Final = "pause"                        # data: reason
UNPAUSE: Final = "unpause"
EVENT_KINDS: Final = (ENTERED, ANNOUNCED, OVERFLOWED, LEFT_GROUP, CALLBACK_OFFERED, CALLBACK_TAKEN,
                      RING, RING_NO_ANSWER, ABANDON, ANSWER, TRANSFER, VOICEMAIL_LEFT, COMPLETED,
                      LOGIN, LOGOUT, PAUSE, UNPAUSE)

# -- agent states (AgentInterval.state); logged out is the absence of an interval
READY: Final = "ready"
RINGING: Final = "ringing"
BUSY: Final = "busy"          # connected to a call
WRAP_UP: Final = "wrap_up"
PAUSED: Final = "paused"      # with a reason
AGENT_STATES: Final = (READY, RINGING, BUSY, WRAP_UP, PAUSED)

VOICE: Final = "voice"        # ContactFacts.channel; other media come later

#: Defaults when no group settings are given (the site's defaults).
DEFAULT_SERVICE_LEVEL_THRESHOLD: Final = 20.0
DEFAULT_SHORT_ABANDON_THRESHOLD: Final = 5.0


class WallClock:
    """Which wall time a driver-clock reading is: ``epoch`` was the time when the clock read
    ``clock_at_epoch``. Live: ``WallClock(datetime.now(utc), loop.time())`` once at start;
    the simulator: ``WallClock(start of the simulated day, 0.0)``."""

    __slots__ = ("offset",)

    def __init__(self, epoch: dt.datetime, clock_at_epoch: float = 0.0) -> None:
        if epoch.tzinfo is None:
            raise ValueError("WallClock needs an aware datetime (one with a time zone)")
        #: Add to a clock reading to get UTC epoch seconds (POSIX time).
        self.offset = epoch.timestamp() - clock_at_epoch

    def ts(self, seconds: float | None) -> float | None:
        """UTC epoch seconds of a clock reading (None stays None)."""
        return None if seconds is None else seconds + self.offset


class Segment:
    """A call's stint in one group: when it joined, when and how it left."""

    __slots__ = ("group", "entered", "left", "how", "agent")

    def __init__(self, group: str, entered: float, left: float, how: str,
                 agent: str | None = None) -> None:
        if how not in SEGMENT_ENDINGS:
            raise ValueError(f"unknown segment ending {how!r} (one of {', '.join(SEGMENT_ENDINGS)})")
        self.group = group
        self.entered = entered        # driver-clock seconds
        self.left = left              # driver-clock seconds: answered, abandoned, removed, ...
        self.how = how
        self.agent = agent            # who answered (how == answered)


class Event:
    """One line of the event log. ``data`` holds small JSON-able extras (see the kinds)."""

    __slots__ = ("at", "kind", "group", "agent", "data")

    def __init__(self, at: float, kind: str, group: str = "", agent: str = "",
                 data: Mapping[str, object] | None = None) -> None:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        self.at = at                  # driver-clock seconds
        self.kind = kind
        self.group = group
        self.agent = agent
        self.data = data


class SurveyAnswer:
    """A `save` made in the `after call:` phase. ``agent``/``group`` default to the call's
    agent and answering group; ``at`` to the end of the call."""

    __slots__ = ("question", "answer", "at", "agent", "group")

    def __init__(self, question: str, answer: object, at: float | None = None,
                 agent: str | None = None, group: str | None = None) -> None:
        self.question = question
        self.answer = answer
        self.at = at
        self.agent = agent
        self.group = group


class ContactFacts:
    """Everything about one finished call: its record and what happened in the queues."""

    __slots__ = ("record", "segments", "events", "survey", "script_version", "lookup_key",
                 "channel", "callback_accepted")

    def __init__(self, record: "CallRecord", *, segments: Sequence[Segment] = (),
                 events: Sequence[Event] = (), survey: Sequence[SurveyAnswer] = (),
                 script_version: int | None = None, lookup_key: str = "",
                 channel: str = VOICE, callback_accepted: bool = False) -> None:
        self.record = record
        self.segments = segments
        self.events = events
        self.survey = survey
        self.script_version = script_version
        self.lookup_key = lookup_key      # the key a customer lookup found the caller by
        self.channel = channel
        #: The caller accepted a callback: the outcome is `callback`, answered or not
        #: (the session sets `answered` when the callback is answered).
        self.callback_accepted = callback_accepted


class AgentInterval:
    """An agent was in one state from ``started`` to ``ended`` (driver-clock seconds)."""

    __slots__ = ("agent", "state", "started", "ended", "reason", "call_id", "group")

    def __init__(self, agent: str, state: str, started: float, ended: float, *,
                 reason: str = "", call_id: str = "", group: str = "") -> None:
        if state not in AGENT_STATES:
            raise ValueError(f"unknown agent state {state!r} (one of {', '.join(AGENT_STATES)})")
        self.agent = agent
        self.state = state
        self.started = started
        self.ended = ended
        self.reason = reason              # the pause reason
        self.call_id = call_id            # ringing, busy, wrap_up: the call
        self.group = group                # ... and the group it came from
