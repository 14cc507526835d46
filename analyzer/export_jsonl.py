"""The earlier debugger's JSON-lines format, readable back through jsonl_import.

Each event is one line in file order; starts and ends share `event_id` and carry
`parent_id`, and `timestamp_ns` keeps full precision next to the ISO `timestamp`.
"""
from __future__ import annotations

import datetime as _dt

from .export_json import dumps
from .values import jsonable
from .model import END, ERROR_END, INSTANT, START


def _iso(ns: int) -> str:
    moment = _dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ns % 1_000_000_000) // 1000:06d}Z"


def write(source, f) -> int:
    info = source.info
    run = info.run_id or None
    open_: dict = {}
    count = 0
    for batch in source.batches():
        for i in range(len(batch)):
            k, ts, sp = batch.kind[i], batch.ts[i], batch.span[i]
            site = info.site(batch.site[i])
            payload = batch.payload(i)
            line = {"timestamp": _iso(ts), "timestamp_ns": ts, "execution_id": run,
                    "component": site.component, "component_name": site.name,
                    "metadata": {}}
            if site.file:
                line["source"] = {"file": site.file, "line": site.line, "column": site.column}
            if k == START:
                open_[sp] = ts
                line.update({"event_type": f"{site.event_type}_start", "status": "started",
                             "event_id": sp, "parent_id": batch.parent[i] or None,
                             "inputs": payload})
            elif k == INSTANT:
                line.update({"event_type": site.event_type, "status": "completed",
                             "parent_id": batch.parent[i] or None, "inputs": payload})
            else:
                start = open_.pop(sp, ts)
                out = dict(payload) if isinstance(payload, dict) else (
                    {} if payload is None else {"output": payload})
                usage = out.pop("usage", None)
                cost = out.pop("cost_estimate", None)
                error = out.pop("error", None)
                if k == ERROR_END and error is None and "type" in out:
                    error, out = out, {}
                line.update({"event_type": f"{site.event_type}_end",
                             "status": "failed" if k == ERROR_END else "completed",
                             "event_id": sp, "duration_ms": (ts - start) / 1e6,
                             "outputs": out or None, "tokens_used": usage,
                             "cost_estimate": cost,
                             "error": error if k == ERROR_END else None})
                if k == ERROR_END and line["error"] is None:
                    line["error"] = {"type": "Error", "message": ""}
            f.write(dumps(jsonable({k2: v for k2, v in line.items() if v is not None})) + "\n")
            count += 1
    return count
