"""Stub for the compiled scan core `_scan.pyx`; `pyscan.py` is its Python twin.

Both export `BookScan`, fed a trace's batches in file order by `book.read_book`, and give
the same book; `analyzer.replay.scancore` chooses the module.
"""
from typing import Any

IS_COMPILED: bool

class BookScan:
    paths: dict
    counts: dict
    open: dict
    seq: int
    rooted: bool
    def __init__(self, book: Any, sites: dict, names: dict, boundary: dict, roots: Any,
                 slow: Any, check: bool) -> None: ...
    def feed(self, batch: Any) -> None: ...
