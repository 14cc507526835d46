"""The runtime's only sources of time and identifiers.

Replay answers these from a recorded trace, so nothing else in the runtime may call
`time` or `uuid` directly: every nondeterministic value has to pass through here.
"""
from __future__ import annotations

import time
import uuid


def now() -> float:
    """Wall-clock seconds since the epoch."""
    return time.time()


def monotonic() -> float:
    """Seconds on a clock that never goes backwards, for durations and ordering."""
    return time.monotonic()


def new_id() -> str:
    """A fresh random identifier (hex)."""
    return uuid.uuid4().hex
