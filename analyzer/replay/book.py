"""The answer book: logical key -> recorded request, its hash and its answer.

Built by one streaming pass over a trace. Only boundary spans (and the run's entry span)
have their payloads decoded; every recorded answer is checked for the shape the runtime
records, so a damaged or hostile trace is refused before anything runs.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field

from n3core.tracing.history import FIELD as HISTORY
from n3core.tracing.payload import Cut, special
from n3core.tracing.reader import open_trace

from .entry import LAZY, Entry
from .errors import MalformedTraceError
from .keys import BOUNDARY_EVENTS, HASH_FIELD, request_hash, site_key
from .scancore import scan_module

ENTRY_EVENTS = {"chain_execution": "chain", "agent_execution": "agent", "prompt_execution": "prompt"}


@dataclass
class Book:
    header: object
    entries: dict = field(default_factory=dict)
    entry: str | None = None
    input: object = None
    errors: list = field(default_factory=list)  # (path of the failing span, type, message)
    events: int = 0
    path: str = ""

    @property
    def run_id(self) -> str:
        return self.header.run_id

    def ordered(self) -> list:
        return sorted(self.entries.values(), key=lambda e: e.seq)

    def decode_requests(self) -> None:
        """Decode every request still LAZY, in one pass over the trace."""
        wanted = {e.where: e for e in self.entries.values() if e.recorded_request is LAZY}
        chunks = {seq for seq, _ in wanted}
        with open_trace(self.path) as trace:
            for batch in trace.batches():
                if batch.seq not in chunks:
                    continue
                for i in range(len(batch)):
                    entry = wanted.get((batch.seq, i))
                    if entry is not None:
                        entry.recorded_request = batch.payload(i)
        for entry in wanted.values():
            if entry.recorded_request is LAZY:  # the file changed under us
                entry.recorded_request = None


class _NeedsHistory(Exception):
    """A boundary without its recorded hash in a trace read without its llm history."""


def read_book(path, *, check: bool = True) -> Book:
    """One pass over the trace at `path`; MalformedTraceError on answers no run records.

    The pass reads requests as recorded, without the history of llm requests put back: only
    their hashes are needed. A request recorded without its hash is hashed whole, so a trace
    that has one is read again with the history rebuilt.

    The cyclic collector is paused for the pass: everything it allocates lives as long as
    the book, so collections would only walk the growing book again and again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read(path, check, False)
    except _NeedsHistory:
        return _read(path, check, True)
    finally:
        if collecting:
            gc.enable()


@contextmanager
def kept_out_of_the_collector(trace=None, *, book=None):
    """The book of `trace` (or `book`, already read), with everything alive once it is
    read left out of the cyclic collector's walks until the block ends (`gc.freeze`).

    A book is made of containers and lives as long as its replay, so every collection the
    replayed program triggers would walk it whole again. It is frozen the moment it is
    read: the first allocation after that would otherwise start a collection of the
    youngest generation, which is the whole book. Nothing is frozen when something else in
    the process already froze objects, so their owner's `gc.unfreeze` stays theirs."""
    if gc.get_freeze_count():
        yield book if book is not None else read_book(trace)
        return
    collecting = gc.isenabled()
    gc.disable()
    try:
        if book is None:
            book = read_book(trace)
        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    try:
        yield book
    finally:
        gc.unfreeze()


def _read(path, check: bool, history: bool) -> Book:
    with open_trace(path, history=history) as trace:
        book = Book(trace.header, path=str(path))
        sites = {s.id: s for s in trace.header.sites}
        names = {sid: site_key(s) for sid, s in sites.items()}
        boundary = {sid: BOUNDARY_EVENTS[s.event_type] for sid, s in sites.items()
                    if s.event_type in BOUNDARY_EVENTS}
        roots = {sid for sid, s in sites.items() if s.event_type in ENTRY_EVENTS}
        scan = scan_module().BookScan(book, sites, names, boundary, roots,
                                      _Slow(book, check, history), check)
        for batch in trace.batches():
            scan.feed(batch)
    return book


class _Slow:
    """What the scan leaves to Python, the same for both of its cores: the rare events
    and every answer outside the common shape."""

    __slots__ = ("book", "checks", "history")

    def __init__(self, book: Book, checks: bool, history: bool):
        self.book, self.checks, self.history = book, checks, history

    def request(self, batch, i) -> tuple:
        """(request, hash) of a boundary whose payload does not end with its hash."""
        digest = batch.recorded_get(i, (HASH_FIELD,)).get(HASH_FIELD)
        if digest.__class__ is str:
            return LAZY, digest
        request = batch.payload(i)  # older traces: hash what was recorded
        if not self.history and isinstance(request, dict) and HISTORY in request:
            raise _NeedsHistory()
        return request, request_hash(request)

    def root(self, site, batch, i) -> None:
        payload = batch.payload(i)
        self.book.entry = f"{ENTRY_EVENTS[site.event_type]}:{site.name}"
        self.book.input = payload.get("input") if isinstance(payload, dict) else None

    def error(self, path: str, batch, i) -> None:
        err = batch.payload(i)
        if isinstance(err, dict):
            self.book.errors.append((path, str(err.get("type")), str(err.get("message"))))

    def answer(self, call: Entry, batch, i) -> None:
        """An answer holding a cut or opaque value, or nested too deeply."""
        call.answer = batch.recorded(i)
        if self.checks:
            check_answer(call)

    def check(self, call: Entry) -> None:
        check_answer(call, plain=True)


def check_answer(call: Entry, plain: bool = False) -> None:
    """Refuse answers the runtime cannot have recorded (wrong types, cut or opaque values).

    `plain` says the reader already found no cut or opaque value in the answer."""
    answer = call.answer
    problem = None if plain else _cut(answer)
    if problem is None:
        if call.outcome == "error":
            problem = _shape(answer, _ERROR)
        elif call.kind == "llm":
            problem = _llm(answer)
        elif not isinstance(answer, dict) or "output" not in answer:
            problem = "expected {\"output\": value}"
        elif call.kind == "clock" and not isinstance(answer["output"], (int, float, str)):
            problem = "a clock answer must be a number or a string"
    if problem:
        raise MalformedTraceError(
            f"the recorded answer of {call.key} ({call.site.file}:{call.site.line}) is malformed: "
            f"{problem}. Nothing was run. Fix: record the run again; a trace whose answers were "
            "cut (raise NAMEL3SS_DEBUG_BUFFER_SIZE or the payload limit) or edited cannot be replayed.")


def _cut(value) -> str | None:
    """What makes `value` unusable as an answer (a cut or repr-only part), or None."""
    found = special(value)
    if found is None:
        return None
    if isinstance(found, Cut):
        return f"the value was cut when recorded ({found.reason})"
    if isinstance(found, str):
        return "nested too deeply"
    return f"a {found.type_name} was recorded as its repr only"


def _shape(value, fields) -> str | None:
    if not isinstance(value, dict):
        return f"expected an object, found {type(value).__name__}"
    for name, kind in fields.items():
        if not isinstance(value.get(name), kind):
            return f"field {name!r} should be {kind.__name__}, found {type(value.get(name)).__name__}"
    return None


_ERROR = {"type": str, "message": str}
_LLM = {"text": str, "tool_calls": list}
_CALL = {"name": str, "arguments": dict}
_USAGE = {"prompt_tokens": int, "completion_tokens": int, "total_tokens": int}


def _llm(answer) -> str | None:
    problem = _shape(answer, _LLM)
    if problem:
        return problem
    for call in answer["tool_calls"]:
        problem = _shape(call, _CALL)
        if problem:
            return "tool_calls: " + problem
    usage = answer.get("usage")
    if usage is not None:
        problem = _shape(usage, _USAGE)
        if problem:
            return "usage: " + problem
    return None
