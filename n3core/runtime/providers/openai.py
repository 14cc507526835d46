"""Any OpenAI-compatible Chat Completions endpoint (OpenAI itself, vLLM, LM Studio, ...).

Every way the call can fail (HTTP status, timeout, refused connection, a body that is not
the expected JSON) becomes one ProviderError naming the llm, the status and the server's
own message; the api key is removed from anything that could end up in that message.
"""
from __future__ import annotations

import json
import os

from ..errors import ProviderError
from ..llm import LLMResponse, ToolCall, Usage
from ..template import render
from ..values import resolve_env
from .. import transport

DEFAULT_TIMEOUT = 60.0


class Provider:
    label = "openai"
    default_base_url = "https://api.openai.com/v1"
    key_env = "OPENAI_API_KEY"
    key_required = True

    def __init__(self, llm):
        self.llm = llm

    def _settings(self):
        llm = self.llm
        config = resolve_env(llm.config, kind="llm", component=llm.name, loc=llm.loc)
        base_url = render(str(config.get("base_url") or self.default_base_url), {})
        key = config.get("api_key")
        key = render(str(key), {}) if key else os.environ.get(self.key_env) if self.key_env else None
        if self.key_required and not key:
            raise ProviderError("no api key is configured",
                                hint=f'set api_key: env("{self.key_env}") on the llm and export '
                                     f"{self.key_env}")
        model = render(str(config.get("model")), {})
        timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
        return base_url.rstrip("/"), key, model, timeout

    def body(self, request, model: str) -> dict:
        body = {"model": model, "messages": [_wire_message(m) for m in request.messages]}
        for key in ("temperature", "max_tokens", "top_p"):
            if request.params.get(key) is not None:
                body[key] = request.params[key]
        if request.tools:
            body["tools"] = [{"type": "function", "function": {
                "name": tool["name"],
                "description": tool.get("description") or "",
                "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
            }} for tool in request.tools]
        return body

    async def complete(self, request) -> LLMResponse:
        base_url, key, model, timeout = self._settings()
        url = f"{base_url}/chat/completions"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        payload = json.dumps(self.body(request, model)).encode()
        try:
            reply = await transport.request("POST", url, headers=headers, body=payload,
                                            timeout=timeout)
        except transport.TransportError as exc:
            hint = ("raise timeout on the llm or check the server" if exc.reason == "timeout"
                    else "check base_url and that the server is running")
            raise ProviderError(self._scrub(f"{self.label} request to {url} failed: {exc.detail}",
                                            key), hint=hint) from None
        if not 200 <= reply.status < 300:
            raise ProviderError(
                self._scrub(f"{self.label} server at {url} answered HTTP {reply.status}: "
                            f"{_server_message(reply)}", key),
                hint=_status_hint(reply.status))
        try:
            data = json.loads(reply.body)
            return _parse(data, model)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(
                self._scrub(f"{self.label} server at {url} sent a reply that is not a Chat "
                            f"Completions response ({exc.__class__.__name__}: {exc}); body "
                            f"starts {reply.text()[:120]!r}", key),
                hint="check that base_url points at an OpenAI-compatible /v1 endpoint") from None

    @staticmethod
    def _scrub(text: str, key: str | None) -> str:
        return text.replace(key, "***") if key else text


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


def _parse(data: dict, model: str) -> LLMResponse:
    choice = data["choices"][0]
    message = choice["message"]
    calls = []
    for call in message.get("tool_calls") or ():
        function = call["function"]
        arguments = function.get("arguments") or "{}"
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                raise ValueError(f"tool call arguments are not JSON: {arguments[:80]!r}") from None
        calls.append(ToolCall(str(call.get("id") or f"call_{len(calls)}"),
                              function["name"], arguments if isinstance(arguments, dict) else {}))
    usage = None
    if isinstance(data.get("usage"), dict):
        u = data["usage"]
        prompt = int(u.get("prompt_tokens") or 0)
        completion = int(u.get("completion_tokens") or 0)
        usage = Usage(prompt, completion, int(u.get("total_tokens") or prompt + completion))
    return LLMResponse(text=message.get("content") or "", tool_calls=calls, usage=usage,
                       finish_reason=choice.get("finish_reason") or
                       ("tool_calls" if calls else "stop"),
                       raw=data, model=data.get("model") or model)


def _server_message(reply) -> str:
    try:
        data = json.loads(reply.body)
    except ValueError:
        return " ".join(reply.text().split())[:200] or "(empty body)"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return json.dumps(data)[:200]


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "check the api key the llm uses"
    if status == 404:
        return "check base_url and the model name"
    if status == 429:
        return "the server is rate limiting: wait, or lower the request rate"
    if status >= 500:
        return "the server failed; retry later or check its logs"
    return "check the llm's settings against what the server accepts"
