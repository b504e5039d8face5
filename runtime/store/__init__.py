"""Persistence: the database (:mod:`runtime.store.database`, the
:class:`~runtime.store.database.Store`) and the outbox that writes to it off
the event loop (:mod:`runtime.store.outbox`)."""
