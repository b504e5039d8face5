"""Persistence: the database (:mod:`runtime.store.database`) and the outbox that writes to it
(:mod:`runtime.store.outbox`)."""
