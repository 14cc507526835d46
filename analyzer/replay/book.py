"""The answer book: logical key -> recorded request, its hash and its answer.

Built by one streaming pass over a trace. Only boundary spans (and the run's entry span)
have their payloads decoded; every recorded answer is checked for the shape the runtime
records, so a damaged or hostile trace is refused before anything runs.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field

from n3core.tracing.format import Kind
from n3core.tracing.history import FIELD as HISTORY
from n3core.tracing.payload import Cut, special
from n3core.tracing.reader import NotPlain, open_trace
from n3core.tracing.reqhash import recorded_digest

from .errors import MalformedTraceError
from .keys import BOUNDARY_EVENTS, HASH_FIELD, KeyTracker, request_hash, site_key

ENTRY_EVENTS = {"chain_execution": "chain", "agent_execution": "agent", "prompt_execution": "prompt"}


LAZY = object()  # a request not decoded yet: only its recorded hash was read


@dataclass(slots=True)
class Entry:
    """One recorded boundary call.

    Matching needs only the request's hash, which the reader decodes alone; the whole
    request (for a divergence's report or a diff) is decoded on first use, for every
    entry of the book in one more pass over the trace.
    """

    key: str
    kind: str  # llm, tool or clock
    site: object
    recorded_request: object
    hash: str
    seq: int
    start_ns: int = 0
    end_ns: int = 0
    outcome: str = ""  # "ok" or "error"; "" while unanswered
    answer: object = None
    book: object = field(default=None, repr=False, compare=False)
    where: tuple = (0, 0)  # (chunk seq, index in the chunk) of the start event

    @property
    def request(self):
        if self.recorded_request is LAZY:
            self.book.decode_requests()
        return self.recorded_request

    @property
    def component(self) -> str:
        return self.key.rsplit(" / ", 1)[-1].rsplit("#", 1)[0]


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


def _read(path, check: bool, history: bool) -> Book:
    with open_trace(path, history=history) as trace:
        book = Book(trace.header, path=str(path))
        sites = {s.id: s for s in trace.header.sites}
        names = {sid: site_key(s) for sid, s in sites.items()}
        boundary = {sid: BOUNDARY_EVENTS[s.event_type] for sid, s in sites.items()
                    if s.event_type in BOUNDARY_EVENTS}
        roots = {sid for sid, s in sites.items() if s.event_type in ENTRY_EVENTS}
        tracker = KeyTracker()
        start, end, paths = tracker.start, tracker.end, tracker.paths
        entries = book.entries
        hash_key = (HASH_FIELD,)
        open_calls: dict = {}
        seq = 0
        START, END, INSTANT = int(Kind.start), int(Kind.end), int(Kind.instant)
        for batch in trace.batches():
            payload, raw, ts, chunk = batch.payload, batch.raw_payload, batch.ts, batch.seq
            recorded = batch.recorded
            for i, (kind, site, span, parent) in enumerate(
                    zip(batch.kind, batch.site, batch.span, batch.parent)):
                if kind == START:
                    path_ = start(span, parent, names.get(site) or f"site:{site}")
                    if site in boundary:
                        digest = recorded_digest(raw(i))
                        if digest is None:
                            digest = batch.recorded_get(i, hash_key).get(HASH_FIELD)
                        if digest.__class__ is str:
                            request = LAZY
                        else:  # older traces: hash what was recorded
                            request = payload(i)
                            if not history and isinstance(request, dict) and HISTORY in request:
                                raise _NeedsHistory()
                            digest = request_hash(request)
                        seq += 1
                        open_calls[span] = Entry(path_, boundary[site], sites[site], request,
                                                 digest, seq, ts[i], 0, "", None, book,
                                                 (chunk, i))
                    elif book.entry is None and site in roots and parent == 0:
                        _entry(book, sites[site], payload(i))
                elif kind == INSTANT:
                    if site == 0:
                        err = payload(i)
                        if isinstance(err, dict):
                            book.errors.append((paths.get(parent, ""),
                                                str(err.get("type")), str(err.get("message"))))
                else:
                    end(span)
                    call = open_calls.pop(span, None) if open_calls else None
                    if call is not None:
                        call.end_ns = ts[i]
                        call.outcome = "ok" if kind == END else "error"
                        try:
                            call.answer, plain = recorded(i, check), True
                        except NotPlain:
                            call.answer, plain = recorded(i), False
                        if check:
                            check_answer(call, plain)
                        entries[call.key] = call
            book.events += len(batch)
    return book


def _entry(book: Book, site, payload) -> None:
    book.entry = f"{ENTRY_EVENTS[site.event_type]}:{site.name}"
    book.input = payload.get("input") if isinstance(payload, dict) else None


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


def _plain_llm(answer) -> bool:
    """The shape every recorded llm answer has, checked on exact types: the common case
    costs no walk over the field tables."""
    if type(answer) is not dict or type(answer.get("text")) is not str:
        return False
    calls, usage = answer.get("tool_calls"), answer.get("usage")
    if type(calls) is not list:
        return False
    for call in calls:
        if (type(call) is not dict or type(call.get("name")) is not str
                or type(call.get("arguments")) is not dict):
            return False
    return usage is None or (type(usage) is dict and type(usage.get("prompt_tokens")) is int
                             and type(usage.get("completion_tokens")) is int
                             and type(usage.get("total_tokens")) is int)


def _llm(answer) -> str | None:
    if _plain_llm(answer):
        return None
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
