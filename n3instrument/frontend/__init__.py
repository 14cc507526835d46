"""The `.ai` front end: text to a checked, typed AST, with compiler-style diagnostics.

Importing this package is cheap: lark is loaded the first time something is parsed.
"""
from __future__ import annotations

import os

from .diagnostics import Diagnostic, FrontendError, error
from .nodes import Location, Program

__all__ = ["Diagnostic", "FrontendError", "Program", "check_file", "load", "load_source"]


def load_source(text: str, file: str = "<string>") -> Program:
    """Parse `text`; raise FrontendError on a syntax error. No semantic checks."""
    from .parser import parse

    return parse(text, file)


def _read(path) -> str:
    file = os.fspath(path)
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        problem, hint = f"{file} is not UTF-8 text ({exc.reason})", "save the file as UTF-8"
    except OSError as exc:
        problem, hint = f"cannot read {file}: {exc.strerror or exc}", None
    raise FrontendError([error("IO_ERROR", problem, Location(file, 1, 1), hint)])


def load(path) -> Program:
    """Read and parse a `.ai` file; raise FrontendError if it cannot be read or parsed."""
    return load_source(_read(path), os.fspath(path))


def check_file(path) -> tuple[Program | None, list[Diagnostic]]:
    """Parse and check; a file that does not parse gives (None, [its syntax error])."""
    from .checks import check

    try:
        program = load(path)
    except FrontendError as exc:
        return None, exc.diagnostics
    return program, check(program)
