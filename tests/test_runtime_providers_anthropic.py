"""The anthropic provider against a loopback server speaking the Messages API."""
from __future__ import annotations

import asyncio
import json

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import ProviderError
from n3core.runtime.llm import LLMRequest
from tests.support.anthropic_replies import error, message
from tests.support.openai_server import openai_server  # noqa: F401

KEY = "sk-ant-test-0123456789abcdef"


def make_app(server, monkeypatch, **props):
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", KEY)
    app = n3.App(None)
    app.llm("claude", {"provider": "anthropic", "model": "claude-test", "base_url": server.root,
                       "api_key": n3.Env("TEST_ANTHROPIC_KEY"), "timeout": 5, **props},
            loc=n3.Loc("app.ai", 7, 1))
    return app


def make_llm(server, monkeypatch, **props):
    app = make_app(server, monkeypatch, **props)
    app.finalize()
    return app.get("llm", "claude")


def complete(llm, messages=None, **kw):
    request = LLMRequest(messages or [{"role": "user", "content": "hi"}], **kw)
    return asyncio.run(llm.complete(request))


def test_text_reply_usage_headers_and_body(openai_server, monkeypatch):
    openai_server.script(message("Hello from Claude.", usage=(21, 4)))
    llm = make_llm(openai_server, monkeypatch, temperature=0.3, system_prompt="Be brief.")
    response = complete(llm)
    assert response.text == "Hello from Claude." and response.finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens,
            response.usage.total_tokens) == (21, 4, 25)
    assert not response.usage.estimated and response.model == "claude-test"
    [sent] = openai_server.chat_requests()
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == KEY
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent["headers"]
    assert sent["body"] == {"model": "claude-test", "max_tokens": 1024, "system": "Be brief.",
                            "messages": [{"role": "user", "content": "hi"}],
                            "temperature": 0.3}


def test_max_tokens_and_a_base_url_ending_in_v1(openai_server, monkeypatch):
    llm = make_llm(openai_server, monkeypatch, max_tokens=77, base_url=openai_server.root + "/v1")
    openai_server.script(message("ok"))
    complete(llm)
    [sent] = openai_server.chat_requests()
    assert sent["path"] == "/v1/messages" and sent["body"]["max_tokens"] == 77


def test_tool_use_reply_and_tool_schema(openai_server, monkeypatch):
    openai_server.script(message("Let me look.", tool_uses=[("toolu_1", "search", {"q": "tides"}),
                                                           ("toolu_2", "clock", {})]))
    tools = [{"name": "search", "description": "Search the web",
              "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    response = complete(make_llm(openai_server, monkeypatch), tools=tools)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("toolu_1", "search", {"q": "tides"}), ("toolu_2", "clock", {})]
    assert response.text == "Let me look." and response.finish_reason == "tool_calls"
    assert openai_server.chat_requests()[0]["body"]["tools"] == [{
        "name": "search", "description": "Search the web",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]


def test_conversation_is_translated_to_alternating_turns(openai_server, monkeypatch):
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "weather and time?"},
        {"role": "system", "content": "Known facts: city=Oslo"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "t1", "name": "wx", "arguments": {"city": "Oslo"}},
            {"id": "t2", "name": "clock", "arguments": {}}]},
        {"role": "tool", "tool_call_id": "t1", "name": "wx", "content": "sunny"},
        {"role": "tool", "tool_call_id": "t2", "name": "clock", "content": {"h": 9}},
        {"role": "user", "content": "and tomorrow?"},
    ]
    openai_server.script(message("ok"))
    complete(make_llm(openai_server, monkeypatch), messages)
    body = openai_server.chat_requests()[0]["body"]
    assert body["system"] == "You are terse.\n\nKnown facts: city=Oslo"
    assert body["messages"] == [
        {"role": "user", "content": "weather and time?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "wx", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "t2", "name": "clock", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "t2", "content": '{"h": 9}'},
            {"type": "text", "text": "and tomorrow?"}]},
    ]


def test_an_agent_runs_its_tool_loop_over_the_messages_api(openai_server, monkeypatch):
    app = make_app(openai_server, monkeypatch)
    app.tool("wx", {"type": "mock", "returns": {"sky": "clear"},
                    "parameters": {"city": {"type": "string", "required": True}}})
    app.agent("A", {"llm": n3.Ref("claude"), "tools": [n3.Ref("wx")]})
    app.finalize()
    openai_server.script(message(None, tool_uses=[("toolu_9", "wx", {"city": "Bergen"})]),
                         message("Clear skies in Bergen."))
    assert app.run_sync("agent:A", "Weather in Bergen?") == "Clear skies in Bergen."
    second = openai_server.chat_requests()[1]["body"]["messages"]
    assert second[-2]["content"][0]["type"] == "tool_use"
    [result] = second[-1]["content"]
    assert result["tool_use_id"] == "toolu_9" and json.loads(result["content"]) == {"sky": "clear"}


@pytest.mark.parametrize("status, kind, hint", [
    (400, "invalid_request_error", "settings"), (401, "authentication_error", "api key"),
    (429, "rate_limit_error", "rate limiting"), (529, "overloaded_error", "overloaded"),
])
def test_error_bodies_are_provider_errors(openai_server, monkeypatch, status, kind, hint):
    openai_server.script(error(status, kind, f"refused for {KEY}"))
    with pytest.raises(ProviderError) as info:
        complete(make_llm(openai_server, monkeypatch))
    err = info.value
    assert f"HTTP {status}" in err.message and f"{kind}: refused for ***" in err.message
    assert hint in err.hint and KEY not in str(err) and str(err.loc) == "app.ai:7:1"


def test_timeout_is_a_provider_error(openai_server, monkeypatch):
    openai_server.script({**message("late"), "delay": 1.0})
    with pytest.raises(ProviderError) as info:
        complete(make_llm(openai_server, monkeypatch, timeout=0.2))
    assert "within 0.2 s" in info.value.message and "timeout" in info.value.hint


@pytest.mark.parametrize("reply", [
    {"status": 200, "body": "<html>proxy page</html>"},
    {"status": 200, "json": {"type": "completion", "completion": "old API"}},
    {"status": 200, "json": {"type": "message"}},
])
def test_replies_that_are_not_messages_are_provider_errors(openai_server, monkeypatch, reply):
    openai_server.script(reply)
    with pytest.raises(ProviderError) as info:
        complete(make_llm(openai_server, monkeypatch))
    assert "not a Messages API response" in info.value.message
    assert "api.anthropic.com" in info.value.hint


def test_a_missing_key_names_the_variable(openai_server, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    app = n3.App(None)
    app.llm("claude", {"provider": "anthropic", "model": "c", "base_url": openai_server.root})
    app.finalize()
    with pytest.raises(ProviderError) as info:
        complete(app.get("llm", "claude"))
    assert "ANTHROPIC_API_KEY" in info.value.hint
