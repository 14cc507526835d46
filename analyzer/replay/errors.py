"""Replay's errors: bad input found before anything runs (exit 2)."""
from __future__ import annotations

from ..errors import AnalyzerError


class ReplayInputError(AnalyzerError):
    """A trace, build, source or option that replay cannot use."""


class MalformedTraceError(ReplayInputError):
    """A recorded answer or the trace's entry is not what the runtime could have recorded."""


class NoBuildError(ReplayInputError):
    """Neither the trace's header nor the options lead to a build that can be run."""


class MockError(ReplayInputError):
    """A --mock option that is not NAME:JSON naming a tool, llm, prompt or agent."""
