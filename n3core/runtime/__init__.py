"""The namel3ss runtime: what compiled programs (program.py) call.

    from n3core import runtime as n3
    app = n3.App("Name", source="/abs/app.ai")
    app.llm("m", {"provider": "mock"}, loc=n3.Loc("app.ai", 3, 1))
    ...
    app.finalize()
    result = app.run_sync("chain:research", {"topic": "tides"})

Span methods the tracing pass targets (one span each; keep these qualnames stable).
All are coroutines except App.finalize and Prompt.validate:

    n3core.runtime.app:App.finalize          app load
    n3core.runtime.agent:Agent.run           agent execution
    n3core.runtime.agent:Agent.turn          one agent turn
    n3core.runtime.llm:LLM.complete          one llm call (replay boundary)
    n3core.runtime.tools:Tool.call           one tool call (replay boundary)
    n3core.runtime.prompt:Prompt.run         prompt execution
    n3core.runtime.prompt:Prompt.validate    output validation
    n3core.runtime.chain:Chain.run           chain execution
    n3core.runtime.chain:Chain.run_step      one chain step (or parallel group)
    n3core.runtime.memory:Memory.add         memory operations
    n3core.runtime.memory:Memory.read
    n3core.runtime.memory:Memory.clear
    n3core.runtime.memory:Memory.summarize   memory summarization

Clock and ids come only from n3core.runtime.clock (now, monotonic, new_id). Modules import
each other relatively, so a copy of this package under another name works unchanged.
This package contains no tracing code.
"""
from __future__ import annotations

from .errors import N3Error
from .values import Env, Loc, Ref, Step

__all__ = ["App", "Env", "Loc", "N3Error", "Ref", "Step"]


def __getattr__(name: str):
    if name == "App":
        from .app import App
        return App
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
