"""Chrome Trace Event JSON, which Perfetto and chrome://tracing open.

Spans become complete ("X") events and instants "i" events, one track (tid) per task,
named after the task's first span. Timestamps are microseconds from the trace's earliest
timestamp, found by a first pass over the timestamps only, because trace_processor refuses
negative ones and a parent can start before the first record written. A span whose parent
runs on another task's track gets a flow arrow from the parent, so the tree stays visible
across tracks. Spans still open when the trace ends are ended at its last timestamp.
Written as a stream, one event per line, so huge traces never sit in memory.
"""
from __future__ import annotations

from .export_json import dumps
from .values import jsonable
from .model import END, INSTANT, START

PID = 1


def earliest(path: str):
    """The smallest timestamp in the trace at `path`, from a pass that decodes no payload."""
    from .sources import open_source

    first = None
    with open_source(path) as again:
        for batch in again.batches():
            if len(batch):
                low = min(batch.ts)
                if first is None or low < first:
                    first = low
    return first


def _args(payload) -> dict:
    if payload is None:
        return {}
    p = jsonable(payload)
    return p if isinstance(p, dict) else {"value": p}


class _Writer:
    def __init__(self, f, first: int):
        self.f, self.first = f, first
        self.sep = ""
        self.count = 0

    def us(self, ns: int) -> float:
        return max(ns - self.first, 0) / 1000.0

    def emit(self, ev: dict) -> None:
        self.f.write(self.sep + dumps(ev))
        self.sep = ",\n"


def write(source, f, first=None) -> tuple[int, int]:
    """Write the trace; returns (events written, spans still open at the end)."""
    info = source.info
    if first is None:
        first = earliest(info.path) or 0
    out = _Writer(f, first)
    open_: dict = {}
    tracks: dict = {}   # task -> (first start ts, name of its first span)
    last_ts = first
    f.write('{"displayTimeUnit":"ms","traceEvents":[\n')
    for batch in source.batches():
        for i in range(len(batch)):
            k, ts, sp, task = batch.kind[i], batch.ts[i], batch.span[i], batch.task[i]
            last_ts = max(last_ts, ts)
            site = info.site(batch.site[i])
            if k == START:
                parent = batch.parent[i]
                open_[sp] = (ts, parent, site, task, batch.payload(i))
                if task not in tracks or tracks[task][1] is None:
                    tracks[task] = (ts, f"{site.event_type} {site.name}".strip())
                up = open_.get(parent)
                if up is not None and up[3] != task:
                    _flow(out, sp, ts, up[3], task)
            elif k == INSTANT:
                tracks.setdefault(task, (ts, None))
                out.emit({"name": f"{site.event_type} {site.name}".strip(),
                          "cat": site.component or "event", "ph": "i", "s": "t",
                          "ts": out.us(ts), "pid": PID, "tid": task,
                          "args": {"parent": batch.parent[i], **_args(batch.payload(i))}})
                out.count += 1
            else:
                rec = open_.pop(sp, None)
                if rec is not None:
                    status = "ok" if k == END else "error"
                    _span(out, sp, rec, ts, status, batch.payload(i))
    for sp in sorted(open_, key=lambda n: open_[n][0]):
        _span(out, sp, open_[sp], max(last_ts, open_[sp][0]), "open", None)
    run = f"namel3ss run {info.run_id}".strip()
    out.emit({"name": "process_name", "ph": "M", "pid": PID, "tid": 0, "args": {"name": run}})
    order = sorted(tracks, key=lambda t: tracks[t][0])
    for index, task in enumerate(order):
        name = tracks[task][1] or f"task {task}"
        out.emit({"name": "thread_name", "ph": "M", "pid": PID, "tid": task,
                  "args": {"name": name}})
        out.emit({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": task,
                  "args": {"sort_index": index}})
    f.write("\n]}\n")
    return out.count, len(open_)


def _flow(out: _Writer, sp: int, ts: int, from_task, to_task) -> None:
    """An arrow from the parent's slice (on its track) to the child starting at `ts`."""
    base = {"name": "parent", "cat": "span", "id": sp, "ts": out.us(ts), "pid": PID, "bp": "e"}
    out.emit({**base, "ph": "s", "tid": from_task})
    out.emit({**base, "ph": "f", "tid": to_task})


def _span(out: _Writer, sp, rec, end_ts, status, end_payload) -> None:
    start_ts, parent, site, task, start_payload = rec
    args = {"span": sp, "parent": parent, "status": status, "start": _args(start_payload),
            "end": _args(end_payload)}
    if status == "open":
        args["still_open"] = True
    if site.location:
        args["source"] = site.location
    out.emit({"name": f"{site.event_type} {site.name}".strip(), "cat": site.component or "span",
              "ph": "X", "ts": out.us(start_ts), "dur": (end_ts - start_ts) / 1000.0,
              "pid": PID, "tid": task, "args": args})
    out.count += 1
