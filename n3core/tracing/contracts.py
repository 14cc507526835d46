"""The contracts the tracing core's twins keep: the ring/recorder and the record reader.

Each core ships a compiled module (`_ring`, `_reader`) and a pure-Python twin (`pyring`,
`pyreader`) that write and read the same bytes; `core.py` picks one at run time. These
Protocols are what both sides promise, as coverage.py's `TracerCore` is for its tracers:
tests/test_core_contracts.py checks that each implementation has every name here with the
same parameters, and that the `.pyi` stubs say the same. A module-level function is
written as a method, since a Protocol describes attributes; its `self` is the module.
"""
from __future__ import annotations

from array import array
from typing import Any, Callable, Collection, Protocol, runtime_checkable

from .payload import Redaction


@runtime_checkable
class Recorder(Protocol):
    """The ring of chunk slots the calls of one tracer write into."""

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
                 mask: bytes = b"", reserved_mask: bytes = b"\x01" * 256, max_depth: int = 32,
                 max_bytes: int = 256 * 1024, max_repr: int = 200,
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
    # the writer thread: attach_writer, then run_writer in a thread of its own
    write_offset: int
    written_chunks: int
    written_events: int
    written_payload: int
    block_waits: int
    block_wait_ns: int
    def attach_writer(self, fd: int, offset: int, flush_interval: float = 0.0) -> None: ...
    def run_writer(self, on_error: Callable[[OSError], Any] | None = None) -> None: ...
    def stop_writer(self) -> None: ...
    def sync(self, timeout: float = 30.0) -> bool: ...
    def forget_writer(self) -> None: ...


@runtime_checkable
class Frame(Protocol):
    """An open span's token, as `enter` returns it."""

    site: int
    span: int
    parent: int
    task: int


@runtime_checkable
class RingCore(Protocol):
    """A recorder module: `_ring` (Cython) or `pyring`."""

    IS_COMPILED: bool
    POLICY_BLOCK: int
    POLICY_DROP: int
    POLICY_FLIGHT: int
    KIND_START: int
    KIND_END: int
    KIND_ERROR_END: int
    KIND_INSTANT: int
    Recorder: type
    Frame: type

    def encode(self, obj: Any, max_depth: int = 32, max_bytes: int = 262144,
               max_repr: int = 200, redaction: Redaction | None = None) -> bytes: ...
    def snapshot(self, value: Any) -> tuple | None: ...
    def unchanged(self, value: Any, snap: tuple) -> bool: ...
    def unchanged_prefix(self, values: list, objs: tuple, snaps: tuple) -> int: ...
    def install(self, recorder: Recorder) -> None: ...
    def uninstall(self) -> None: ...
    def active(self) -> Recorder | None: ...
    def enter(self, site: int, payload: Any = None) -> Frame | None: ...
    def enter_sync(self, site: int, payload: Any = None) -> Frame | None: ...
    def exit(self, token: Frame | None, payload: Any = None) -> None: ...
    def fail_end(self, token: Frame | None, payload: Any) -> None: ...
    def exit_value(self, token: Frame | None, value: Any) -> Any: ...
    def exit_returning(self, token: Frame | None, value: Any) -> Any: ...
    def instant(self, site: int, payload: Any = None) -> None: ...


@runtime_checkable
class ReaderCore(Protocol):
    """A record and payload decoding module: `_reader` (Cython) or `pyreader`."""

    IS_COMPILED: bool

    def decode_records(self, body: bytes | memoryview, n: int, ts_shift: int) -> tuple[
            array, array, array, array, array, array, array, array, int]: ...
    def decode_payload(self, body: bytes, start: int, n: int) -> Any: ...
    def decode_plain(self, body: bytes, start: int, n: int) -> Any: ...
    def payload_get(self, body: bytes, start: int, n: int, keys: Collection) -> dict: ...
    def canonical_json(self, body: bytes, start: int, n: int,
                       omit: Collection | None = None) -> bytes | None: ...
