"""Registry of llm providers, imported only when an llm is first used.

A provider is a class taking the `LLM` it serves, with one coroutine
`complete(request) -> LLMResponse`. Imports are lazy so a program that only uses the mock
never loads the HTTP stack.
"""
from __future__ import annotations

import importlib

_MODULES = {"mock": "mock", "openai": "openai", "ollama": "ollama"}


def names() -> tuple:
    return tuple(_MODULES)


def create(name: str, llm):
    module = importlib.import_module(f".{_MODULES[name]}", __name__)
    return module.Provider(llm)
