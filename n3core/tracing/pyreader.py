"""The pure-Python twin of `_reader.pyx`: one validated chunk body into columns, payloads."""
from __future__ import annotations

import sys
from array import array
from itertools import accumulate

from .payload import JSON_NEST, NotPlain, decode, special

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


def decode_payload(body: bytes, start: int, n: int):
    """The payload at body[start:start + n], decoded (the twin of the compiled one)."""
    if start < 0 or n < 0 or start + n > len(body):
        raise ValueError(f"payload [{start}, {start}+{n}) lies outside a {len(body)}-byte body")
    return decode(memoryview(body)[start:start + n])


def decode_plain(body: bytes, start: int, n: int):
    """`decode_payload`, for a payload that must be plain (`payload.special`): NotPlain
    otherwise. The compiled twin refuses while it decodes, without a second walk."""
    value = decode_payload(body, start, n)
    if special(value) is not None:
        raise NotPlain()
    return value


def payload_get(body: bytes, start: int, n: int, keys) -> dict:
    """{key: value} for the `keys` present in the payload, in payload order, when it is a
    dict; else {}. The compiled twin builds only the wanted values."""
    value = decode_payload(body, start, n)
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k in keys}


def canonical_json(body: bytes, start: int, n: int, omit=None) -> bytes | None:
    """The payload's canonical JSON (`reqhash.canonical`) as UTF-8 with surrogatepass, its
    top-level keys in `omit` left out; None when the payload is not made of what JSON holds
    as such (dicts with string keys, lists, tuples, strings, numbers, booleans, None),
    nests deeper than JSON_NEST or does not decode. The compiled twin writes the text from
    the bytes, without decoding."""
    try:
        value = decode_payload(body, start, n)
    except Exception:  # noqa: BLE001 - bad bytes: the caller decodes them its own way
        return None
    if omit and type(value) is dict:
        value = {k: v for k, v in value.items() if k not in omit}
    if not _jsonable(value, 0):
        return None
    from .reqhash import canonical
    return canonical(value).encode("utf-8", "surrogatepass")


def _jsonable(value, depth: int) -> bool:
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return True
    if depth >= JSON_NEST:
        return False
    if kind is dict:
        return all(type(k) is str and _jsonable(v, depth + 1) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_jsonable(v, depth + 1) for v in value)
    return False
