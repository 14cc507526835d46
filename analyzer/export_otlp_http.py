"""Push a trace to an OTLP/HTTP receiver: protobuf bodies, gzip, batches, retries.

The SDK's OTLP exporter takes live SDK spans, while ours are already
ExportTraceServiceRequest messages, so the protocol's few rules are followed here:
POST to `/v1/traces`, retry 429, 502, 503 and 504 (and refused or timed-out connections)
with exponential backoff, wait what `Retry-After` asks when the receiver says, and
report the spans a receiver rejects through `partial_success`.
"""
from __future__ import annotations

import email.utils
import gzip
import time
import urllib.error
import urllib.request

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from n3core.tracing import live_otlp

from .errors import AnalyzerError, OutputError
from .export_otlp import OtlpSpans
from .export_otlp_file import MAX_BYTES, MAX_SPANS, proto_requests

RETRYABLE = (429, 502, 503, 504)
MAX_WAIT = 60.0


class EndpointError(AnalyzerError):
    """The --endpoint value is not an http(s) URL."""


def traces_url(endpoint: str) -> str:
    """The URL to POST to: the endpoint itself, or with /v1/traces when it names only a host."""
    url = live_otlp.traces_url(endpoint)
    if url is None:
        raise EndpointError(
            f"--endpoint {endpoint!r} is not an http(s) URL. Give the OTLP/HTTP receiver's "
            "address, e.g. http://127.0.0.1:4318 (/v1/traces is added) or "
            "https://collector.example:4318/v1/traces.")
    return url


def retry_after(value, now=None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_WAIT)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return min(max(when.timestamp() - now, 0.0), MAX_WAIT)


class Pusher:
    """Sends request bodies one by one; `sleep` is injectable so tests need not wait."""

    def __init__(self, url, retries=5, timeout=10.0, backoff=0.5, headers=None, sleep=time.sleep):
        self.url, self.retries, self.timeout, self.backoff = url, retries, timeout, backoff
        self.headers = dict(headers or {})
        self.sleep = sleep
        self.sent = self.rejected = self.attempts = 0
        self.messages: list[str] = []

    def send(self, body: bytes) -> None:
        data = gzip.compress(body, compresslevel=6)
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip",
                   "User-Agent": "n3trace", **self.headers}
        for attempt in range(self.retries + 1):
            self.attempts += 1
            wait = self.backoff * (2 ** attempt)
            try:
                req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    self._accepted(resp.read())
                    return
            except urllib.error.HTTPError as exc:
                detail = _body_text(exc)
                if exc.code not in RETRYABLE:
                    self._fail(f"the receiver answered HTTP {exc.code} {exc.reason}"
                               f"{': ' + detail if detail else ''}", retryable=False)
                reason = f"HTTP {exc.code} {exc.reason}"
                asked = retry_after(exc.headers.get("Retry-After"))
                if asked is not None:
                    wait = asked
            except (urllib.error.URLError, OSError) as exc:
                reason = str(getattr(exc, "reason", exc) or exc)
            if attempt < self.retries:
                self.sleep(min(wait, MAX_WAIT))
        self._fail(f"{reason}, after {self.retries + 1} attempt(s)", retryable=True)

    def _accepted(self, raw: bytes) -> None:
        self.sent += 1
        if not raw:
            return
        resp = ExportTraceServiceResponse()
        try:
            resp.ParseFromString(raw)
        except Exception:  # a receiver answering 200 with another body still took the spans
            return
        ps = resp.partial_success
        if ps.rejected_spans:
            self.rejected += ps.rejected_spans
        if ps.error_message:
            self.messages.append(ps.error_message)

    def _fail(self, why: str, retryable: bool):
        hint = ("Check that an OTLP/HTTP receiver (an OpenTelemetry Collector or a tracing "
                "backend) listens there and is reachable" if retryable else
                "Check the endpoint's path (OTLP/HTTP traces go to /v1/traces) and any "
                "headers the receiver requires")
        raise OutputError(
            f"cannot send the trace to {self.url}: {why}. {self.sent} request(s) had been "
            f"accepted before this one. {hint}, or export to a file with -o and send it "
            "later.")


def _body_text(exc) -> str:
    try:
        raw = exc.read() or b""
    except OSError:
        return ""
    text = raw[:300].decode("utf-8", "replace").strip()
    return text if text.isprintable() else ""


def push(source, endpoint, max_spans=MAX_SPANS, max_bytes=MAX_BYTES, **options):
    """Send the whole trace; returns (span counts, the Pusher with what it sent)."""
    pusher = Pusher(traces_url(endpoint), **options)
    spans = OtlpSpans(source)
    for body in proto_requests(spans, max_spans, max_bytes):
        pusher.send(body)
    return spans.counts, pusher
