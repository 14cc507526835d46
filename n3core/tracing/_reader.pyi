"""Stub for the compiled record and payload decoders: `contracts.ReaderCore`, which
`pyreader.py` keeps too."""
from array import array
from typing import Any, Collection

IS_COMPILED: bool

def decode_records(body: bytes | memoryview, n: int, ts_shift: int) -> tuple[
    array, array, array, array, array, array, array, array, int]: ...

def decode_payload(body: bytes, start: int, n: int) -> Any: ...

def decode_plain(body: bytes, start: int, n: int) -> Any: ...

def payload_get(body: bytes, start: int, n: int, keys: Collection) -> dict: ...

def canonical_json(body: bytes, start: int, n: int,
                   omit: Collection | None = None) -> bytes | None: ...
