"""OTLP files: JSON Lines (one ExportTraceServiceRequest per line) or length-delimited protobuf.

Collectors' OTLP/HTTP receivers refuse bodies over 20 MiB and their file receiver reads
one request per line, so a trace is cut into requests of at most `max_spans` spans and
about `max_bytes` bytes each (a single larger span travels alone). The binary form is the
usual delimited framing: each serialized request preceded by its length as a varint.
"""
from __future__ import annotations

from typing import Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .export_json import dumps
from .export_otlp import OtlpSpans, to_json_dict

MAX_SPANS = 5000
MAX_BYTES = 4 * 1024 * 1024


def batches(items: Iterator, size, max_spans: int, max_bytes: int) -> Iterator[list]:
    """Lists of items, each at most `max_spans` long and `max_bytes` by `size(item)`."""
    batch, total = [], 0
    for item in items:
        n = size(item)
        if batch and (len(batch) >= max_spans or total + n > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += n
    if batch:
        yield batch


def request(spans: OtlpSpans, batch) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.CopyFrom(spans.resource)
    ss = rs.scope_spans.add()
    ss.scope.CopyFrom(spans.scope)
    ss.spans.extend(batch)
    return req


def proto_requests(spans: OtlpSpans, max_spans=MAX_SPANS, max_bytes=MAX_BYTES):
    """Serialized ExportTraceServiceRequest messages, one per batch of spans."""
    for batch in batches(iter(spans), lambda s: s.ByteSize() + 8, max_spans, max_bytes):
        yield request(spans, batch).SerializeToString()


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def write_protobuf(source, f, max_spans=MAX_SPANS, max_bytes=MAX_BYTES):
    """Length-delimited binary requests into the binary file `f`."""
    spans = OtlpSpans(source)
    requests = 0
    for body in proto_requests(spans, max_spans, max_bytes):
        f.write(varint(len(body)))
        f.write(body)
        requests += 1
    return spans.counts, requests


def write_json_lines(source, f, max_spans=MAX_SPANS, max_bytes=MAX_BYTES):
    """OTLP/JSON requests, one per line, into the text file `f`."""
    from google.protobuf import json_format

    spans = OtlpSpans(source)
    resource = dumps(json_format.MessageToDict(spans.resource), separators=(",", ":"))
    scope = dumps(json_format.MessageToDict(spans.scope), separators=(",", ":"))
    head = f'{{"resourceSpans":[{{"resource":{resource},"scopeSpans":[{{"scope":{scope},"spans":['
    texts = (dumps(to_json_dict(s), separators=(",", ":")) for s in spans)
    requests = 0
    for batch in batches(texts, lambda t: len(t) + 1, max_spans, max_bytes - len(head) - 8):
        f.write(head + ",".join(batch) + "]}]}]}\n")
        requests += 1
    return spans.counts, requests
