"""Stub for the compiled analysis core `_pass.pyx`; `pypass.py` is its Python twin.

Both modules export the same names: `Pass` (a subclass of passbase.PassBase whose
`feed(batch)` runs the per-event and per-span work of the pass), the critical-path
`Children` and the token table `Tokens` (the Protocols of `analyzer.contracts`);
`analyzer.passcore` chooses the module.
"""
from typing import Any

from .passbase import PassBase

IS_COMPILED: bool

class Children:
    kids: list
    fixed: int
    summary: dict | None
    covered: int
    folded: int
    size: int
    def settle(self, now: int) -> None: ...
    def _fold_from(self, index: int) -> None: ...
    def close(self, start: int, end: int, site: int, span: int) -> tuple: ...

class Tokens:
    calls: int
    prompt: int
    completion: int
    total: int
    cost: float
    unpriced: int
    models: set
    ns: int
    def add(self, p: int, c: int, t: int, cost: float | None, model: Any, dur: int) -> None: ...
    def to_json(self, name: str) -> dict: ...

class Pass(PassBase):
    Tokens: type[Tokens]
    Children: type[Children]
    core: str
    def feed(self, batch: Any) -> None: ...
    def summarize(self, durations: Any, failed: int = 0) -> dict: ...
