"""One streaming pass over a trace that feeds every analysis section at once.

The hot path works on whole columns: starts are filed with C-level `zip`/`compress`, only
ends run a Python loop, and payloads are decoded only at the sites a requested section
needs (llm calls for tokens, tool and prompt events for retries, rss-carrying events for
memory). Per operation the durations are kept in `array('q')`, eight bytes a span.
"""
from __future__ import annotations

import heapq
from array import array
from collections import Counter
from itertools import compress, repeat
from operator import is_not, itemgetter, lshift, mul, not_, or_, sub

from . import critical_path as cp
from .costs import PriceTable, usage_of
from .model import END, ERROR_END, INSTANT, START, RunInfo
from .stats import ms, summarize

SECTIONS = ("performance", "errors", "memory", "summary")
SLOW_K = 10
SERIES_MAX = 512
ERROR_SAMPLES = 5
MAX_ANCESTORS = 64
MAX_SEEN_PER_SCOPE = 10_000

_is_start = (START).__eq__
_is_instant = (INSTANT).__eq__
_is_error_end = (ERROR_END).__eq__
_is_not_close = frozenset((START, INSTANT)).__contains__
_is_not_end = (END).__ne__
_first, _second = itemgetter(0), itemgetter(1)
# Every top-level payload key the analysis reads; the reader decodes only these.
KEYS = frozenset(("rss", "model", "provider", "usage", "cost_estimate", "arguments",
                  "attempts", "type", "error_type", "message", "error"))
ERROR_KEYS = frozenset(("type", "error_type", "message", "error"))
_CLOSE_KINDS = (END, ERROR_END)


def _code(site: int, kind: int) -> int:
    """Kinds past instant are reserved; like the pairing, handlers take them for ends."""
    return (site << 2) | (kind if kind <= 3 else END)


def _fingerprint(value) -> str:
    if isinstance(value, dict):
        return repr(sorted(value.items(), key=lambda kv: str(kv[0])))
    return repr(value)


class _Tokens:
    __slots__ = ("calls", "prompt", "completion", "total", "cost", "unpriced", "models", "ns")

    def __init__(self):
        self.calls = self.prompt = self.completion = self.total = self.ns = 0
        self.cost = 0.0
        self.unpriced = 0
        self.models: set = set()

    def add(self, p, c, t, cost, model, dur):
        self.calls += 1
        self.prompt += p
        self.completion += c
        self.total += t
        self.ns += dur
        if cost is None:
            self.unpriced += 1
        else:
            self.cost += cost
        if model:
            self.models.add(model)

    def to_json(self, name: str) -> dict:
        return {"name": name, "models": sorted(self.models), "calls": self.calls,
                "prompt_tokens": self.prompt, "completion_tokens": self.completion,
                "total_tokens": self.total, "cost_usd": round(self.cost, 6),
                "unpriced_calls": self.unpriced, "llm_ms": ms(self.ns)}


class Analysis:
    """Feed it batches in file order, then call result()."""

    def __init__(self, info: RunInfo, sections=SECTIONS, prices: PriceTable | None = None):
        self.info = info
        self.sections = set(sections)
        self.prices = prices or PriceTable()
        want = self.sections
        self._tokens_on = bool(want & {"performance", "summary", "errors"})
        self._errors_on = "errors" in want
        self._memory_on = "memory" in want
        self._rss_everywhere = True
        self.roles: dict[int, str] = {}
        self.payload_sites: set[int] = set()
        self._names: dict[int, str] = {}
        # (site << 2 | kind) -> handler(batch, i, data): run for every such event (always)
        # or only when it carries a payload (cond); rss is looked for at _rss_sites.
        self._always: dict = {}
        self._cond: dict = {}
        self._rss_sites: set[int] = set()
        for sid, site in info.sites.items():
            self._classify(sid, site)
        self.open: dict = {}
        self.open_children: Counter = Counter()
        self.children: dict = {}
        self.durations: dict[int, array] = {}
        self.failed: Counter = Counter()
        self.instants: Counter = Counter()
        self.slow: list = []
        self.orphans = 0
        self.first_ts = None
        self.last_ts = None
        self.base = 0
        # tokens and costs
        self.llm_info: dict = {}
        self.by_llm: dict[str, _Tokens] = {}
        self.by_agent: dict[str, _Tokens] = {}
        self.by_chain: dict[str, _Tokens] = {}
        self.by_prompt_acc: dict = {}
        self.total = _Tokens()
        # errors and retries
        self.err_types: Counter = Counter()
        self.err_where: Counter = Counter()
        self.err_samples: list = []
        self.errored_spans: set = set()
        self.prompt_runs: dict = {}
        self.tool_seen: dict = {}
        self.tool_repeated: dict = {}
        self.repeated_spans: set = set()
        # memory
        self.series: list = []
        self.stride = 1
        self.rss_seen = 0
        self.rss_peak = None
        self.rss_first = None
        self.rss_last = None
        self.turn_rss: dict = {}
        self.turns: dict = {}
        self.markers: list = []

    def _classify(self, sid, site) -> None:
        et = site.event_type
        role = {"llm_call": "llm", "tool_call": "tool", "prompt_execution": "prompt",
                "agent_execution": "agent", "chain_execution": "chain",
                "agent_turn": "turn", "error_occurred": "error",
                "performance_marker": "marker", "memory_sample": "marker"}.get(et, "")
        self.roles[sid] = role
        need = (role == "error" or (role == "llm" and self._tokens_on)
                or (role in ("tool", "prompt", "agent", "chain", "error") and self._errors_on)
                or (self._memory_on and (role == "marker" or (self._rss_everywhere and role in (
                    "llm", "tool", "prompt", "agent", "chain", "turn", "error")))))
        if need:
            self.payload_sites.add(sid)
        self._dispatch(sid, role)

    def _dispatch(self, sid, role) -> None:
        always, cond = self._always, self._cond
        code = sid << 2
        if self._memory_on and role in ("llm", "tool", "prompt", "agent", "chain", "turn",
                                        "error", "marker"):
            self._rss_sites.add(sid)
            for k in (START, END, ERROR_END, INSTANT):
                cond[code | k] = None
        if role == "llm" and self._tokens_on:
            cond[code | START] = self._llm_start
            for k in _CLOSE_KINDS:
                always[code | k] = self._llm_end
        elif role == "error":
            for k in (START, END, ERROR_END, INSTANT):
                always[code | k] = self._error
        elif not self._errors_on:
            pass
        elif role == "tool":  # its ends are looked at in _repeated_ends
            always[code | START] = self._tool_start
        elif role == "prompt":
            for k in _CLOSE_KINDS:
                always[code | k] = self._prompt_end
        elif role in ("agent", "chain"):
            for k in _CLOSE_KINDS:
                always[code | k] = self._scope_end
        for k in always:
            cond.pop(k, None)

    def _name(self, sid) -> str:
        name = self._names.get(sid)
        if name is None:
            name = self._names[sid] = self.info.site(sid).name
        return name

    # -- the pass -----------------------------------------------------------------------

    def feed(self, batch) -> None:
        n = len(batch)
        if not n:
            return
        ts, site, kind, span, parent = batch.ts, batch.site, batch.kind, batch.span, batch.parent
        if self.first_ts is None:
            self.first_ts = ts[0]
        self.last_ts = ts[n - 1]
        base = self.base
        self.base += n
        ms_ = list(map(_is_start, kind))
        if any(ms_):
            self.open.update(zip(compress(span, ms_),
                                 zip(compress(ts, ms_), compress(parent, ms_), compress(site, ms_))))
            self.open_children.update(compress(parent, ms_))
        mi = list(map(_is_instant, kind))
        if any(mi):
            self.instants.update(compress(site, mi))
        if self._always or self._cond:
            self._payload_events(batch, n)
        if self.repeated_spans:
            self._repeated_ends(batch, n)
        if ERROR_END in kind:
            for i in compress(range(n), map(_is_error_end, kind)):
                self._error_end(batch, i, base + i)
        me = list(map(not_, map(_is_not_close, kind)))
        if any(me):
            self._ends(list(compress(ts, me)), list(compress(site, me)), list(compress(span, me)),
                       list(compress(kind, me)), list(compress(range(base, base + n), me)))

    def _payload_events(self, batch, n) -> None:
        """The events a section reads, in order: handlers by (site, kind), rss anywhere."""
        site, kind = batch.site, batch.kind
        if max(kind) > 3:
            codes = list(map(_code, site, kind))
        else:
            codes = list(map(or_, map(lshift, site, repeat(2)), kind))
        always, cond = self._always, self._cond
        picked = list(compress(range(n), map(always.__contains__, codes))) if always else []
        if cond:
            lengths = getattr(batch, "lengths", None)
            flags = map(cond.__contains__, codes)
            more = list(compress(range(n), flags if lengths is None else map(mul, flags, lengths)))
            if more:
                picked = sorted(set(picked).union(more)) if picked else more
        if not picked:
            return
        get = batch.payload_get
        rss_sites = self._rss_sites
        for i in picked:
            c = codes[i]
            data = get(i, KEYS)
            if "rss" in data and c >> 2 in rss_sites:
                rss = data["rss"]
                if isinstance(rss, int) and not isinstance(rss, bool):
                    sid = c >> 2
                    self._rss(batch.ts[i], rss, self.roles.get(sid, ""), sid, c & 3, batch.span[i])
            handler = always.get(c) or cond.get(c)
            if handler is not None:
                handler(batch, i, data)

    def _ends(self, ts_e, site_e, span_e, kind_e, idx_e) -> None:
        """Pair the ends of one batch with their starts: durations, slow spans, the path."""
        recs = list(map(self.open.pop, span_e, repeat(None)))
        if None in recs:
            keep = list(map(is_not, recs, repeat(None)))
            self.orphans += len(recs) - sum(keep)
            recs = list(compress(recs, keep))
            ts_e, site_e, span_e, kind_e, idx_e = (
                list(compress(col, keep)) for col in (ts_e, site_e, span_e, kind_e, idx_e))
            if not recs:
                return
        st_e = list(map(_first, recs))
        par_e = list(map(_second, recs))
        dur_e = list(map(sub, ts_e, st_e))
        durations = self.durations
        here = set(site_e)
        for s in here:
            arr = durations.get(s)
            if arr is None:
                arr = durations[s] = array("q")
            arr.extend(dur_e if len(here) == 1 else compress(dur_e, map(s.__eq__, site_e)))
        if ERROR_END in kind_e or max(kind_e) > ERROR_END:
            self.failed.update(compress(site_e, map(_is_not_end, kind_e)))
        slow = self.slow
        slow_min = slow[0][0] if len(slow) >= SLOW_K else -1
        for j in compress(range(len(dur_e)), map(slow_min.__lt__, dur_e)):
            d = dur_e[j]
            if d > slow_min:
                item = (d, idx_e[j], span_e[j], site_e[j], st_e[j])
                if len(slow) < SLOW_K:
                    heapq.heappush(slow, item)
                else:
                    heapq.heappushpop(slow, item)
                slow_min = slow[0][0] if len(slow) >= SLOW_K else -1
        children = self.children
        ch_pop, ch_get = children.pop, children.get
        oc = self.open_children
        keep_n = cp.KEEP
        new_children = cp.Children
        for t, s, sp, st, par, d in zip(ts_e, site_e, span_e, st_e, par_e, dur_e):
            mine = ch_pop(sp, None)
            node = (st, t, s, sp, None, None, d, 1) if mine is None else mine.close(st, t, s, sp)
            pc = ch_get(par)
            if pc is None:
                pc = children[par] = new_children()
            kids = pc.kids
            kids.append(node)
            c = oc[par] - 1
            if c > 0:
                oc[par] = c
                continue
            del oc[par]
            f = pc.fixed
            if len(kids) - f == 1 and (f == 0 or kids[f - 1][1] <= st):
                pc.fixed = f + 1
                pc.size += node[7]
                if f >= keep_n:
                    pc._fold_from(keep_n)
            else:
                pc.settle(t)

    def _llm_start(self, batch, i, data) -> None:
        if data:
            self.llm_info[batch.span[i]] = (data.get("model"), data.get("provider"))

    def _repeated_ends(self, batch, n) -> None:
        """The time of repeated tool calls that end in this batch (their starts are filed)."""
        span, kind, repeated = batch.span, batch.kind, self.repeated_spans
        for i in compress(range(n), map(repeated.__contains__, span)):
            k = kind[i]
            if k != START and k != INSTANT:
                sp = span[i]
                repeated.discard(sp)
                rec = self.open.get(sp)
                if rec:
                    self.tool_repeated[self._name(batch.site[i])][1] += batch.ts[i] - rec[0]

    def _scope_end(self, batch, i, data) -> None:
        if self.tool_seen:
            self.tool_seen.pop(batch.span[i], None)

    def _llm_end(self, batch, i, data) -> None:
        sp = batch.span[i]
        model, provider = self.llm_info.pop(sp, (None, None))
        model = model or data.get("model")
        rec = self.open.get(sp)
        dur = batch.ts[i] - rec[0] if rec else 0
        p, c, t = usage_of(data)
        cost = self.prices.cost(model, provider, p, c) if (p or c or t) else 0.0
        if cost is None and isinstance(data.get("cost_estimate"), (int, float)):
            cost = float(data["cost_estimate"])
        name = self._name(batch.site[i])
        tokens = self.by_llm.get(name)
        if tokens is None:
            tokens = self.by_llm[name] = _Tokens()
        tokens.add(p, c, t, cost, model, dur)
        self.total.add(p, c, t, cost, model, dur)
        if not rec:
            return
        seen = set()
        get, roles = self.open.get, self.roles
        asp = rec[1]
        for _ in range(MAX_ANCESTORS):
            arec = get(asp)
            if arec is None:
                break
            asite = arec[2]
            role = roles.get(asite)
            if role in ("agent", "chain"):
                aname = self._name(asite)
                if (role, aname) not in seen:
                    seen.add((role, aname))
                    table = self.by_agent if role == "agent" else self.by_chain
                    table.setdefault(aname, _Tokens()).add(p, c, t, cost, model, dur)
            elif role == "prompt" and self._errors_on:
                acc = self.by_prompt_acc.get(asp)
                if acc is None:
                    acc = self.by_prompt_acc[asp] = [0, 0, 0.0, 0, 0.0, 0, 0]
                acc[0] += 1
                acc[1] += t
                acc[2] += cost or 0.0
                acc[3] = t
                acc[4] = cost or 0.0
                acc[5] += dur
                acc[6] = dur
            asp = arec[1]

    def _prompt_end(self, batch, i, data) -> None:
        sp = batch.span[i]
        acc = self.by_prompt_acc.pop(sp, None)
        name = self.info.site(batch.site[i]).name
        row = self.prompt_runs.setdefault(name, [0, 0, 0, 0, 0, 0.0])
        row[0] += 1
        attempts = data.get("attempts")
        if isinstance(attempts, int) and attempts > 1:
            row[1] += 1
            row[2] += attempts - 1
            if acc and acc[0] > 1:
                row[3] += acc[5] - acc[6]
                row[4] += acc[1] - acc[3]
                row[5] += acc[2] - acc[4]

    def _tool_start(self, batch, i, data) -> None:
        sp = batch.span[i]
        scope = 0
        get, roles = self.open.get, self.roles
        asp = batch.parent[i]
        for _ in range(MAX_ANCESTORS):
            arec = get(asp)
            if arec is None:
                break
            if roles.get(arec[2]) in ("agent", "chain"):
                scope = asp
                break
            asp = arec[1]
        sid = batch.site[i]
        name = self._name(sid)
        row = self.tool_repeated.get(name)
        if row is None:
            row = self.tool_repeated[name] = [0, 0, 0]
        row[2] += 1
        key = (sid, _fingerprint(data.get("arguments")))
        seen = self.tool_seen.get(scope)
        if seen is None:
            seen = self.tool_seen[scope] = set()
        if key in seen:
            row[0] += 1
            self.repeated_spans.add(sp)
        elif len(seen) < MAX_SEEN_PER_SCOPE:
            seen.add(key)

    def _error_end(self, batch, i, index) -> None:
        sp = batch.span[i]
        if sp in self.errored_spans:
            self.errored_spans.discard(sp)
            return
        rec = self.open.get(sp)
        if rec is None:
            return
        data = batch.payload_get(i, ERROR_KEYS)
        if isinstance(data.get("error"), dict):
            data = data["error"]
        self._count_error(data, self.info.site(batch.site[i]), self.info.site(rec[2]), index)

    def _error(self, batch, i, data) -> None:
        rec = self.open.get(batch.parent[i])
        if rec is not None:
            self.errored_spans.add(batch.parent[i])
        site = self.info.site(batch.site[i])
        self._count_error(data, site, self.info.site(rec[2]) if rec else site,
                          self.base - len(batch) + i)

    def _count_error(self, data, site, where, index) -> None:
        etype = str(data.get("type") or data.get("error_type") or "Error")
        self.err_types[etype] += 1
        self.err_where[(where.component, where.name)] += 1
        if len(self.err_samples) < ERROR_SAMPLES:
            self.err_samples.append({
                "event": index, "type": etype,
                "message": str(data.get("message") or "")[:500],
                "component": where.component, "name": where.name,
                "location": where.location or site.location or None})

    def _rss(self, ts, rss, role, sid, k, sp) -> None:
        self.rss_seen += 1
        if self.rss_first is None:
            self.rss_first = rss
        self.rss_last = rss
        if self.rss_peak is None or rss > self.rss_peak:
            self.rss_peak = rss
        if self.rss_seen % self.stride == 0:
            self.series.append((ts, rss))
            if len(self.series) >= 2 * SERIES_MAX:
                self.series = self.series[::2]
                self.stride *= 2
        if role == "turn":
            if k == START:
                self.turn_rss[sp] = rss
            elif k != INSTANT:
                before = self.turn_rss.pop(sp, None)
                name = self.info.site(sid).name
                row = self.turns.setdefault(name, [0, None, None, 0, None])
                row[0] += 1
                if row[1] is None:
                    row[1] = before if before is not None else rss
                row[2] = rss
                if before is not None:
                    delta = rss - before
                    row[3] += delta
                    row[4] = delta if row[4] is None else max(row[4], delta)
        elif role == "marker" and len(self.markers) < 100:
            self.markers.append((ts, rss, sid))

    # -- the result -----------------------------------------------------------------------

    def _close_open(self) -> int:
        """Spans still open when the trace ends count for the critical path, not the stats."""
        pending = sorted(self.open.items(), key=lambda kv: kv[1][0], reverse=True)
        end = self.last_ts or 0
        for sp, (st, par, s) in pending:
            mine = self.children.pop(sp, None)
            node = cp.leaf(st, end, s, sp) if mine is None else mine.close(st, end, s, sp)
            self.children.setdefault(par, cp.Children()).kids.append(node)
        return len(pending)

    def result(self, health) -> dict:
        open_spans = self._close_open()
        info = self.info
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
            row.update(summarize(values, nfail))
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
        root = self.children.get(0) or cp.Children()
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


SCHEMA_VERSION = "1.0"


def analyze(source, sections=SECTIONS, prices=None, progress=None) -> dict:
    """Run the pass over an open Source; `progress(position)` is called once per batch."""
    pass_ = Analysis(source.info, sections, prices)
    for batch in source.batches():
        pass_.feed(batch)
        if progress is not None:
            progress(source.position())
    return pass_.result(source.health)
