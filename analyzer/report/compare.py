"""A report of two traces: both timelines, and the first divergence marked on each.

The alignment is the one `n3analyze diff` uses (analyzer.replay), so the page and the
command never disagree about what changed.
"""
from __future__ import annotations

from ..replay.book import read_book
from ..replay.diff import diff
from .data import build


def _span_at(document: dict, entry, first_ns: int):
    """The id of the drawn span that is `entry`'s call (same site, same start), or None."""
    if entry is None:
        return None
    start_us = round((entry.start_ns - first_ns) / 1e3, 3)
    for s in document["spans"]:
        if s["site"] == getattr(entry.site, "id", None) and abs(s["start_us"] - start_us) < 0.01:
            return s["id"]
    return None


def attach(document: dict, trace_a: str, trace_b: str, prices=None) -> None:
    """Add `diff` to document A: B's document, the diff report and the spans to mark."""
    report = diff(trace_a, trace_b)
    other = build(trace_b, prices)
    marks_a, marks_b = [], []
    first = report["first_divergence"]
    if first is not None:
        for path, doc, marks in ((trace_a, document, marks_a), (trace_b, other, marks_b)):
            book = read_book(path, check=False)
            entry = book.entries.get(first["key"])
            found = _span_at(doc, entry, doc["run"]["first_ns"])
            if found is not None:
                marks.append(found)
    document["diff"] = {"report": report, "b": other, "marks_a": marks_a, "marks_b": marks_b}
