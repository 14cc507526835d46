"""Choose the tracing core: the compiled one when it imports, else the Python twin.

The two implement one contract (`contracts.py`; the stubs `_ring.pyi`, `_reader.pyi`) and
write byte-identical files. N3TRACE_CORE=c or N3TRACE_CORE=python (or N3_CORE, for every
component) forces one; a forced core that cannot be
imported is an error, not a silent fallback. An unforced fallback is announced once.
"""
from __future__ import annotations

from ..corechoice import CoreChoice

CORE_ENV = "N3TRACE_CORE"

_CHOICE = CoreChoice(
    "tracing core", CORE_ENV,
    {"c": ("n3core.tracing._ring", "n3core.tracing._reader"),
     "python": ("n3core.tracing.pyring", "n3core.tracing.pyreader")},
    "n3trace: the compiled tracing core is unavailable; using the pure-Python core, which "
    "writes the same files but costs several times more per event",
)
CORE_NAME, (ring, reader) = _CHOICE.choose()
IMPORT_ERROR = _CHOICE.import_error
IS_COMPILED = CORE_NAME == "c"


def ring_module(name: str | None = None):
    """The recorder module of core `name` ("c" or "python"), or of the chosen core."""
    return ring if name is None or name == CORE_NAME else _CHOICE.module(name, 0)


def reader_module(name: str | None = None):
    """The record-decoding module of core `name`, or of the chosen core."""
    return reader if name is None or name == CORE_NAME else _CHOICE.module(name, 1)


available = _CHOICE.available
