"""`--step` and `--breakpoint` on a live replay: observed events handed to the debugger.

The debugger (analyzer/replay/{events,breakpoints,debugger}.py) is its own part; this is
only the adapter from what the replayer observes to its ReplayEvent.
"""
from __future__ import annotations

from n3core.tracing.reader import open_trace

from .errors import ReplayInputError


def _parts():
    try:
        from .breakpoints import parse_breakpoints
        from .debugger import Debugger
        from .events import Catalog, ReplayEvent
    except ImportError:
        raise ReplayInputError("--step and --breakpoint need the replay debugger, which this "
                               "installation does not have. Fix: replay without them.") from None
    return parse_breakpoints, Debugger, Catalog, ReplayEvent


def parse(path, specs):
    """Breakpoints checked against the trace's sites before anything runs (exit 2 if bad)."""
    parse_breakpoints, _, Catalog, _ = _parts()
    with open_trace(path) as trace:
        catalog = Catalog.from_sites(trace.header.sites)
    return parse_breakpoints(list(specs), catalog)


def debugger_hook(path, step, specs):
    """The replayer's on_event callback driving a Debugger; QuitReplay ends the replay."""
    _, Debugger, _, ReplayEvent = _parts()
    debugger = Debugger(parse(path, specs), step, None)
    count = [0]

    def on_event(kind, token, site, payload, key):
        count[0] += 1
        debugger.on_event(ReplayEvent(index=count[0] - 1, kind=kind, site=site, payload=payload,
                                      span=getattr(token, "span", 0),
                                      parent=getattr(token, "parent", 0), key=key))

    return on_event
