"""The pure-Python core of the answer book's scan: the twin of the compiled `_scan.pyx`.

The scan is the per-event half of `book.read_book`: it follows every span to its logical
key (keys.KeyTracker's rule, inlined), opens an entry at each boundary's start with the
hash read from its payload's tail, and at the end decodes the answer and checks its
shape on exact types. Anything else (a request without its hash, the run's entry, error
instants, an answer that is cut, opaque or not of the common shape) goes to the book's
`slow` handlers, shared by both cores, so the two give the same book and the same errors.
"""
from __future__ import annotations

from n3core.tracing.payload import NotPlain
from n3core.tracing.reqhash import recorded_digest

from .entry import LAZY, Entry
from .keys import ORDINALS

IS_COMPILED = False

START, END, INSTANT = 0, 1, 3


class BookScan:
    """The keys of the open spans and the calls still waiting for their answer.

    `names`, `boundary`: site id -> key stem and boundary kind ("llm", "tool", "clock");
    `roots`: the site ids of entry spans; `slow`: the book's handlers of the rare cases."""

    def __init__(self, book, sites: dict, names: dict, boundary: dict, roots, slow,
                 check: bool):
        self.book, self.sites, self.names, self.boundary = book, sites, names, boundary
        self.roots, self.slow, self.check = roots, slow, check
        self.paths: dict = {}
        self.counts: dict = {}
        self.open: dict = {}
        self.seq = 0
        self.rooted = False

    def feed(self, batch) -> None:
        paths, counts, open_calls, entries = self.paths, self.counts, self.open, self.book.entries
        names, boundary, sites, slow = self.names, self.boundary, self.sites, self.slow
        raw, recorded, ts, chunk = batch.raw_payload, batch.recorded, batch.ts, batch.seq
        for i, (kind, site, span, parent) in enumerate(
                zip(batch.kind, batch.site, batch.span, batch.parent)):
            if kind == START:
                key = names.get(site) or f"site:{site}"
                below = counts.get(parent)
                if below is None:
                    below = counts[parent] = {}
                n = below[key] = below.get(key, 0) + 1
                suffix = ORDINALS[n] if n < len(ORDINALS) else f"#{n}"
                above = paths.get(parent)
                path = paths[span] = f"{above} / {key}{suffix}" if above else key + suffix
                call_kind = boundary.get(site)
                if call_kind is not None:
                    digest = recorded_digest(raw(i))
                    if digest is None:
                        request, digest = slow.request(batch, i)
                    else:
                        request = LAZY
                    self.seq += 1
                    open_calls[span] = Entry(path, call_kind, sites[site], request, digest,
                                             self.seq, ts[i], 0, "", None, self.book, (chunk, i))
                elif not self.rooted and parent == 0 and site in self.roots:
                    self.rooted = True
                    slow.root(sites[site], batch, i)
            elif kind == INSTANT:
                if site == 0:
                    slow.error(paths.get(parent, ""), batch, i)
            else:
                counts.pop(span, None)
                paths.pop(span, None)
                call = open_calls.pop(span, None) if open_calls else None
                if call is not None:
                    call.end_ns = ts[i]
                    call.outcome = "ok" if kind == END else "error"
                    try:
                        call.answer = recorded(i, True)
                    except NotPlain:
                        slow.answer(call, batch, i)
                    else:
                        if self.check and not quick(call):
                            slow.check(call)
                    entries[call.key] = call
        self.book.events += len(batch)


def quick(call) -> bool:
    """Whether the answer has the shape the runtime records, on exact types: true only for
    answers the book's full check accepts, so the common case skips it."""
    answer = call.answer
    if type(answer) is not dict:
        return False
    if call.outcome == "error":
        return type(answer.get("type")) is str and type(answer.get("message")) is str
    if call.kind == "llm":
        return _llm(answer)
    if "output" not in answer:
        return False
    return call.kind != "clock" or type(answer["output"]) in (int, float, str)


def _llm(answer: dict) -> bool:
    if type(answer.get("text")) is not str:
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
