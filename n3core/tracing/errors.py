"""The tracing core's errors: one base class, so callers can catch everything we raise."""
from __future__ import annotations

from ..errors import USAGE, ToolchainError


class TraceError(ToolchainError):
    """Base class of every error the tracing core raises on purpose."""

    exit_code = USAGE


class TraceFormatError(TraceError):
    """A file is not a trace, or was written by a newer, incompatible format version."""


class TraceConfigError(TraceError):
    """A tracing setting has a value the core cannot use."""


class TraceStateError(TraceError):
    """A session call came at the wrong time, e.g. starting a second tracer."""
