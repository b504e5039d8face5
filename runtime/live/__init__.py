"""The live product: ``qscript serve`` on Asterisk.

* :mod:`runtime.live.runtime`: :class:`~runtime.live.runtime.LiveRuntime`,
  the ARI driver, the centre, the store and deploys put together.
* :mod:`runtime.live.cli`: the ``serve``, ``agent``, ``status``, ``deploy``,
  ``rollback``, ``watch`` and ``hot`` commands.
* :mod:`runtime.live.control` and :mod:`runtime.live.control_bodies`: the
  control API (HTTP) and the checks of its request bodies.
* :mod:`runtime.live.mailer`: voice messages by mail.
* :mod:`runtime.live.ari`: the ARI driver and the adapter to Asterisk.
"""
