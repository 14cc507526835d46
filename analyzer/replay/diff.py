"""`n3analyze diff A B`: two traces of one program aligned by logical key.

Reports the first divergence (as replay does), then added, removed and changed
boundaries, token and latency deltas per component, and errors that appeared or went.
"""
from __future__ import annotations

from collections import defaultdict

from .align import align, field_diff
from .book import read_book
from .report import SCHEMA, where


def _tokens(entry) -> int:
    if entry is None or entry.kind != "llm" or not isinstance(entry.answer, dict):
        return 0
    usage = entry.answer.get("usage")
    return int(usage.get("total_tokens") or 0) if isinstance(usage, dict) else 0


def _ms(entry) -> float:
    return 0.0 if entry is None else max(0, entry.end_ns - entry.start_ns) / 1e6


def _row(key, a, b, verdict) -> dict:
    entry = a or b
    row = {"key": key, "verdict": verdict, "kind": entry.kind, "where": where(entry.site)}
    if verdict == "changed":
        fields = field_diff(a.request, b.request)
        if not fields and a.outcome != b.outcome:
            fields = [{"field": "outcome", "recorded": a.outcome, "replayed": b.outcome}]
        if not fields:
            fields = [{"field": "answer", "recorded": a.answer, "replayed": b.answer}]
        row["fields"] = fields
    return row


def diff(path_a: str, path_b: str) -> dict:
    a, b = read_book(path_a, check=False), read_book(path_b, check=False)
    rows = align(a.entries, b.entries)
    components: dict = defaultdict(lambda: {"calls_a": 0, "calls_b": 0, "tokens_a": 0,
                                            "tokens_b": 0, "ms_a": 0.0, "ms_b": 0.0})
    for key, ea, eb, _ in rows:
        for side, entry in (("a", ea), ("b", eb)):
            if entry is not None:
                c = components[entry.component]
                c["calls_" + side] += 1
                c["tokens_" + side] += _tokens(entry)
                c["ms_" + side] += _ms(entry)
    per_component = []
    for name, c in sorted(components.items()):
        per_component.append({"component": name, **c,
                              "tokens_delta": c["tokens_b"] - c["tokens_a"],
                              "ms_delta": round(c["ms_b"] - c["ms_a"], 3),
                              "ms_a": round(c["ms_a"], 3), "ms_b": round(c["ms_b"], 3)})
    different = [_row(*r) for r in rows if r[3] != "match"]
    errs_a = {(p, t, m) for p, t, m in a.errors}
    errs_b = {(p, t, m) for p, t, m in b.errors}
    as_doc = lambda e: {"key": e[0], "type": e[1], "message": e[2]}  # noqa: E731
    return {
        "schema": SCHEMA, "a": {"trace": path_a, "run_id": a.run_id, "entry": a.entry},
        "b": {"trace": path_b, "run_id": b.run_id, "entry": b.entry},
        "same": not different and errs_a == errs_b and a.entry == b.entry,
        "boundaries": {"a": len(a.entries), "b": len(b.entries),
                       "matched": sum(r[3] == "match" for r in rows)},
        "first_divergence": different[0] if different else None,
        "added": [r for r in different if r["verdict"] == "added"],
        "removed": [r for r in different if r["verdict"] == "removed"],
        "changed": [r for r in different if r["verdict"] == "changed"],
        "components": per_component,
        "errors_appeared": [as_doc(e) for e in sorted(errs_b - errs_a)],
        "errors_gone": [as_doc(e) for e in sorted(errs_a - errs_b)],
    }


def render(doc) -> str:
    from .report import _short

    a, b = doc["a"], doc["b"]
    n = doc["boundaries"]
    lines = [f"A {a['trace']} (run {a['run_id'][:12]}, {a['entry']})",
             f"B {b['trace']} (run {b['run_id'][:12]}, {b['entry']})"]
    if doc["same"]:
        lines.append(f"same: {n['matched']} boundaries match, call for call")
        return "\n".join(lines)
    lines.append(f"different: {n['matched']} of {n['a']} (A) / {n['b']} (B) boundaries match")
    first = doc["first_divergence"]
    if first:
        lines += ["", f"first divergence: {first['verdict']} {first['key']}", f"  at {first['where']}"]
        for row in first.get("fields", []):
            lines.append(f"  {row['field'] or '(request)'}:")
            if row.get("diff"):
                lines += [f"    {line}" for line in row["diff"]]
            else:
                lines += [f"    A: {_short(row['recorded'])}", f"    B: {_short(row['replayed'])}"]
    for title in ("added", "removed", "changed"):
        if doc[title]:
            lines += ["", f"{title} ({len(doc[title])}):"]
            lines += [f"  {r['key']}  {r['where']}" for r in doc[title]]
    moved = [c for c in doc["components"] if c["tokens_delta"] or c["calls_a"] != c["calls_b"]
             or abs(c["ms_delta"]) >= 0.001]
    if moved:
        lines += ["", f"{'component':<32} {'calls A/B':>10} {'tokens A/B':>14} {'Δtokens':>8} {'Δms':>10}"]
        for c in moved:
            lines.append(f"{c['component']:<32} {c['calls_a']:>4}/{c['calls_b']:<5} "
                         f"{c['tokens_a']:>6}/{c['tokens_b']:<7} {c['tokens_delta']:>+8} {c['ms_delta']:>+10.3f}")
    for title, key in (("errors appeared", "errors_appeared"), ("errors gone", "errors_gone")):
        if doc[key]:
            lines += ["", f"{title}:"]
            lines += [f"  {e['type']}: {e['message']}  ({e['key']})" for e in doc[key]]
    return "\n".join(lines)
