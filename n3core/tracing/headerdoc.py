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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _usual(row) -> bool:
    """Whether `row` has the shape every writer gives it, on exact types: the check of a
    site table of hundreds of rows is then a few lookups a row, and `_site` names the
    field of any other."""
    if type(row) is not dict:
        return False
    get = row.get
    sid, line, column, captures = get("id"), get("line", 0), get("column", 0), get("captures", [])
    if not (type(sid) is int and 0 <= sid <= MAX_SITE_ID and type(get("event_type")) is str
            and type(get("component", "")) is str and type(get("name", "")) is str
            and type(get("file", "")) is str and type(line) is int and 0 <= line < 1 << 31
            and type(column) is int and 0 <= column < 1 << 31 and type(captures) is list):
        return False
    for capture in captures:
        if type(capture) is not str:
            return False
    return True


def _site(row, i: int) -> dict:
    if _usual(row):
        return row
    where = f"sites[{i}]"
    if not isinstance(row, dict):
        raise _Refused(where, f"is {type(row).__name__}, not an object")
    sid = row.get("id")
    if not _is_int(sid) or not 0 <= sid <= MAX_SITE_ID:
        raise _Refused(f"{where}.id", f"is {sid!r}, not an integer from 0 to {MAX_SITE_ID}")
    if not isinstance(row.get("event_type"), str):
        raise _Refused(f"{where}.event_type", "is missing or not a string")
    for key in _SITE_TEXT[1:]:
        if row.get(key) is not None and not isinstance(row[key], str):
            raise _Refused(f"{where}.{key}", f"is {type(row[key]).__name__}, not a string")
    for key in _SITE_INT:
        value = row.get(key)
        if value is not None and (not _is_int(value) or not 0 <= value < 1 << 31):
            raise _Refused(f"{where}.{key}", f"is {value!r}, not a line or column number")
    captures = row.get("captures")
    if captures is not None and (not isinstance(captures, list)
                                 or not all(isinstance(c, str) for c in captures)):
        raise _Refused(f"{where}.captures", "is not a list of strings")
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
