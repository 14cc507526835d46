"""`stream: true`: server-sent events read and assembled, measured, traced and replayed."""
from __future__ import annotations

import asyncio
import json

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import ProviderError
from n3core.runtime.llm import LLMRequest
from n3core.runtime.providers import sse as sse_events
from tests.support import anthropic_replies
from tests.support.openai_server import chat, error, openai_server, sse  # noqa: F401

KEY = "stream-secret-0123456789"


def chunk(delta=None, finish=None, usage=None, choices=True):
    body = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-stream",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
            if choices else []}
    if usage:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                         "total_tokens": sum(usage)}
    return (None, body)


def text_stream(pieces, gap=0.0):
    return sse([chunk({"role": "assistant", "content": ""})]
               + [chunk({"content": p}) for p in pieces]
               + [chunk(finish="stop"), chunk(usage=(9, len(pieces)), choices=False),
                  (None, "[DONE]")], gap)


def make_llm(provider, server, monkeypatch, **props):
    monkeypatch.setenv("STREAM_KEY", KEY)
    base = server.root if provider == "anthropic" else server.url
    app = n3.App(None)
    app.llm("s", {"provider": provider, "model": "m", "base_url": base, "stream": True,
                  "api_key": n3.Env("STREAM_KEY"), "timeout": 5, **props},
            loc=n3.Loc("app.ai", 2, 1))
    app.finalize()
    return app.get("llm", "s")


def complete(llm, **kw):
    return asyncio.run(llm.complete(LLMRequest([{"role": "user", "content": "hi"}], **kw)))


def test_sse_parsing_follows_the_event_stream_rules():
    lines = [": comment", "event: first", "data: a", "data:b", "", "", "id: 3",
             "data: {\"x\": 1}", "retry: 10", "", "data: tail"]

    async def feed():
        async def source():
            for line in lines:
                yield line
        return [item async for item in sse_events.events(source())]

    assert asyncio.run(feed()) == [("first", "a\nb"), ("message", '{"x": 1}'),
                                   ("message", "tail")]


@pytest.mark.parametrize("provider", ["openai", "vllm", "gemini"])
def test_openai_compatible_stream_is_assembled_and_measured(openai_server, monkeypatch, provider):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    openai_server.script(text_stream(["Tides ", "rise ", "twice."], gap=0.1))
    response = complete(make_llm(provider, openai_server, monkeypatch))
    assert response.text == "Tides rise twice." and response.finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (9, 3)
    assert not response.usage.estimated and response.model == "gpt-stream"
    assert response.chunks == 3  # the role-only and usage-only chunks carry no output
    assert response.time_to_first_chunk >= 0.1  # the server waits after the role chunk
    [sent] = openai_server.chat_requests()
    assert sent["body"]["stream"] is True
    assert sent["body"]["stream_options"] == {"include_usage": True}
    assert sent["headers"]["accept"] == "text/event-stream"


def test_streamed_tool_calls_arrive_in_pieces(openai_server, monkeypatch):
    openai_server.script(sse([
        chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                                    "function": {"name": "wx", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Oslo"}'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "function": {
            "name": "clock", "arguments": "{}"}}]}),
        chunk(finish="tool_calls"), (None, "[DONE]")]))
    response = complete(make_llm("openai", openai_server, monkeypatch))
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_a", "wx", {"city": "Oslo"}), ("call_b", "clock", {})]
    assert response.finish_reason == "tool_calls" and response.chunks == 4
    assert response.usage.estimated  # this server sent no usage chunk


def test_an_error_inside_the_stream_is_a_provider_error(openai_server, monkeypatch):
    openai_server.script(sse([chunk({"content": "par"}),
                              (None, {"error": {"message": f"overloaded for {KEY}"}})]))
    with pytest.raises(ProviderError) as info:
        complete(make_llm("openai", openai_server, monkeypatch))
    assert "overloaded for ***" in info.value.message and info.value.name == "s"
    assert KEY not in str(info.value)


def test_a_refused_stream_request_reads_the_error_body(openai_server, monkeypatch):
    openai_server.script(error(401, "bad key"))
    with pytest.raises(ProviderError) as info:
        complete(make_llm("openai", openai_server, monkeypatch))
    assert "HTTP 401" in info.value.message and "bad key" in info.value.message


@pytest.mark.parametrize("reply", [sse([(None, "[DONE]")]), sse([(None, "not json")]),
                                   chat("a plain reply, not a stream")])
def test_streams_that_are_not_chunks_are_provider_errors(openai_server, monkeypatch, reply):
    openai_server.script(reply)
    with pytest.raises(ProviderError) as info:
        complete(make_llm("openai", openai_server, monkeypatch))
    assert "not a Chat Completions response" in info.value.message


def test_the_deadline_covers_the_whole_stream(openai_server, monkeypatch):
    openai_server.script(text_stream(["a", "b", "c", "d"], gap=0.4))
    with pytest.raises(ProviderError) as info:
        complete(make_llm("openai", openai_server, monkeypatch, timeout=1))
    assert "within 1 s" in info.value.message


def test_anthropic_stream_with_text_and_tool_use(openai_server, monkeypatch):
    openai_server.script(anthropic_replies.stream(["Checking ", "now."],
                                                  tool_use=("toolu_1", "wx", {"city": "Oslo"}),
                                                  usage=(30, 12), gap=0.05))
    response = complete(make_llm("anthropic", openai_server, monkeypatch))
    assert response.text == "Checking now." and response.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("toolu_1", "wx", {"city": "Oslo"})]
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (30, 12)
    assert response.chunks == 5 and response.time_to_first_chunk >= 0.05
    [sent] = openai_server.chat_requests()
    assert sent["path"] == "/v1/messages" and sent["body"]["stream"] is True


def test_anthropic_error_event_is_a_provider_error(openai_server, monkeypatch):
    openai_server.script(sse([("message_start", {"type": "message_start", "message": {
        "model": "m", "usage": {"input_tokens": 1}}}),
        ("error", {"type": "error", "error": {"type": "overloaded_error",
                                              "message": "Overloaded"}})]))
    with pytest.raises(ProviderError) as info:
        complete(make_llm("anthropic", openai_server, monkeypatch))
    assert "overloaded_error: Overloaded" in info.value.message


def test_unstreamed_calls_record_no_stream_fields(openai_server, monkeypatch):
    openai_server.script(chat("whole"))
    response = complete(make_llm("openai", openai_server, monkeypatch, stream=False))
    assert response.text == "whole"
    assert response.chunks is None and response.time_to_first_chunk is None
    assert "stream" not in openai_server.chat_requests()[0]["body"]


PROGRAM = '''
llm writer {
  provider: "anthropic"
  model: "claude-test"
  base_url: env("STREAM_TEST_URL")
  api_key: env("STREAM_TEST_KEY")
  stream: true
  timeout: 10
}

prompt greet {
  model: writer
  template: "Greet {{name}}."
  variables: ["name"]
}
'''


def test_traced_streamed_call_is_exported_and_replayed_whole(tmp_path, openai_server):
    from tests.support.otlp import attrs, read_json_lines, spans_of
    from tests.support.replay_programs import n3analyze, record
    from tests.support.traced_runs import read_events

    source = tmp_path / "app.ai"
    source.write_text(PROGRAM)
    openai_server.script(anthropic_replies.stream(["Hello, ", "Ada", "!"], usage=(8, 3)))
    trace = record(tmp_path, source, tmp_path / "run.n3t", "--prompt", "greet",
                   "--input", '{"name": "Ada"}',
                   extra_env={"STREAM_TEST_URL": openai_server.root, "STREAM_TEST_KEY": KEY})
    _, events = read_events(trace)
    [end] = [p for kind, site, _, _, p in events
             if site.event_type == "llm_call" and kind == "end"]
    assert end["text"] == "Hello, Ada!" and end["chunks"] == 3
    assert isinstance(end["time_to_first_chunk"], float) and end["time_to_first_chunk"] > 0

    out = tmp_path / "run.otlp.jsonl"
    done = n3analyze(tmp_path, "export", trace, "--to", "otlp", "-o", out)
    assert done.returncode == 0, done.stderr
    [span] = [attrs(s) for s in spans_of(read_json_lines(out))
              if attrs(s).get("namel3ss.event_type") == "llm_call"]
    assert span["gen_ai.provider.name"] == "anthropic"
    assert span["gen_ai.response.time_to_first_chunk"] == pytest.approx(end["time_to_first_chunk"])

    openai_server.stop()  # the replay must not need the server, the key or the network
    done = n3analyze(tmp_path, "replay", trace, "--format", "json", guarded=True)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "identical" and doc["boundaries"]["matched"] >= 1
    assert not (tmp_path / "network-used").exists()
    _, replayed = read_events(tmp_path / "run.replay.n3t")
    [again] = [p for kind, site, _, _, p in replayed
               if site.event_type == "llm_call" and kind == "end"]
    assert again["text"] == "Hello, Ada!" and again["chunks"] == 3
