"""Pair starts with ends into Span objects, for the commands that need whole events.

Inspect and export want payloads and one object per span; the analysis pass does not
use this. Only open spans are held, so memory follows nesting, not trace length.
"""
from __future__ import annotations

from typing import Iterator

from .model import END, INSTANT, START, Instant, Span


def records(source, payloads: bool = True) -> Iterator[object]:
    """Span (when it closes) and Instant objects in file order; unclosed spans last."""
    info = source.info
    open_: dict[int, Span] = {}
    index = 0
    last_ts = None
    for batch in source.batches():
        ts, site, kind, span, parent, task = (batch.ts, batch.site, batch.kind, batch.span,
                                              batch.parent, batch.task)
        for i in range(len(batch)):
            k = kind[i]
            last_ts = ts[i]
            if k == START:
                open_[span[i]] = Span(span[i], parent[i], task[i], info.site(site[i]), ts[i],
                                      None, "open", index + i,
                                      start_payload=batch.payload(i) if payloads else None)
            elif k == INSTANT:
                yield Instant(index + i, ts[i], info.site(site[i]), parent[i], task[i],
                              batch.payload(i) if payloads else None)
            else:
                sp = open_.pop(span[i], None)
                if sp is None:
                    continue
                sp.end_ns = ts[i]
                sp.end_index = index + i
                sp.status = "ok" if k == END else "error"
                if payloads:
                    sp.end_payload = batch.payload(i)
                yield sp
        index += len(batch)
    for sp in sorted(open_.values(), key=lambda s: s.start_ns, reverse=True):
        sp.end_ns = last_ts
        yield sp
