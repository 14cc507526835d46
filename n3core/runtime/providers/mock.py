"""The scripted, offline provider: the default, and what tests and demos run on.

Scripted `responses` are tried in order against the last user or tool message
(case-insensitive regex search; an entry without `match` matches anything). Without a
match the reply is derived from a hash of the request, so the same program with the same
input always gets the same answers.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re

from ..errors import ProviderError
from ..llm import LLMResponse, ToolCall, last_input_text


class Provider:
    def __init__(self, llm):
        self.llm = llm

    async def complete(self, request) -> LLMResponse:
        config = self.llm.config
        latency = config.get("latency_ms") or 0
        if latency:
            await asyncio.sleep(float(latency) / 1000.0)
        text = last_input_text(request.messages)
        fail_on = config.get("fail_on")
        if fail_on and re.search(fail_on, text, re.IGNORECASE):
            raise ProviderError(f"mock llm failed on purpose: the message matched "
                                f"fail_on {fail_on!r}",
                                hint="change fail_on or the input if this is not intended")
        digest = _digest(self.llm.name, config.get("model"), request)
        for entry in config.get("responses") or ():
            pattern = entry.get("match")
            if pattern is None or re.search(str(pattern), text, re.IGNORECASE):
                return _scripted(entry, digest, config.get("model"))
        if request.output_schema:
            return LLMResponse(text=json.dumps(_shaped(request.output_schema, digest)),
                               model=config.get("model"), raw={"mock": "schema"})
        return LLMResponse(text=f"mock reply {digest[:10]} to: {_clip(text)}",
                           model=config.get("model"), raw={"mock": "hash"})


def _scripted(entry: dict, digest: str, model) -> LLMResponse:
    calls = entry.get("tool_calls") or ([entry["tool_call"]] if entry.get("tool_call") else [])
    if calls:
        tool_calls = []
        for index, call in enumerate(calls):
            call_id = "call_" + hashlib.sha256(f"{digest}:{index}".encode()).hexdigest()[:12]
            arguments = call.get("arguments") or {}
            tool_calls.append(ToolCall(call_id, str(call.get("name", "")), dict(arguments)))
        reply = entry.get("reply")
        return LLMResponse(text=_as_text(reply) if reply is not None else "",
                           tool_calls=tool_calls, finish_reason="tool_calls",
                           model=model, raw={"mock": "scripted"})
    return LLMResponse(text=_as_text(entry.get("reply", "")), model=model,
                       raw={"mock": "scripted"})


def _as_text(reply) -> str:
    return reply if isinstance(reply, str) else json.dumps(reply)


def _digest(name: str, model, request) -> str:
    blob = json.dumps({"llm": name, "model": model, "messages": request.messages,
                       "tools": [t.get("name") for t in request.tools],
                       "schema": request.output_schema},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _shaped(schema: dict, digest: str) -> dict:
    number = int(digest[:8], 16)
    values = {"text": f"mock {digest[:8]}", "number": number % 100,
              "boolean": number % 2 == 0, "list": [], "object": {}}
    return {field: values.get(kind, f"mock {digest[:8]}") for field, kind in schema.items()}


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
