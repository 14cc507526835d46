"""Step through a recorded run when there is nothing to re-execute.

The same Debugger, breakpoints and commands as a replay, fed from the trace instead of
a running program. The loop keeps only the open spans (for `where`) and builds a
ReplayEvent only for events a breakpoint could hit, or for every event while stepping,
so a long trace with a few breakpoints streams at reader speed.

    python -m analyzer.replay.stepping TRACE [--step] [--breakpoint SPEC]...
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

from ..errors import AnalyzerError
from ..model import KIND_NAMES, stem
from ..sources import open_source
from .breakpoints import Breakpoint, parse_breakpoints
from .debugger import Debugger, DebugIO, QuitReplay
from .events import Catalog, ReplayEvent, event_type_name, format_location

DEFAULT_REASON = "no build folder or source was given to run"
MAX_DEPTH = 256


@dataclass
class StepResult:
    """How far stepping got: events walked, pauses made, whether the user quit."""

    events: int = 0
    pauses: int = 0
    quit: bool = False
    warnings: list = field(default_factory=list)


def catalog_for(source) -> Catalog:
    """The trace's catalog, with each site's captures when the format records them."""
    rows = list(source.info.sites.values())
    if source.info.format == "n3t":
        from n3core.tracing.format import RESERVED_SITES
        from n3core.tracing.reader import open_trace

        with open_trace(source.info.path) as trace:
            rows = list(trace.header.sites)
        known = {r.id for r in rows}
        rows += [s for s in RESERVED_SITES if s.id not in known]
    catalog = Catalog.from_sites(rows)
    catalog.source = source.info.path
    return catalog


class _Meta:
    """What every event of one site shares, worked out once per site."""

    __slots__ = ("types", "component", "name", "file", "line", "column", "frame")

    def __init__(self, site):
        site_stem = stem(site.event_type)
        self.types = {k: event_type_name(site_stem, k) for k in KIND_NAMES}
        self.component, self.name = site.component, site.name
        self.file, self.line, self.column = site.file, site.line, site.column
        self.frame = (site_stem, site.name, format_location(site.file, site.line, site.column))


class _Walk:
    """The batches around the current event, so `e N` can show events never built."""

    def __init__(self, info):
        self.info = info
        self.meta: dict = {}
        self.open: dict = {}          # span -> (site, parent), open spans only
        self.prev = self.cur = None   # (batch, index of its first event)

    def site(self, s: int) -> _Meta:
        m = self.meta.get(s)
        if m is None:
            m = self.meta[s] = _Meta(self.info.site(s))
        return m

    def stack(self, sp: int) -> tuple:
        frames = []
        opened = self.open
        while sp in opened and len(frames) < MAX_DEPTH:
            s, sp = opened[sp]
            frames.append(self.site(s).frame)
        frames.reverse()
        return tuple(frames)

    def event(self, batch, i: int, index: int, stack: tuple) -> ReplayEvent:
        s, k = batch.site[i], batch.kind[i]
        m = self.site(s)
        return ReplayEvent(index, m.types.get(k, m.types[3]), KIND_NAMES.get(k, str(k)), s,
                           m.component, m.name, m.file, m.line, m.column, batch.span[i],
                           batch.parent[i], batch.task[i], batch.ts[i], batch.payload(i),
                           stack)

    def recent(self, upto: int, n: int) -> list:
        out = []
        for held in (self.cur, self.prev):
            if held is None:
                continue
            batch, base = held
            last = min(upto, base + len(batch) - 1)
            for index in range(last, max(base, upto - n + 1) - 1, -1):
                out.append(self.event(batch, index - base, index, ()))
        out.sort(key=lambda ev: ev.index)
        return out[-n:]


def walk(source, dbg: Debugger) -> int:
    """Feed every recorded event to dbg in order; the number of events read."""
    state = _Walk(source.info)
    dbg.recent = lambda n: state.recent(dbg.current.index if dbg.current else -1, n)
    watched = dbg.watched_sites()
    index = 0
    opened = state.open
    for batch in source.batches():
        state.prev, state.cur = state.cur, (batch, index)
        sites, kinds, spans, parents = batch.site, batch.kind, batch.span, batch.parent
        for i in range(len(batch)):
            s = sites[i]
            k = kinds[i]
            if k == 0:
                opened[spans[i]] = (s, parents[i])
                if watched is None or s in watched:
                    dbg.on_event(state.event(batch, i, index + i, state.stack(spans[i])))
                    watched = dbg.watched_sites()
            elif k == 3:
                if watched is None or s in watched:
                    dbg.on_event(state.event(batch, i, index + i, state.stack(parents[i])))
                    watched = dbg.watched_sites()
            else:
                if watched is None or s in watched:
                    dbg.on_event(state.event(batch, i, index + i, state.stack(spans[i])))
                    watched = dbg.watched_sites()
                opened.pop(spans[i], None)
        index += len(batch)
    return index


def step_through(trace_path, breakpoints=(), step: bool = False, io: DebugIO | None = None,
                 *, reason: str = DEFAULT_REASON) -> StepResult:
    """Walk the record of trace_path through a Debugger, saying first why it is not a replay.

    `breakpoints` are Breakpoint objects or specs; specs are checked against this trace
    (BreakpointError, exit code 2) before the first event is read.
    """
    io = io or DebugIO.standard()
    result = StepResult()
    with open_source(trace_path) as source:
        catalog = catalog_for(source)
        specs = [b for b in breakpoints if not isinstance(b, Breakpoint)]
        parsed = [b for b in breakpoints if isinstance(b, Breakpoint)]
        parsed += parse_breakpoints(specs, catalog)
        path = source.info.path
        dbg = Debugger(parsed, step, io, catalog=catalog, trace_path=path,
                       source_sha256=source.info.metadata.get("source_sha256"))
        dbg.say(f"Stepping through the recorded events of {path} instead of re-executing "
                f"the run: {reason}. What is shown is what was recorded; nothing runs again, "
                "so mocks and edits to the source have no effect here.")
        try:
            result.events = walk(source, dbg)
        except QuitReplay:
            result.quit = True
            result.events = dbg.current.index + 1 if dbg.current else 0
        result.pauses = dbg.pauses
        result.warnings = source.health.warnings()
    if result.quit:
        dbg.say(f"quit at event #{result.events - 1}")
    else:
        dbg.say(f"end of the record: {result.events} events, {result.pauses} pauses")
    for line in result.warnings:
        dbg.say(f"WARNING: {line}", "bold red")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analyzer.replay.stepping",
        description="Step through a trace's recorded events with the replay debugger.")
    parser.add_argument("trace", help="a .n3t trace, a JSON-lines trace or a traces folder")
    parser.add_argument("--step", action="store_true", help="pause at every event")
    parser.add_argument("--breakpoint", "-b", action="append", default=[], metavar="SPEC",
                        help="EVENT_TYPE, EVENT_TYPE:N, COMPONENT:NAME or "
                             "EVENT_TYPE:FIELD OP VALUE (repeatable)")
    args = parser.parse_args(argv)
    try:
        step_through(args.trace, args.breakpoint, args.step)
    except AnalyzerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
