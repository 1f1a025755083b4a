"""Connectors: one package per kind of system (adapter, mappers, binder)."""
