"""The plain JSON http provider against a loopback endpoint."""
from __future__ import annotations

import asyncio

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import ConfigError, ProviderError
from n3core.runtime.llm import LLMRequest
from tests.support.openai_server import openai_server  # noqa: F401


def make_llm(server, **props):
    app = n3.App(None)
    app.llm("gateway", {"provider": "http", "endpoint": server.root + "/llm", "timeout": 5,
                        **props}, loc=n3.Loc("app.ai", 5, 1))
    app.finalize()
    return app.get("llm", "gateway")


def complete(llm, **kw):
    kw.setdefault("params", {"temperature": 0.5})
    return asyncio.run(llm.complete(LLMRequest([{"role": "user", "content": "hi"}], **kw)))


def reply(json_body, status=200):
    return {"status": status, "json": json_body}


def test_request_is_the_runtime_request_as_json(openai_server, monkeypatch):
    monkeypatch.setenv("GW_KEY", "gw-secret-123456")
    openai_server.script(reply({"text": "hello", "usage": {"prompt_tokens": 3,
                                                           "completion_tokens": 1}}))
    llm = make_llm(openai_server, model="house-model", api_key=n3.Env("GW_KEY"),
                   headers={"X-Team": "search"}, system_prompt="Be kind.")
    tools = [{"name": "wx", "description": "", "parameters": {"type": "object"}}]
    response = complete(llm, tools=tools, output_schema={"answer": "text"})
    assert response.text == "hello" and not response.usage.estimated
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (3, 4)
    [sent] = openai_server.chat_requests()
    assert sent["path"] == "/llm" and sent["method"] == "POST"
    assert sent["headers"]["authorization"] == "Bearer gw-secret-123456"
    assert sent["headers"]["x-team"] == "search"
    assert sent["body"] == {"model": "house-model",
                            "messages": [{"role": "system", "content": "Be kind."},
                                         {"role": "user", "content": "hi"}],
                            "tools": tools, "params": {"temperature": 0.5},
                            "output_schema": {"answer": "text"}}


def test_tool_calls_in_the_reply(openai_server):
    openai_server.script(reply({"text": "", "tool_calls": [
        {"id": "a", "name": "wx", "arguments": {"city": "Oslo"}},
        {"name": "clock", "arguments": "{}"}]}))
    response = complete(make_llm(openai_server))
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("a", "wx", {"city": "Oslo"}), ("call_1", "clock", {})]
    assert response.finish_reason == "tool_calls"
    assert response.usage.estimated


@pytest.mark.parametrize("body, text", [({"reply": "r"}, "r"), ({"output": {"a": 1}}, '{"a": 1}'),
                                        ({"response": "x", "model": "m2"}, "x"), ("bare", "bare")])
def test_other_names_for_the_text(openai_server, body, text):
    openai_server.script(reply(body))
    assert complete(make_llm(openai_server)).text == text


@pytest.mark.parametrize("body, why", [
    ({"answer": "no"}, "no `text` among its keys (answer)"),
    ([1, 2], "not an object"),
    ({"text": "", "tool_calls": [{"name": "x", "arguments": "{bad"}]}, "JSONDecodeError"),
])
def test_replies_of_another_shape_are_provider_errors(openai_server, body, why):
    openai_server.script(reply(body))
    with pytest.raises(ProviderError) as info:
        complete(make_llm(openai_server))
    assert why in info.value.message and '{"text": "..."}' in info.value.hint


def test_a_body_that_is_not_json(openai_server):
    openai_server.script({"status": 200, "body": "just words"})
    with pytest.raises(ProviderError) as info:
        complete(make_llm(openai_server))
    assert "not a JSON object with `text`" in info.value.message


@pytest.mark.parametrize("body, shown", [({"error": "quota gone"}, "quota gone"),
                                         ({"message": "bad input"}, "bad input")])
def test_error_bodies(openai_server, body, shown):
    openai_server.script(reply(body, status=503))
    with pytest.raises(ProviderError) as info:
        complete(make_llm(openai_server))
    assert "HTTP 503" in info.value.message and shown in info.value.message
    assert info.value.name == "gateway"


def test_timeout(openai_server):
    openai_server.script({**reply({"text": "late"}), "delay": 1.0})
    with pytest.raises(ProviderError) as info:
        complete(make_llm(openai_server, timeout=0.2))
    assert "within 0.2 s" in info.value.message


def test_an_http_llm_needs_its_url_not_a_model():
    app = n3.App(None)
    app.llm("gateway", {"provider": "http"})
    with pytest.raises(ConfigError) as info:
        app.finalize()
    assert "base_url" in info.value.message
