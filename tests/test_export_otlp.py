"""OTLP files as receivers read them: JSON Lines of ExportTraceServiceRequest, or
length-delimited protobuf; span ids unique across traces; open spans of a killed trace
kept; no parent left dangling."""
import io
import shutil
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from analyzer import cli
from analyzer.export_otlp_file import write_json_lines, write_protobuf
from analyzer.sources import open_source
from n3core.tracing.reader import open_trace
from support.killed_trace import killed_trace
from support.otlp import attrs, read_delimited, read_json_lines, spans_of
from support.trace_factory import WALL0, research_run
from support.traced_runs import traced_run
from support.tracing_cores import run_python

EXAMPLES = Path(__file__).parent.parent / "examples"


def export(trace, out, *extra):
    code = cli.main(["export", str(trace), "--to", "otlp", "-o", str(out), *extra],
                    console=Console(file=io.StringIO()))
    assert code == 0
    return out


@pytest.fixture
def research(tmp_path):
    script = research_run(turns=6)
    return script, script.to_n3t(tmp_path / "run.n3t")


def test_json_lines_one_request_per_line_at_most_max_spans_each(research, tmp_path):
    script, trace = research
    out = export(trace, tmp_path / "o.jsonl", "--max-spans", "7")
    lines = open(out, encoding="utf-8").read().splitlines()
    n = len(script.spans)
    assert len(lines) == -(-n // 7) > 1
    requests = read_json_lines(out)
    assert [len(spans_of([r])) for r in requests] == [7] * (n // 7) + ([n % 7] if n % 7 else [])
    spans = spans_of(requests)
    ids = {s.span_id for s in spans}
    assert len(ids) == n
    assert all(s.parent_span_id in ids for s in spans if s.parent_span_id)
    assert sum(not s.parent_span_id for s in spans) == 1
    starts = sorted(s.start_time_unix_nano - WALL0 for s in spans)
    assert starts == sorted(start for _, start, *_ in script.spans)
    for req in requests:
        assert attrs(req.resource_spans[0].resource)["namel3ss.run_id"] == "0123456789abcdef0123456789abcdef"


def test_requests_stay_under_the_byte_limit(research):
    script, trace = research
    with open_source(trace) as source:
        f = io.StringIO()
        counts, requests = write_json_lines(source, f, max_bytes=3000)
    lines = f.getvalue().splitlines()
    assert counts.spans == len(script.spans) and requests == len(lines) > 3
    assert all(len(line.encode()) <= 3000 for line in lines)
    with open_source(trace) as source:
        f = io.BytesIO()
        counts, requests = write_protobuf(source, f, max_bytes=1500)
    assert requests > 3 and counts.spans == len(script.spans)


def test_protobuf_file_holds_the_same_spans_length_delimited(research, tmp_path):
    script, trace = research
    from_json = spans_of(read_json_lines(export(trace, tmp_path / "o.jsonl")))
    from_pb = spans_of(read_delimited(export(trace, tmp_path / "o.pb", "--protobuf", "--max-spans", "5")))
    assert len(from_pb) == len(script.spans)
    key = lambda s: s.span_id
    assert sorted(from_pb, key=key) == sorted(from_json, key=key)


def test_span_ids_repeat_across_re_exports_and_differ_across_traces(research, tmp_path):
    _, trace = research
    copy = shutil.copy(trace, tmp_path / "moved.n3t")
    a = spans_of(read_json_lines(export(trace, tmp_path / "a.jsonl")))
    b = spans_of(read_json_lines(export(copy, tmp_path / "b.jsonl")))
    assert [s.span_id for s in a] == [s.span_id for s in b]
    runs = []
    for n in range(2):
        (tmp_path / f"run{n}").mkdir()
        done, path = traced_run(tmp_path / f"run{n}", EXAMPLES / "structured_retry" / "app.ai",
                                "--input", '{"review": "Great battery life."}')
        assert done.returncode == 0, done.stderr
        runs.append(spans_of(read_json_lines(export(path, tmp_path / f"r{n}.jsonl"))))
    one, two = ({s.span_id for s in r} for r in runs)
    assert len(one) == len(runs[0]) and len(two) == len(runs[1])
    assert not one & two
    assert runs[0][0].trace_id != runs[1][0].trace_id


def test_a_killed_trace_keeps_its_open_spans_and_no_parent_dangles(tmp_path, capsys):
    trace = killed_trace(tmp_path / "killed.n3t")
    with open_trace(trace) as t:
        events = list(t.events())
    started = [e for e in events if e.kind.name == "start"]
    ended = {e.span for e in events if e.kind.name in ("end", "error_end")}
    still_open = [e for e in started if e.span not in ended]
    last = max(e.ts for e in events)
    spans = spans_of(read_json_lines(export(trace, tmp_path / "k.jsonl")))
    assert len(spans) == len(started)
    ids = {s.span_id for s in spans}
    assert all(s.parent_span_id in ids for s in spans if s.parent_span_id)
    roots = [s for s in spans if not s.parent_span_id]
    assert [r.name for r in roots] == ["chain_execution research"]
    marked = [s for s in spans if attrs(s).get("namel3ss.span.still_open") is True]
    assert len(marked) == len(still_open) >= 2
    assert all(s.status.code == 0 and s.end_time_unix_nano == last for s in marked)
    assert sorted(s.start_time_unix_nano for s in marked) == sorted(e.ts for e in still_open)
    err = capsys.readouterr().err
    assert f"{len(still_open)} span(s) were still open" in err


def test_a_flight_recorder_trace_exports_spans_whose_parent_was_discarded_as_roots(tmp_path, capsys):
    path = tmp_path / "flight.n3t"
    done = run_python(textwrap.dedent(f"""
        from n3core.tracing import hooks, session
        session.start({str(path)!r}, [{{"id": 1, "event_type": "chain_execution", "name": "c"}},
                                      {{"id": 2, "event_type": "tool_call", "name": "t"}}],
                      {{"policy": "flight-recorder", "buffer_size": 256, "chunk_events": 64}})
        outer = hooks.enter(1)
        for i in range(1000):
            t = hooks.enter(2, {{"i": i}})
            hooks.exit(t)
        raise RuntimeError("stop")
    """))
    assert done.returncode == 1
    with open_trace(path) as t:
        events = list(t.events())
    starts = {e.span: e.parent for e in events if e.kind.name == "start"}
    lost_parents = sum(1 for parent in starts.values() if parent and parent not in starts)
    assert lost_parents > 100
    spans = spans_of(read_json_lines(export(path, tmp_path / "f.jsonl")))
    assert len(spans) == len(starts)
    orphans = [s for s in spans if "namel3ss.span.parent_not_in_trace" in attrs(s)]
    assert len(orphans) == lost_parents and not any(s.parent_span_id for s in orphans)
    assert f"{lost_parents} span(s) have a parent the trace does not hold" in capsys.readouterr().err


def test_a_real_agent_run_carries_the_semantic_convention_attributes(tmp_path):
    done, path = traced_run(tmp_path, EXAMPLES / "research_agent" / "app.ai", "--agent",
                            "ResearchAgent", "--input", "Research quantum error correction")
    assert done.returncode == 0, done.stderr
    spans = spans_of(read_json_lines(export(path, tmp_path / "o.jsonl")))
    resource = read_json_lines(tmp_path / "o.jsonl")[0].resource_spans[0].resource
    assert attrs(resource)["service.name"] not in ("", "namel3ss")
    tools = [attrs(s) for s in spans if attrs(s).get("gen_ai.operation.name") == "execute_tool"]
    assert tools and all(a.get("gen_ai.tool.call.id") for a in tools)
    assert len({a["gen_ai.tool.call.id"] for a in tools}) == len(tools)
    agent = next(s for s in spans if attrs(s).get("gen_ai.operation.name") == "invoke_agent")
    chats = [attrs(s) for s in spans if attrs(s).get("gen_ai.operation.name") == "chat"]
    assert chats and all(a["gen_ai.conversation.id"] == agent.span_id.hex() for a in chats)
    located = [a for a in map(attrs, spans) if "code.file.path" in a]
    assert located and all(a["code.file.path"].endswith("app.ai") and a["code.line.number"] > 0
                           for a in located)
    assert not any(k in a for a in map(attrs, spans)
                   for k in ("gen_ai.system", "code.filepath", "code.lineno"))


def test_server_and_response_attributes_come_from_what_was_recorded():
    from n3core.tracing.format import Site
    from n3core.tracing.otlp_spans import KIND_CLIENT, span_attributes

    llm = Site(1, "llm_call", "llm", "gpt", "app.ai", 3, 1)
    _, kind, a = span_attributes(llm, {"provider": "openai", "model": "m",
                                       "base_url": "http://127.0.0.1:8080/v1"},
                                 {"raw": {"id": "chatcmpl-42"}})
    assert kind == KIND_CLIENT and (a["server.address"], a["server.port"]) == ("127.0.0.1", 8080)
    assert a["gen_ai.response.id"] == "chatcmpl-42"
    assert (a["code.file.path"], a["code.line.number"]) == ("app.ai", 3)
    _, _, a = span_attributes(llm, {"base_url": "https://api.example/v1"}, {})
    assert (a["server.address"], a["server.port"]) == ("api.example", 443)
    tool = Site(2, "tool_call", "tool", "quote")
    _, _, a = span_attributes(tool, {"endpoint": "{{env.QUOTE_URL}}", "call_id": "c1"}, {})
    assert "server.address" not in a and a["gen_ai.tool.call.id"] == "c1"
