"""Stub for the compiled record decoder; `pyreader.py` is its Python twin."""
from array import array

IS_COMPILED: bool

def decode_records(body: bytes | memoryview, n: int, ts_shift: int) -> tuple[
    array, array, array, array, array, array, array, array, int]: ...
