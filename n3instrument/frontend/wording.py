"""How diagnostics name kinds and list choices, in one place for every check module."""
from __future__ import annotations


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" or kind == "llm" else "a ") + kind


def _or(words, conjunction: str = "or") -> str:
    words = list(words)
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]
