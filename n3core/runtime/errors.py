"""Errors the runtime raises, each able to explain itself in one paragraph.

A user of a compiled program never sees a Python traceback: every failure the runtime
anticipates is an `N3Error` that knows which component failed, where that component was
declared in the `.ai` source, and what the user can do about it.
"""
from __future__ import annotations

from n3core.errors import USAGE, ToolchainError


class N3Error(ToolchainError):
    """Base of every error the runtime reports to users."""

    code = "N3_ERROR"

    def __init__(self, message: str, *, hint: str | None = None, kind: str | None = None,
                 name: str | None = None, loc=None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind
        self.name = name
        self.loc = loc
        if code:
            self.code = code

    @property
    def component(self) -> str | None:
        if self.kind and self.name:
            return f"{self.kind} '{self.name}'"
        return self.kind or None

    def attach(self, kind: str | None, name: str | None, loc=None) -> "N3Error":
        """Name the component only if no inner component claimed the error first."""
        if self.kind is None and self.name is None:
            self.kind, self.name = kind, name
        if self.loc is None:
            self.loc = loc
        return self

    def paragraph(self) -> str:
        where = ""
        if self.component:
            where = f" in {self.component}"
        if self.loc is not None:
            where += f" ({self.loc})"
        text = f"error[{self.code}]{where}: {self.message.rstrip('.')}."
        if self.hint:
            text += f" Fix: {self.hint.rstrip('.')}."
        return text

    def report(self) -> str:
        return self.paragraph()

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "kind": self.kind,
            "name": self.name,
            "loc": str(self.loc) if self.loc is not None else None,
        }

    def __str__(self) -> str:
        return self.paragraph()


class ConfigError(N3Error):
    """A declaration cannot be turned into a working component."""

    code = "CONFIG_ERROR"


class UsageError(N3Error):
    """The program was asked to run something that does not exist or with bad input."""

    code = "USAGE_ERROR"
    exit_code = USAGE


class ProviderError(N3Error):
    """An llm provider failed to answer (HTTP status, timeout, malformed reply)."""

    code = "PROVIDER_ERROR"


class ToolError(N3Error):
    """A tool was called with bad arguments or failed while running."""

    code = "TOOL_ERROR"


class OutputValidationError(N3Error):
    """A prompt's reply never matched its output schema within its retries."""

    code = "OUTPUT_VALIDATION_ERROR"


class TemplateError(N3Error):
    """A template names a variable that the context does not hold."""

    code = "TEMPLATE_ERROR"


class MaxTurnsError(N3Error):
    """An agent used all its turns without producing an answer."""

    code = "MAX_TURNS_EXCEEDED"


class MemoryOpError(N3Error):
    """A memory was given an entry its type cannot hold."""

    code = "MEMORY_ERROR"


class ChainError(N3Error):
    """A chain step could not be run as declared."""

    code = "CHAIN_ERROR"
