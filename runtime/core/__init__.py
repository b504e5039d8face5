"""The call core, shared by the simulator and the live runtime.

* :mod:`runtime.core.session`: one call's script, phase by phase.
* :mod:`runtime.core.center`: the contact centre — the ACD, the live
  sessions, routing of offers, timers and the metrics scripts read.
* :mod:`runtime.core.factory`: the one function that builds a centre, for
  both drivers and the scenario tests.
* :mod:`runtime.core.driver`: the driver interface (telephony) and
  :class:`~runtime.core.driver.CallInfo`.
* :mod:`runtime.core.records`: what is recorded of a finished call.
* :mod:`runtime.core.blocking`: worker pools and timeouts for lookups and
  custom commands.
* :mod:`runtime.core.latency` and :mod:`runtime.core.trace`: hand-off
  latencies and a call's path, step by step.
"""
