"""Line two sets of boundary calls up by logical key, and say how two requests differ.

Shared by the replay's divergence report and `n3analyze diff`.
"""
from __future__ import annotations

import difflib
import json

from n3core.tracing.reqhash import FIELD

MAX_DIFF_LINES = 40


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=repr)


def text_diff(before: str, after: str) -> list:
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), "recorded",
                                      "replayed", lineterm="", n=1))
    return lines[:MAX_DIFF_LINES]


def field_diff(recorded, replayed) -> list:
    """[{field, recorded, replayed[, diff]}] for each differing field of two requests;
    messages are compared one by one, with a text diff of a changed message's content."""
    if not isinstance(recorded, dict) or not isinstance(replayed, dict):
        return [] if recorded == replayed else [{"field": "", "recorded": recorded, "replayed": replayed}]
    out = []
    for name in sorted(set(recorded) | set(replayed)):
        if name == FIELD:
            continue
        a, b = recorded.get(name), replayed.get(name)
        if a == b:
            continue
        if name == "messages" and isinstance(a, list) and isinstance(b, list):
            out += _messages(a, b)
        else:
            row = {"field": name, "recorded": a, "replayed": b}
            if isinstance(a, (str, dict, list)) and isinstance(b, type(a)) and (
                    "\n" in _text(a) or len(_text(a)) > 60):
                row["diff"] = text_diff(_text(a), _text(b))
            out.append(row)
    return out


def _messages(a: list, b: list) -> list:
    out = []
    for i in range(max(len(a), len(b))):
        ma = a[i] if i < len(a) else None
        mb = b[i] if i < len(b) else None
        if ma == mb:
            continue
        if isinstance(ma, dict) and isinstance(mb, dict):
            for key in sorted(set(ma) | set(mb)):
                if ma.get(key) != mb.get(key):
                    row = {"field": f"messages[{i}].{key}", "recorded": ma.get(key),
                           "replayed": mb.get(key)}
                    if key == "content":
                        row["diff"] = text_diff(_text(ma.get(key) or ""), _text(mb.get(key) or ""))
                    out.append(row)
        else:
            out.append({"field": f"messages[{i}]", "recorded": ma, "replayed": mb})
    return out


def align(a_entries: dict, b_entries: dict) -> list:
    """[(key, a, b, verdict)] in the order of the first run's calls, then the second's
    extras; verdict is match, changed, removed (only in a) or added (only in b)."""
    rows = []
    for key, a in sorted(a_entries.items(), key=lambda kv: kv[1].seq):
        b = b_entries.get(key)
        if b is None:
            rows.append((key, a, None, "removed"))
        else:
            rows.append((key, a, b, "match" if a.hash == b.hash and _same_answer(a, b) else "changed"))
    for key, b in sorted(b_entries.items(), key=lambda kv: kv[1].seq):
        if key not in a_entries:
            rows.append((key, None, b, "added"))
    return rows


def _same_answer(a, b) -> bool:
    """Answers compared without what differs between any two runs (ids, latency)."""
    if a.kind == "clock":  # time and ids differ between any two real runs
        return a.outcome == b.outcome
    return a.outcome == b.outcome and _stable(a.answer) == _stable(b.answer)


def _stable(answer):
    if isinstance(answer, dict):
        return {k: v for k, v in answer.items() if k not in ("raw",)}
    return answer
