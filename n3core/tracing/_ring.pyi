"""Stub for the compiled recorder: `contracts.RingCore`, `Recorder` and `Frame`, which
`pyring.py` keeps too; TSC_USABLE and LAYOUT are the compiled core's alone."""
from typing import Any, Callable

from .payload import Redaction

POLICY_BLOCK: int
POLICY_DROP: int
POLICY_FLIGHT: int
KIND_START: int
KIND_END: int
KIND_ERROR_END: int
KIND_INSTANT: int
IS_COMPILED: bool
TSC_USABLE: bool
LAYOUT: dict  # the compile-time copies of format.py's byte layout

def encode(obj: Any, max_depth: int = 32, max_bytes: int = 262144, max_repr: int = 200,
           redaction: Redaction | None = None) -> bytes: ...

class Recorder:
    chunk_events: int
    chunk_payload: int
    slots: int
    policy: int
    events: int
    dropped: int
    discarded: int
    payload_bytes: int
    chunks: int
    clock_source: str  # "injected", "tsc" or "monotonic"
    max_bytes: int
    def __init__(self, chunk_events: int, chunk_payload: int, slots: int, policy: int, *,
                 mask: bytes = ..., reserved_mask: bytes = ..., max_depth: int = 32,
                 max_bytes: int = 262144, max_repr: int = 200,
                 clock: Callable[[], int] | None = None,
                 on_seal: Callable[[], Any] | None = None,
                 on_full: Callable[[], Any] | None = None,
                 redaction: Redaction | None = None) -> None: ...
    def redact(self, redaction: Redaction | None) -> None: ...
    def enabled(self, site: int) -> bool: ...
    def emit(self, site: int, kind: int, span: int, parent: int, task: int,
             payload: Any = None) -> bool: ...
    def seal(self) -> bool: ...
    def take(self) -> bytes | None: ...
    def peek(self) -> list[bytes]: ...
    def pending_drops(self) -> int: ...

class Frame:
    site: int
    span: int
    parent: int
    task: int

def install(recorder: Recorder) -> None: ...
def uninstall() -> None: ...
def active() -> Recorder | None: ...
def enter(site: int, payload: Any = None) -> Frame | None: ...
def enter_sync(site: int, payload: Any = None) -> Frame | None: ...
def exit(token: Frame | None, payload: Any = None) -> None: ...
def fail_end(token: Frame | None, payload: Any) -> None: ...
def exit_value(token: Frame | None, value: Any) -> Any: ...
def exit_returning(token: Frame | None, value: Any) -> Any: ...
def instant(site: int, payload: Any = None) -> None: ...
