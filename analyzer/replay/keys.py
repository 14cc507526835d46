"""Logical keys of boundary calls and the hash of what they asked (REPLAY.md).

A key is the path of spans down to the call, each element `site#ordinal-under-parent`,
so it does not depend on how concurrent tasks interleaved. Sites are named by event and
component name rather than by id, so an edited program, whose site ids shift, still
lines up with its old trace.
"""
from __future__ import annotations

from n3core.tracing.reqhash import FIELD as HASH_FIELD, digest as request_hash  # noqa: F401

BOUNDARY_EVENTS = {"llm_call": "llm", "tool_call": "tool", "clock_read": "clock"}
ORDINALS = tuple(f"#{n}" for n in range(256))  # formatting the int costs more than the rest
_STEMS = {"chain_execution": "chain", "agent_execution": "agent", "prompt_execution": "prompt"}


def site_key(site) -> str:
    """`llm_call:scorer_llm`, `chain:review`, `clock_read:now` for a site row."""
    stem = _STEMS.get(site.event_type, site.event_type)
    name = site.name
    if not name or name == "*":
        name = (site.file or "").rsplit(":", 1)[-1] or "*"
    return f"{stem}:{name}"


class KeyTracker:
    """Span id -> logical path, fed span starts and ends in the order one task saw them.

    Ordinals count calls of a site under the same parent span; a span's counters are
    dropped when it ends, so memory follows the open spans, not the whole run.
    """

    __slots__ = ("paths", "counts")

    def __init__(self):
        self.paths: dict = {}
        self.counts: dict = {}

    def start(self, span: int, parent: int, key: str) -> str:
        counts = self.counts.get(parent)
        if counts is None:
            counts = self.counts[parent] = {}
        n = counts[key] = counts.get(key, 0) + 1
        suffix = ORDINALS[n] if n < len(ORDINALS) else f"#{n}"
        above = self.paths.get(parent)
        path = self.paths[span] = f"{above} / {key}{suffix}" if above else key + suffix
        return path

    def end(self, span: int) -> str | None:
        self.counts.pop(span, None)
        return self.paths.pop(span, None)
