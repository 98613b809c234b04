"""Alembic migration environment of the state store (run through ``controlplane.store.migrate``)."""
