"""Turn decoded payloads into values every JSON parser accepts, for the JSON exports.

A payload may hold what `json.dumps` writes as invalid JSON (NaN, Infinity) or refuses
(integers past the interpreter's 4,300-digit limit, tuple or bytes keys, nesting deeper
than its recursion limit). `plain()` rewrites those into strings, iteratively, so one odd
value in a payload never breaks an export, and `dumps()` then refuses NaN as a backstop.
"""
from __future__ import annotations

import json
import math

from n3core.tracing.payload import Cut, Opaque

MAX_DEPTH = 64
_DIGITS_LIMIT = 4000  # below sys.get_int_max_str_digits()'s default of 4300
_LOG10_2 = math.log10(2)


def _float(v: float):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _int(v: int):
    if v.bit_length() * _LOG10_2 < _DIGITS_LIMIT:
        return v
    digits = int(v.bit_length() * _LOG10_2) + 1
    return f"<integer of about {digits} digits>"


def _key(k) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool) or k is None:
        return json.dumps(k)
    if isinstance(k, int):
        return str(_int(k))
    if isinstance(k, float):
        v = _float(k)
        return v if isinstance(v, str) else repr(v)
    if isinstance(k, bytes):
        return k.hex()
    return dumps(plain(k))


def _leaf(v):
    """The JSON form of a value that is not a container, or None for a container."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return _int(v)
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, bytes):
        return {"bytes": v[:256].hex(), "length": len(v)}
    if isinstance(v, Opaque):
        return f"<{v.type_name} {v.repr}{'...' if v.truncated else ''}>"
    if isinstance(v, Cut):
        return f"<{v.type_name} cut: {v.reason}>"
    if isinstance(v, (list, tuple, dict)):
        return None
    return str(v)


def plain(value, max_depth: int = MAX_DEPTH):
    """A copy of `value` made only of dicts with str keys, lists, str, finite numbers,
    bools and None; containers deeper than `max_depth` become a short string."""
    if not isinstance(value, (list, tuple, dict)) or isinstance(value, (Opaque, Cut)):
        return _leaf(value)
    root: list = [None]
    stack = [(root, 0, value, 0)]
    while stack:
        holder, slot, v, depth = stack.pop()
        if not isinstance(v, (list, tuple, dict)) or isinstance(v, (Opaque, Cut)):
            holder[slot] = _leaf(v)
        elif depth >= max_depth:
            holder[slot] = f"<{type(v).__name__} nested deeper than {max_depth} levels>"
        elif isinstance(v, dict):
            out = {}
            holder[slot] = out
            for k, item in v.items():
                key = _key(k)
                out[key] = None
                stack.append((out, key, item, depth + 1))
        else:
            out = [None] * len(v)
            holder[slot] = out
            for i, item in enumerate(v):
                stack.append((out, i, item, depth + 1))
    return root[0]


def _refuse(name):
    raise ValueError(f"{name} is not valid JSON")


def dumps(value, **kw) -> str:
    """json.dumps of a value already made plain; raises instead of writing NaN."""
    return json.dumps(value, allow_nan=False, **kw)


def loads_strict(text: str):
    """json.loads that refuses NaN and Infinity, as strict receivers do."""
    return json.loads(text, parse_constant=_refuse)
