"""Latency percentiles: event-to-command in the ARI driver, agent hand-off in the centre.

The driver records, for each event that leads to a command, the time from
the event's arrival at the port (``AriEvent.received_at``, taken when the
websocket frame was read) to the moment the command's request is started.
"""

from __future__ import annotations

import bisect


class LatencyRecorder:
    def __init__(self, limit: int = 200_000):
        self.samples: list[float] = []
        self.limit = limit

    def record(self, seconds: float) -> None:
        if len(self.samples) < self.limit:
            self.samples.append(seconds)

    def percentile(self, fraction: float) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
        return ordered[index]

    def summary(self) -> dict:
        return {"count": len(self.samples),
                "p50_ms": _ms(self.percentile(0.50)), "p95_ms": _ms(self.percentile(0.95)),
                "p99_ms": _ms(self.percentile(0.99)), "max_ms": _ms(self.percentile(1.0))}

    def clear(self) -> None:
        self.samples.clear()


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


__all__ = ["LatencyRecorder", "bisect"]
