"""`--step` and `--breakpoint` on a live replay: what the replayer observes, as ReplayEvents.

Breakpoints are checked against the site table of the build being run (an edited
program's site ids differ from the trace's), before the program starts. The debugger's
QuitReplay is an ordinary exception the program could catch, so a quit is raised through
the program as the replayer's `StopReplay(quit=True)` instead, which only the replay
itself handles.
"""
from __future__ import annotations

import time

from .errors import ReplayInputError


def _parts():
    try:
        from . import debugger, events
        from .breakpoints import parse_breakpoints
    except ImportError:
        raise ReplayInputError("--step and --breakpoint need the replay debugger, which this "
                               "installation does not have. Fix: replay without them.") from None
    return parse_breakpoints, debugger, events


def catalog_of(rows, source: str = ""):
    """The catalog breakpoints are checked against: the build's sites and the reserved ones."""
    from n3core.tracing.format import RESERVED_SITES

    _, _, events = _parts()
    known = {r.id for r in rows}
    catalog = events.Catalog.from_sites(list(rows) + [s for s in RESERVED_SITES if s.id not in known])
    catalog.source = source
    return catalog


def parse(path, specs):
    """Breakpoints checked against a trace's own sites (for stepping through the record)."""
    from n3core.tracing.reader import open_trace

    parse_breakpoints, _, _ = _parts()
    with open_trace(path) as trace:
        catalog = catalog_of(list(trace.header.sites), str(path))
    return parse_breakpoints(list(specs), catalog)


class LiveHook:
    """The replayer's on_event callback: builds each event and hands it to a Debugger.

    An instant carries no token, so it is placed in the innermost span opened most
    recently and still open; an error instant is always followed by the end of the span
    it left, so that is the span it belongs to.
    """

    def __init__(self, rows, specs, step, *, trace_path="", source_sha256=None, io=None,
                 limits=None):
        parse_breakpoints, debugger, events = _parts()
        self.catalog = catalog_of(rows, trace_path)
        self.debugger = debugger.Debugger(parse_breakpoints(list(specs), self.catalog), step, io,
                                          catalog=self.catalog, trace_path=trace_path,
                                          source_sha256=source_sha256)
        self._quit = debugger.QuitReplay
        self._event = events.ReplayEvent
        self._type = events.event_type_name
        self._loc = events.format_location
        self.open: dict = {}   # span -> (site row, parent span)
        self.order: list = []  # spans in the order they opened
        self.index = 0
        self.limits = limits
        self.watched = self.debugger.watched_sites()

    def _stack(self, span: int) -> tuple:
        frames = []
        while span in self.open and len(frames) < 256:
            site, span = self.open[span]
            frames.append((_stem(site.event_type), site.name,
                           self._loc(site.file, site.line, site.column)))
        return tuple(reversed(frames))

    def __call__(self, kind, token, site, payload, key) -> None:
        index = self.index
        self.index += 1
        span = getattr(token, "span", 0)
        parent = getattr(token, "parent", 0)
        if kind == "start":
            self.open[span] = (site, parent)
            self.order.append(span)
        if site is None or (self.watched is not None and site.id not in self.watched):
            self._close(kind, span)
            return
        if kind == "instant":
            parent = next((s for s in reversed(self.order) if s in self.open), 0)
            stack = self._stack(parent)
        else:
            stack = self._stack(span)
        code = {"start": 0, "end": 1, "error_end": 2, "instant": 3}[kind]
        event = self._event(index, self._type(_stem(site.event_type), code), kind, site.id,
                            site.component, site.name, site.file, site.line, site.column,
                            span, parent, getattr(token, "task", 0), time.monotonic_ns(),
                            self._recorded(kind, site, payload), stack)
        self._close(kind, span)
        try:
            self.debugger.on_event(event)
        except self._quit:
            from .engine import StopReplay

            raise StopReplay(quit=True) from None
        self.watched = self.debugger.watched_sites()

    def _recorded(self, kind, site, payload):
        """The payload as the trace records it: a captured return that is not a dataclass
        is `{"output": value}`, a dataclass its fields, secrets redacted."""
        from dataclasses import is_dataclass

        from .engine import _recorded_form

        if payload is None:
            return None
        if kind == "end" and "return" in tuple(site.captures or ()) and not (
                is_dataclass(payload) and not isinstance(payload, type)):
            payload = {"output": payload}
        return _recorded_form(payload, self.redaction, self.limits)

    def _close(self, kind, span) -> None:
        if kind in ("end", "error_end"):
            self.open.pop(span, None)
            while self.order and self.order[-1] not in self.open:
                self.order.pop()


def _stem(event_type: str) -> str:
    from ..model import stem

    return stem(event_type)
