"""A straightforward SimPy model of M/M/c+M traffic, the comparison for `qscript simulate`.

Same traffic as examples/basic/model.yaml: Poisson arrivals, exponential
handle times and patience, c identical agents, 8 hours, FIFO queue.
"""

from __future__ import annotations

import random

import simpy


def run(agents: int, rate_per_hour: float, mean_handle: float, mean_patience: float | None,
        duration: float, warmup: float, threshold: float, seed: int) -> dict:
    rng = random.Random(seed)
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=agents)
    counts = {"offered": 0, "answered": 0, "abandoned": 0, "in_threshold": 0, "wait": 0.0,
              "calls": 0}

    def caller(arrival: float):
        counted = arrival >= warmup
        counts["calls"] += 1
        with pool.request() as request:
            if mean_patience is None:
                yield request
                answered = True
            else:
                outcome = yield request | env.timeout(rng.expovariate(1 / mean_patience))
                answered = request in outcome
            if counted:
                counts["offered"] += 1
            if not answered:
                if counted:
                    counts["abandoned"] += 1
                return
            wait = env.now - arrival
            if counted:
                counts["answered"] += 1
                counts["wait"] += wait
                counts["in_threshold"] += wait <= threshold
            yield env.timeout(rng.expovariate(1 / mean_handle))

    def source():
        rate = rate_per_hour / 3600
        while True:
            yield env.timeout(rng.expovariate(rate))
            if env.now >= duration:
                return
            env.process(caller(env.now))

    env.process(source())
    env.run()
    offered = counts["offered"] or 1
    return {"calls": counts["calls"], "service_level": counts["in_threshold"] / offered,
            "abandon_rate": counts["abandoned"] / offered,
            "asa_s": counts["wait"] / max(1, counts["answered"])}


if __name__ == "__main__":
    import time
    for agents, rate in ((100, 1800), (500, 9500)):
        started = time.perf_counter()
        result = run(agents, rate, 180, 300, 8 * 3600, 1800, 20, 1)
        elapsed = time.perf_counter() - started
        print(agents, result, f"{result['calls'] / elapsed:,.0f} calls/s")
