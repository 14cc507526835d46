"""Chrome Trace Event JSON, which Perfetto and chrome://tracing open.

Spans become complete ("X") events, instants "i" events; each task gets its own track
(tid) with a thread_name metadata record. Timestamps are microseconds from the first
event. Written as a stream, one event per line, so huge traces never sit in memory.
"""
from __future__ import annotations

import json

from .model import Instant
from .spans import records


def _args(payload) -> dict:
    if payload is None:
        return {}
    return payload if isinstance(payload, dict) else {"value": payload}


def write(source, f) -> int:
    pid = 1
    first = None
    tasks = set()
    count = 0
    f.write('{"displayTimeUnit":"ms","traceEvents":[\n')
    sep = ""
    for rec in records(source):
        ts = rec.ts if isinstance(rec, Instant) else rec.start_ns
        if first is None:
            first = ts
        site = rec.site
        name = f"{site.event_type} {site.name}".strip()
        if isinstance(rec, Instant):
            ev = {"name": name, "cat": site.component or "event", "ph": "i", "s": "t",
                  "ts": (rec.ts - first) / 1000.0, "pid": pid, "tid": rec.task,
                  "args": {"event": rec.index, **_args(rec.payload)}}
        else:
            args = {"span": rec.span, "parent": rec.parent, "status": rec.status,
                    "start": _args(rec.start_payload), "end": _args(rec.end_payload)}
            if site.location:
                args["source"] = site.location
            ev = {"name": name, "cat": site.component or "span", "ph": "X",
                  "ts": (rec.start_ns - first) / 1000.0,
                  "dur": ((rec.end_ns or rec.start_ns) - rec.start_ns) / 1000.0,
                  "pid": pid, "tid": rec.task, "args": args}
        tasks.add(rec.task)
        f.write(sep + json.dumps(ev, default=str))
        sep = ",\n"
        count += 1
    f.write(sep + json.dumps({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                              "args": {"name": f"namel3ss run {source.info.run_id}".strip()}}))
    for task in sorted(tasks):
        f.write(",\n" + json.dumps({"name": "thread_name", "ph": "M", "pid": pid, "tid": task,
                                    "args": {"name": f"task {task}"}}))
    f.write("\n]}\n")
    return count
