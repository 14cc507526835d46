"""Server-sent events, the wire form of `stream: true`, and what a stream is measured by.

Both streaming wire formats (Chat Completions and Anthropic Messages) are SSE: `event:` and
`data:` lines, a blank line ending each event. A `Collector` turns one format's events
into one `LLMResponse`; the base class counts the chunks that carried output and when the
first arrived, measured from when the request was issued (OpenTelemetry's
`gen_ai.response.time_to_first_chunk`). The clock is `time.monotonic`, not the runtime's
`clock`: that one is a replay boundary, and a replayed call never streams.
"""
from __future__ import annotations

import time


async def events(lines):
    """(event name, data) for every event in an async iterable of lines; comments skipped."""
    name, data = None, []
    async for line in lines:
        if not line:
            if data:
                yield name or "message", "\n".join(data)
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data:
        yield name or "message", "\n".join(data)


class Collector:
    """Assembles one streamed reply; subclasses implement `feed` and `response`."""

    def __init__(self, model: str):
        self.model = model
        self.started = time.monotonic()
        self.chunks = 0
        self.first: float | None = None

    def output_chunk(self) -> None:
        """Called for every event that carried text or a piece of a tool call."""
        self.chunks += 1
        if self.first is None:
            self.first = time.monotonic() - self.started

    def feed(self, name: str, data: str) -> bool:
        """Take one event; True once the stream says it is complete."""
        raise NotImplementedError

    def response(self):
        raise NotImplementedError

    def finish(self, response):
        response.chunks = self.chunks
        response.time_to_first_chunk = round(self.first, 6) if self.first is not None else None
        return response
