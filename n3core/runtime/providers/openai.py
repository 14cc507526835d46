"""Any OpenAI-compatible Chat Completions endpoint, and the providers that speak it.

OpenAI itself, and through subclasses Ollama, vLLM, LocalAI, Gemini's OpenAI-compatible
endpoint and Azure OpenAI: they differ in base URL, key and URL shape, not in the wire
format. With `stream: true` the reply is read as server-sent `chat.completion.chunk`s and
assembled into the same response a plain call gives.
"""
from __future__ import annotations

import json

from ..errors import ProviderError
from ..llm import LLMResponse, ToolCall, Usage
from .base import HttpProvider
from .sse import Collector


def _wire_message(message: dict) -> dict:
    wire = {"role": message["role"], "content": message.get("content")}
    if message.get("tool_calls"):
        wire["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
            "name": c["name"], "arguments": json.dumps(c.get("arguments") or {})}}
            for c in message["tool_calls"]]
        if wire["content"] == "":
            wire["content"] = None
    if message.get("role") == "tool":
        wire["tool_call_id"] = message.get("tool_call_id")
    if message.get("name") and message.get("role") == "tool":
        wire["name"] = message["name"]
    return wire


def _arguments(arguments) -> dict:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            raise ValueError(f"tool call arguments are not JSON: {arguments[:80]!r}") from None
    return arguments if isinstance(arguments, dict) else {}


def _usage(data) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    return Usage(prompt, completion, int(data.get("total_tokens") or prompt + completion))


def _parse(data: dict, model: str) -> LLMResponse:
    choice = data["choices"][0]
    message = choice["message"]
    calls = []
    for call in message.get("tool_calls") or ():
        function = call["function"]
        calls.append(ToolCall(str(call.get("id") or f"call_{len(calls)}"), function["name"],
                              _arguments(function.get("arguments"))))
    return LLMResponse(text=message.get("content") or "", tool_calls=calls,
                       usage=_usage(data.get("usage")),
                       finish_reason=choice.get("finish_reason") or
                       ("tool_calls" if calls else "stop"),
                       raw=data, model=data.get("model") or model)


class ChunkCollector(Collector):
    """`chat.completion.chunk` events: text deltas, tool calls in pieces, usage at the end."""

    def __init__(self, model: str):
        super().__init__(model)
        self.text: list = []
        self.calls: dict = {}
        self.finish_reason = None
        self.usage = None
        self.served_model = None
        self.last = None

    def feed(self, name: str, data: str) -> bool:
        if data.strip() == "[DONE]":
            return True
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("a stream chunk is not an object")
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ProviderError(f"the stream ended with an error: {str(message)[:200]}",
                                hint="retry later; the server ended the stream with an error")
        self.last = chunk
        self.served_model = chunk.get("model") or self.served_model
        self.usage = _usage(chunk.get("usage")) or self.usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            carried = False
            if delta.get("content"):
                self.text.append(delta["content"])
                carried = True
            for piece in delta.get("tool_calls") or ():
                call = self.calls.setdefault(piece.get("index", len(self.calls)),
                                             {"id": None, "name": "", "arguments": ""})
                function = piece.get("function") or {}
                call["id"] = piece.get("id") or call["id"]
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""
                carried = True
            if carried:
                self.output_chunk()
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        return False

    def response(self) -> LLMResponse:
        if self.last is None:
            raise ValueError("the stream ended before any chunk")
        calls = [ToolCall(str(c["id"] or f"call_{i}"), c["name"], _arguments(c["arguments"]))
                 for i, c in sorted(self.calls.items())]
        return LLMResponse(text="".join(self.text), tool_calls=calls, usage=self.usage,
                           finish_reason=self.finish_reason or ("tool_calls" if calls else "stop"),
                           raw={"stream": "chat.completion.chunk", "last": self.last},
                           model=self.served_model or self.model)


class Provider(HttpProvider):
    label = "openai"
    default_base_url = "https://api.openai.com/v1"
    key_envs = ("OPENAI_API_KEY",)
    key_required = True
    wire = "a Chat Completions response"
    wire_hint = "check that base_url points at an OpenAI-compatible /v1 endpoint"
    collector = ChunkCollector
    parse = staticmethod(_parse)

    def url(self, s) -> str:
        return f"{s.base_url}/chat/completions"

    def body(self, request, s) -> dict:
        body = {"model": s.model} if s.model else {}
        body["messages"] = [_wire_message(m) for m in request.messages]
        for key in ("temperature", "max_tokens", "top_p"):
            if request.params.get(key) is not None:
                body[key] = request.params[key]
        if request.tools:
            body["tools"] = [{"type": "function", "function": {
                "name": tool["name"],
                "description": tool.get("description") or "",
                "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
            }} for tool in request.tools]
        if s.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body
