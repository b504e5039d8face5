"""The "current situation" figures of a wallboard: today and the last 15 minutes.

Fed by the ACD's outcome hook (``AcdEngine.on_outcome``), so a call counts here
exactly as it counts in the ACD's day counters behind ``service_level``: once,
in the group that answered it or, unanswered, in the group whose statistics
take it; answered within the threshold by the ACD's own test (the call's
``target`` or the group's threshold).

Per group and for the whole site, for two periods:

``offered``         calls that left the queue (answered + abandoned + flowed out)
``answered``        answered by an agent
``abandoned``       the caller hung up while waiting
``answered_within_threshold``
                    answered within the service-level threshold
``service_level_percent``
                    answered within the threshold / offered · 100 (None: nothing offered)
``average_wait_s``  mean wait of the answered calls (speed of answer; None: none answered)
``longest_wait_s``  the longest wait of a call that left the queue, answered or not
                    (the calls still waiting are on the board with their own waits)

"Today" ends at the site's midnight, like the ACD's day. "The last 15 minutes"
is a sliding window kept incrementally: sums are taken off as outcomes leave it,
and its longest wait is a monotonic queue, so reading the figures costs the same
whether a thousand calls or none left the queue in the window.

Not compiled with mypyc: only the live runtime's wallboard uses it (one small
update per call outcome).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

#: The length of the recent window, in seconds.
RECENT_WINDOW = 15 * 60.0

ANSWERED = "answered"
ABANDONED = "abandoned"

#: The key of the whole site's figures.
SITE = ""


class PeriodFigures:
    """Counters of the outcomes in one period (today, or one window's content)."""

    __slots__ = ("offered", "answered", "abandoned", "within", "wait_answered", "longest")

    def __init__(self) -> None:
        self.offered = 0
        self.answered = 0
        self.abandoned = 0
        self.within = 0
        self.wait_answered = 0.0
        self.longest = 0.0

    def add(self, outcome: str, waited: float, within: bool) -> None:
        self.offered += 1
        if outcome == ANSWERED:
            self.answered += 1
            self.wait_answered += waited
            self.within += within
        elif outcome == ABANDONED:
            self.abandoned += 1
        if waited > self.longest:
            self.longest = waited

    def take_off(self, outcome: str, waited: float, within: bool) -> None:
        """An outcome left the window (the longest wait is the window's own business)."""
        self.offered -= 1
        if outcome == ANSWERED:
            self.answered -= 1
            self.wait_answered -= waited
            self.within -= within
        elif outcome == ABANDONED:
            self.abandoned -= 1

    def as_dict(self) -> dict:
        return {"offered": self.offered, "answered": self.answered,
                "abandoned": self.abandoned, "answered_within_threshold": self.within,
                "service_level_percent": (round(100.0 * self.within / self.offered, 1)
                                          if self.offered else None),
                "average_wait_s": (round(max(0.0, self.wait_answered) / self.answered, 1)
                                   if self.answered else None),
                "longest_wait_s": round(self.longest, 1)}


class _Window:
    """One key's outcomes of the last ``length`` seconds."""

    __slots__ = ("figures", "outcomes", "longest")

    def __init__(self) -> None:
        self.figures = PeriodFigures()
        self.outcomes: deque[tuple[float, str, float, bool]] = deque()
        #: (when, waited) with waits strictly decreasing: the front is the longest wait
        #: still in the window (a sliding-window maximum).
        self.longest: deque[tuple[float, float]] = deque()

    def add(self, now: float, outcome: str, waited: float, within: bool) -> None:
        self.outcomes.append((now, outcome, waited, within))
        self.figures.add(outcome, waited, within)
        longest = self.longest
        while longest and longest[-1][1] <= waited:
            longest.pop()
        longest.append((now, waited))

    def expire(self, before: float) -> None:
        outcomes, figures = self.outcomes, self.figures
        while outcomes and outcomes[0][0] <= before:
            _, outcome, waited, within = outcomes.popleft()
            figures.take_off(outcome, waited, within)
        longest = self.longest
        while longest and longest[0][0] <= before:
            longest.popleft()
        figures.longest = longest[0][1] if longest else 0.0
        if not outcomes:  # no float remainder left in an empty window
            self.figures = PeriodFigures()


class SituationFigures:
    """Today's and the recent window's figures per group and for the site (module doc)."""

    def __init__(self, day_ends_at: float = math.inf,
                 next_day_end: Callable[[float], float] | None = None,
                 window: float = RECENT_WINDOW) -> None:
        self.window = window
        self.day_ends_at = day_ends_at
        self.next_day_end = next_day_end
        self._today: dict[str, PeriodFigures] = {}
        self._recent: dict[str, _Window] = {}

    def record(self, group: str, outcome: str, waited: float, within: bool,
               now: float) -> None:
        """A call left the queue (the signature of ``AcdEngine.on_outcome``)."""
        self._roll_day(now)
        for key in (group, SITE):
            today = self._today.get(key)
            if today is None:
                today = self._today[key] = PeriodFigures()
            today.add(outcome, waited, within)
            recent = self._recent.get(key)
            if recent is None:
                recent = self._recent[key] = _Window()
            recent.add(now, outcome, waited, within)

    def today(self, group: str, now: float) -> dict:
        """Today's figures of ``group`` (``SITE``: the whole site)."""
        self._roll_day(now)
        figures = self._today.get(group)
        return (figures or PeriodFigures()).as_dict()

    def recent(self, group: str, now: float) -> dict:
        """The figures of the last ``window`` seconds of ``group`` (``SITE``: the site)."""
        window = self._recent.get(group)
        if window is None:
            return PeriodFigures().as_dict()
        window.expire(now - self.window)
        return window.figures.as_dict()

    def next_change(self) -> float | None:
        """When the recent figures next change by themselves (an outcome leaves the
        window); None when the window is empty: nothing changes until a call does."""
        window = self._recent.get(SITE)
        if window is None or not window.outcomes:
            return None
        return window.outcomes[0][0] + self.window

    def _roll_day(self, now: float) -> None:
        if now < self.day_ends_at:
            return
        self._today.clear()
        following = self.next_day_end
        self.day_ends_at = following(now) if following is not None else math.inf
