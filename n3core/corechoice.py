"""Choosing between a compiled core and its pure-Python twin, in one place.

The tracing core and the analyzer's pass both ship a Cython module with a Python twin
behind one contract. The rule is the same for both (coverage.py's `core.py` is the
model): take the compiled module when it imports, keep the ImportError text, fall back
to the twin and say so once; an environment variable forces a core, and a forced core
that cannot be imported is a loud error rather than a silent fallback.

Each component has its own variable (N3TRACE_CORE, N3ANALYZE_CORE); N3_CORE forces every
component at once (`make test` runs the suite with N3_CORE=c, then N3_CORE=python). A
component's own variable, when it is set at all, wins: set to "" it means "choose".
"""
from __future__ import annotations

import importlib
import os
import warnings

from .errors import USAGE, ToolchainError


ALL_CORES_ENV = "N3_CORE"
_SPELLINGS = {"compiled": "c"}


def forced(env: str, environ=None) -> str:
    """The core the environment forces for the component read from `env` ("" for none)."""
    environ = os.environ if environ is None else environ
    raw = environ[env] if env in environ else environ.get(ALL_CORES_ENV, "")
    name = raw.strip().lower()
    return _SPELLINGS.get(name, name)


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
        name = forced(self.env)
        var = self.env if self.env in os.environ else ALL_CORES_ENV
        if name and name not in self.modules:
            raise CoreUnavailableError(
                f"{var}={name!r} (environment) is not "
                f"{'an' if self.what[0] in 'aeiou' else 'a'} {self.what}; use 'c' or 'python'")
        if name:
            try:
                return name, self.load(name)
            except ImportError as exc:
                raise CoreUnavailableError(
                    f"{var}={name} asks for the {name} {self.what}, which cannot be "
                    f"imported: {exc}. Rebuild it with `python setup.py build_ext --inplace` "
                    f"or unset {var}.") from exc
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
