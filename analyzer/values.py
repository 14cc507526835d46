"""Recorded values made safe to count, print and write as JSON, whatever a trace holds.

A payload can hold anything the encoder accepted or a damaged file decodes to: NaN, an
integer of 5,000 digits, a tuple as a dict key, lone surrogates, a list nested 10,000
deep. The analyzer reads them through these few functions, so that no such value can
crash a command or make its JSON output invalid.
"""
from __future__ import annotations

import json
import math
import re

from n3core.tracing.payload import Cut, Opaque

MAX_COUNT = 1 << 62   # token counts, rss bytes, attempts: anything larger is corrupt
MAX_DEPTH = 64        # deeper parts of a shown payload are replaced by a note
MAX_DIGITS = 1000     # longer integers are shown as text, cut
_SURROGATE = re.compile("[\ud800-\udfff]")


def count(value) -> int:
    """A count read from a payload: 0 when absent, -1 when present but unusable."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value if 0 <= value < MAX_COUNT else -1
    if isinstance(value, float):
        return int(value) if 0.0 <= value < MAX_COUNT else -1  # NaN compares false
    return -1


def amount(value) -> float | None:
    """A finite, non-negative number (a cost), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return float(value) if 0 <= value < MAX_COUNT else None
    return value if math.isfinite(value) and value >= 0 else None


def clean(text: str) -> str:
    """`text` with lone surrogates replaced, so it can be printed and encoded as UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def _int_text(value: int) -> str:
    try:
        text = str(value)
    except ValueError:  # more digits than int/str conversion allows
        return f"<integer of about {int(value.bit_length() * 0.30103)} digits>"
    if len(text) > MAX_DIGITS:
        return f"{text[:20]}...<integer of {len(text)} digits>"
    return text


def label(value, default: str = "", limit: int = 500) -> str:
    """Printable text for a recorded value (an error type or message), at most `limit`."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return clean(value[:limit])
    if isinstance(value, int) and not isinstance(value, bool):
        return _int_text(value)[:limit]
    try:
        return clean(repr(value)[:limit])
    except Exception:  # noqa: BLE001 - RecursionError, huge ints, odd reprs
        return f"<{type(value).__name__}>"


_LOG10_2 = math.log10(2)
_JSON_DIGITS = 4000  # below the interpreter's 4,300-digit int/str limit


def _float(v: float):
    if math.isfinite(v):
        return v
    return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")


def _int(v: int):
    if v.bit_length() * _LOG10_2 < _JSON_DIGITS:
        return v
    return f"<integer of about {int(v.bit_length() * _LOG10_2) + 1} digits>"


def _key(k) -> str:
    """The JSON object key json.dumps would write, for keys it refuses too (tuples, bytes)."""
    if isinstance(k, str):
        return clean(k)
    if isinstance(k, bool) or k is None:
        return json.dumps(k)
    if isinstance(k, int):
        return str(_int(k))
    if isinstance(k, float):
        v = _float(k)
        return v if isinstance(v, str) else repr(v)
    if isinstance(k, bytes):
        return k.hex()
    return json.dumps(jsonable(k), allow_nan=False)


def _leaf(v):
    """The JSON form of a value that is not a container."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return clean(v)
    if isinstance(v, int):
        return _int(v)
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, bytes):
        return {"bytes": v[:256].hex(), "length": len(v)}
    if isinstance(v, Opaque):
        return f"<{v.type_name} {clean(v.repr)}{'...' if v.truncated else ''}>"
    if isinstance(v, Cut):
        return f"<{v.type_name} cut: {v.reason}>"
    return label(v, limit=2000)


def jsonable(value, max_depth: int = MAX_DEPTH):
    """`value` as plain JSON data (valid with allow_nan=False), built without recursion.

    Tuples become lists, non-string keys their JSON text, NaN and infinities the strings
    "NaN"/"Infinity", integers past 4,000 digits text, containers deeper than `max_depth`
    a note; every export and every `--format json` view writes payloads through this.
    A value that is plain JSON already (nearly every payload) is returned as it is: the
    exports spent most of their time rebuilding it.
    """
    return value if _plain(value, max_depth) else _rebuilt(value, max_depth)


_PLAIN_INT = 1 << 63


def _plain(value, max_depth: int) -> bool:
    """Whether `_rebuilt(value)` would equal `value`: dicts with clean str keys, lists,
    clean strs, ints in 64 bits, finite floats, bools and None, within `max_depth`."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict:
            if depth >= max_depth:
                return False
            for key in item:
                if type(key) is not str or not (key.isascii() or clean(key) is key):
                    return False
            items = item.values()
        elif kind is list:
            if depth >= max_depth:
                return False
            items = item
        else:
            items = (item,)
            depth -= 1
        for v in items:
            kind = type(v)
            if kind is str:
                if not v.isascii() and clean(v) is not v:
                    return False
            elif kind is int:
                if not -_PLAIN_INT <= v < _PLAIN_INT:
                    return False
            elif kind is float:
                if not math.isfinite(v):
                    return False
            elif kind is dict or kind is list:
                stack.append((v, depth + 1))
            elif v is not None and kind is not bool:
                return False
    return True


def _rebuilt(value, max_depth: int):
    root: list = [None]
    stack = [(value, root, 0, 0)]
    while stack:
        item, parent, slot, depth = stack.pop()
        if not isinstance(item, (dict, list, tuple)) or isinstance(item, (Opaque, Cut)):
            parent[slot] = _leaf(item)
        elif depth >= max_depth:
            parent[slot] = f"<{type(item).__name__} nested deeper than {max_depth} levels>"
        elif isinstance(item, dict):
            keys = [_key(k) for k in item]
            out = parent[slot] = dict.fromkeys(keys)
            stack.extend((v, out, k, depth + 1) for k, v in zip(keys, item.values()))
        else:
            out = parent[slot] = [None] * len(item)
            stack.extend((v, out, i, depth + 1) for i, v in enumerate(item))
    return root[0]
