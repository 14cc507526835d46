"""The build-time errors the `namel3ss` CLI turns into exit codes; anything else is a bug."""
from __future__ import annotations


class NamelessError(Exception):
    """Base of every error the CLI reports as a message rather than a traceback."""

    exit_code = 1


class UsageError(NamelessError):
    """The command was given something it cannot use (a missing file, a bad flag value)."""

    exit_code = 2


class BuildError(NamelessError):
    """The program has errors; `diagnostics` holds every one found."""

    def __init__(self, diagnostics):
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in the program")
