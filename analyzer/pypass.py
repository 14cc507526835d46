"""The pure-Python core of the analysis pass: the twin of the compiled `_pass.pyx`.

The hot path works on whole columns: starts are filed with C-level `zip`/`compress`, only
ends run a Python loop, and payloads are decoded only at the sites a requested section
needs (llm calls for tokens, tool and prompt events for retries, rss-carrying events for
memory). Per operation the durations are kept in `array('q')`, eight bytes a span.
Both cores give the same result; `analyzer.passcore` chooses one.
"""
from __future__ import annotations

import heapq
from array import array
from itertools import compress, repeat
from operator import is_not, itemgetter, lshift, mul, not_, or_, sub

from . import critical_path as cp
from .costs import usage_of
from .model import END, ERROR_END, INSTANT, START
from .passbase import KEYS, MAX_ANCESTORS, MAX_SEEN_PER_SCOPE, SLOW_K, PassBase, fingerprint
from .stats import ms

IS_COMPILED = False

_is_start = (START).__eq__
_is_instant = (INSTANT).__eq__
_is_error_end = (ERROR_END).__eq__
_is_not_close = frozenset((START, INSTANT)).__contains__
_is_not_end = (END).__ne__
_first, _second = itemgetter(0), itemgetter(1)
Children = cp.Children


def _code(site: int, kind: int) -> int:
    """Kinds past instant are reserved; like the pairing, handlers take them for ends."""
    return (site << 2) | (kind if kind <= 3 else END)


class Tokens:
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


class Pass(PassBase):
    """The analysis pass, one batch at a time, in Python."""

    Tokens = Tokens
    Children = Children
    core = "python"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._always = {c: getattr(self, h) for c, h in self._always.items()}
        self._cond = {c: (getattr(self, h) if h else None) for c, h in self._cond.items()}

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
                rss = self._count(data["rss"])
                if rss >= 0:
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
            self.llm_info[batch.span[i]] = (self._text(data.get("model")),
                                            self._text(data.get("provider")))

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
                    # a span id reused by another site (a damaged trace) has no tool row
                    row = self.tool_repeated.get(self._name(batch.site[i]))
                    if row is not None:
                        row[1] += batch.ts[i] - rec[0]

    def _scope_end(self, batch, i, data) -> None:
        if self.tool_seen:
            self.tool_seen.pop(batch.span[i], None)

    def _llm_end(self, batch, i, data) -> None:
        sp = batch.span[i]
        model, provider = self.llm_info.pop(sp, (None, None))
        model = model or self._text(data.get("model"))
        rec = self.open.get(sp)
        dur = batch.ts[i] - rec[0] if rec else 0
        p, c, t, bad = usage_of(data)
        self.unusable += bad
        cost = self.prices.cost(model, provider, p, c) if (p or c or t) else 0.0
        if cost is None and data.get("cost_estimate") is not None:
            cost = self._amount(data["cost_estimate"])
        name = self._name(batch.site[i])
        tokens = self.by_llm.get(name)
        if tokens is None:
            tokens = self.by_llm[name] = Tokens()
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
                    table.setdefault(aname, Tokens()).add(p, c, t, cost, model, dur)
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
        key = (sid, fingerprint(data.get("arguments")))
        seen = self.tool_seen.get(scope)
        if seen is None:
            seen = self.tool_seen[scope] = set()
        if key in seen:
            row[0] += 1
            self.repeated_spans.add(sp)
        elif len(seen) < MAX_SEEN_PER_SCOPE:
            seen.add(key)
