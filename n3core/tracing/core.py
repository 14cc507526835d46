"""Choose the tracing core: the compiled one when it imports, else the Python twin.

The two implement one contract (`_ring.pyi`, `_reader.pyi`) and write byte-identical
files. N3TRACE_CORE=c or N3TRACE_CORE=python forces one; a forced core that cannot be
imported is an error, not a silent fallback. An unforced fallback is announced once.
"""
from __future__ import annotations

import importlib
import os
import warnings

from .errors import CoreUnavailableError, TraceConfigError

CORE_ENV = "N3TRACE_CORE"


class CoreFallbackWarning(RuntimeWarning):
    """The compiled tracing core is missing, so the slower pure-Python twin is in use."""


_MODULES = {
    "c": ("n3core.tracing._ring", "n3core.tracing._reader"),
    "python": ("n3core.tracing.pyring", "n3core.tracing.pyreader"),
}

IMPORT_ERROR: str | None = None


def _import(name: str):
    ring_name, reader_name = _MODULES[name]
    return importlib.import_module(ring_name), importlib.import_module(reader_name)


def _choose():
    global IMPORT_ERROR
    forced = os.environ.get(CORE_ENV, "").strip().lower()
    if forced and forced not in _MODULES:
        raise TraceConfigError(
            f"{CORE_ENV}={forced!r} (environment) is not a tracing core; use 'c' or 'python'")
    if forced:
        try:
            return (forced,) + _import(forced)
        except ImportError as exc:
            raise CoreUnavailableError(
                f"{CORE_ENV}={forced} asks for the {forced} tracing core, which cannot be "
                f"imported: {exc}. Rebuild it with `python setup.py build_ext --inplace` "
                f"or unset {CORE_ENV}.") from exc
    try:
        return ("c",) + _import("c")
    except ImportError as exc:
        IMPORT_ERROR = str(exc)
    warnings.warn(
        f"n3trace: the compiled tracing core is unavailable ({IMPORT_ERROR}); using the "
        "pure-Python core, which writes the same files but costs several times more per "
        "event.", CoreFallbackWarning, stacklevel=3)
    return ("python",) + _import("python")


CORE_NAME, ring, reader = _choose()
IS_COMPILED = CORE_NAME == "c"


def ring_module(name: str | None = None):
    """The recorder module of core `name` ("c" or "python"), or of the chosen core."""
    if name is None or name == CORE_NAME:
        return ring
    try:
        return _import(name)[0]
    except (KeyError, ImportError) as exc:
        raise CoreUnavailableError(f"tracing core {name!r} is unavailable: {exc}") from exc


def reader_module(name: str | None = None):
    """The record-decoding module of core `name`, or of the chosen core."""
    if name is None or name == CORE_NAME:
        return reader
    try:
        return _import(name)[1]
    except (KeyError, ImportError) as exc:
        raise CoreUnavailableError(f"tracing core {name!r} is unavailable: {exc}") from exc


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
