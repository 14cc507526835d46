"""The header's JSON description checked against its schema, once, before anything uses it.

A header whose CRC matches can still hold the wrong shape (a writer bug, a crafted file).
Everything downstream trusts what `parse` returns, so every type is checked here and a
mismatch is refused with the name of the field, never a traceback further on.
"""
from __future__ import annotations

import json
import math

from .errors import TraceFormatError

MAX_DEPTH = 64
MAX_SITE_ID = 0xFFFFFF
_SITE_TEXT = ("event_type", "component", "name", "file")
_SITE_INT = ("line", "column")


class _Refused(Exception):
    """Internal: `field` has the wrong shape; `what` says how."""

    def __init__(self, field: str, what: str):
        super().__init__(field, what)
        self.field, self.what = field, what


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a double")
    return value


def _depth_ok(value, field: str) -> None:
    """Nesting of `value` at most MAX_DEPTH, checked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Refused(field, f"nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _not_int(value) -> bool:
    return not isinstance(value, int) or value.__class__ is bool


def _site(row, i: int) -> dict:
    """The row, each field read once; a site table holds hundreds of rows, so no text is
    made unless a field is wrong."""
    if not isinstance(row, dict):
        raise _Refused(f"sites[{i}]", f"is {type(row).__name__}, not an object")
    get = row.get
    sid = get("id")
    if _not_int(sid) or not 0 <= sid <= MAX_SITE_ID:
        raise _Refused(f"sites[{i}].id", f"is {sid!r}, not an integer from 0 to {MAX_SITE_ID}")
    if not isinstance(get("event_type"), str):
        raise _Refused(f"sites[{i}].event_type", "is missing or not a string")
    for key in _SITE_TEXT[1:]:
        value = get(key)
        if value is not None and not isinstance(value, str):
            raise _Refused(f"sites[{i}].{key}", f"is {type(value).__name__}, not a string")
    for key in _SITE_INT:
        value = get(key)
        if value is not None and (_not_int(value) or not 0 <= value < 1 << 31):
            raise _Refused(f"sites[{i}].{key}", f"is {value!r}, not a line or column number")
    captures = get("captures")
    if captures is not None:
        if not isinstance(captures, list):
            raise _Refused(f"sites[{i}].captures", "is not a list of strings")
        for capture in captures:
            if not isinstance(capture, str):
                raise _Refused(f"sites[{i}].captures", "is not a list of strings")
    return row


def _check(doc) -> dict:
    if not isinstance(doc, dict):
        raise _Refused("description", f"is a JSON {type(doc).__name__}, not an object")
    if not isinstance(doc.get("run_id", ""), str):
        raise _Refused("run_id", f"is {type(doc['run_id']).__name__}, not a string")
    for key in ("metadata", "config"):
        value = doc.get(key)
        if value is not None and not isinstance(value, dict):
            raise _Refused(key, f"is {type(value).__name__}, not an object")
        _depth_ok(value, key)
    sites = doc.get("sites", [])
    if not isinstance(sites, list):
        raise _Refused("sites", f"is {type(sites).__name__}, not an array")
    for i, row in enumerate(sites):
        _site(row, i)
    return doc


def parse(body: bytes, name: str) -> dict:
    """The description object in `body`, with every field of the schema checked."""
    try:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refused("description", f"is not UTF-8 (byte {exc.start})") from None
        try:
            doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        except RecursionError:
            raise _Refused("description", "nests too deeply to parse") from None
        except ValueError as exc:
            raise _Refused("description", f"is not JSON ({exc})") from None
        return _check(doc)
    except _Refused as bad:
        raise TraceFormatError(
            f"{name} has a malformed header: its field `{bad.field}` {bad.what}. The header's "
            "checksum matches, so the writer itself produced it (or the file was crafted); "
            "without a well-formed site table no event can be interpreted, so nothing was "
            "read. docs/trace-format.md (\"Header\") gives the expected shape.") from None
