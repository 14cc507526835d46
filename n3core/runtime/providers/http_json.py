"""`provider: "http"`: a plain JSON endpoint that speaks the runtime's own request shape.

For a model behind a company gateway or a small server of one's own. The request is
`POST base_url` with `{model, messages, tools, params, output_schema}` (messages in the
runtime's form: `role`, `content`, `tool_calls: [{id, name, arguments}]`, `tool_call_id`);
the reply is a JSON object `{text, tool_calls, usage, finish_reason, model}` where only
`text` (or, for servers that name it otherwise, `reply`, `output` or `response`) is needed,
or a bare JSON string. docs/runtime.md has both shapes. `api_key`, when set, is sent as a
bearer token and `headers` as given; there is no streaming.
"""
from __future__ import annotations

import json

from ..llm import LLMResponse, ToolCall, Usage
from .base import HttpProvider

_TEXT_KEYS = ("text", "reply", "output", "response")


def parse(data, model: str) -> LLMResponse:
    if isinstance(data, str):
        return LLMResponse(text=data, raw=data, model=model or None)
    if not isinstance(data, dict):
        raise ValueError(f"the reply is a JSON {type(data).__name__}, not an object")
    key = next((k for k in _TEXT_KEYS if k in data), None)
    calls = [_call(call, index) for index, call in enumerate(data.get("tool_calls") or ())]
    if key is None and not calls:
        raise ValueError(f"no `text` among its keys ({', '.join(map(str, data)) or 'none'})")
    text = data.get(key) if key else ""
    return LLMResponse(text=text if isinstance(text, str) else json.dumps(text),
                       tool_calls=calls, usage=_usage(data.get("usage")),
                       finish_reason=str(data.get("finish_reason") or
                                         ("tool_calls" if calls else "stop")),
                       raw=data, model=data.get("model") or model or None)


def _call(call, index: int) -> ToolCall:
    arguments = call.get("arguments") or {}
    if isinstance(arguments, str):
        arguments = json.loads(arguments)
    if not isinstance(arguments, dict):
        raise ValueError(f"tool call {index} has arguments that are not an object")
    return ToolCall(str(call.get("id") or f"call_{index}"), str(call["name"]), arguments)


def _usage(data) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt = int(data.get("prompt_tokens", data.get("input_tokens")) or 0)
    completion = int(data.get("completion_tokens", data.get("output_tokens")) or 0)
    return Usage(prompt, completion, int(data.get("total_tokens") or prompt + completion))


class Provider(HttpProvider):
    label = "http"
    wire = "a JSON object with `text` (docs/runtime.md, the http provider)"
    wire_hint = "make the endpoint answer {\"text\": \"...\"} as JSON"
    parse = staticmethod(parse)

    def body(self, request, s) -> dict:
        body = {"model": s.model} if s.model else {}
        body.update(messages=request.messages, tools=request.tools, params=request.params)
        if request.output_schema:
            body["output_schema"] = request.output_schema
        return body
