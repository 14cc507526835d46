"""Anthropic's Messages API (`POST /v1/messages`), plain or streamed.

The runtime's chat messages are OpenAI-shaped; this module translates them: system
messages (the agent's, memory summaries, known facts) join the top-level `system`, an
assistant's tool calls become `tool_use` blocks, tool results become `tool_result` blocks
in a user message, and consecutive messages of one role are merged, since the API wants
user and assistant turns to alternate. `max_tokens` is required by the API: 1024 unless
the llm or the request says otherwise. Stop reasons are mapped to the runtime's
(`end_turn` -> `stop`, `tool_use` -> `tool_calls`, `max_tokens` -> `length`).
"""
from __future__ import annotations

import json

from ..errors import ProviderError
from ..llm import LLMResponse, ToolCall, Usage
from .base import HttpProvider
from .sse import Collector

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
           "max_tokens": "length"}


def _text(content) -> str:
    return content if isinstance(content, str) else json.dumps(content, default=str)


def _blocks(message: dict) -> list:
    role, content = message.get("role"), message.get("content")
    if role == "tool":
        return [{"type": "tool_result", "tool_use_id": str(message.get("tool_call_id") or ""),
                 "content": _text(content if content is not None else "")}]
    blocks = [{"type": "text", "text": _text(content)}] if content not in (None, "") else []
    for call in message.get("tool_calls") or ():
        blocks.append({"type": "tool_use", "id": call["id"], "name": call["name"],
                       "input": call.get("arguments") or {}})
    return blocks


def wire_messages(messages: list) -> tuple:
    """(system text, alternating user/assistant messages) in the Messages API's shape."""
    system, wire = [], []
    for message in messages:
        if message.get("role") == "system":
            if message.get("content"):
                system.append(_text(message["content"]))
            continue
        role = "assistant" if message.get("role") == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            previous = wire[-1]["content"]
            if isinstance(previous, str):
                previous = wire[-1]["content"] = [{"type": "text", "text": previous}]
            previous.extend(blocks)
        elif len(blocks) == 1 and blocks[0]["type"] == "text":
            wire.append({"role": role, "content": blocks[0]["text"]})
        else:
            wire.append({"role": role, "content": blocks})
    return "\n\n".join(system), wire


def _usage(data) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt = sum(int(data.get(k) or 0) for k in
                 ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    completion = int(data.get("output_tokens") or 0)
    return Usage(prompt, completion, prompt + completion)


def parse(data: dict, model: str) -> LLMResponse:
    if data.get("type") != "message":
        raise ValueError(f"type is {data.get('type')!r}, not 'message'")
    text, calls = [], []
    for block in data["content"]:
        if block.get("type") == "text":
            text.append(block.get("text") or "")
        elif block.get("type") == "tool_use":
            arguments = block.get("input")
            calls.append(ToolCall(str(block["id"]), block["name"],
                                  arguments if isinstance(arguments, dict) else {}))
    stop = data.get("stop_reason")
    return LLMResponse(text="".join(text), tool_calls=calls, usage=_usage(data.get("usage")),
                       finish_reason=_FINISH.get(stop, stop or ("tool_calls" if calls else "stop")),
                       raw=data, model=data.get("model") or model)


class EventCollector(Collector):
    """message_start, content_block_start/delta/stop, message_delta, message_stop events."""

    def __init__(self, model: str):
        super().__init__(model)
        self.message: dict | None = None
        self.blocks: dict = {}
        self.partial: dict = {}
        self.usage: dict = {}
        self.stop = None

    def feed(self, name: str, data: str) -> bool:
        event = json.loads(data)
        kind = event.get("type", name)
        if kind == "error":
            error = event.get("error") or {}
            raise ProviderError(f"anthropic stream failed with {error.get('type', 'an error')}: "
                                f"{error.get('message', data[:200])}",
                                hint="retry later; the server ended the stream with an error")
        if kind == "message_start":
            self.message = event["message"]
            self.usage.update(self.message.get("usage") or {})
        elif kind == "content_block_start":
            block = dict(event["content_block"])
            self.blocks[event["index"]] = block
            if block.get("type") == "tool_use" or block.get("text"):
                self.output_chunk()
        elif kind == "content_block_delta":
            block, delta = self.blocks[event["index"]], event["delta"]
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
            elif delta.get("type") == "input_json_delta":
                self.partial[event["index"]] = (self.partial.get(event["index"], "")
                                                + delta.get("partial_json", ""))
            self.output_chunk()
        elif kind == "message_delta":
            self.stop = (event.get("delta") or {}).get("stop_reason") or self.stop
            self.usage.update(event.get("usage") or {})
        return kind == "message_stop"

    def response(self) -> LLMResponse:
        if self.message is None:
            raise ValueError("the stream ended before message_start")
        for index, text in self.partial.items():
            try:
                self.blocks[index]["input"] = json.loads(text or "{}")
            except ValueError:
                raise ValueError(f"tool input is not JSON: {text[:80]!r}") from None
        message = dict(self.message, content=[self.blocks[i] for i in sorted(self.blocks)],
                       stop_reason=self.stop, usage=self.usage)
        return parse(message, self.model)


class Provider(HttpProvider):
    label = "anthropic"
    default_base_url = "https://api.anthropic.com"
    key_envs = ("ANTHROPIC_API_KEY",)
    key_required = True
    wire = "a Messages API response"
    wire_hint = "check that base_url points at the Anthropic API (https://api.anthropic.com)"
    collector = EventCollector
    parse = staticmethod(parse)

    def url(self, s) -> str:
        return s.base_url + ("/messages" if s.base_url.endswith("/v1") else "/v1/messages")

    def headers(self, s) -> dict:
        return {"x-api-key": s.key, "anthropic-version": str(s.config.get("api_version")
                                                             or API_VERSION)}

    def body(self, request, s) -> dict:
        system, messages = wire_messages(request.messages)
        params = request.params
        body = {"model": s.model, "max_tokens": params.get("max_tokens") or DEFAULT_MAX_TOKENS,
                "messages": messages}
        if system:
            body["system"] = system
        for key in ("temperature", "top_p"):
            if params.get(key) is not None:
                body[key] = params[key]
        if request.tools:
            body["tools"] = [{"name": tool["name"], "description": tool.get("description") or "",
                              "input_schema": tool.get("parameters") or
                              {"type": "object", "properties": {}}} for tool in request.tools]
        if s.stream:
            body["stream"] = True
        return body
