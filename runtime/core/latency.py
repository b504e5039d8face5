"""Latency percentiles: event-to-command in the ARI driver, agent hand-off in the centre.

The driver records, for each event that leads to a command, the time from
the event's arrival at the port (``AriEvent.received_at``, taken when the
websocket frame was read) to the moment the command's request is started.

Percentiles are over the most recent :data:`WINDOW` samples (a ring once it
is full), so they describe how the runtime does now, not in its first hours;
``count`` is every sample ever recorded. The summary sorts the window on the
event loop (``GET /metrics``): 20,000 samples take ~2 ms, where the 200,000
kept before (the first ones, never replaced) took ~90 ms, once per
percentile, and stalled every call meanwhile.
"""

from __future__ import annotations

import bisect

#: How many of the most recent samples the percentiles are computed over.
WINDOW = 20_000


class LatencyRecorder:
    def __init__(self, limit: int = WINDOW):
        self.samples: list[float] = []   # the most recent `limit`; a ring once full
        self.limit = limit
        self.count = 0                   # samples ever recorded
        self._next = 0                   # where the ring writes next

    def record(self, seconds: float) -> None:
        self.count += 1
        samples = self.samples
        if len(samples) < self.limit:
            samples.append(seconds)
            return
        samples[self._next] = seconds
        self._next = self._next + 1 if self._next + 1 < self.limit else 0

    def percentile(self, fraction: float) -> float | None:
        return _percentile(sorted(self.samples), fraction)

    def summary(self) -> dict:
        ordered = sorted(self.samples)   # once for all the percentiles
        return {"count": self.count,
                "p50_ms": _ms(_percentile(ordered, 0.50)),
                "p95_ms": _ms(_percentile(ordered, 0.95)),
                "p99_ms": _ms(_percentile(ordered, 0.99)),
                "max_ms": _ms(_percentile(ordered, 1.0))}

    def clear(self) -> None:
        self.samples.clear()
        self.count = 0
        self._next = 0


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


__all__ = ["LatencyRecorder", "WINDOW", "bisect"]
