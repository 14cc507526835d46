"""A program's result made printable as JSON, whatever it holds.

A run that succeeded must not end in a traceback because its result is cyclic, holds an
integer too long for `str`, a tuple key or an object whose `__repr__` raises. What cannot be
printed is replaced by a short marker, and the caller says once, in one paragraph, what was
replaced.
"""
from __future__ import annotations

import math

MAX_DEPTH = 200
_MAX_DIGITS = 4000  # below CPython's int-to-str limit (4,300 digits)


def _text(value) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ is one of the things handled here
        return f"<unprintable {type(value).__name__}>"


def _scalar(value, notes: set):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        if value.bit_length() > _MAX_DIGITS * 3.33:
            notes.add("integers too long to print")
            return f"<integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        notes.add("NaN or infinite numbers (written as text)")
        return repr(value)
    text = _text(value)
    if text.startswith("<unprintable"):
        notes.add("objects that cannot be turned into text")
    return text


def printable(value) -> tuple[object, list[str]]:
    """(a JSON-serialisable copy of value, what had to be replaced); never recursive."""
    notes: set = set()
    root: list = [None]
    stack = [(value, root, 0, 0, frozenset())]
    while stack:
        item, parent, key, depth, seen = stack.pop()
        if not isinstance(item, (dict, list, tuple, set, frozenset)):
            parent[key] = _scalar(item, notes)
            continue
        if id(item) in seen:
            notes.add("cycles")
            parent[key] = "<cycle>"
            continue
        if depth >= MAX_DEPTH:
            notes.add(f"values nested deeper than {MAX_DEPTH} levels")
            parent[key] = "<nested too deep>"
            continue
        inner = seen | {id(item)}
        if isinstance(item, dict):
            out: dict = {}
            for k, v in item.items():
                if not isinstance(k, str):
                    notes.add("keys that are not strings (written as text)")
                    k = _text(k)
                out[k] = None
                stack.append((v, out, k, depth + 1, inner))
        else:
            out = [None] * len(item)
            for i, v in enumerate(item):
                stack.append((v, out, i, depth + 1, inner))
        parent[key] = out
    return root[0], sorted(notes)
