"""The keys each declaration kind understands, shared by the checker and the runtime.

One table, so `namel3ss check` and the runtime can never disagree about what a key means.
Unknown keys are not listed anywhere: they are warnings at check time and ignored at run
time, so programs written for newer runtimes still build.
"""
from __future__ import annotations

from dataclasses import dataclass

EXECUTABLE_KINDS = ("llm", "prompt", "tool", "memory", "agent", "chain")
DECLARATIVE_KINDS = (
    "page", "dataset", "index", "rag_pipeline", "connector", "template", "model",
    "training", "policy", "graph", "knowledge", "frame", "theme", "function", "query",
    "endpoint",
    # Seen in real programs of the earlier namel3ss repository.
    "planner", "evaluator", "evaluation", "workflow", "planning_workflow", "action", "api",
    "backend", "rag", "vector_store", "vector_db", "ui", "component", "form", "layout", "route",
    "embedding_pipeline", "rag_monitoring", "data_quality",
)
ALL_KINDS = ("app",) + EXECUTABLE_KINDS + DECLARATIVE_KINDS

PROVIDERS = ("mock", "openai", "ollama", "anthropic", "azure_openai", "vllm", "local_ai",
             "google", "gemini", "http")
TOOL_TYPES = ("python", "http", "mock")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MEMORY_TYPES = ("conversation", "buffer", "key_value")
# Memories an agent names without a `memory` declaration (a declared memory of the same
# name wins); `window` sizes the first and the last.
MEMORY_POLICIES = ("conversation_window", "full_history", "summary", "none")
WINDOW_POLICIES = ("conversation_window", "summary")
WINDOW_DEFAULT = 10
# Memory types real programs name, read as the runtime's own.
MEMORY_TYPE_SYNONYMS = {"short_term": "conversation", "long_term": "conversation",
                        "structured": "key_value", "list": "buffer"}
STEP_KINDS = ("prompt", "llm", "tool", "agent", "template", "chain")
OUTPUT_FIELD_TYPES = ("text", "number", "boolean", "list", "object")


@dataclass(frozen=True)
class Key:
    """What one key accepts.

    type: "string", "number", "integer", "boolean", "list", "object", "any",
    "ref" (one declared name of `ref_kinds`), "refs" (a list of them), or
    "steps" (a chain's step list or arrow shorthand).
    `alias_of` names the canonical key when two spellings mean the same thing.
    """

    type: str
    choices: tuple = ()
    ref_kinds: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    alias_of: str | None = None
    # A value outside `choices` is an error unless `synonyms` maps it to one of them, or
    # the key is `open` (the runtime accepts it and fails only when it is used).
    synonyms: dict | None = None
    open: bool = False


_S = Key("string")

KINDS: dict[str, dict[str, Key]] = {
    "app": {"description": _S, "version": _S},
    "llm": {
        "provider": Key("string", choices=PROVIDERS),
        "model": _S,
        "temperature": Key("number", minimum=0, maximum=2),
        "max_tokens": Key("integer", minimum=1),
        "top_p": Key("number", minimum=0, maximum=1),
        "system_prompt": _S,
        "base_url": _S,
        "endpoint": Key("string", alias_of="base_url"),
        "api_key": _S,
        "timeout": Key("number", minimum=0),
        "stream": Key("boolean"),
        "headers": Key("object"),
        "deployment": _S,
        "api_version": _S,
        "responses": Key("list"),
        "latency_ms": Key("number", minimum=0),
        "fail_on": _S,
        "description": _S,
    },
    "prompt": {
        "model": Key("ref", ref_kinds=("llm",)),
        "llm": Key("ref", ref_kinds=("llm",), alias_of="model"),
        "template": _S,
        "content": Key("string", alias_of="template"),
        "variables": Key("list"),
        "input": Key("list", alias_of="variables"),
        "output": Key("object"),
        "retries": Key("integer", minimum=0),
        "description": _S,
    },
    "tool": {
        "type": Key("string", choices=TOOL_TYPES, open=True),
        "function": _S,
        "endpoint": _S,
        "method": Key("string", choices=HTTP_METHODS),
        "headers": Key("object"),
        "timeout": Key("number", minimum=0),
        "returns": Key("any"),
        "description": _S,
        "parameters": Key("object"),
    },
    "memory": {
        "type": Key("string", choices=MEMORY_TYPES, synonyms=MEMORY_TYPE_SYNONYMS),
        "kind": Key("string", choices=MEMORY_TYPES, alias_of="type",
                    synonyms=MEMORY_TYPE_SYNONYMS),
        "max_items": Key("integer", minimum=1),
        "capacity": Key("integer", minimum=1, alias_of="max_items"),
        "summarize_after": Key("integer", minimum=1),
        "description": _S,
    },
    "agent": {
        "llm": Key("ref", ref_kinds=("llm",), required=True),
        # Text, or the name of a prompt whose template is the system prompt.
        "system_prompt": Key("string", ref_kinds=("prompt",)),
        "system": Key("string", alias_of="system_prompt", ref_kinds=("prompt",)),
        "tools": Key("refs", ref_kinds=("tool",)),
        "memory": Key("ref", ref_kinds=("memory",)),
        "window": Key("integer", minimum=1),
        "max_turns": Key("integer", minimum=1),
        "max_iterations": Key("integer", minimum=1, alias_of="max_turns"),
        "temperature": Key("number", minimum=0, maximum=2),
        "description": _S,
    },
    "chain": {
        "steps": Key("steps"),
        "description": _S,
    },
}

STEP_KEYS: dict[str, Key] = {
    "name": _S,
    "kind": Key("string", choices=STEP_KINDS),
    "target": Key("ref", ref_kinds=("prompt", "llm", "tool", "agent", "chain", "template")),
    "input": Key("any"),
    "output": _S,
    "when": _S,
    "template": _S,
    "parallel": Key("list"),
}

# Which kinds a step's `target` may name, by the step's `kind`.
STEP_TARGET_KINDS: dict[str, tuple[str, ...]] = {
    "prompt": ("prompt",),
    "llm": ("llm",),
    "tool": ("tool",),
    "agent": ("agent",),
    "chain": ("chain",),
    "template": ("template",),
}

# Kinds an arrow-shorthand name may refer to, in the order they are looked up.
ARROW_TARGET_KINDS = ("prompt", "tool", "agent", "chain")

DEFAULTS = {
    ("llm", "provider"): "mock",
    ("prompt", "retries"): 2,
    ("tool", "method"): "POST",
    ("memory", "type"): "conversation",
    ("agent", "max_turns"): 10,
}


def canonical_key(kind: str, key: str) -> str:
    """The canonical spelling of `key` for `kind` (`capacity` -> `max_items`)."""
    spec = KINDS.get(kind, {}).get(key)
    return spec.alias_of if spec and spec.alias_of else key
