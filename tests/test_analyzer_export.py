"""Exports parsed back: Perfetto JSON, OTLP through opentelemetry-proto, JSON-lines round trip."""
import base64
import io
import json

import pytest
from rich.console import Console

from analyzer import cli
from analyzer.analysis import analyze
from analyzer.sources import open_source
from support.trace_factory import research_run
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("analyzer_core")


@pytest.fixture
def made(tmp_path):
    script = research_run(turns=4)
    return script, script.to_n3t(tmp_path / "run.n3t")


def export(trace, to, out):
    code = cli.main(["export", trace, "--to", to, "-o", str(out)],
                    console=Console(file=io.StringIO()))
    assert code == 0
    return out


def test_perfetto(made, tmp_path):
    script, trace = made
    doc = json.loads(open(export(trace, "perfetto", tmp_path / "p.json")).read())
    events = doc["traceEvents"]
    xs = [e for e in events if e["ph"] == "X"]
    assert len(xs) == len(script.spans)
    durs = sorted(round(e["dur"] * 1000) for e in xs)
    assert durs == sorted(e - s for _, s, e, *_ in script.spans)
    assert [e for e in events if e["ph"] == "i"][0]["name"].startswith("error_occurred")
    assert any(e["ph"] == "M" and e["name"] == "thread_name" for e in events)
    assert {e["tid"] for e in xs} == {e["tid"] for e in events if e["name"] == "thread_name"}


def _hex_to_b64(obj):
    if isinstance(obj, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode()
                    if k in ("traceId", "spanId", "parentSpanId") else _hex_to_b64(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hex_to_b64(v) for v in obj]
    return obj


def test_otlp_parses_with_opentelemetry_proto(made, tmp_path):
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    script, trace = made
    raw = json.loads(open(export(trace, "otlp", tmp_path / "o.json")).read())
    spans_raw = raw["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 for s in spans_raw)
    json_format.Parse(json.dumps(raw), ExportTraceServiceRequest())   # field names and enums
    req = json_format.Parse(json.dumps(_hex_to_b64(raw)), ExportTraceServiceRequest())
    spans = req.resource_spans[0].scope_spans[0].spans
    assert len(spans) == len(script.spans)
    assert all(len(s.trace_id) == 16 and len(s.span_id) == 8 for s in spans)

    def attrs(span):
        out = {}
        for kv in span.attributes:
            which = kv.value.WhichOneof("value")
            v = getattr(kv.value, which)
            out[kv.key] = list(x.string_value for x in v.values) if which == "array_value" else v
        return out

    llm = [s for s in spans if attrs(s).get("gen_ai.operation.name") == "chat"]
    a = attrs(llm[0])
    assert a["gen_ai.request.model"] == "gpt-4o" and a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.system"] == "openai"
    assert a["gen_ai.request.temperature"] == pytest.approx(0.2)
    assert a["gen_ai.request.max_tokens"] == 256 and a["gen_ai.request.top_p"] == pytest.approx(0.9)
    assert a["gen_ai.usage.input_tokens"] == 1000 and a["gen_ai.usage.output_tokens"] == 100
    assert a["gen_ai.response.finish_reasons"] == ["tool_calls"]
    tools = [s for s in spans if attrs(s).get("gen_ai.operation.name") == "execute_tool"]
    assert attrs(tools[0])["gen_ai.tool.name"] == "search"
    assert attrs(tools[0])["gen_ai.tool.call.id"] == "call-0"
    agent = [s for s in spans if attrs(s).get("gen_ai.operation.name") == "invoke_agent"]
    assert attrs(agent[0])["gen_ai.agent.name"] == "Researcher"
    failed = [s for s in spans if s.status.code == 2]
    assert len(failed) == 1 and "TimeoutError" in failed[0].status.message
    assert any(e.name == "exception" for e in failed[0].events)
    by_id = {s.span_id: s for s in spans}
    assert by_id[llm[0].parent_span_id].name.startswith("agent_turn")


def test_jsonl_round_trip(made, tmp_path):
    _, trace = made
    out = export(trace, "jsonl", tmp_path / "t.jsonl")
    with open_source(trace) as s:
        a = analyze(s)
    with open_source(str(out)) as s:
        b = analyze(s)
    for key in ("events", "spans", "errors", "failed_spans", "llm_calls", "total_tokens",
                "cost_usd", "duration_ms"):
        assert a["summary"][key] == b["summary"][key], key
    strip = lambda rows: [{k: v for k, v in r.items() if k != "location"} for r in rows]
    assert strip(a["performance"]["by_operation"]) == strip(b["performance"]["by_operation"])
    assert a["errors"]["retries"] == b["errors"]["retries"]
    assert a["memory"]["agent_turns"] == b["memory"]["agent_turns"]
