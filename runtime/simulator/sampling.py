"""Random draws for the traffic model: handle times, patience, arrivals.

Each distribution is a small callable object drawing seconds from the
replication's own ``random.Random``. They live in a module of their own so
that it can be compiled with mypyc with the rest of the simulator's hot path
(a lambda in the model module would run as interpreted Python on every
draw). The exponential draw is ``Random.expovariate``'s formula inlined, so
a seed gives the same numbers as it would with ``expovariate``.
"""

from __future__ import annotations

import math
import random
from typing import Callable


class Sampler:
    """Draws seconds from a distribution: ``draw()`` (or call the sampler)."""

    def draw(self) -> float:
        raise NotImplementedError

    def __call__(self) -> float:
        return self.draw()


class Exponential(Sampler):
    def __init__(self, rng: random.Random, mean: float) -> None:
        self.rate = 1.0 / mean
        self.uniform = rng.random

    def draw(self) -> float:
        return -math.log(1.0 - self.uniform()) / self.rate


class Constant(Sampler):
    def __init__(self, value: float) -> None:
        self.value = value

    def draw(self) -> float:
        return self.value


class Uniform(Sampler):
    def __init__(self, rng: random.Random, low: float, high: float) -> None:
        self.rng, self.low, self.high = rng, low, high

    def draw(self) -> float:
        return self.rng.uniform(self.low, self.high)


class LogNormal(Sampler):
    """Log-normal with the given mean and standard deviation (of the value itself)."""

    def __init__(self, rng: random.Random, mean: float, sd: float) -> None:
        sigma2 = math.log(1 + (sd / mean) ** 2)
        self.rng = rng
        self.mu, self.sigma = math.log(mean) - sigma2 / 2, math.sqrt(sigma2)

    def draw(self) -> float:
        return self.rng.lognormvariate(self.mu, self.sigma)


class Gamma(Sampler):
    """Gamma with the given mean and standard deviation."""

    def __init__(self, rng: random.Random, mean: float, sd: float) -> None:
        self.rng = rng
        self.shape = (mean / sd) ** 2
        self.scale = mean / self.shape

    def draw(self) -> float:
        return self.rng.gammavariate(self.shape, self.scale)


def exponential_gap(uniform: Callable[[], float], rate: float) -> float:
    """``Random.expovariate(rate)`` given the generator's ``random`` method."""
    return -math.log(1.0 - uniform()) / rate
