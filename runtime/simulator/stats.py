"""Statistics of a simulation run.

Definitions (the same for every figure, per group and in total):

* **offered** — calls that arrived after the warm-up and joined a queue
  (per group: calls answered by that group, else calls whose first answer
  group it was). Calls that never queued (they hung up in a menu, left a
  voice message when closed, ...) are counted apart as ``calls_not_queued``;
  ``calls_arrived`` counts everything.
* **voicemails**, **transfers** — calls that left a voice message or were
  transferred, whether or not they had queued.
* **failed** — calls whose script (or the driver) failed, whether or not they
  had queued, and whatever the fallback did then: a call the fallback group
  answered counts as answered too.
* **answered** — connected to an agent (a callback counts when the customer
  was called back and connected).
* **abandoned** — the caller hung up while waiting in the queue.
* **service level** — answered within the threshold ÷ offered. Abandons and
  queued calls that never reached an agent (voicemail, transfer) count as
  misses. The threshold is the group's (``service_level_threshold`` in the
  site, else the model's), or the call's own ``target`` when the script set one.
* **ASA** — mean wait of answered calls, from joining the queue to an agent
  answering.
* **abandon rate** — abandoned ÷ offered.
* **occupancy** — agents' talk time (answer to the agent's hang-up; an
  after-call survey is not agent time) ÷ agents' logged-in time, both within
  the measured period (warm-up to duration: the talk of a call answered in
  the drain after the arrivals stop is not counted, nor is the time of the
  agents then). An agent whose shift ends finishes their call, then logs
  out, so talk time never exceeds logged-in time.
* **unfinished** — calls still waiting or talking when the run stopped: at
  most a day after the arrivals stopped (``DRAIN_LIMIT``), or earlier when
  nothing more could happen (nobody left to answer them). They count as
  offered and not answered. Callbacks accepted and not yet made when the run
  stopped are ``callbacks_pending`` instead.
* **estimated-wait error** — for answered callers who waited, the mean
  absolute difference between the wait estimated when they joined the queue
  and the wait they actually had; and the share who waited longer than that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Iterable

from runtime.core.records import ABANDONED, ANSWERED, CALLBACK, TRANSFERRED, VOICEMAIL, CallRecord


@dataclass
class Counters:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_in_threshold: int = 0
    total_wait_answered: float = 0.0
    voicemail: int = 0
    transferred: int = 0
    callback: int = 0
    failed: int = 0
    not_queued: int = 0
    unfinished: int = 0

    def add(self, record: CallRecord, threshold: float) -> None:
        outcome = record.outcome
        if record.error is not None:
            self.failed += 1   # the script failed, whatever the fallback did then
        if record.queued_at is None:
            self.not_queued += 1
            self._count_outcome(outcome)  # a voice message when closed, say
            return
        self.offered += 1
        if outcome == ANSWERED or record.answered_at is not None:
            self.answered += 1
            wait = record.waited or 0.0
            self.total_wait_answered += wait
            if wait <= (threshold if record.target is None else record.target):
                self.answered_in_threshold += 1
            if outcome != ANSWERED and outcome != CALLBACK:
                # transferred after the agent, say (a callback that reached an agent
                # keeps the outcome callback, but it is answered, not pending)
                self._count_outcome(outcome)
        elif outcome == ABANDONED:
            self.abandoned += 1
        else:
            self._count_outcome(outcome)

    def _count_outcome(self, outcome: str) -> None:
        """Voice messages, transfers and callbacks: counted whether or not the call queued."""
        if outcome == VOICEMAIL:
            self.voicemail += 1
        elif outcome == TRANSFERRED:
            self.transferred += 1
        elif outcome == CALLBACK:
            self.callback += 1

    def summary(self) -> dict:
        offered = self.offered
        return {
            "calls_arrived": offered + self.not_queued,
            "calls_not_queued": self.not_queued,
            "calls_offered": offered,
            "calls_answered": self.answered,
            "calls_abandoned": self.abandoned,
            "service_level": self.answered_in_threshold / offered if offered else None,
            "asa_s": self.total_wait_answered / self.answered if self.answered else None,
            "abandon_rate": self.abandoned / offered if offered else None,
            "voicemails": self.voicemail,
            "transfers": self.transferred,
            "callbacks_pending": self.callback,
            "failed": self.failed,
            "calls_unfinished": self.unfinished,
        }


@dataclass
class EstimateAccuracy:
    count: int = 0
    total_absolute_error: float = 0.0
    longer_than_announced: int = 0

    def add(self, estimated: float, actual: float) -> None:
        if estimated is None or math.isinf(estimated):
            return
        self.count += 1
        self.total_absolute_error += abs(estimated - actual)
        if actual > estimated:
            self.longer_than_announced += 1

    def summary(self) -> dict:
        return {
            "callers": self.count,
            "mean_absolute_error_s": self.total_absolute_error / self.count if self.count else None,
            "share_waited_longer": self.longer_than_announced / self.count if self.count else None,
        }


class RunStats:
    """Collects finished call records of one replication.

    Each record is counted once, in the cell of its arrival interval and
    group; ``totals``, ``groups`` and ``intervals`` are sums of those cells
    (counting a call in three places as it ended showed in profiles).
    """

    def __init__(self, warmup: float, threshold: float, interval: float,
                 group_thresholds: dict[str, float] | None = None,
                 measured_until: float = math.inf):
        self.warmup = warmup
        self.measured_until = measured_until
        #: Agents' talk time within the measured period (warm-up to measured_until).
        self.talk_seconds = 0.0
        self.threshold = threshold
        self.interval = interval
        self.group_thresholds = dict(group_thresholds or {})
        self.estimate = EstimateAccuracy()
        self.saved: dict[str, dict[str, int]] = {}
        self.errors: list[str] = []
        #: (interval slot, group or None) -> counters of the calls that arrived then.
        self._cells: dict[tuple[int, str | None], Counters] = {}
        # totals / groups / intervals as summed, until the next add
        self._totals: Counters | None = None
        self._groups: dict[str, Counters] | None = None
        self._intervals: dict[int, Counters] | None = None
        # The cell the previous record went to: most records go to the same one.
        self._last_slot = -1
        self._last_group: str | None = None
        self._last_cell = Counters()

    def add(self, record: CallRecord, unfinished: bool = False) -> None:
        """Count a call that ended (or, ``unfinished``, one still in progress
        when the run stopped: it counts as offered and not answered)."""
        answered_at = record.answered_at
        if answered_at is not None and answered_at < self.measured_until:
            # Counted by when it happened, not by the call's arrival: the
            # agents' logged-in time it is divided by is measured so too.
            end = record.agent_ended_at if record.agent_ended_at is not None else record.ended_at
            if end is not None and end > self.warmup:
                self.talk_seconds += min(end, self.measured_until) - max(answered_at, self.warmup)
        arrived = record.arrived_at
        if arrived < self.warmup:
            return
        group = record.answered_group or (record.groups[0] if record.groups else None)
        slot = int(arrived // self.interval)
        if slot == self._last_slot and group == self._last_group:
            cell = self._last_cell
        else:
            key = (slot, group)
            found = self._cells.get(key)
            if found is None:
                found = self._cells[key] = Counters()
            cell = found
            self._last_slot, self._last_group, self._last_cell = slot, group, cell
        if self._totals is not None or self._groups is not None or self._intervals is not None:
            self._totals = self._groups = self._intervals = None
        if answered_at is not None:
            queued_at = record.queued_at
            if queued_at is not None:
                waited = answered_at - queued_at
                if waited > 0 and record.estimated_wait_at_entry is not None:
                    self.estimate.add(record.estimated_wait_at_entry, waited)
        threshold = self.threshold if group is None else self.group_thresholds.get(group, self.threshold)
        cell.add(record, threshold)
        if unfinished:
            cell.unfinished += 1
        if record.saved:
            for key_name, value in record.saved.items():
                counts = self.saved.setdefault(key_name, {})
                counts[str(value)] = counts.get(str(value), 0) + 1
        if record.error and len(self.errors) < 20:
            self.errors.append(record.error)

    @property
    def totals(self) -> Counters:
        if self._totals is None:
            self._totals = summed(self._cells.values())
        return self._totals

    @property
    def groups(self) -> dict[str, Counters]:
        """Counters per answer group (calls that never queued are in no group)."""
        if self._groups is None:
            self._groups = _summed_by(self._cells, 1)
        return self._groups

    @property
    def intervals(self) -> dict[int, Counters]:
        """Counters per interval of arrival (slot = seconds since the start // interval)."""
        if self._intervals is None:
            self._intervals = _summed_by(self._cells, 0)
        return self._intervals

def _summed_by(cells: dict[tuple[int, str | None], Counters], part: int) -> dict:
    """The cells summed by one part of their key (0: interval slot, 1: group;
    cells of no group are left out), in key order."""
    by: dict = {}
    for key, cell in cells.items():
        name = key[part]
        if name is not None:
            by.setdefault(name, []).append(cell)
    return {name: summed(group) for name, group in sorted(by.items())}


def summed(cells: Iterable[Counters]) -> Counters:
    """The counters of several cells (or replications) added up."""
    total = Counters()
    for cell in cells:
        for name in _COUNTER_FIELDS:
            setattr(total, name, getattr(total, name) + getattr(cell, name))
    return total


_COUNTER_FIELDS = tuple(f.name for f in fields(Counters))
