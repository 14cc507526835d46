"""Hand-edit a recorded trace: every event written again through the real writer, with
one payload replaced, so a test can make answers no run would record."""
from __future__ import annotations

from n3core.tracing import hooks, session
from n3core.tracing.format import ERROR_SITE, RESERVED_SITES, Kind
from n3core.tracing.reader import open_trace


class Failed:
    """What `edit` returns to end a span as failed with `error`, as a raising call does:
    an error_occurred instant, then the error end."""

    def __init__(self, error: dict):
        self.error = error


def rewrite(src, dst, edit) -> str:
    """Copy `src` to `dst`; `edit(site, kind, payload)` returns the payload to write (or,
    for an end, `Failed(error)`).

    Spans are opened and closed in the recorded order, so a sequential run keeps its
    nesting (the writer takes parents from the context, as in the run).
    """
    with open_trace(src) as trace:
        header = trace.header
        sites = {s.id: s for s in header.sites}
        events = list(trace.events())
    reserved = {s.id for s in RESERVED_SITES}
    session.start(str(dst), [s for s in header.sites if s.id not in reserved], {"install_hooks": False},
                  metadata=dict(header.metadata or {}))
    tokens = {}
    try:
        for e in events:
            payload = edit(sites.get(e.site), e.kind, e.payload)
            if e.kind == Kind.start:
                tokens[e.span] = hooks.enter(e.site, payload)
            elif isinstance(payload, Failed):
                hooks.instant(ERROR_SITE, payload.error)
                hooks.fail_end(tokens.pop(e.span), payload.error)
            elif e.kind == Kind.end:
                hooks.exit(tokens.pop(e.span), payload)
            elif e.kind == Kind.error_end:
                hooks.fail_end(tokens.pop(e.span), payload)
            else:
                hooks.instant(e.site, payload)
    finally:
        session.stop()
    return str(dst)
