"""The document a report page draws, built from a trace in three streaming passes.

Pass one is the analysis (the tables). Pass two pairs every span without decoding
payloads, so a million-event trace costs tuples, not dicts. Pass three decodes only the
payloads of the spans whose detail the page shows. Above FULL_LIMIT spans the page keeps
the ones a reader looks for (failing, still open, on the critical path, the slowest, and
their ancestors so the tree stays a tree) and says how many others it folded into
per-operation rows.
"""
from __future__ import annotations

import heapq

from ..analysis import analyze
from ..costs import PriceTable, usage_of
from ..model import Instant, Span
from ..source_view import source_lines
from ..sources import open_source
from ..spans import records
from ..values import jsonable

SCHEMA = 1
FULL_LIMIT = 20_000
KEEP_SLOWEST = 5_000
DETAIL_LIMIT = 2_000
TEXT_LIMIT = 4_000
SOURCE_CONTEXT = 4
STATUS = {"ok": 0, "error": 1, "open": 2}


def build(path: str, prices: str | None = None) -> dict:
    with open_source(path) as source:
        analysis = analyze(source, prices=PriceTable(prices) if prices else None)
        info = source.info
    with open_source(path) as source:
        spans, errors_under, first = _pair(source)
    critical = {seg["span"] for seg in analysis["performance"]["critical_path"]["segments"]}
    kept, omitted = _select(spans, critical)
    detailed = _detailed(kept, critical)
    with open_source(path) as source:
        payloads = _payloads(source, {i for s in kept if s[0] in detailed for i in s[7:9]
                                      if i is not None})
    return _document(path, info, analysis, kept, omitted, detailed, payloads, errors_under,
                     critical, first, PriceTable(prices))


def _pair(source):
    """(spans as tuples, {span id: error instants under it}, first timestamp)."""
    spans, errors_under, first = [], {}, None
    for rec in records(source, payloads=False):
        if isinstance(rec, Instant):
            first = rec.ts if first is None else min(first, rec.ts)
            if rec.site.event_type == "error_occurred":
                errors_under[rec.parent] = errors_under.get(rec.parent, 0) + 1
            continue
        sp: Span = rec
        first = sp.start_ns if first is None else min(first, sp.start_ns)
        spans.append((sp.span, sp.parent, sp.task, sp.site, sp.start_ns, sp.end_ns, sp.status,
                      sp.start_index, sp.end_index))
    spans.sort(key=lambda s: (s[4], s[0]))
    return spans, errors_under, first or 0


def _select(spans: list, critical: set):
    """(kept spans, per-operation rows of the folded ones): every span up to FULL_LIMIT;
    above it the critical path, then up to KEEP_SLOWEST failing or open spans and the
    KEEP_SLOWEST slowest, each with its ancestors."""
    if len(spans) <= FULL_LIMIT:
        return spans, []
    by_id = {s[0]: s for s in spans}
    duration = lambda s: (s[5] or s[4]) - s[4]  # noqa: E731
    want = {s[0] for s in spans if s[0] in critical}
    want.update(s[0] for s in heapq.nlargest(KEEP_SLOWEST, (s for s in spans if s[6] != "ok"),
                                             key=duration))
    want.update(s[0] for s in heapq.nlargest(KEEP_SLOWEST, spans, key=duration))
    for sid in list(want):
        parent = by_id[sid][1]
        while parent in by_id and parent not in want:
            want.add(parent)
            parent = by_id[parent][1]
    kept = [s for s in spans if s[0] in want]
    folded: dict = {}
    for s in spans:
        if s[0] not in want:
            row = folded.setdefault(s[3].key, [s[3], 0, 0])
            row[1] += 1
            row[2] += duration(s)
    omitted = [{"event_type": site.event_type, "name": site.name, "count": n,
                "total_ms": round(total / 1e6, 3)}
               for site, n, total in sorted(folded.values(), key=lambda r: (-r[2], r[0].key))]
    return kept, omitted


def _detailed(kept: list, critical: set) -> set:
    if len(kept) <= DETAIL_LIMIT:
        return {s[0] for s in kept}
    chosen = {s[0] for s in kept if s[6] != "ok" or s[0] in critical}
    for s in sorted(kept, key=lambda s: -((s[5] or s[4]) - s[4])):
        if len(chosen) >= DETAIL_LIMIT:
            break
        chosen.add(s[0])
    return chosen


def _payloads(source, wanted: set) -> dict:
    """{event index: payload} for the events in `wanted`, decoding no other payload."""
    found, index = {}, 0
    for batch in source.batches():
        n = len(batch)
        for i in range(n):
            if index + i in wanted:
                found[index + i] = batch.payload(i)
        index += n
    return found


def clip(value, depth: int = 0):
    """A payload small enough to embed: long strings cut with a note of what was cut."""
    if isinstance(value, str):
        if len(value) > TEXT_LIMIT:
            return value[:TEXT_LIMIT] + f"… [{len(value) - TEXT_LIMIT:,} more characters]"
        return value
    if depth > 12:
        return "…"
    if isinstance(value, dict):
        return {str(k): clip(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clip(v, depth + 1) for v in value[:200]] + (
            [f"… [{len(value) - 200} more items]"] if len(value) > 200 else [])
    return value


def _document(path, info, analysis, kept, omitted, detailed, payloads, errors_under,
              critical, first, prices) -> dict:
    lanes, lane_of = [], {}
    for s in kept:
        if s[2] not in lane_of:
            lane_of[s[2]] = len(lanes)
            lanes.append({"task": s[2], "name": s[3].name or s[3].event_type})
    sha = info.metadata.get("source_sha256")
    sources: dict = {}
    rows, details = [], {}
    for s in kept:
        sid, parent, task, site, start, end, status, si, ei = s
        start_payload = payloads.get(si) if sid in detailed else None
        end_payload = payloads.get(ei) if sid in detailed and ei is not None else None
        tokens, cost = _usage(site, start_payload, end_payload, prices)
        rows.append({"id": sid, "parent": parent, "lane": lane_of[task],
                     "start_us": round((start - first) / 1e3, 3),
                     "dur_us": round(((end if end is not None else start) - start) / 1e3, 3),
                     "type": site.event_type, "component": site.component, "name": site.name,
                     "status": status, "tokens": tokens, "cost_usd": cost,
                     "location": site.location or None, "site": site.id,
                     "critical": sid in critical, "errors": errors_under.get(sid, 0)})
        if sid in detailed:
            details[str(sid)] = {"start": clip(start_payload),
                                 "end": clip(end_payload),
                                 "events": [si, ei]}
            if site.id not in sources and site.file:
                lines = source_lines(site, path, sha, SOURCE_CONTEXT)
                sources[str(site.id)] = {"file": site.file, "line": site.line,
                                         "lines": [list(x) for x in lines.lines or []],
                                         "reason": lines.reason}
    perf = analysis["performance"]
    app = next((s[3].name for s in kept if s[3].event_type == "app_load"), None)
    ids = {s[0] for s in kept}
    entry = next((f"{s[3].event_type} {s[3].name}" for s in kept
                  if s[1] not in ids and s[3].event_type != "app_load"), None)
    return jsonable({
        "schema": SCHEMA,
        "run": {"trace": path, "run_id": info.run_id or None, "metadata": info.metadata,
                "first_ns": first, "app": app, "entry": entry, **analysis["summary"]},
        "health": {**analysis["trace"], "path": None},
        "lanes": lanes, "spans": rows, "details": details, "sources": sources,
        "omitted": {"spans": sum(r["count"] for r in omitted), "by_operation": omitted[:50],
                    "detail_left_out": len(kept) - len(detailed), "full_limit": FULL_LIMIT},
        "tables": {"latency": perf["by_operation"], "slowest": perf["slow_operations"],
                   "critical_path": perf["critical_path"], "tokens": analysis["tokens"],
                   "errors": analysis["errors"]},
        "memory": analysis["memory"],
    })


def _usage(site, start, end, prices):
    if site.event_type != "llm_call" or not isinstance(end, dict):
        return None, None
    p, c, total, _ = usage_of(end)
    request = start if isinstance(start, dict) else {}
    cost = prices.cost(request.get("model"), request.get("provider"), p, c) if total else None
    return total, None if cost is None else round(cost, 8)
