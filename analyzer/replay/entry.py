"""One recorded boundary call of the answer book, made by both cores of its scan.

A dataclass rather than a compiled class: the replayer reads an entry's fields on every
call it answers, and CPython reads slots faster than a compiled class's attributes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

LAZY = object()  # a request not decoded yet: only its recorded hash was read


@dataclass(slots=True, eq=False)
class Entry:
    """Matching needs only the request's hash, which the reader decodes alone; the whole
    request (for a divergence's report or a diff) is decoded on first use, for every
    entry of the book in one more pass over the trace. Entries compare by identity."""

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
    book: object = field(default=None, repr=False)
    where: tuple = (0, 0)  # (chunk seq, index in the chunk) of the start event

    @property
    def request(self):
        if self.recorded_request is LAZY:
            self.book.decode_requests()
        return self.recorded_request

    @property
    def component(self) -> str:
        return self.key.rsplit(" / ", 1)[-1].rsplit("#", 1)[0]
