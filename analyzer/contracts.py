"""The contract of the analysis pass's twins: `_pass` (Cython) and `pypass` (Python).

Both modules export a `Pass` (a passbase.PassBase whose `feed` runs the per-event and
per-span work), the critical-path `Children` and the token table `Tokens`, and give the
same analysis to the byte; `passcore` picks one. These Protocols are what both promise:
tests/test_core_contracts.py checks both implementations and `_pass.pyi` against them.
A module-level name is written as an attribute of `PassCore`, whose `self` is the module.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Children(Protocol):
    """One span's children, folded into a critical path as they close."""

    kids: list
    fixed: int
    summary: dict | None
    covered: int
    folded: int
    size: int

    def settle(self, now: int) -> None: ...
    def close(self, start: int, end: int, site: int, span: int) -> tuple: ...


@runtime_checkable
class Tokens(Protocol):
    """Token and cost totals of one llm, agent or chain."""

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


@runtime_checkable
class Pass(Protocol):
    """The pass over one trace: feed it batches in file order; the state it fills and the
    rare handlers are passbase.PassBase's, shared by both."""

    core: str

    def feed(self, batch: Any) -> None: ...
    def summarize(self, durations: Any, failed: int = 0) -> dict: ...


@runtime_checkable
class PassCore(Protocol):
    """An analysis-pass module."""

    IS_COMPILED: bool
    Pass: type
    Children: type
    Tokens: type
