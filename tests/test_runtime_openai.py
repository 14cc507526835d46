"""The openai and ollama providers against a real loopback Chat Completions server."""
from __future__ import annotations

import asyncio

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import ProviderError
from n3core.runtime.llm import LLMRequest
from tests.support.openai_server import chat, error, openai_server  # noqa: F401

KEY = "sk-test-secret-0123456789abcdef"


def make_llm(server, monkeypatch, **extra):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    app = n3.App("T", source="/tmp/app.ai")
    props = {"provider": "openai", "model": "gpt-4o", "base_url": server.url,
             "api_key": n3.Env("TEST_OPENAI_KEY"), "timeout": 5}
    props.update(extra)
    app.llm("remote", props, loc=n3.Loc("app.ai", 2, 1))
    app.finalize()
    return app, app.get("llm", "remote")


def complete(llm, messages=None, **kw):
    request = LLMRequest(messages or [{"role": "user", "content": "hi"}], **kw)
    return asyncio.run(llm.complete(request))


def test_text_reply_usage_and_request_body(openai_server, monkeypatch):
    openai_server.script(chat("hello there", usage=(12, 3)))
    _, llm = make_llm(openai_server, monkeypatch, temperature=0.2, max_tokens=50, top_p=0.9,
                      system_prompt="Be brief.")
    response = complete(llm)
    assert response.text == "hello there"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (12, 3)
    assert response.usage.total_tokens == 15 and not response.usage.estimated
    assert response.finish_reason == "stop"
    [request] = openai_server.chat_requests()
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "gpt-4o"
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50 and body["top_p"] == 0.9
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "hi"}]
    assert "tools" not in body


def test_native_tool_calls_and_tool_schema(openai_server, monkeypatch):
    openai_server.script(chat(None, tool_calls=[("call_1", "search", {"q": "tides"}),
                                                ("call_2", "clock", {})]))
    _, llm = make_llm(openai_server, monkeypatch)
    tools = [{"name": "search", "description": "Search the web",
              "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    response = complete(llm, tools=tools)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_1", "search", {"q": "tides"}), ("call_2", "clock", {})]
    assert response.text == "" and response.finish_reason == "tool_calls"
    sent = openai_server.chat_requests()[0]["body"]["tools"]
    assert sent == [{"type": "function", "function": {
        "name": "search", "description": "Search the web",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]


def test_tool_messages_are_sent_in_wire_format(openai_server, monkeypatch):
    _, llm = make_llm(openai_server, monkeypatch)
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "name": "wx", "arguments": {"city": "Oslo"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "wx", "content": "sunny"},
    ]
    complete(llm, messages)
    wire = openai_server.chat_requests()[0]["body"]["messages"]
    assert wire[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": "wx", "arguments": '{"city": "Oslo"}'}}]}
    assert wire[2] == {"role": "tool", "content": "sunny", "tool_call_id": "c1", "name": "wx"}


def test_usage_is_estimated_when_server_reports_none(openai_server, monkeypatch):
    openai_server.script(chat("four words right here"))
    _, llm = make_llm(openai_server, monkeypatch)
    usage = complete(llm).usage
    assert usage.estimated
    assert usage.completion_tokens > 0 and usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_http_errors_name_llm_status_and_server_message(openai_server, monkeypatch, status):
    openai_server.script(error(status, f"server says no ({status}) for key {KEY}"))
    _, llm = make_llm(openai_server, monkeypatch)
    with pytest.raises(ProviderError) as info:
        complete(llm)
    err = info.value
    assert err.name == "remote" and err.kind == "llm" and str(err.loc) == "app.ai:2:1"
    assert f"HTTP {status}" in err.message and "server says no" in err.message
    assert KEY not in str(err) and KEY not in repr(err.to_dict())


def test_timeout_is_a_provider_error(openai_server, monkeypatch):
    openai_server.script({"status": 200, "json": {}, "delay": 1.5})
    _, llm = make_llm(openai_server, monkeypatch, timeout=0.2)
    with pytest.raises(ProviderError) as info:
        complete(llm)
    assert "0.2 s" in info.value.message and "timeout" in info.value.hint
    assert KEY not in str(info.value)


@pytest.mark.parametrize("where", ["head", "body"])
def test_timeout_is_a_deadline_for_the_whole_call(openai_server, monkeypatch, where):
    # 12 bytes 0.25 s apart take 3 s in all, though no single read waits 1 s.
    openai_server.script({**chat("dripped words"), "drip": 0.25, "drip_from": where})
    _, llm = make_llm(openai_server, monkeypatch, timeout=1)
    with pytest.raises(ProviderError) as info:
        complete(llm)
    assert "within 1 s" in info.value.message and "timeout" in info.value.hint
    openai_server.script(chat("quick words"))
    assert complete(llm).text == "quick words"


@pytest.mark.parametrize("reply", [
    {"status": 200, "body": "this is not json"},
    {"status": 200, "json": {"choices": []}},
    {"status": 200, "json": {"unexpected": True}},
])
def test_malformed_replies_are_provider_errors(openai_server, monkeypatch, reply):
    openai_server.script(reply)
    _, llm = make_llm(openai_server, monkeypatch)
    with pytest.raises(ProviderError) as info:
        complete(llm)
    assert "not a Chat Completions response" in info.value.message
    assert info.value.name == "remote"


def test_connection_refused_is_a_provider_error(monkeypatch):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    app = n3.App(None)
    app.llm("remote", {"provider": "openai", "model": "m", "api_key": n3.Env("TEST_OPENAI_KEY"),
                       "base_url": f"http://127.0.0.1:{port}/v1", "timeout": 2})
    app.finalize()
    with pytest.raises(ProviderError) as info:
        complete(app.get("llm", "remote"))
    assert "cannot connect" in info.value.message and KEY not in str(info.value)


def test_api_key_is_read_at_run_time_not_at_finalize(openai_server, monkeypatch):
    monkeypatch.delenv("LATE_KEY", raising=False)
    app = n3.App(None)
    app.llm("remote", {"provider": "openai", "model": "m", "base_url": openai_server.url,
                       "api_key": n3.Env("LATE_KEY")})
    app.finalize()
    llm = app.get("llm", "remote")
    with pytest.raises(n3.N3Error) as info:
        complete(llm)
    assert "LATE_KEY" in info.value.message
    monkeypatch.setenv("LATE_KEY", "late-value")
    openai_server.script(chat("ok"))
    assert complete(llm).text == "ok"
    assert openai_server.chat_requests()[-1]["headers"]["authorization"] == "Bearer late-value"


def test_ollama_needs_no_key(openai_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = n3.App(None)
    app.llm("local", {"provider": "ollama", "model": "llama3", "base_url": openai_server.url})
    app.finalize()
    openai_server.script(chat("from ollama", usage=(1, 2)))
    assert complete(app.get("llm", "local")).text == "from ollama"
    assert "authorization" not in openai_server.chat_requests()[0]["headers"]


def test_ollama_default_base_url():
    from n3core.runtime.providers.ollama import Provider

    assert Provider.default_base_url == "http://localhost:11434/v1"
