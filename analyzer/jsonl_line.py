"""One line of the earlier debugger's JSON lines, checked and normalised in one place.

Everything the importer reads from a line comes out of `parse_line`: a dict of the known
fields, each of the type the importer expects, or None for a line that is no event (not
JSON, nested too deep, no event type, no usable timestamp). A field of the wrong type or
out of range (a list as an id, 1e400 tokens, a NaN duration, a line number "ten") is
dropped and counted in `unusable`, so no value of a line can crash what follows.
"""
from __future__ import annotations

import datetime as _dt
import json
import math

from .values import amount, clean, count

MAX_DEPTH = 64
TS_LIMIT = 1 << 62              # ns since the epoch: about the year 2116
MAX_DURATION_MS = TS_LIMIT / 1e6
_ID_LIMIT = 1 << 63
_TEXT = ("component", "component_name")
_PAYLOAD = ("metadata", "inputs", "outputs")


def _deep(value) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _ns(value: float) -> int | None:
    return int(round(value * 1e9)) if math.isfinite(value) and abs(value) < TS_LIMIT / 1e9 \
        else None


def parse_timestamp(obj: dict) -> int | None:
    """Nanoseconds since the epoch from `timestamp_ns`, epoch seconds or ISO 8601."""
    ns = obj.get("timestamp_ns")
    if type(ns) is int and abs(ns) < TS_LIMIT:
        return ns
    value = obj.get("timestamp")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value * 1_000_000_000 if abs(value) < TS_LIMIT // 1_000_000_000 else None
    if isinstance(value, float):
        return _ns(value)
    if isinstance(value, str) and len(value) < 64:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = _dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                return _ns(float(text))
            except ValueError:
                return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.timezone.utc)
        delta = moment - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    return None


def _first(a: dict, b: dict, keys):
    """The first of `keys` set in `a`, then in `b`."""
    for source in (a, b):
        for key in keys:
            if source.get(key) is not None:
                return source[key]
    return None


def _ident(value):
    """An id: a string or a plain integer, else None."""
    if isinstance(value, str):
        return clean(value)
    if type(value) is int and abs(value) < _ID_LIMIT:
        return value
    return None


class LineReader:
    """Parses lines; `unusable` counts the fields dropped because of their type or range."""

    def __init__(self):
        self.unusable = 0

    def parse_line(self, text) -> dict | None:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(obj, dict) or _deep(obj):
            return None
        etype = obj.get("event_type")
        ts = parse_timestamp(obj)
        if not isinstance(etype, str) or not etype or ts is None:
            return None
        line = {"event_type": clean(etype), "ts": ts}
        for key in ("execution_id", "event_id", "parent_id"):
            if obj.get(key) is not None:
                ident = _ident(obj[key])
                if ident is None:
                    self.unusable += 1
                else:
                    line[key] = ident
        for key in _TEXT:
            value = obj.get(key)
            if isinstance(value, str):
                line[key] = clean(value)
            elif value is not None:
                self.unusable += 1
        status = obj.get("status")
        line["status"] = clean(status) if isinstance(status, str) else ""
        task = obj.get("task_id")
        if task is not None:
            if type(task) is int and 0 <= task < 1 << 32:
                line["task_id"] = task
            else:
                self.unusable += 1
        for key in _PAYLOAD:
            if obj.get(key) is not None:
                line[key] = obj[key]
        if "error" in obj and obj["error"] is not None and obj["error"] != "":
            line["error"] = obj["error"]
        self._numbers(obj, line)
        self._source(obj, line)
        return line

    def _numbers(self, obj: dict, line: dict) -> None:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        outputs = obj.get("outputs") if isinstance(obj.get("outputs"), dict) else {}
        if obj.get("tokens_used") is None:  # the earlier debugger kept usage in metadata too
            found = _first(meta, outputs, ("tokens_used", "total_tokens"))
            parts = {k: v for k, v in meta.items()
                     if k in ("prompt_tokens", "completion_tokens", "total_tokens")}
            obj = {**obj, "tokens_used": parts if len(parts) > 1 else found}
        if obj.get("cost_estimate") is None:
            obj = {**obj, "cost_estimate": _first(obj, meta, ("cost",)) if obj.get("cost")
                   is not None else _first(meta, outputs, ("cost_estimate", "cost"))}
        model = _first(meta, outputs, ("model",))
        if isinstance(model, str) and model:
            line["model"] = clean(model)
        dur = obj.get("duration_ms")
        if dur is not None:
            got = amount(dur)
            if got is not None and got < MAX_DURATION_MS:
                line["duration_ms"] = got
            else:
                self.unusable += 1
        tokens = obj.get("tokens_used")
        if isinstance(tokens, dict):
            line["tokens_used"] = tokens
        elif tokens is not None:
            got = count(tokens)
            if got >= 0:
                line["tokens_used"] = got
            else:
                self.unusable += 1
        cost = obj.get("cost_estimate")
        if cost is not None:
            got = amount(cost)
            if got is not None:
                line["cost_estimate"] = got
            else:
                self.unusable += 1

    def _source(self, obj: dict, line: dict) -> None:
        src = obj.get("source")
        if not isinstance(src, dict):
            if src is not None:
                self.unusable += 1
            return
        file = src.get("file")
        where = {"file": clean(file) if isinstance(file, str) else ""}
        for key in ("line", "column"):
            got = count(src.get(key))
            if got < 0 or got >= 1 << 31:
                self.unusable += 1
                got = 0
            where[key] = got
        line["source"] = where
