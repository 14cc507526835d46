"""Provider-neutral llm calls: the request and response types and the `LLM` component.

`LLM.complete` is the single place where a model is asked something. Replay answers that
one method from a trace, and tracing wraps it, so everything that talks to a model
(prompts, agents, memory summaries, chain steps) goes through it and nothing else.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .errors import ConfigError, N3Error, ProviderError
from .schema import PROVIDERS
from .values import resolve_env

_PARAM_KEYS = ("temperature", "max_tokens", "top_p")
# What a non-mock llm must set (one of): an Azure deployment names the model; a plain http
# endpoint needs no model, only its URL.
_NEEDS = {"azure_openai": ("model", "deployment"), "http": ("base_url",)}


@dataclass
class ToolCall:
    """A model's request to run one tool."""

    id: str
    name: str
    arguments: dict


@dataclass
class Usage:
    """Token counts; `estimated` when the provider reported none."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    estimated: bool = False


@dataclass
class LLMRequest:
    """What is sent to a model: chat messages, tools it may call, sampling parameters.

    `output_schema` is the prompt's `output` schema when it has one: real providers see it
    only as an instruction in the messages, the mock uses it to answer in the right shape.
    """

    messages: list
    tools: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    output_schema: dict | None = None


@dataclass
class LLMResponse:
    """What a model answered, whichever provider it came from.

    A streamed reply is the whole reply too; `chunks` (those that carried output) and
    `time_to_first_chunk` (seconds from the request) say how it arrived, None unstreamed.
    """

    text: str = ""
    tool_calls: list = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str = "stop"
    raw: object = None
    model: str | None = None
    chunks: int | None = None
    time_to_first_chunk: float | None = None


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters a token), shared by every provider."""
    return 0 if not text else max(1, (len(text) + 3) // 4)


def estimate_request_tokens(request: LLMRequest) -> int:
    total = 0
    for message in request.messages:
        content = message.get("content") or ""
        total += 4 + estimate_tokens(content if isinstance(content, str) else json.dumps(content))
        for call in message.get("tool_calls") or ():
            total += estimate_tokens(json.dumps(call, default=str))
    if request.tools:
        total += estimate_tokens(json.dumps(request.tools, default=str))
    return total


def estimate_usage(request: LLMRequest, response: LLMResponse) -> Usage:
    completion = estimate_tokens(response.text)
    for call in response.tool_calls:
        completion += estimate_tokens(call.name + json.dumps(call.arguments, default=str))
    prompt = estimate_request_tokens(request)
    return Usage(prompt, completion, prompt + completion, estimated=True)


def last_input_text(messages: list) -> str:
    """The content of the last user or tool message: what a mock matches against."""
    for message in reversed(messages):
        if message.get("role") in ("user", "tool"):
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content, default=str)
    return ""


class LLM:
    """A declared model endpoint."""

    kind = "llm"

    def __init__(self, name: str, config: dict, loc=None):
        self.name, self.config, self.loc = name, config, loc
        self.provider_name = config.get("provider") or "mock"
        if self.provider_name not in PROVIDERS:
            raise ConfigError(f"unknown provider '{self.provider_name}'",
                              hint=f"use one of {', '.join(PROVIDERS)}",
                              kind="llm", name=name, loc=loc)
        if self.provider_name == "mock":
            self._check_mock()
        else:
            keys = _NEEDS.get(self.provider_name, ("model",))
            if not any(config.get(key) for key in keys):
                raise ConfigError(f"a '{self.provider_name}' llm needs a {keys[-1]}",
                                  hint=f'add {keys[-1]}: "..." to the llm block',
                                  kind="llm", name=name, loc=loc)
        self._provider = None

    def _check_mock(self) -> None:
        patterns = [self.config.get("fail_on")]
        responses = self.config.get("responses") or []
        if not isinstance(responses, list):
            raise ConfigError("responses must be a list of {match, reply | tool_call}",
                              kind="llm", name=self.name, loc=self.loc)
        for item in responses:
            if not isinstance(item, dict):
                raise ConfigError("each mock response must be an object like "
                                  '{ match: "regex", reply: "text" }',
                                  kind="llm", name=self.name, loc=self.loc)
            patterns.append(item.get("match"))
        for pattern in patterns:
            if isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ConfigError(f"invalid regex {pattern!r}: {exc}",
                                      kind="llm", name=self.name, loc=self.loc) from None

    @property
    def provider(self):
        if self._provider is None:
            from . import providers
            self._provider = providers.create(self.provider_name, self)
        return self._provider

    def prepare(self, request: LLMRequest) -> LLMRequest:
        """The request with this llm's defaults (sampling parameters, system prompt) filled in."""
        config = resolve_env({k: self.config.get(k) for k in _PARAM_KEYS + ("system_prompt",)},
                             kind="llm", component=self.name, loc=self.loc)
        params = {k: config[k] for k in _PARAM_KEYS if config.get(k) is not None}
        params.update({k: v for k, v in request.params.items() if v is not None})
        messages = list(request.messages)
        system = config.get("system_prompt")
        if system and not any(m.get("role") == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": system})
        return LLMRequest(messages, list(request.tools), params, request.output_schema)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Ask the model; the one boundary replay answers from a recorded trace."""
        request = self.prepare(request)
        try:
            response = await self.provider.complete(request)
        except N3Error as err:
            raise err.attach("llm", self.name, self.loc)
        except Exception as exc:  # a provider bug must still read as a provider failure
            raise ProviderError(f"{self.provider_name} provider failed: {exc}",
                                kind="llm", name=self.name, loc=self.loc) from None
        if response.usage is None:
            response.usage = estimate_usage(request, response)
        return response

    def __repr__(self) -> str:
        return f"<llm {self.name} provider={self.provider_name}>"
