"""Automatic call distribution: queues, agents, matching, live metrics, wait estimates.

The package is the routing core shared by the simulator and the live Asterisk
runtime. It is pure (no clock, I/O or randomness): drivers pass ``now`` and
act on the returned :class:`Offer` decisions.

* :mod:`runtime.acd.models`: answer groups, agents and their states, queue
  entries, the rank key, offers, statistics counters.
* :mod:`runtime.acd.engine`: :class:`AcdEngine`, the matching rules.
* :mod:`runtime.acd.metrics`: the metric definitions scripts read.
* :mod:`runtime.acd.estimators`: waiting-time estimators.

Queueing-theory formulas for planning (Erlang B, C and A) are in
:mod:`runtime.acd.erlang`.
"""

from runtime.acd.engine import AcdEngine
from runtime.acd.estimators import (
    AsteriskEstimator,
    ErlangMedianEstimator,
    WaitEstimator,
    WaitQuery,
)
from runtime.acd.models import (
    ABANDONED,
    CALL,
    CALLBACK,
    AcdError,
    AcdStateError,
    AgentInfo,
    AgentState,
    AnswerGroup,
    CallInfo,
    GroupStats,
    Offer,
    UnknownNameError,
)

__all__ = [
    "ABANDONED",
    "CALL",
    "CALLBACK",
    "AcdEngine",
    "AcdError",
    "AcdStateError",
    "AgentInfo",
    "AgentState",
    "AnswerGroup",
    "AsteriskEstimator",
    "CallInfo",
    "ErlangMedianEstimator",
    "GroupStats",
    "Offer",
    "UnknownNameError",
    "WaitEstimator",
    "WaitQuery",
]
