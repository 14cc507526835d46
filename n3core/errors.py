"""The one error base of the toolchain, and the wrapper every `main` runs its body in.

Every error we raise on purpose, in any package, derives from `ToolchainError` and carries
the process exit code on its class, so a command line never guesses an error's kind from
its module or its name. This module sits outside `n3core/runtime/`, which the tracing pass
copies into instrumented builds as `_n3_runtime`: the copy imports this base instead of
duplicating it, so its errors are caught by the same `except` as the installed runtime's.
"""
from __future__ import annotations

import sys
from typing import Callable

OK, FAILED, USAGE = 0, 1, 2


class ToolchainError(Exception):
    """Base of every error reported to users as a message and an exit code, not a traceback."""

    exit_code = FAILED

    def report(self) -> str:
        """The text a command line prints on stderr for this error."""
        return f"error: {self}"


def run_main(body: Callable[[], object]) -> int:
    """Run a command line's `body` and return its exit code.

    Only `ToolchainError` is caught: anything else is a bug and propagates with its
    traceback, as coverage.py's `main` does, because hiding it would hide where it is.
    """
    try:
        rv = body()
    except ToolchainError as exc:
        print(exc.report(), file=sys.stderr)
        return exc.exit_code
    return rv if isinstance(rv, int) else OK
