"""One streaming pass over a trace that feeds every analysis section at once.

The per-event and per-span work is done by a core (`analyzer.passcore`): the compiled
`analyzer._pass` or its pure-Python twin `analyzer.pypass`, which give the same result.
This module turns the state of a finished pass into the analysis document.
"""
from __future__ import annotations

import gc

from . import critical_path as cp
from . import passcore
from .passbase import (ERROR_SAMPLES, KEYS, MAX_ANCESTORS, MAX_SEEN_PER_SCOPE, SECTIONS,
                       SERIES_MAX, SLOW_K)
from .stats import ms

__all__ = ["Analysis", "analysis_class", "analyze", "SECTIONS", "SCHEMA_VERSION", "KEYS",
           "SLOW_K", "SERIES_MAX", "ERROR_SAMPLES", "MAX_ANCESTORS", "MAX_SEEN_PER_SCOPE"]


class Result:
    """The analysis document from the state of a pass (mixed into a core's Pass)."""

    def result(self, health) -> dict:
        open_spans = self.close_open()
        info = self.info
        health.unusable += self.unusable
        spans = sum(len(a) for a in self.durations.values())
        instants = sum(self.instants.values())
        errors = sum(self.err_types.values())
        failed = sum(self.failed.values())
        duration = (self.last_ts - self.first_ts) if self.first_ts is not None else 0
        out = {
            "schema_version": SCHEMA_VERSION,
            "trace": {
                "path": info.path, "run_id": info.run_id or None, "metadata": info.metadata,
                **health.to_json(), "spans": spans, "open_spans": open_spans,
                "instants": instants, "unpaired_ends": self.orphans,
                "start_ns": self.first_ts, "end_ns": self.last_ts, "duration_ms": ms(duration),
            },
            "summary": {
                "duration_ms": ms(duration), "events": health.events, "spans": spans,
                "errors": errors, "failed_spans": failed,
                "llm_calls": self.total.calls, "total_tokens": self.total.total,
                "cost_usd": round(self.total.cost, 6), "lossy": health.lossy,
            },
        }
        if "performance" in self.sections:
            out["performance"] = self._performance()
            out["tokens"] = self._tokens()
        if "errors" in self.sections:
            out["errors"] = self._errors()
        if "memory" in self.sections:
            out["memory"] = self._memory()
        return out

    def _site_row(self, sid) -> dict:
        s = self.info.site(sid)
        return {"event_type": s.event_type, "component": s.component, "name": s.name,
                "location": s.location or None}

    def _grouped(self):
        groups: dict = {}
        for sid, arr in self.durations.items():
            key = self.info.site(sid).key
            g = groups.setdefault(key, [[], 0, sid])
            g[0].append(arr)
            g[1] += self.failed.get(sid, 0)
        return groups

    def _performance(self) -> dict:
        rows = []
        for key, (arrays, nfail, sid) in self._grouped().items():
            values = arrays[0] if len(arrays) == 1 else [v for a in arrays for v in a]
            row = self._site_row(sid)
            row.update(self.summarize(values, nfail))
            rows.append(row)
        instants: dict = {}
        for sid, count in self.instants.items():
            g = instants.setdefault(self.info.site(sid).key, [0, sid])
            g[0] += count
        for count, sid in instants.values():
            row = self._site_row(sid)
            row.update({"count": count, "failed": 0, "total_ms": None, "mean_ms": None,
                        "p50_ms": None, "p95_ms": None, "max_ms": None, "instant": True})
            rows.append(row)
        rows.sort(key=lambda r: (-(r["total_ms"] or 0), -r["count"], r["event_type"], r["name"]))
        slow = []
        for d, idx, sp, sid, st in sorted(self.slow, reverse=True):
            row = self._site_row(sid)
            row.update({"duration_ms": ms(d), "start_offset_ms": ms(st - self.first_ts),
                        "span": sp, "event": idx})
            slow.append(row)
        return {"by_operation": rows, "slow_operations": slow,
                "critical_path": self._critical_path()}

    def _critical_path(self) -> dict:
        root = self.children.get(0) or self.Children()
        for par, ch in list(self.children.items()):
            if par != 0 and par not in self.open:
                for node in ch.kids:
                    root.kids.append(node)
        root.kids.sort(key=lambda n: n[1])
        root.fixed = 0 if root.fixed > len(root.kids) else root.fixed
        if self.last_ts is not None:
            root.settle(self.last_ts)
        nodes = root.kids
        rows, truncated = cp.flatten(nodes, 200)
        segments = []
        first = self.first_ts or 0
        for depth, node in rows:
            row = self._site_row(node[2])
            row.update({"depth": depth, "span": node[3], "start_offset_ms": ms(node[0] - first),
                        "duration_ms": ms(node[1] - node[0]), "self_ms": ms(node[6]),
                        "folded_below": bool(node[5])})
            segments.append(row)
        per_site = cp.totals(nodes, root.summary)
        by_key: dict = {}
        for sid, (count, self_ns) in per_site.items():
            key = self.info.site(sid).key
            agg = by_key.setdefault(key, [0, 0, sid])
            agg[0] += count
            agg[1] += self_ns
        by_op = []
        for key, (count, self_ns, sid) in by_key.items():
            row = self._site_row(sid)
            row.update({"count": count, "self_ms": ms(self_ns)})
            by_op.append(row)
        by_op.sort(key=lambda r: -r["self_ms"])
        top = root.covered + sum(n[1] - n[0] for n in nodes)
        return {
            "duration_ms": ms((nodes[-1][1] - (nodes[0][0] if not root.folded else first))
                              if nodes else 0),
            "spans_ms": ms(top),
            "segments_total": sum(c for c, _ in per_site.values()),
            "segments": segments,
            "truncated": truncated or bool(root.summary) or any(r["folded_below"] for r in segments),
            "by_operation": by_op,
        }

    def _tokens(self) -> dict:
        return {
            "total": self.total.to_json("total"),
            "by_llm": [v.to_json(k) for k, v in sorted(self.by_llm.items())],
            "by_agent": [v.to_json(k) for k, v in sorted(self.by_agent.items())],
            "by_chain": [v.to_json(k) for k, v in sorted(self.by_chain.items())],
            "prices": {"source": self.prices.source, "unit": "USD per 1000 tokens",
                       "unpriced_models": sorted(self.prices.unpriced)},
        }

    def _errors(self) -> dict:
        rates = []
        for key, (arrays, nfail, sid) in self._grouped().items():
            count = sum(len(a) for a in arrays)
            row = self._site_row(sid)
            row.update({"count": count, "failed": nfail,
                        "failure_rate": round(nfail / count, 6) if count else 0.0})
            rates.append(row)
        rates.sort(key=lambda r: (-r["failure_rate"], -r["failed"], r["event_type"], r["name"]))
        prompts = [{"name": name, "executions": r[0], "retried": r[1], "extra_attempts": r[2],
                    "extra_ms": ms(r[3]), "extra_tokens": r[4], "extra_cost_usd": round(r[5], 6)}
                   for name, r in sorted(self.prompt_runs.items())]
        tools = [{"name": name, "calls": r[2], "repeated": r[0], "extra_ms": ms(r[1])}
                 for name, r in sorted(self.tool_repeated.items())]
        return {
            "total": sum(self.err_types.values()),
            "failed_spans": sum(self.failed.values()),
            "by_type": [{"type": t, "count": c} for t, c in self.err_types.most_common()],
            "by_component": [{"component": k[0], "name": k[1], "count": c}
                             for k, c in self.err_where.most_common()],
            "failure_rates": rates,
            "retries": {"prompts": prompts, "tools": tools},
            "samples": self.err_samples,
        }

    def _memory(self) -> dict:
        first = self.first_ts or 0
        turns = []
        for name, (n, rss0, rss1, total, worst) in sorted(self.turns.items()):
            growth = (rss1 - rss0) if rss0 is not None and rss1 is not None else None
            turns.append({"agent": name, "turns": n, "rss_first": rss0, "rss_last": rss1,
                          "growth_bytes": growth,
                          "growth_per_turn_bytes": round(growth / n, 1) if growth is not None and n else None,
                          "in_turn_growth_bytes": total, "max_turn_growth_bytes": worst})
        return {
            "samples": self.rss_seen,
            "rss_first": self.rss_first, "rss_last": self.rss_last, "rss_peak": self.rss_peak,
            "growth_bytes": (self.rss_last - self.rss_first) if self.rss_seen else None,
            "series": [{"t_ms": ms(t - first), "rss": r} for t, r in self.series],
            "agent_turns": turns,
            "markers": [{"t_ms": ms(t - first), "rss": r, "name": self.info.site(s).name}
                        for t, r, s in self.markers],
        }


SCHEMA_VERSION = "1.1"
_CLASSES: dict = {}


def analysis_class(core: str | None = None):
    """The Analysis class over core `core` ("c" or "python"), or over the chosen core."""
    mod = passcore.pass_module(core)
    cls = _CLASSES.get(mod.__name__)
    if cls is None:
        cls = _CLASSES[mod.__name__] = type("Analysis", (Result, mod.Pass), {
            "__doc__": "Feed it batches in file order, then call result().",
            "__module__": __name__})
    return cls


Analysis = analysis_class()


def analyze(source, sections=SECTIONS, prices=None, progress=None, core=None) -> dict:
    """Run the pass over an open Source; `progress(position)` is called once per batch.

    `core` ("c" or "python") picks the pass's core; the default follows analyzer.passcore.
    """
    pass_ = (Analysis if core is None else analysis_class(core))(source.info, sections, prices)
    # The pass allocates millions of small tuples and lists that never form cycles; the
    # cyclic collector would only walk them over and over (about 8% of the pass).
    paused = gc.isenabled()
    gc.disable()
    try:
        for batch in source.batches():
            pass_.feed(batch)
            if progress is not None:
                progress(source.position())
    finally:
        if paused:
            gc.enable()
    return pass_.result(source.health)
