"""Memories: what an agent carries from one run to the next, within one process.

`add`, `read`, `clear` and `summarize` are separate methods on purpose: each is one
traced operation. Types:
- conversation: chat messages; `max_items` keeps the newest; `summarize_after` folds
  older messages into one summary message written by the agent's llm.
- buffer: the newest `max_items` entries of anything (10 when unset); never summarized.
- key_value: a dict; `add` merges a dict into it; `max_items` evicts the oldest keys.
An agent may also name a built-in policy instead of a declared memory (`for_policy`).
"""
from __future__ import annotations

import json

from .errors import ConfigError, MemoryOpError
from .llm import LLMRequest
from .schema import MEMORY_POLICIES, MEMORY_TYPE_SYNONYMS, MEMORY_TYPES, WINDOW_DEFAULT

SUMMARY_PREFIX = "Summary of the earlier conversation: "
BUFFER_DEFAULT = 10


class Memory:
    """A declared memory."""

    kind = "memory"

    def __init__(self, name: str, config: dict, loc=None):
        self.name, self.config, self.loc = name, config, loc
        self.type = config.get("type") or "conversation"
        self.type = MEMORY_TYPE_SYNONYMS.get(self.type, self.type)
        if self.type not in MEMORY_TYPES:
            raise ConfigError(f"unknown memory type {self.type!r}",
                              hint=f"use one of {', '.join(MEMORY_TYPES)}",
                              kind="memory", name=name, loc=loc)
        limit = config.get("max_items")
        self.max_items = int(limit) if limit else (BUFFER_DEFAULT if self.type == "buffer" else None)
        after = config.get("summarize_after")
        self.summarize_after = int(after) if after and self.type == "conversation" else None
        self._items = {} if self.type == "key_value" else []
        self.summary: str | None = None

    policy: str | None = None

    @classmethod
    def for_policy(cls, policy: str, agent: str, window=None, loc=None) -> "Memory | None":
        """The memory of one agent that names a built-in policy; None for "none".

        Each agent gets its own, named after it, since nothing else can refer to it:
        conversation_window keeps the newest `window` messages, full_history all of them,
        summary folds all but the newest `window // 2` into a summary by the agent's llm
        once there are more than `window`.
        """
        if policy not in MEMORY_POLICIES:
            raise ConfigError(f"unknown memory policy {policy!r}",
                              hint=f"use one of {', '.join(MEMORY_POLICIES)}",
                              kind="agent", name=agent, loc=loc)
        size = int(window) if window else WINDOW_DEFAULT
        config = {"conversation_window": {"max_items": size}, "full_history": {},
                  "summary": {"summarize_after": size}}.get(policy)
        if config is None:
            return None
        memory = cls(f"{agent}.{policy}", dict(config, type="conversation"), loc)
        memory.policy = policy
        return memory

    def _fail(self, message: str) -> MemoryOpError:
        return MemoryOpError(message, kind="memory", name=self.name, loc=self.loc)

    async def add(self, entry) -> None:
        """Store one entry (a message, any value, or a dict of keys for key_value)."""
        if self.type == "key_value":
            if not isinstance(entry, dict):
                raise self._fail(f"a key_value memory stores objects, got {type(entry).__name__}")
            for key, value in entry.items():
                self._items.pop(key, None)
                self._items[key] = value
            while self.max_items and len(self._items) > self.max_items:
                self._items.pop(next(iter(self._items)))
            return
        if self.type == "conversation":
            if isinstance(entry, str):
                entry = {"role": "user", "content": entry}
            if not (isinstance(entry, dict) and "role" in entry and "content" in entry):
                raise self._fail("a conversation memory stores messages {role, content}")
        self._items.append(entry)
        if self.max_items and len(self._items) > self.max_items:
            del self._items[: len(self._items) - self.max_items]

    async def read(self, key=None):
        """A copy of what is stored: the messages (summary first), entries, or the dict."""
        if self.type == "key_value":
            return self._items.get(key) if key is not None else dict(self._items)
        items = list(self._items)
        if self.summary is not None:
            items.insert(0, {"role": "system", "content": SUMMARY_PREFIX + self.summary})
        return items

    async def clear(self) -> None:
        """Forget everything, the summary included."""
        self._items = {} if self.type == "key_value" else []
        self.summary = None

    def needs_summary(self) -> bool:
        return bool(self.summarize_after) and len(self._items) > self.summarize_after

    async def summarize(self, llm) -> str | None:
        """Fold all but the newest messages into one summary written by `llm`.

        The newest `summarize_after // 2` messages (at least one) stay verbatim so the next
        turn still sees the latest exchange word for word.
        """
        if self.type != "conversation" or not self._items:
            return self.summary
        keep = max(1, (self.summarize_after or 2) // 2)
        older, newer = self._items[:-keep], self._items[-keep:]
        if not older:
            return self.summary
        transcript = "\n".join(f"{m['role']}: {_content(m)}" for m in older)
        if self.summary:
            transcript = f"(earlier summary) {self.summary}\n{transcript}"
        request = LLMRequest([
            {"role": "system", "content": "Summarise this conversation in a few sentences, "
                                          "keeping every fact needed to continue it."},
            {"role": "user", "content": transcript},
        ])
        response = await llm.complete(request)
        self.summary = response.text.strip()
        self._items = list(newer)
        return self.summary

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<memory {self.name} type={self.type}>"


def _content(message: dict) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else json.dumps(content, default=str)
