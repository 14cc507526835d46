"""Exports parsed back: Perfetto JSON, OTLP through opentelemetry-proto, JSON-lines round trip."""
import io
import json

import pytest
from rich.console import Console

from analyzer import cli
from analyzer.analysis import analyze
from analyzer.sources import open_source
from support.otlp import attrs, read_json_lines, spans_of
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


def test_otlp_parses_with_opentelemetry_proto(made, tmp_path):
    script, trace = made
    out = export(trace, "otlp", tmp_path / "o.jsonl")
    for line in open(out, encoding="utf-8"):
        raw = json.loads(line)
        assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16
                   for s in raw["resourceSpans"][0]["scopeSpans"][0]["spans"])
    spans = spans_of(read_json_lines(out))
    assert len(spans) == len(script.spans)
    assert all(len(s.trace_id) == 16 and len(s.span_id) == 8 for s in spans)

    llm = [s for s in spans if attrs(s).get("gen_ai.operation.name") == "chat"]
    a = attrs(llm[0])
    assert a["gen_ai.request.model"] == "gpt-4o" and a["gen_ai.provider.name"] == "openai"
    assert "gen_ai.system" not in a and "code.filepath" not in a
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
    assert attrs(failed[0])["error.type"].endswith("TimeoutError")
    assert not any("error.type" in attrs(s) for s in spans if s.status.code != 2)
    assert a["gen_ai.conversation.id"] == agent[0].span_id.hex()
    assert attrs(tools[0])["gen_ai.conversation.id"] == agent[0].span_id.hex()
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
