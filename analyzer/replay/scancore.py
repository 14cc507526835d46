"""Choose the core of the answer book's scan: the compiled one when it imports, else the twin.

`analyzer.replay._scan` (Cython) and `analyzer.replay.pyscan` (Python) give the same book.
The analyzer's variable chooses for both of its cores (N3ANALYZE_CORE=c or python, or
N3_CORE); the choice is made on the first replay, so the other commands never import it.
"""
from __future__ import annotations

from n3core.corechoice import CoreChoice

from ..passcore import CORE_ENV

_CHOICE = CoreChoice(
    "replay book core", CORE_ENV,
    {"c": ("analyzer.replay._scan",), "python": ("analyzer.replay.pyscan",)},
    "n3analyze: the compiled replay book core is unavailable; using the pure-Python core, "
    "which reads the same book more slowly",
)
_chosen = None


def scan_module(name: str | None = None):
    """The module of core `name` ("c" or "python"), or of the chosen core."""
    global _chosen
    if name is not None:
        return _CHOICE.module(name)
    if _chosen is None:
        _chosen = _CHOICE.choose()[1][0]
    return _chosen


available = _CHOICE.available
