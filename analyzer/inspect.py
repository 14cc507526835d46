"""Inspect views as JSON-ready documents: overview, one event, filtered spans, the tree."""
from __future__ import annotations

from collections import Counter

from .errors import EventNotFoundError, UnknownComponentError
from .model import END, ERROR_END, Instant, Span, kind_name
from .source_view import source_lines
from .spans import records
from .stats import ms
from .values import clean, jsonable

FILTER_TYPES = {"agent": ("agent_execution", "agent_turn"), "chain": ("chain_execution",
                "chain_step"), "prompt": ("prompt_execution",), "tool": ("tool_call",)}


def _site(site) -> dict:
    return site.to_json()


def overview(source) -> dict:
    counts: Counter = Counter()
    kinds: Counter = Counter()
    first = last = None
    n = 0
    for batch in source.batches():
        if not len(batch):
            continue
        counts.update(batch.site)
        kinds.update(batch.kind)
        first = batch.ts[0] if first is None else first
        last = batch.ts[-1]
        n += len(batch)
    info = source.info
    components: dict = {}
    for sid, c in counts.items():
        s = info.site(sid)
        row = components.setdefault((s.component, s.name), {"component": s.component,
                                                             "name": s.name, "events": 0,
                                                             "event_types": set()})
        row["events"] += c
        row["event_types"].add(s.event_type)
    comps = sorted(components.values(), key=lambda r: (r["component"], r["name"]))
    for r in comps:
        r["event_types"] = sorted(r["event_types"])
    return {"view": "overview", "path": info.path, "format": info.format,
            "format_version": info.format_version, "run_id": info.run_id or None,
            "metadata": info.metadata, "events": n,
            "duration_ms": ms(last - first) if first is not None else None,
            "by_kind": {kind_name(k): c for k, c in sorted(kinds.items())},
            "components": comps, "sites": len(info.sites),
            "health": source.health.to_json()}


def one_event(source, index: int) -> dict:
    if index < 0:
        raise EventNotFoundError(f"--event {index}: event numbers start at 0.")
    seen = 0
    batches = iter(source.batches())
    for batch in batches:
        n = len(batch)
        if index < seen + n:
            i = index - seen
            site = source.info.site(batch.site[i])
            doc = {"view": "event", "path": source.info.path, "index": index,
                   "ts_ns": batch.ts[i], "kind": kind_name(batch.kind[i]),
                   "span": batch.span[i], "parent": batch.parent[i], "task": batch.task[i],
                   "site": _site(site), "payload": jsonable(batch.payload(i))}
            shown = source_lines(site, source.info.path,
                                 source.info.metadata.get("source_sha256"))
            doc["source"] = ([{"line": ln, "text": clean(text), "current": cur}
                              for ln, text, cur in shown.lines] if shown.lines else None)
            doc["source_not_shown"] = shown.reason or None
            for _ in batches:  # the rest, so that drops and discards are known
                pass
            doc["health"] = source.health.to_json()
            return doc
        seen += n
    raise EventNotFoundError(
        f"--event {index}: {source.info.path} has only {seen} events (0 to {seen - 1}). "
        "Pick a number from `n3analyze inspect TRACE` or the `event` fields of an analysis.")


def _check_names(info, filters: dict) -> None:
    for kind, name in filters.items():
        types = FILTER_TYPES[kind]
        # "*" is the site table's row for names only known at run time, not a component
        known = sorted({s.name for s in info.sites.values()
                        if s.event_type in types and s.name and s.name != "*"})
        if name not in known:
            listing = (f"The {kind}s in this trace are: {', '.join(known)}. Names are "
                       "case-sensitive and are the names declared in the .ai file." if known
                       else f"This trace has no {kind} at all; `n3analyze inspect TRACE` "
                       "shows what it holds.")
            raise UnknownComponentError(
                f"--{kind} {name}: no {kind} of that name in {info.path}. {listing}")


def _span_row(sp: Span, first: int) -> dict:
    return {"span": sp.span, "parent": sp.parent, "task": sp.task,
            "event_type": sp.site.event_type, "component": sp.site.component,
            "name": sp.site.name, "location": sp.site.location or None,
            "start_offset_ms": ms(sp.start_ns - first), "duration_ms": ms(sp.duration_ns),
            "status": sp.status, "start_event": sp.start_index, "end_event": sp.end_index}


def spans_view(source, filters: dict, errors_only: bool, tree: bool, limit: int) -> dict:
    info = source.info
    _check_names(info, filters)
    want = {(t, name) for kind, name in filters.items() for t in FILTER_TYPES[kind]}
    selected: set = set()
    first = None
    rows = []
    more = 0
    for rec in records(source, payloads=errors_only):
        ts = rec.ts if isinstance(rec, Instant) else rec.start_ns
        first = ts if first is None else min(first, ts)
        if isinstance(rec, Instant):
            if errors_only and rec.site.event_type == "error_occurred" and (
                    not want or rec.parent in selected):
                if len(rows) < limit:
                    p = rec.payload if isinstance(rec.payload, dict) else {}
                    rows.append({"event": rec.index, "event_type": "error_occurred",
                                 "component": rec.site.component, "name": rec.site.name,
                                 "parent": rec.parent, "type": p.get("type"),
                                 "message": p.get("message"),
                                 "location": rec.site.location or None, "instant": True})
                else:
                    more += 1
            continue
        rows.append(rec)
    # Spans close children-first, so membership is decided in a second step over rows.
    spans = [r for r in rows if isinstance(r, Span)]
    by_id = {s.span: s for s in spans}
    keep = []
    for s in sorted(spans, key=lambda s: (s.start_ns, s.span)):
        match = not want or (s.site.event_type, s.site.name) in want
        if not match and want:
            p = by_id.get(s.parent)
            hops = 0
            while p is not None and hops < 64:
                if (p.site.event_type, p.site.name) in want:
                    match = True
                    break
                p = by_id.get(p.parent)
                hops += 1
        if match and (not errors_only or s.status == "error"):
            keep.append(s)
    first = first or 0
    out_spans = [_span_row(s, first) for s in keep[:limit]]
    more += max(0, len(keep) - limit)
    if errors_only:
        for s, row in zip(keep[:limit], out_spans):
            p = s.end_payload if isinstance(s.end_payload, dict) else {}
            err = p.get("error") if isinstance(p.get("error"), dict) else p
            row["error"] = {"type": err.get("type"), "message": err.get("message")}
    instants = [r for r in rows if isinstance(r, dict)]
    doc = {"view": "tree" if tree else "spans", "path": info.path, "filters": filters,
           "errors_only": errors_only, "spans": out_spans, "errors": instants,
           "omitted": more, "health": source.health.to_json()}
    return doc
