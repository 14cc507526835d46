"""The build-time errors the `namel3ss` CLI turns into exit codes; anything else is a bug."""
from __future__ import annotations

from n3core.errors import USAGE, ToolchainError


class CompilerError(ToolchainError):
    """Base of the errors the compiler (check, build, instrument, run) reports; exit 1."""


class UsageError(CompilerError):
    """The command was given something it cannot use (a missing file, a bad flag value)."""

    exit_code = USAGE


class OutputError(CompilerError):
    """A build folder could not be written; exit 1."""


class BuildError(CompilerError):
    """The program has errors; `diagnostics` holds every one found."""

    def __init__(self, diagnostics):
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in the program")
