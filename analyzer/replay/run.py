"""One replay, end to end: read the book, find the build, run it with the replayer in
place under a fresh tracer, and collect the verdicts."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from n3core.tracing import hooks, probes, session

from . import loadbuild
from .answers import Runtime
from .book import kept_out_of_the_collector
from .engine import MODES, Replayer, StopReplay
from .errors import MalformedTraceError, ReplayInputError
from .locate import locate


@dataclass
class Options:
    trace: str
    build: str | None = None
    source: str | None = None
    trace_out: str | None = None
    on_divergence: str = "stop"
    mocks: tuple = ()  # NAME:JSON specs
    step: bool = False
    breakpoints: tuple = ()  # specs, checked against the build's sites before it runs
    debug_io: object = None  # the debugger's DebugIO (None: the terminal or stdin)


@dataclass
class Outcome:
    trace: str
    run_id: str
    entry: str
    replay_trace: str
    build: str
    how: str
    sites_match: bool
    mode: str
    matched: int = 0
    boundaries: int = 0
    departures: list = field(default_factory=list)
    result: object = None
    error: str | None = None
    stopped: bool = False
    quit: bool = False
    events: int = 0
    not_reached: int = 0

    @property
    def divergences(self) -> list:
        return [d for d in self.departures if d.divergence]

    @property
    def identical(self) -> bool:
        """Every call answered from the record: no divergence and no mock."""
        return not self.departures

    @property
    def verdict(self) -> str:
        if self.identical:
            return "identical"
        return "diverged" if self.divergences else "mocked"

    @property
    def exit_code(self) -> int:
        return 0 if self.identical else 1


def default_trace_out(trace: str) -> str:
    base = Path(trace)
    return str(base.with_name(base.stem + ".replay.n3t"))


def replay(options: Options, *, book=None) -> Outcome:
    """Replay `options.trace`; bad input raises ReplayInputError before anything runs."""
    if options.on_divergence not in MODES:
        raise ReplayInputError(f"--on-divergence {options.on_divergence!r} is not one of "
                               f"{', '.join(MODES)}")
    with kept_out_of_the_collector(options.trace, book=book) as book:
        return _replay(options, book)


def _replay(options: Options, book) -> Outcome:
    if book.entry is None:
        raise MalformedTraceError(f"{options.trace} has no chain, agent or prompt run at its top, "
                                  "so there is nothing to replay. Fix: replay a trace of a whole run.")
    located = locate(book.header, build=options.build, source=options.source)
    sites = json.loads((located.path / "sites.json").read_text("utf-8"))["sites"]
    out = options.trace_out or default_trace_out(options.trace)
    if os.path.abspath(out) == os.path.abspath(options.trace):
        raise ReplayInputError(f"--trace-out {out} is the trace being replayed; choose another file")
    outcome = Outcome(options.trace, book.run_id, book.entry, out, str(located.path), located.how,
                      located.sites_match, options.on_divergence, boundaries=len(book.entries))
    config = dict(book.header.config or {})
    limits = (int(config.get("max_depth", 32)), int(config.get("max_payload", 256 * 1024)),
              int(config.get("max_repr", 200)))
    trace_config = {k: config[k] for k in ("max_payload", "max_depth", "max_repr") if k in config}
    trace_config.update(install_hooks=False, policy="block")
    meta = book.header.metadata or {}
    manifest = json.loads((located.path / "manifest.json").read_text("utf-8"))
    metadata = {"program": manifest.get("source"), "source_path": manifest.get("source_path"),
                "compiler": manifest.get("compiler"), "sites_sha256": manifest.get("sites_sha256"),
                "source_sha256": manifest.get("source_sha256"),
                "replay_of": book.run_id, "replayed_trace": os.path.abspath(options.trace),
                "argv": [a for a in meta.get("argv") or () if isinstance(a, str)]}
    from .mocks import components_of_sites, parse_mock
    from .row import site_rows

    rows = site_rows(sites)
    components = components_of_sites(rows)
    mocks = [parse_mock(spec, components) for spec in options.mocks]
    on_event = None
    if options.step or options.breakpoints:
        from .debughook import LiveHook

        on_event = LiveHook(rows, options.breakpoints, options.step, trace_path=options.trace,
                            source_sha256=manifest.get("source_sha256"), io=options.debug_io,
                            limits=limits)
    if session.active() is not None:
        raise ReplayInputError("a tracer is already running in this process; replay needs its own")
    tracer = session.start(out, sites, trace_config, metadata=metadata,
                           redaction=probes.configure_redaction())
    if on_event is not None:
        on_event.redaction = tracer.redaction
    replayer = None
    try:
        app = loadbuild.load(located.path)
        replayer = Replayer(book, Runtime(), rows, mode=options.on_divergence, limits=limits,
                            redaction=tracer.redaction, on_event=on_event)
        replayer.mocks = {m.target: m for m in mocks}
        for mock in mocks:
            mock.install(app)
        hooks.observe(replayer.observe)
        probes.install_replayer(replayer)
        try:
            outcome.result = app.run_sync(book.entry, book.input)
        except StopReplay as stop:
            outcome.stopped, outcome.quit = True, stop.quit
        except Exception as exc:  # noqa: BLE001 - the program's own failure is an outcome
            outcome.error = _describe(exc)
    finally:
        probes.install_replayer(None)
        hooks.observe(None)
        tracer.stop()
        loadbuild.unload(located.path)
    outcome.matched = replayer.matched
    outcome.events = replayer.events
    outcome.departures = list(replayer.departures)
    if not outcome.stopped:
        outcome.departures += replayer.missing()
    else:
        outcome.not_reached = sum(key not in replayer.used for key in book.entries)
    return outcome


def _describe(exc: BaseException) -> str:
    paragraph = getattr(exc, "paragraph", None)
    if callable(paragraph):
        return paragraph()
    return f"{type(exc).__name__}: {exc}"
