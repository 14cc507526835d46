"""The calls an instrumented build makes, and the one slot that binds them to a core.

This is the public surface the compile-time pass generates code against
(docs/tracepoints.md). A rewritten module imports `hooks as _n3__hooks` and
`fail`, `answer`, `MISS`, `request` from here, guards each tracepoint with
`_n3__hooks.tracer is not None`, and calls `_n3__hooks.enter_sync(SITE, payload)`
(or `enter`), `exit(token, None)`, `exit_value(token, value)`,
`exit_returning(token, value)` and `instant(SITE, payload)`.

The span calls are module attributes on purpose: a call is one attribute lookup and one
call into the compiled core, with no wrapper between. So they are state, and this module
holds all of it: `tracer` (the running session or None) and the call names, written only
by `bind` (which `session.start` and `stop` call) and `observe`. `reset()` puts back a
process with no tracer and no observer; tests use it.
"""
from __future__ import annotations

from . import core as _core

__all__ = ["tracer", "enter", "enter_sync", "exit", "exit_value", "exit_returning",
           "instant", "fail_end", "fail", "answer", "MISS", "request",
           "bind", "observe", "reset"]

tracer = None  # the running session.Tracer, or None
_ring = _core.ring
_observer = None


def bind(ring, running=None) -> None:
    """Point the call names at `ring`'s functions and record `running` as the tracer."""
    global tracer, _ring
    tracer, _ring = running, ring
    _point(ring, _observer)


def observe(callback) -> None:
    """Call `callback(kind, token, site, payload)` after each event the calls record (kind:
    "start", "end", "error_end" or "instant"; token None for instants), so a replay sees
    every event as it happens. Costs a Python call per event while set; `observe(None)`
    restores the direct core calls."""
    global _observer
    _observer = callback
    _point(_ring, callback)


def reset() -> None:
    """No tracer, no observer, the chosen core's calls: the state of a fresh process."""
    global _observer
    _observer = None
    bind(_core.ring, None)


def _point(ring, cb) -> None:
    global enter, enter_sync, exit, exit_value, exit_returning, instant, fail_end  # noqa: A001
    if cb is None:
        enter, enter_sync, exit, instant = ring.enter, ring.enter_sync, ring.exit, ring.instant
        fail_end, exit_value, exit_returning = ring.fail_end, ring.exit_value, ring.exit_returning
        return

    def opener(real):
        def open_(site, payload=None):
            token = real(site, payload)
            if token is not None:
                cb("start", token, site, payload)
            return token
        return open_

    def closer(real, kind, value_is_payload=True):
        def close(token, value=None):
            done = token is None or getattr(token, "done", False)
            out = real(token, value)
            if not done:
                cb(kind, token, token.site, value if value_is_payload else None)
            return out
        return close

    def instant_(site, payload=None):
        ring.instant(site, payload)
        cb("instant", None, site, payload)

    enter, enter_sync = opener(ring.enter), opener(ring.enter_sync)
    exit, fail_end = closer(ring.exit, "end"), closer(ring.fail_end, "error_end")
    exit_value = closer(ring.exit_value, "end")
    exit_returning = closer(ring.exit_returning, "end", False)
    instant = instant_


enter = enter_sync = exit = exit_value = exit_returning = instant = fail_end = None  # noqa: A001
_point(_ring, None)

# `fail`, `answer`, `MISS` and `request` are written in `probes`, which builds on the calls
# above. Each module imports the other last, so either may load first. No module
# __getattr__ here: it would stop CPython specializing the attribute loads of the calls.
from .probes import MISS, answer, fail, request  # noqa: E402
