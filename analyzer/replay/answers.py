"""Recorded answers turned back into what the build's runtime returns or raises.

An instrumented build runs on its own copy of the runtime (`_n3_runtime`), so responses
and errors are made from that copy's classes, looked up in the loaded build.
"""
from __future__ import annotations

import builtins
import sys

RUNTIME = "_n3_runtime"
_PREFIXES = ("n3core.runtime.", RUNTIME + ".")


class Runtime:
    """The classes of the loaded build's runtime copy that answers are made of."""

    def __init__(self):
        self.llm = sys.modules[RUNTIME + ".llm"]
        self.errors = sys.modules[RUNTIME + ".errors"]

    def response(self, recorded: dict):
        llm = self.llm
        calls = recorded.get("tool_calls")
        if calls:
            tool_call = llm.ToolCall
            calls = [tool_call(str(c.get("id") or ""), c["name"], dict(c["arguments"]))
                     for c in calls]
        else:
            calls = []
        usage = recorded.get("usage")
        if isinstance(usage, dict):
            usage = llm.Usage(usage["prompt_tokens"], usage["completion_tokens"],
                              usage["total_tokens"], bool(usage.get("estimated", False)))
        # positional, in the runtime's field order: a call by keyword costs twice as much.
        # A streamed call is answered whole, with its recorded chunk count and first-chunk time.
        return llm.LLMResponse(recorded.get("text") or "", calls, usage,
                               recorded.get("finish_reason") or "stop", recorded.get("raw"),
                               recorded.get("model"), recorded.get("chunks"),
                               recorded.get("time_to_first_chunk"))

    def error(self, recorded: dict, site) -> BaseException:
        """The recorded error again: same type, message and code."""
        name = recorded["type"]
        message = recorded["message"]
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                cls = getattr(self.errors, name[len(prefix):].rsplit(".", 1)[-1], None)
                if isinstance(cls, type) and issubclass(cls, self.errors.N3Error):
                    code = recorded.get("code")
                    return cls(message, hint=recorded.get("hint"), kind=site.component or None,
                               name=site.name if site.name != "*" else None,
                               code=code if isinstance(code, str) else None)
        base = name[len("builtins."):] if name.startswith("builtins.") else name
        cls = getattr(builtins, base, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            return cls(message)
        return self.errors.ProviderError(f"{name}: {message}") if site.component == "llm" \
            else self.errors.ToolError(f"{name}: {message}")
