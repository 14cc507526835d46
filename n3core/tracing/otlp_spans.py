"""OpenTelemetry spans (opentelemetry-proto messages) with `gen_ai.*` attributes.

It lives in n3core because a traced run streams the same spans while it runs
(`live_otlp`), and n3core imports nothing from the analyzer; the analyzer's exports build
on it. Attribute names come from opentelemetry-semantic-conventions where it has them.

Receivers key spans by id, so ids must not repeat across traces: the trace id is the run
id (or a hash of it) and each span id a hash of the trace id and the span number, which
re-exporting the same trace reproduces. Spans still open when the trace ends (a killed
run) are exported ended at the trace's last timestamp, status UNSET, marked open; a
parent the trace does not hold is dropped rather than left dangling. Only open spans and
their pending events are held, so memory follows nesting, not trace length.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import urllib.parse
from dataclasses import dataclass

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import (code_attributes as code, error_attributes as error,
                                              server_attributes as server,
                                              service_attributes as service)

from ..runtime.providers import genai_name
from .format import Kind

START, END, ERROR_END, INSTANT = (int(k) for k in (Kind.start, Kind.end, Kind.error_end, Kind.instant))

KIND_INTERNAL, KIND_CLIENT = 1, 3
STATUS_ERROR = 2
OPEN_ATTRIBUTE = "namel3ss.span.still_open"
ORPHAN_ATTRIBUTE = "namel3ss.span.parent_not_in_trace"
SCOPE = "n3trace"
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1



def unix_ns(ts: int) -> int:
    """OTLP times are unsigned: a clock before 1970 (a damaged or hand-made trace) is 0."""
    return min(max(ts, 0), (1 << 64) - 1)

def trace_id(run_id: str, fallback: str = "namel3ss") -> bytes:
    """The run id itself when it is already a 128-bit hex id, else its hash."""
    if re.fullmatch(r"[0-9a-f]{32}", run_id or "") and set(run_id) != {"0"}:
        return bytes.fromhex(run_id)
    return hashlib.sha256((run_id or fallback).encode()).digest()[:16]


def span_id(tid: bytes, number: int) -> bytes:
    """A span id unique across traces and stable across re-exports of one trace."""
    digest = hashlib.sha256(tid + number.to_bytes(16, "big", signed=True)).digest()[:8]
    return digest if any(digest) else b"\x00" * 7 + b"\x01"


def plain_text(v) -> str:
    """A value as text, never raising: sorted strict JSON, else its repr."""
    try:
        return json.dumps(v, sort_keys=True, allow_nan=False, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        try:
            return repr(v)
        except Exception:  # noqa: BLE001 - a value's repr may raise
            return f"<{type(v).__name__}>"


def _value(v, out: common_pb2.AnyValue, text=plain_text) -> None:
    if isinstance(v, bool):
        out.bool_value = v
    elif isinstance(v, int) and _INT64_MIN <= v <= _INT64_MAX:
        out.int_value = v
    elif isinstance(v, float) and math.isfinite(v):
        out.double_value = v
    elif isinstance(v, (list, tuple)) and all(
            isinstance(x, (str, bool, int, float)) for x in v):
        for x in v:
            _value(x, out.array_value.values.add(), text)
    elif isinstance(v, str):
        out.string_value = v
    else:
        out.string_value = text(v)


def _attrs(d: dict, into, text=plain_text) -> None:
    for k, v in d.items():
        if v is not None:
            kv = into.add()
            kv.key = k
            _value(v, kv.value, text)


def _d(p) -> dict:
    return p if isinstance(p, dict) else {}


def _server(url) -> dict:
    """server.address / server.port of an http(s) URL the trace recorded, when it has one."""
    if not isinstance(url, str) or "://" not in url or "{" in url:
        return {}
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return {}
    return {server.SERVER_ADDRESS: parts.hostname, server.SERVER_PORT: port} if parts.hostname else {}


def span_attributes(site, start, end, text=plain_text) -> tuple[str, int, dict]:
    """(span name, span kind, attributes) following the gen_ai semantic conventions."""
    def as_text(v):
        return None if v is None else v if isinstance(v, str) else text(v)

    start, end = _d(start), _d(end)
    attrs = {"namel3ss.event_type": site.event_type, "namel3ss.component": site.component,
             "namel3ss.name": site.name}
    if site.file:
        attrs.update({code.CODE_FILE_PATH: site.file, code.CODE_LINE_NUMBER: site.line})
    et = site.event_type
    if et == "llm_call":
        params = _d(start.get("params"))
        usage = _d(end.get("usage"))
        model = as_text(start.get("model"))
        finish = end.get("finish_reason")
        attrs.update({
            gen_ai.GEN_AI_OPERATION_NAME: "chat",
            gen_ai.GEN_AI_PROVIDER_NAME: genai_name(as_text(start.get("provider"))),
            gen_ai.GEN_AI_REQUEST_MODEL: model,
            gen_ai.GEN_AI_REQUEST_TEMPERATURE: _float(params.get("temperature")),
            gen_ai.GEN_AI_REQUEST_MAX_TOKENS: _int(params.get("max_tokens")),
            gen_ai.GEN_AI_REQUEST_TOP_P: _float(params.get("top_p")),
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: _int(usage.get("prompt_tokens", usage.get("input_tokens"))),
            gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: _int(usage.get("completion_tokens", usage.get("output_tokens"))),
            gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: [str(finish)] if finish else None,
            gen_ai.GEN_AI_RESPONSE_MODEL: as_text(end.get("model")),
            gen_ai.GEN_AI_RESPONSE_ID: as_text(end.get("id") or _d(end.get("raw")).get("id")),
            "gen_ai.response.time_to_first_chunk": _float(end.get("time_to_first_chunk")),
            **_server(start.get("base_url")),
        })
        return (f"chat {model}" if model else f"chat {site.name}"), KIND_CLIENT, attrs
    if et == "tool_call":
        attrs.update({gen_ai.GEN_AI_OPERATION_NAME: "execute_tool",
                      gen_ai.GEN_AI_TOOL_NAME: site.name,
                      gen_ai.GEN_AI_TOOL_CALL_ID: as_text(start.get("call_id")),
                      **_server(start.get("endpoint"))})
        return f"execute_tool {site.name}", KIND_INTERNAL, attrs
    if et == "agent_execution":
        attrs.update({gen_ai.GEN_AI_OPERATION_NAME: "invoke_agent",
                      gen_ai.GEN_AI_AGENT_NAME: site.name})
        return f"invoke_agent {site.name}", KIND_INTERNAL, attrs
    return f"{et} {site.name}".strip(), KIND_INTERNAL, attrs


def _float(v):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    return float(v) if ok and abs(v) < 1e308 and v == v else None


def _int(v):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    return int(v) if ok and v == v and _INT64_MIN <= v <= _INT64_MAX else None


def _exception_event(ts: int, p: dict, text) -> trace_pb2.Span.Event:
    ev = trace_pb2.Span.Event(name="exception", time_unix_nano=unix_ns(ts))
    _attrs({"exception.type": p.get("type"), "exception.message": p.get("message"),
            "exception.stacktrace": p.get("stack")}, ev.attributes, text)
    return ev


@dataclass
class Counts:
    """What the span stream produced, for the export's summary line."""

    spans: int = 0
    still_open: int = 0
    orphans: int = 0


def app_name(info) -> str:
    """The app's name, for service.name: the header's, else the app site's, else namel3ss."""
    named = info.metadata.get("app") if isinstance(info.metadata, dict) else None
    if isinstance(named, str) and named:
        return named
    sites = info.sites.values() if isinstance(info.sites, dict) else info.sites
    for site in sites:
        if site.component == "app" and site.name:
            return site.name
    return "namel3ss"


class OtlpSpans:
    """The trace's spans as `trace_pb2.Span` messages, closed ones in closing order, then
    the ones still open when the trace ends; `resource`, `scope` and `counts` beside.

    `source` needs `info` (path, run_id, metadata, sites, site(id)) and `batches()`;
    `text` turns a value that is not a plain scalar into attribute text."""

    def __init__(self, source, text=plain_text):
        self.source = source
        self.text = text
        info = source.info
        fallback = "file:" + os.path.realpath(info.path) if info.path else "namel3ss"
        self.trace_id = trace_id(info.run_id, fallback)
        self.resource = resource_pb2.Resource()
        _attrs({service.SERVICE_NAME: app_name(info),
                "namel3ss.run_id": info.run_id or None}, self.resource.attributes, text)
        self.scope = common_pb2.InstrumentationScope(name=SCOPE, version=_version())
        self.counts = Counts()

    def __iter__(self):
        info = self.source.info
        tid = self.trace_id
        ids: dict = {}
        seen: set = set()
        open_: dict = {}
        conversations: dict = {}  # open span -> the agent run it belongs to
        last_ts = 0

        def sid(n):
            found = ids.get(n)
            if found is None:
                found = ids[n] = span_id(tid, n)
            return found

        for batch in self.source.batches():
            for i in range(len(batch)):
                k, ts, sp = batch.kind[i], batch.ts[i], batch.span[i]
                if ts > last_ts:
                    last_ts = ts
                if k == START:
                    parent = batch.parent[i]
                    seen.add(sp)
                    if parent and parent not in seen:
                        self.counts.orphans += 1
                        parent = -parent
                    site = batch.site[i]
                    conv = conversations.get(parent)
                    if info.site(site).event_type == "agent_execution":
                        conv = sid(sp).hex()
                    if conv is not None:
                        conversations[sp] = conv
                    open_[sp] = [ts, parent, site, batch.payload(i), [], conv]
                elif k == INSTANT:
                    holder = open_.get(batch.parent[i])
                    if holder is not None:
                        holder[4].append(self._instant(info.site(batch.site[i]), ts,
                                                       batch.payload(i)))
                else:
                    rec = open_.pop(sp, None)
                    if rec is not None:
                        yield self._span(sid, sp, rec, k, ts, batch.payload(i))
                        ids.pop(sp, None)
                        conversations.pop(sp, None)
        for sp in sorted(open_, key=lambda n: open_[n][0]):
            yield self._span(sid, sp, open_[sp], None, max(last_ts, open_[sp][0]), None)
            self.counts.still_open += 1

    def _instant(self, site, ts, payload):
        p = _d(payload)
        if site.event_type == "error_occurred":
            return _exception_event(ts, p, self.text)
        ev = trace_pb2.Span.Event(name=site.event_type, time_unix_nano=unix_ns(ts))
        _attrs({"namel3ss.name": site.name or None,
                "namel3ss.payload": payload if payload not in (None, {}) else None},
               ev.attributes, self.text)
        return ev

    def _span(self, sid, sp, rec, kind, end_ts, end_payload) -> trace_pb2.Span:
        start_ts, parent, site_id, start_payload, events, conv = rec
        site = self.source.info.site(site_id)
        name, span_kind, attrs = span_attributes(site, start_payload, end_payload, self.text)
        if conv is not None:
            attrs[gen_ai.GEN_AI_CONVERSATION_ID] = conv
        if kind is None:
            attrs[OPEN_ATTRIBUTE] = True
        if parent < 0:
            attrs[ORPHAN_ATTRIBUTE] = -parent
        span = trace_pb2.Span(trace_id=self.trace_id, span_id=sid(sp), name=name,
                              kind=span_kind, start_time_unix_nano=unix_ns(start_ts),
                              end_time_unix_nano=unix_ns(end_ts))
        if parent > 0:
            span.parent_span_id = sid(parent)
        err = None
        if kind == ERROR_END:
            p = _d(end_payload)
            err = _d(p.get("error")) or p
            err_type = err.get("type")
            err_type = (err_type if isinstance(err_type, str) else self.text(err_type)) \
                if err_type is not None else "Error"
            attrs[error.ERROR_TYPE] = err_type
            message = err.get("message")
            message = "" if message is None else message if isinstance(message, str) \
                else self.text(message)
            span.status.code = STATUS_ERROR
            span.status.message = f"{err_type}: {message}"
        _attrs(attrs, span.attributes, self.text)
        if err and not any(e.name == "exception" for e in events):
            events.append(_exception_event(end_ts, err, self.text))
        span.events.extend(events)
        self.counts.spans += 1
        return span


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("n3trace")
    except Exception:  # not installed (a source checkout, a frozen binary without metadata)
        return ""


def _json_value(v: common_pb2.AnyValue) -> dict:
    which = v.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": v.string_value}
    if which == "int_value":
        return {"intValue": str(v.int_value)}
    if which == "bool_value":
        return {"boolValue": v.bool_value}
    if which == "double_value":
        return {"doubleValue": v.double_value}
    if which == "array_value":
        return {"arrayValue": {"values": [_json_value(x) for x in v.array_value.values]}}
    return {}


def _json_attrs(items) -> list:
    return [{"key": kv.key, "value": _json_value(kv.value)} for kv in items]


def to_json_dict(span: trace_pb2.Span) -> dict:
    """OTLP/JSON of one span: lowerCamelCase names, integer enums, hex ids, int64 as
    strings. Written out by hand, not with json_format, which is five times slower and
    would give base64 ids."""
    d = {"traceId": span.trace_id.hex(), "spanId": span.span_id.hex()}
    if span.parent_span_id:
        d["parentSpanId"] = span.parent_span_id.hex()
    d.update({"name": span.name, "kind": span.kind,
              "startTimeUnixNano": str(span.start_time_unix_nano),
              "endTimeUnixNano": str(span.end_time_unix_nano),
              "attributes": _json_attrs(span.attributes)})
    if span.events:
        d["events"] = [{"timeUnixNano": str(e.time_unix_nano), "name": e.name,
                        "attributes": _json_attrs(e.attributes)} for e in span.events]
    if span.status.code or span.status.message:
        d["status"] = {"code": span.status.code, "message": span.status.message}
    return d
