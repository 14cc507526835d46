"""Choose the core of the analysis pass: the compiled one when it imports, else the twin.

`analyzer._pass` (Cython) and `analyzer.pypass` (Python) implement one contract
(`contracts.py`, stub `_pass.pyi`) and give the same analysis, to the byte in JSON.
N3ANALYZE_CORE=c or N3ANALYZE_CORE=python (or N3_CORE, for every component) forces one; a forced core that cannot be imported is an error, not
a silent fallback. An unforced fallback is announced once, on stderr, as a warning.
"""
from __future__ import annotations

from n3core.corechoice import CoreChoice

CORE_ENV = "N3ANALYZE_CORE"

_CHOICE = CoreChoice(
    "analysis core", CORE_ENV, {"c": ("analyzer._pass",), "python": ("analyzer.pypass",)},
    "n3analyze: the compiled analysis core is unavailable; using the pure-Python core, which "
    "gives the same results several times slower",
)
CORE_NAME, (module,) = _CHOICE.choose()
IMPORT_ERROR = _CHOICE.import_error
IS_COMPILED = CORE_NAME == "c"


def pass_module(name: str | None = None):
    """The module of core `name` ("c" or "python"), or of the chosen core."""
    return module if name is None or name == CORE_NAME else _CHOICE.module(name)


available = _CHOICE.available
