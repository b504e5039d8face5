"""The live runtime on Asterisk over ARI.

``port.py`` is the interface the runtime core uses to talk to Asterisk (ours,
typed, small); ``asyncari_adapter.py`` implements it with asyncari and
supervises the connection; ``driver.py`` implements the runtime's
:class:`~runtime.core.driver.Driver` on top of the port.
"""
