"""Registry of llm providers, imported only when an llm is first used.

A provider is a class taking the `LLM` it serves, with one coroutine
`complete(request) -> LLMResponse`. Imports are lazy so a program that only uses the mock
never loads the HTTP stack. `GENAI_NAMES` is what OpenTelemetry's GenAI conventions call
each provider (`gen_ai.provider.name`); providers the conventions do not list keep their
own name.
"""
from __future__ import annotations

import importlib

_MODULES = {"mock": "mock", "openai": "openai", "ollama": "ollama", "anthropic": "anthropic",
            "azure_openai": "azure_openai", "vllm": "vllm", "local_ai": "local_ai",
            "google": "google", "gemini": "google", "http": "http_json"}

GENAI_NAMES = {"openai": "openai", "anthropic": "anthropic", "azure_openai": "azure.ai.openai",
               "google": "gcp.gemini", "gemini": "gcp.gemini"}


def names() -> tuple:
    return tuple(_MODULES)


def genai_name(provider) -> str | None:
    """`gen_ai.provider.name` for one of our provider names (anything else unchanged)."""
    return GENAI_NAMES.get(provider, provider) if isinstance(provider, str) else provider


def create(name: str, llm):
    module = importlib.import_module(f".{_MODULES[name]}", __name__)
    return module.Provider(llm)
