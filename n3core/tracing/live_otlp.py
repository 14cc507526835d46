"""Stream a traced run's spans to an OTLP/HTTP receiver while it runs.

The `.n3t` file stays the source of truth, and is what is streamed: one daemon thread
follows the file as the writer thread appends chunks to it (the way `tail -f` does),
turns each whole chunk into spans (the same `otlp_spans` the analyzer's export builds) and
POSTs them in batches. The program's threads never wait for it, and a slow receiver only
makes the stream lag behind the file. A receiver that fails is named in one warning and
the rest of the run stays in the file only; closing waits a bounded time for the last
batch.
"""
from __future__ import annotations

import gzip
import threading
import time
import urllib.parse
import urllib.request

from . import core as _core
from .format import CHUNK, CHUNK_MAGIC, RECORD_SIZE, Site
from .sink import warn

PATH = "/v1/traces"
MAX_SPANS = 512
IDLE_S = 0.25
TIMEOUT_S = 3.0
CLOSE_WAIT_S = 5.0


def traces_url(endpoint) -> str | None:
    """The URL to POST to (a bare http://host:port gets /v1/traces), or None when
    `endpoint` is not an http(s) URL."""
    if not isinstance(endpoint, str):
        return None
    try:
        parts = urllib.parse.urlsplit(endpoint.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path in ("", "/"):
        parts = parts._replace(path=PATH)
    return urllib.parse.urlunsplit(parts)


class _Info:
    """The header facts the span builder reads, from the running tracer."""

    def __init__(self, path, run_id, metadata, sites):
        self.path, self.run_id, self.metadata = path, run_id, dict(metadata or {})
        self.sites = {s.id: s for s in sites}

    def site(self, site_id: int) -> Site:
        found = self.sites.get(site_id)
        if found is None:
            found = self.sites[site_id] = Site(site_id, f"site_{site_id}")
        return found


class LiveExporter:
    """Follows the trace file from `offset` (its first chunk) on its own thread; spans out
    to `url`. `close()` once the file is complete streams what is left."""

    def __init__(self, url, *, path, run_id, metadata, sites, ts_shift, offset):
        self.url = url
        self.info = _Info(path, run_id, metadata, sites)
        self._shift = ts_shift
        self._pos = offset
        self._closing = threading.Event()
        self._pending: list = []
        self._last_send = time.monotonic()
        self._spans = None
        self.sent_spans = self.lost_spans = self.requests = 0
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._run, name="n3trace-otlp", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stream the rest of the file, waiting at most CLOSE_WAIT_S; say so if it is late."""
        self._closing.set()
        self._thread.join(CLOSE_WAIT_S)
        if self.failure is None and self._thread.is_alive():
            warn(f"streaming spans to {self.url}: the last spans were not sent in time. The "
                 f"trace file {self.info.path} holds every event; export it with n3analyze "
                 "export --to otlp --endpoint.")

    # -- the sender's thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            from .otlp_spans import OtlpSpans

            self._spans = OtlpSpans(self)
            for span in self._spans:
                self._pending.append(span)
                if len(self._pending) >= MAX_SPANS:
                    self._send()
            self._send()
        except Exception as exc:  # noqa: BLE001 - a streaming fault must not reach the program
            self._fail(f"{type(exc).__name__}: {exc}")

    def batches(self):
        """Each whole chunk the file holds, as a reader batch, in file order, until close;
        sends what is pending while the file does not grow."""
        from .reader import Batch

        module = _core.reader_module()
        with open(self.info.path, "rb") as f:
            while True:
                last_look = self._closing.is_set()
                data = _next_chunk(f, self._pos)
                if data is None:
                    if last_look or self.failure is not None:
                        return
                    self._send()
                    self._closing.wait(IDLE_S)
                    continue
                self._pos += len(data)
                _, _, n, _, base, seq, _ = CHUNK.unpack_from(data)
                body = data[CHUNK.size:]
                yield Batch(module.decode_records(body, n, base + self._shift), body,
                            n * RECORD_SIZE, seq, 0, module)
                if time.monotonic() - self._last_send >= IDLE_S:
                    self._send()

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        self._last_send = time.monotonic()
        if not batch:
            return
        if self.failure is not None:
            self.lost_spans += len(batch)
            return
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest)

        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.CopyFrom(self._spans.resource)
        ss = rs.scope_spans.add()
        ss.scope.CopyFrom(self._spans.scope)
        ss.spans.extend(batch)
        body = gzip.compress(req.SerializeToString(), compresslevel=6)
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip",
                   "User-Agent": "n3trace"}
        try:
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
                resp.read()
        except Exception as exc:  # noqa: BLE001 - refused, timed out, HTTP errors alike
            self.lost_spans += len(batch)
            self._fail(str(getattr(exc, "reason", None) or exc))
            return
        self.sent_spans += len(batch)
        self.requests += 1

    def _fail(self, why: str) -> None:
        if self.failure is not None:
            return
        self.failure = why
        warn(f"cannot stream spans to {self.url} ({why}); {self.sent_spans} span(s) were "
             "sent before. The run goes on and its trace file holds every event: export it "
             "later with n3analyze export --to otlp --endpoint, or check that an OTLP/HTTP "
             "receiver listens there (NAMEL3SS_DEBUG_OTLP_ENDPOINT / otlp_endpoint).")


def _next_chunk(f, pos: int):
    """The whole chunk at `pos`, or None while it is not (yet) all in the file."""
    f.seek(pos)
    head = f.read(CHUNK.size)
    if len(head) < CHUNK.size or head[:4] != CHUNK_MAGIC:
        return None
    _, _, n, pay, _, _, _ = CHUNK.unpack(head)
    body = f.read(n * RECORD_SIZE + pay)
    return head + body if len(body) == n * RECORD_SIZE + pay else None
