"""Choosing between a compiled core and its pure-Python twin, in one place.

The tracing core and the analyzer's pass both ship a Cython module with a Python twin
behind one contract. The rule is the same for both (coverage.py's `core.py` is the
model): take the compiled module when it imports, keep the ImportError text, fall back
to the twin and say so once; an environment variable forces a core, and a forced core
that cannot be imported is a loud error rather than a silent fallback.
"""
from __future__ import annotations

import importlib
import os
import warnings

from .errors import USAGE, ToolchainError


class CoreUnavailableError(ToolchainError):
    """A core forced by name (an environment variable or an argument) cannot be imported."""

    exit_code = USAGE


class CoreFallbackWarning(RuntimeWarning):
    """A compiled core is missing, so its slower pure-Python twin is in use."""


class CoreChoice:
    """The cores of one component: `modules` maps "c" and "python" to module names."""

    def __init__(self, what: str, env: str, modules: dict, fallback_note: str):
        self.what, self.env, self.modules = what, env, modules
        self.fallback_note = fallback_note
        self.import_error: str | None = None

    def load(self, name: str) -> tuple:
        """The modules of core `name`; ImportError when they do not import."""
        return tuple(importlib.import_module(module) for module in self.modules[name])

    def choose(self) -> tuple:
        """(core name, its modules), following the environment variable when it is set."""
        forced = os.environ.get(self.env, "").strip().lower()
        if forced and forced not in self.modules:
            raise CoreUnavailableError(
                f"{self.env}={forced!r} (environment) is not "
                f"{'an' if self.what[0] in 'aeiou' else 'a'} {self.what}; use 'c' or 'python'")
        if forced:
            try:
                return forced, self.load(forced)
            except ImportError as exc:
                raise CoreUnavailableError(
                    f"{self.env}={forced} asks for the {forced} {self.what}, which cannot be "
                    f"imported: {exc}. Rebuild it with `python setup.py build_ext --inplace` "
                    f"or unset {self.env}.") from exc
        try:
            return "c", self.load("c")
        except ImportError as exc:
            self.import_error = str(exc)
        warnings.warn(f"{self.fallback_note} ({self.import_error})", CoreFallbackWarning, stacklevel=4)
        return "python", self.load("python")

    def module(self, name: str, index: int = 0):
        """Module `index` of core `name`, or CoreUnavailableError if it does not import."""
        try:
            return self.load(name)[index]
        except (KeyError, ImportError) as exc:
            raise CoreUnavailableError(f"{self.what} {name!r} is unavailable: {exc}") from exc

    def available(self) -> list:
        """The cores that import on this machine, e.g. ['c', 'python']."""
        found = []
        for name in self.modules:
            try:
                self.load(name)
                found.append(name)
            except ImportError:
                pass
        return found
