"""Fixtures shared across test modules (session-scoped ones must live here to be built once)."""
from support.frozen import frozen  # noqa: F401
