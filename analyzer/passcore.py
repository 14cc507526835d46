"""Choose the core of the analysis pass: the compiled one when it imports, else the twin.

`analyzer._pass` (Cython) and `analyzer.pypass` (Python) implement one contract
(`_pass.pyi`) and give the same analysis, to the byte in JSON. N3ANALYZE_CORE=c or
N3ANALYZE_CORE=python forces one; a forced core that cannot be imported is an error, not
a silent fallback. An unforced fallback is announced once, on stderr, as a warning.
"""
from __future__ import annotations

import importlib
import os
import warnings

from .errors import AnalyzerError

CORE_ENV = "N3ANALYZE_CORE"
_MODULES = {"c": "analyzer._pass", "python": "analyzer.pypass"}
IMPORT_ERROR: str | None = None


class CoreFallbackWarning(RuntimeWarning):
    """The compiled analysis core is missing, so the slower pure-Python twin is in use."""


class CoreUnavailableError(AnalyzerError):
    """A core was asked for by name and cannot be imported."""


def _import(name: str):
    return importlib.import_module(_MODULES[name])


def _choose():
    global IMPORT_ERROR
    forced = os.environ.get(CORE_ENV, "").strip().lower()
    if forced and forced not in _MODULES:
        raise CoreUnavailableError(
            f"{CORE_ENV}={forced!r} (environment) is not an analysis core; use 'c' or 'python'")
    if forced:
        try:
            return forced, _import(forced)
        except ImportError as exc:
            raise CoreUnavailableError(
                f"{CORE_ENV}={forced} asks for the {forced} analysis core, which cannot be "
                f"imported: {exc}. Rebuild it with `python setup.py build_ext --inplace` "
                f"or unset {CORE_ENV}.") from exc
    try:
        return "c", _import("c")
    except ImportError as exc:
        IMPORT_ERROR = str(exc)
    warnings.warn(
        f"n3analyze: the compiled analysis core is unavailable ({IMPORT_ERROR}); using the "
        "pure-Python core, which gives the same results several times slower.",
        CoreFallbackWarning, stacklevel=3)
    return "python", _import("python")


CORE_NAME, module = _choose()
IS_COMPILED = CORE_NAME == "c"


def pass_module(name: str | None = None):
    """The module of core `name` ("c" or "python"), or of the chosen core."""
    if name is None or name == CORE_NAME:
        return module
    try:
        return _import(name)
    except (KeyError, ImportError) as exc:
        raise CoreUnavailableError(f"analysis core {name!r} is unavailable: {exc}") from exc


def available() -> list:
    """The cores that import on this machine, e.g. ['c', 'python']."""
    found = []
    for name in _MODULES:
        try:
            _import(name)
            found.append(name)
        except ImportError:
            pass
    return found
