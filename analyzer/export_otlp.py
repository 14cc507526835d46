"""OTLP/JSON (an ExportTraceServiceRequest) with OpenTelemetry `gen_ai.*` attributes.

Ids are hex, as OTLP/JSON requires: the trace id comes from the run id, span ids from the
trace's span numbers. Errors become status ERROR plus an `exception` span event. Written
as a stream; only open spans and their pending events are held.
"""
from __future__ import annotations

import hashlib
import json
import re

from .model import END, ERROR_END, INSTANT, START

KIND_INTERNAL, KIND_CLIENT = 1, 3
STATUS_ERROR = 2


def trace_id(run_id: str) -> str:
    if re.fullmatch(r"[0-9a-f]{32}", run_id or "") and set(run_id) != {"0"}:
        return run_id
    return hashlib.sha256((run_id or "namel3ss").encode()).hexdigest()[:32]


def _value(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    if isinstance(v, str):
        return {"stringValue": v}
    return {"stringValue": json.dumps(v, default=str, sort_keys=True)}


def _attrs(d: dict) -> list:
    return [{"key": k, "value": _value(v)} for k, v in d.items() if v is not None]


def _d(p) -> dict:
    return p if isinstance(p, dict) else {}


def span_attributes(site, start, end) -> tuple[str, int, dict]:
    """(span name, span kind, attributes) following the gen_ai semantic conventions."""
    start, end = _d(start), _d(end)
    attrs = {"namel3ss.event_type": site.event_type, "namel3ss.component": site.component,
             "namel3ss.name": site.name}
    if site.file:
        attrs.update({"code.filepath": site.file, "code.lineno": site.line})
    et = site.event_type
    if et == "llm_call":
        params = _d(start.get("params"))
        usage = _d(end.get("usage"))
        model = start.get("model")
        provider = start.get("provider")
        finish = end.get("finish_reason")
        attrs.update({
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
            "gen_ai.system": provider, "gen_ai.request.model": model,
            "gen_ai.request.temperature": _float(params.get("temperature")),
            "gen_ai.request.max_tokens": _int(params.get("max_tokens")),
            "gen_ai.request.top_p": _float(params.get("top_p")),
            "gen_ai.usage.input_tokens": _int(usage.get("prompt_tokens", usage.get("input_tokens"))),
            "gen_ai.usage.output_tokens": _int(usage.get("completion_tokens", usage.get("output_tokens"))),
            "gen_ai.response.finish_reasons": [str(finish)] if finish else None,
            "gen_ai.response.model": end.get("model"),
        })
        return (f"chat {model}" if model else f"chat {site.name}"), KIND_CLIENT, attrs
    if et == "tool_call":
        attrs.update({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": site.name,
                      "gen_ai.tool.call.id": _str(start.get("call_id"))})
        return f"execute_tool {site.name}", KIND_INTERNAL, attrs
    if et == "agent_execution":
        attrs.update({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": site.name})
        return f"invoke_agent {site.name}", KIND_INTERNAL, attrs
    return f"{et} {site.name}".strip(), KIND_INTERNAL, attrs


def _float(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _int(v):
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _str(v):
    return None if v is None else str(v)


def write(source, f) -> int:
    info = source.info
    tid = trace_id(info.run_id)
    resource = _attrs({"service.name": info.metadata.get("app") or "namel3ss",
                       "namel3ss.run_id": info.run_id or None})
    f.write(json.dumps({"resourceSpans": [{"resource": {"attributes": resource},
                                           "scopeSpans": [{"scope": {"name": "n3trace"},
                                                           "spans": []}]}]})[:-6])
    open_: dict = {}
    count = 0
    sep = ""
    for batch in source.batches():
        for i in range(len(batch)):
            k = batch.kind[i]
            sp = batch.span[i]
            if k == START:
                open_[sp] = [batch.ts[i], batch.parent[i], batch.site[i], batch.payload(i), []]
            elif k == INSTANT:
                site = info.site(batch.site[i])
                p = _d(batch.payload(i))
                if site.event_type == "error_occurred":
                    ev = {"name": "exception", "timeUnixNano": str(batch.ts[i]),
                          "attributes": _attrs({"exception.type": _str(p.get("type")),
                                                "exception.message": _str(p.get("message")),
                                                "exception.stacktrace": _str(p.get("stack"))})}
                else:
                    ev = {"name": site.event_type, "timeUnixNano": str(batch.ts[i]),
                          "attributes": _attrs({"namel3ss.name": site.name or None,
                                                "namel3ss.payload": p or None})}
                holder = open_.get(batch.parent[i])
                if holder is not None:
                    holder[4].append(ev)
            else:
                rec = open_.pop(sp, None)
                if rec is None:
                    continue
                start_ts, parent, sid, start_payload, events = rec
                end_payload = batch.payload(i)
                site = info.site(sid)
                name, kind, attrs = span_attributes(site, start_payload, end_payload)
                span = {"traceId": tid, "spanId": f"{sp:016x}", "name": name, "kind": kind,
                        "startTimeUnixNano": str(start_ts), "endTimeUnixNano": str(batch.ts[i]),
                        "attributes": _attrs(attrs)}
                if parent:
                    span["parentSpanId"] = f"{parent:016x}"
                if k == ERROR_END:
                    p = _d(end_payload)
                    err = _d(p.get("error")) or p
                    span["status"] = {"code": STATUS_ERROR,
                                      "message": f"{err.get('type') or 'Error'}: {err.get('message') or ''}"}
                    if not any(e["name"] == "exception" for e in events) and err:
                        events.append({"name": "exception", "timeUnixNano": str(batch.ts[i]),
                                       "attributes": _attrs({
                                           "exception.type": _str(err.get("type")),
                                           "exception.message": _str(err.get("message")),
                                           "exception.stacktrace": _str(err.get("stack"))})})
                if events:
                    span["events"] = events
                f.write(sep + json.dumps(span, default=str))
                sep = ",\n"
                count += 1
    f.write("]}]}]}\n")
    return count
