"""The pure-Python twin of `_reader.pyx`: turns one validated chunk body into columns."""
from __future__ import annotations

import sys
from array import array
from itertools import accumulate

IS_COMPILED = False


def decode_records(body, n: int, ts_shift: int):
    """Columns of the n records at the start of `body`, timestamps moved by ts_shift.

    Returns (ts, site, kind, span, parent, task, offsets, lengths, payload_total); the
    caller compares payload_total with the chunk header to catch inconsistent chunks.
    """
    words = array("I")
    words.frombytes(bytes(body[:n * 24]))
    if sys.byteorder == "big":
        words.byteswap()
    ts = array("q", [d + ts_shift for d in words[0::6]])
    site_kind = words[1::6]
    site = array("I", [x & 0xFFFFFF for x in site_kind])
    kind = array("B", [x >> 24 for x in site_kind])
    lengths = words[5::6]
    offsets = array("I", accumulate(lengths, initial=0))
    total = offsets.pop() if len(offsets) else 0
    return ts, site, kind, words[2::6], words[3::6], words[4::6], offsets, lengths, total
