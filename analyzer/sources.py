"""Open whatever the user points at (a `.n3t` file, a JSON-lines file, a traces folder).

Both formats come out as the same thing: a RunInfo, an iterator of columnar batches and,
once iteration is over, a Health. Nothing here holds more than one batch at a time.
"""
from __future__ import annotations

import os
from dataclasses import fields
from typing import Iterator

from n3core.tracing.format import MAGIC as N3T_MAGIC
from n3core.tracing.reader import Report

from .errors import NotATraceError, TraceNotFoundError, UnknownComponentError
from .model import Health, RunInfo, SiteInfo
from .values import clean, jsonable

REPORT_FIELDS = tuple(f.name for f in fields(Report))  # what the reader tells Health

TRACE_SUFFIXES = (".n3t", ".jsonl", ".ndjson", ".json")
LATEST = "trace_latest"


def resolve(path: str) -> str:
    """The trace file a path means: itself, or a folder's `trace_latest` or newest trace."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise TraceNotFoundError(
            f"{path}: no such file or folder. Give the path of a .n3t trace, a JSON-lines "
            "trace of the earlier debugger, or a traces folder such as ./debug/traces "
            "(the newest trace in it is used).")
    if not os.path.isdir(path):
        return path
    latest = os.path.join(path, LATEST)
    if os.path.islink(latest) or os.path.isfile(latest):
        target = os.path.realpath(latest)
        if os.path.isfile(latest) and not os.path.islink(latest):
            with open(latest, "rb") as f:
                head = f.read(4096)
            if not head.startswith(N3T_MAGIC) and not head.lstrip().startswith(b"{"):
                name = head.decode("utf-8", "replace").strip()
                target = name if os.path.isabs(name) else os.path.join(path, name)
        if os.path.isfile(target):
            return target
    candidates = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.endswith(TRACE_SUFFIXES) and entry.is_file():
                candidates.append((entry.stat().st_mtime_ns, entry.name, entry.path))
    if not candidates:
        raise TraceNotFoundError(
            f"{path} is a folder with no trace in it (looked for {LATEST} and files ending "
            f"in {', '.join(TRACE_SUFFIXES)}). Run the program with tracing on "
            "(NAMEL3SS_DEBUG_ENABLED=true) or pass the trace file itself.")
    return max(candidates)[2]


def sniff(path: str) -> str:
    """'n3t' or 'jsonl' from the first bytes; anything else is not a trace."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise TraceNotFoundError(f"{path}: cannot be read ({exc.strerror or exc}). Check "
                                 "the path and its permissions.") from exc
    if head.startswith(N3T_MAGIC):
        return "n3t"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    if not head:
        raise NotATraceError(
            f"{path} is empty, so it holds no trace. A trace file is written as the program "
            "runs; if the run was killed before anything was flushed, run it again.")
    if head.startswith(N3T_MAGIC[:len(head)]):
        raise NotATraceError(
            f"{path} is truncated inside its header ({len(head)} bytes): no event can be "
            "read. The writer was probably killed at start-up; run the program again.")
    raise NotATraceError(
        f"{path} is not a trace: it starts with {head[:8]!r}, while a .n3t trace starts "
        f"with {N3T_MAGIC!r} and a JSON-lines trace with '{{'. Pass a file written by the "
        "namel3ss tracer or by the earlier namel3ss debugger.")


class Source:
    """A trace being read: `info`, `batches()` once, then `health`."""

    info: RunInfo
    health: Health
    size: int

    def batches(self) -> Iterator:
        raise NotImplementedError

    def position(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class N3tSource(Source):
    """A `.n3t` file through n3core's streaming reader."""

    def __init__(self, path: str):
        from n3core.tracing.reader import open_trace

        self._trace = open_trace(path, count_bad_payloads=True)
        header = self._trace.header
        sites = {}
        for s in header.sites:  # the header's schema was checked by the reader
            sites[s.id] = SiteInfo(s.id, clean(s.event_type), clean(s.component or ""),
                                   clean(s.name or ""), s.file or "", s.line or 0,
                                   s.column or 0)
        try:
            from n3core.tracing.format import RESERVED_SITES
            for s in RESERVED_SITES:
                sites.setdefault(s.id, SiteInfo(s.id, s.event_type, s.component, s.name))
        except ImportError:
            pass
        version = ".".join(str(v) for v in header.format_version)
        self.info = RunInfo(path, "n3t", version, clean(header.run_id),
                            jsonable(header.metadata or {}), sites, dict(header.config or {}))
        self.size = self._trace.report.file_size
        self.health = Health(format="n3t", format_version=version, file_size=self.size)

    def batches(self):
        yield from self._trace.batches()
        self._fill_health()

    def _fill_health(self):
        report = self._trace.report
        for name in REPORT_FIELDS:
            setattr(self.health, name, getattr(report, name))

    def position(self) -> int:
        return self._trace.report.bytes_read

    def close(self):
        self._fill_health()
        self._trace.close()


class JsonlSource(Source):
    """A JSON-lines file of the earlier debugger, through the importer."""

    def __init__(self, path: str, run: str | None = None):
        from .jsonl_import import JsonlImporter

        self._file = open(path, "rb")
        self.size = os.fstat(self._file.fileno()).st_size
        self._imp = JsonlImporter(path, run)
        self.info = RunInfo(path, "jsonl", "", "", {}, {})
        self.health = Health(format="jsonl", file_size=self.size)
        self._prime()

    def _prime(self):
        # Sites and run id are only known after reading; a first pass keeps memory flat.
        for _ in self._imp.batches(self._file):
            pass
        imp = self._imp
        runs = list(imp.executions)
        if imp.run_id and runs and imp.run_id not in imp.executions:
            self._file.close()
            raise UnknownComponentError(
                f"--run {imp.run_id}: {self.info.path} holds no execution of that id; its "
                f"executions are {', '.join(runs)}.")
        self.health.other_runs = [r for r in runs if r != imp.run_id]
        if imp.events == 0:
            self._file.close()
            raise NotATraceError(
                f"{self.info.path} holds no trace events: none of its {imp.lines} line(s) is "
                "a JSON object with an 'event_type' and a 'timestamp'. Pass a trace written "
                "by the namel3ss tracer (.n3t) or by the earlier namel3ss debugger.")
        self.info.run_id = imp.run_id
        self.info.sites = {s.id: s for s in imp.sites.values()}
        self._file.seek(0)

    def batches(self):
        from .jsonl_import import JsonlImporter

        imp = JsonlImporter(self.info.path, self.info.run_id or None)
        self._live = imp
        for batch in imp.batches(self._file):
            yield batch
        self.health.events = imp.events
        self.health.bytes_read = imp.bytes_read
        self.health.bad_lines = imp.bad_lines
        self.health.unusable = imp.reader.unusable
        self.health.complete = True

    def position(self) -> int:
        live = getattr(self, "_live", None)
        return live.bytes_read if live else 0

    def close(self):
        self._file.close()


def open_source(path: str, run: str | None = None) -> Source:
    """Open a trace for one streaming pass; raises the analyzer's errors on bad input.

    `run` picks one execution of a JSON-lines file holding several (default: its first);
    a .n3t file holds one run, which `run` must name if given."""
    from n3core.tracing.errors import TraceError

    real = resolve(path)
    fmt = sniff(real)
    if fmt == "jsonl":
        return JsonlSource(real, run)
    try:
        source = N3tSource(real)
    except TraceError as exc:
        raise NotATraceError(str(exc)) from exc
    if run and run != source.info.run_id:
        source.close()
        raise UnknownComponentError(f"--run {run}: {real} holds one run, "
                                    f"{source.info.run_id}.")
    return source
