"""Read OTLP exports back with opentelemetry-proto, the way receivers read them."""
from __future__ import annotations

import base64
import json

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _hex_to_b64(obj):
    # OTLP/JSON writes ids in hex; protobuf's own JSON mapping expects base64 for bytes.
    if isinstance(obj, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode()
                    if k in ("traceId", "spanId", "parentSpanId") else _hex_to_b64(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hex_to_b64(v) for v in obj]
    return obj


def parse_json_request(line: str) -> ExportTraceServiceRequest:
    raw = json.loads(line, parse_constant=_no_constant)
    json_format.Parse(json.dumps(raw), ExportTraceServiceRequest())  # names, enums, hex ids
    return json_format.Parse(json.dumps(_hex_to_b64(raw)), ExportTraceServiceRequest())


def read_json_lines(path) -> list:
    with open(path, encoding="utf-8") as f:
        return [parse_json_request(line) for line in f]


def read_delimited(path) -> list:
    """Varint-length-delimited ExportTraceServiceRequest messages."""
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(data):
        n = shift = 0
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        req = ExportTraceServiceRequest()
        req.ParseFromString(data[pos:pos + n])
        assert len(data[pos:pos + n]) == n, "a request is cut short"
        out.append(req)
        pos += n
    return out


def spans_of(requests) -> list:
    return [s for req in requests for rs in req.resource_spans for ss in rs.scope_spans
            for s in ss.spans]


def attrs(item) -> dict:
    out = {}
    for kv in item.attributes:
        which = kv.value.WhichOneof("value")
        v = getattr(kv.value, which)
        out[kv.key] = ([getattr(x, x.WhichOneof("value")) for x in v.values]
                       if which == "array_value" else v)
    return out
