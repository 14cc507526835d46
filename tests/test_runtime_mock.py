"""The mock provider: scripted replies, tool calls, latency, fail_on, determinism."""
from __future__ import annotations

import asyncio
import json

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import ConfigError, ProviderError
from n3core.runtime.llm import LLMRequest, estimate_tokens


def llm(props, name="m"):
    app = n3.App(None)
    app.llm(name, props, loc=n3.Loc("app.ai", 1, 1))
    app.finalize()
    return app.get("llm", name)


def ask(model, text, **kw):
    return asyncio.run(model.complete(LLMRequest([{"role": "user", "content": text}], **kw)))


def test_responses_tried_in_order_case_insensitively():
    model = llm({"responses": [{"match": "weather", "reply": "sunny"},
                               {"match": "wea", "reply": "never reached for weather"},
                               {"match": "^hi$", "reply": "hello"}]})
    assert ask(model, "What is the WEATHER?").text == "sunny"
    assert ask(model, "hi").text == "hello"


def test_matches_last_user_or_tool_message():
    model = llm({"responses": [{"match": "tool-output", "reply": "saw tool"},
                               {"match": "question", "reply": "saw user"}]})
    messages = [{"role": "user", "content": "question"},
                {"role": "assistant", "content": "tool-output mentioned by assistant"}]
    assert asyncio.run(model.complete(LLMRequest(messages))).text == "saw user"
    messages.append({"role": "tool", "tool_call_id": "c", "content": "tool-output"})
    assert asyncio.run(model.complete(LLMRequest(messages))).text == "saw tool"


def test_tool_call_reply():
    model = llm({"responses": [{"match": "search", "tool_call": {
        "name": "search", "arguments": {"q": "tides"}}}]})
    response = ask(model, "please search")
    [call] = response.tool_calls
    assert (call.name, call.arguments) == ("search", {"q": "tides"})
    assert call.id.startswith("call_") and response.finish_reason == "tool_calls"
    assert ask(model, "please search").tool_calls[0].id == call.id


def test_unmatched_reply_is_deterministic_and_request_dependent():
    model = llm({})
    first, again, other = ask(model, "tides"), ask(model, "tides"), ask(model, "moon")
    assert first.text == again.text
    assert first.text != other.text
    assert "tides" in first.text


def test_unmatched_reply_follows_an_output_schema():
    model = llm({})
    schema = {"summary": "text", "score": "number", "ok": "boolean", "items": "list"}
    data = json.loads(ask(model, "x", output_schema=schema).text)
    assert isinstance(data["summary"], str) and isinstance(data["score"], int)
    assert isinstance(data["ok"], bool) and data["items"] == []


def test_structured_reply_objects_are_sent_as_json():
    model = llm({"responses": [{"match": ".", "reply": {"summary": "s"}}]})
    assert json.loads(ask(model, "x").text) == {"summary": "s"}


def test_fail_on_raises_a_provider_error_naming_the_llm():
    model = llm({"fail_on": "boom"}, name="flaky")
    with pytest.raises(ProviderError) as info:
        ask(model, "this goes BOOM")
    assert info.value.name == "flaky" and str(info.value.loc) == "app.ai:1:1"
    assert ask(model, "quiet").text


def test_latency_waits_before_answering():
    model = llm({"latency_ms": 150})

    async def both():
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(model.complete(LLMRequest([{"role": "user", "content": "a"}])),
                             model.complete(LLMRequest([{"role": "user", "content": "b"}])))
        return loop.time() - start

    elapsed = asyncio.run(both())
    assert elapsed >= 0.14


def test_usage_is_estimated_with_the_shared_function():
    response = ask(llm({"responses": [{"match": ".", "reply": "abcdefgh"}]}), "abcd")
    assert response.usage.estimated
    assert response.usage.completion_tokens == estimate_tokens("abcdefgh") == 2


def test_bad_regex_is_a_config_error_at_finalize():
    app = n3.App(None)
    app.llm("m", {"responses": [{"match": "(", "reply": "x"}]}, loc=n3.Loc("app.ai", 7, 1))
    with pytest.raises(ConfigError) as info:
        app.finalize()
    assert info.value.name == "m" and info.value.loc.line == 7


def test_llm_system_prompt_is_prepended_once():
    model = llm({"system_prompt": "sys", "responses": [{"match": "x", "reply": "y"}]})
    request = model.prepare(LLMRequest([{"role": "user", "content": "x"}]))
    assert request.messages[0] == {"role": "system", "content": "sys"}
    request = model.prepare(LLMRequest([{"role": "system", "content": "mine"},
                                        {"role": "user", "content": "x"}]))
    assert [m["content"] for m in request.messages] == ["mine", "x"]
