"""The live runtime's statistics sink: facts into the outbox as they come.

A finished call becomes one ``contact`` write (its record, queue segments,
events and survey answers: one transaction, written once even when replayed
after an outage); agent intervals and events are gathered for a moment and
written as one ``agent_activity`` write, so that a burst of state changes
(ten agents freed by one wrap-up timer tick) costs the event loop one op, not
ten. Building an op is cheap (plain lists); the outbox writes it in its own
thread, and keeps it through a database outage (docs/design.md, "The outbox").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from runtime.store import facts as F
from runtime.store.database import call_op
from runtime.store.outbox import Outbox
from runtime.store.writer import agent_activity_op, contact_op

log = logging.getLogger("qscript.live")

#: How long agent activity is gathered before it is written (seconds).
ACTIVITY_DELAY = 0.25


class OutboxStatistics:
    """A :class:`~runtime.core.statistics.StatisticsSink` that writes through the outbox."""

    def __init__(self, outbox: Outbox, clock: F.WallClock, groups: Mapping[str, Any] | None,
                 loop: asyncio.AbstractEventLoop, delay: float = ACTIVITY_DELAY) -> None:
        self.outbox, self.clock, self.groups, self.loop = outbox, clock, groups, loop
        self.delay = delay
        self._intervals: list[F.AgentInterval] = []
        self._events: list[F.Event] = []
        self._flush: asyncio.TimerHandle | None = None

    def contact(self, facts: F.ContactFacts) -> None:
        try:
            self.outbox.submit(contact_op(facts, self.clock, self.groups))
        except Exception:  # noqa: BLE001 - a fact that cannot be written must not end the call
            log.exception("statistics of call %s could not be queued; its call record is "
                          "written alone", facts.record.call_id)
            self._record_alone(facts.record)

    def _record_alone(self, record: Any) -> None:
        """The call's plain record (the call log row), when its statistics cannot be made:
        a bug in the facts must not lose the call from the call log."""
        epoch = dt.datetime.fromtimestamp(self.clock.offset, dt.timezone.utc)
        try:
            self.outbox.submit(call_op(record, epoch, 0.0))
        except Exception:  # noqa: BLE001
            log.exception("the record of call %s could not be queued", record.call_id)

    def agent_activity(self, intervals: Sequence[F.AgentInterval],
                       events: Sequence[F.Event]) -> None:
        self._intervals.extend(intervals)
        self._events.extend(events)
        if self._flush is None:
            try:
                self._flush = self.loop.call_later(self.delay, self.flush)
            except RuntimeError:       # the loop is closed (shutting down): write now
                self.flush()

    def flush(self) -> None:
        """Write what was gathered (now: at shutdown, before the outbox closes)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if not self._intervals and not self._events:
            return
        intervals, events, self._intervals, self._events = self._intervals, self._events, [], []
        self.outbox.submit(agent_activity_op(intervals, events, self.clock))
