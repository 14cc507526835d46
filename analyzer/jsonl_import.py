"""Import the earlier namel3ss debugger's JSON-lines traces into columnar batches.

Old traces name components in every line instead of a site table, so a site is made up
for each (event type, component, name). Spans pair by `event_id` when lines carry one
(start and end share it, `parent_id` names the enclosing span); otherwise an end closes
the most recent open start with the same event type and component name. Details and the
field mapping are in docs/analyzer.md.
"""
from __future__ import annotations

from typing import Iterator

from .jsonl_line import LineReader
from .model import END, ERROR_END, INSTANT, SPAN_TYPES, START, ListBatch, SiteInfo, stem
from .values import label

BATCH_EVENTS = 4096
FAILED = {"failed", "error", "errored", "failure", "exception"}
_COMPONENT_OF = {"llm_call": "llm", "tool_call": "tool", "agent_execution": "agent",
                 "agent_turn": "agent", "prompt_execution": "prompt", "validation": "prompt",
                 "chain_execution": "chain", "chain_step": "chain", "memory_operation": "memory",
                 "memory_summarization": "memory", "app_load": "app"}


_NAME_KEYS = {"agent": "agent_name", "tool": "tool_name", "chain": "chain_name",
              "prompt": "prompt_name", "llm": "llm_name"}


def _named(obj: dict, component: str, metadata: dict) -> str:
    """The component's name: `component_name`, else what the earlier debugger put in
    metadata (`agent_name`, `tool_name`, ..., or `component` on errors)."""
    if obj.get("component_name"):
        return obj["component_name"]
    keys = [_NAME_KEYS[component]] if component in _NAME_KEYS else []
    keys += [k for k in _NAME_KEYS.values() if k not in keys]
    if obj["event_type"] == "error_occurred":
        keys.insert(0, "component")
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return label(value)
    return ""


def _merge(payload: dict, value, key: str) -> None:
    if isinstance(value, dict):
        payload.update(value)
    elif value is not None:
        payload[key] = value


class JsonlImporter:
    """Turns lines into batches; keeps only open spans, so memory follows nesting depth."""

    def __init__(self, path: str, run: str | None = None):
        self.path = path
        self.sites: dict[tuple, SiteInfo] = {}
        self.run_id = run or ""
        self.executions: dict = {}  # every execution_id seen, in file order
        self.metadata: dict = {}
        self.events = 0
        self.bad_lines = 0
        self.lines = 0
        self.bytes_read = 0
        self.reader = LineReader()
        self._ids: dict = {}
        self._next_span = 1
        self._open: dict[int, tuple] = {}        # span -> (key, has_error_instant)
        self._stacks: dict[tuple, list] = {}     # (stem, name) -> [span...] for id-less pairing
        self._order: list[int] = []              # open spans in start order

    def _site(self, event_type: str, component: str, name: str, obj: dict) -> int:
        key = (event_type, component, name)
        site = self.sites.get(key)
        if site is None:
            src = obj.get("source") or {}
            site = SiteInfo(len(self.sites) + 1, event_type, component, name,
                            src.get("file", ""), src.get("line", 0), src.get("column", 0))
            self.sites[key] = site
        return site.id

    def _span_for(self, event_id) -> int:
        if event_id is None:
            span = self._next_span
            self._next_span += 1
            return span
        span = self._ids.get(event_id)
        if span is None:
            span = self._ids[event_id] = self._next_span
            self._next_span += 1
        return span

    def _innermost(self) -> int:
        order = self._order
        while order and order[-1] not in self._open:
            order.pop()
        return order[-1] if order else 0

    def _parent(self, obj) -> int:
        pid = obj.get("parent_id")
        if pid is not None:
            return self._ids.get(pid, 0)
        return self._innermost()

    def batches(self, lines) -> Iterator[ListBatch]:
        batch = ListBatch()
        for raw in lines:
            self.lines += 1
            self.bytes_read += len(raw)
            text = raw.strip()
            if not text:
                continue
            obj = self.reader.parse_line(text)
            if obj is None:
                self.bad_lines += 1
                continue
            if not self._ours(obj):
                continue
            self._one(obj, obj["event_type"], obj["ts"], batch)
            if len(batch) >= BATCH_EVENTS:
                self.events += len(batch)
                yield batch
                batch = ListBatch()
        if len(batch):
            self.events += len(batch)
            yield batch

    def _ours(self, obj: dict) -> bool:
        """One execution at a time: the one asked for, else the file's first; lines
        without an execution_id belong to every one."""
        eid = obj.get("execution_id")
        if eid is None:
            return True
        eid = str(eid)
        self.executions[eid] = None
        if not self.run_id:
            self.run_id = eid
        return eid == self.run_id

    def _one(self, obj: dict, etype: str, ts: int, batch: ListBatch) -> None:
        base = stem(etype)
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        component = obj.get("component") or _COMPONENT_OF.get(base, "python")
        name = _named(obj, component, metadata)
        task = obj.get("task_id", 0)
        if etype.endswith("_start"):
            site = self._site(base, component, name, obj)
            span = self._span_for(obj.get("event_id"))
            parent = self._parent(obj)
            payload = dict(metadata)
            _merge(payload, obj.get("inputs"), "input")
            batch.append(ts, site, START, span, parent, task, payload or None)
            self._open[span] = ((base, name), False)
            self._stacks.setdefault((base, name), []).append(span)
            self._order.append(span)
        elif etype.endswith("_end") or (base in SPAN_TYPES and obj.get("duration_ms") is not None):
            self._end(obj, base, component, name, ts, task, batch, metadata)
        else:
            site = self._site(etype, component, name, obj)
            payload = dict(metadata)
            _merge(payload, obj.get("inputs"), "input")
            _merge(payload, obj.get("outputs"), "output")
            if etype == "error_occurred" and isinstance(obj.get("error"), (dict, str)):
                _merge(payload, _error_dict(obj["error"]), "error")
            parent = self._parent(obj)
            if etype == "error_occurred" and parent in self._open:
                self._open[parent] = (self._open[parent][0], True)
            batch.append(ts, site, INSTANT, 0, parent, task, payload or None)

    def _end(self, obj, base, component, name, ts, task, batch, metadata) -> None:
        site = self._site(base, component, name, obj)
        event_id = obj.get("event_id")
        span = self._ids.get(event_id) if event_id is not None else None
        stack = self._stacks.get((base, name))
        if span is None and event_id is None and stack:
            while stack and stack[-1] not in self._open:
                stack.pop()
            span = stack.pop() if stack else None
        if span is None or span not in self._open:
            # An end without its start: rebuild the start from duration_ms.
            span = self._span_for(event_id)
            dur = obj.get("duration_ms")
            start_ts = ts - int(dur * 1_000_000) if dur is not None else ts
            batch.append(start_ts, site, START, span, self._parent(obj), task, None)
            self._open[span] = ((base, name), False)
        self._open.pop(span)
        status = obj["status"].lower()
        error = obj.get("error")
        failed = status in FAILED or bool(error)
        payload = {}
        _merge(payload, obj.get("outputs"), "output")
        usage = obj.get("tokens_used")
        if isinstance(usage, dict):
            payload["usage"] = usage
        elif usage is not None:
            payload["usage"] = {"total_tokens": usage}
        if obj.get("cost_estimate") is not None:
            payload["cost_estimate"] = obj["cost_estimate"]
        if isinstance(obj.get("model"), str):
            payload["model"] = obj["model"]
        if error is not None:
            payload["error"] = _error_dict(error)
        batch.append(ts, site, ERROR_END if failed else END, span, 0, task, payload or None)
        if event_id is not None:
            self._ids.pop(event_id, None)


def _error_dict(error) -> dict:
    if isinstance(error, dict):
        out = dict(error)
        out.setdefault("type", out.get("error_type") or "Error")
        out.setdefault("message", out.get("error_message") or "")
        return out
    return {"type": "Error", "message": label(error)}
