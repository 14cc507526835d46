"""The critical path of a run, computed while streaming, in bounded memory.

The path through a span is found walking back from its end: the child that ended last
(before the walk's current time) is on it, then the walk continues from that child's
start. Children are kept per open parent only until the parent has no open child: at that
point no later child can start before now, so the chain so far is final and is either
kept (the first KEEP segments, small subtrees) or folded into per-site totals.

A node is a tuple (start, end, site, span, kids, summary, self_ns, size): kids the
explicit chain of child nodes (or None), summary {site: [count, self_ns]} of folded
descendants (or None), size the number of explicit nodes under and including it.
"""
from __future__ import annotations

KEEP = 48
NODE_CAP = 1500


def fold(node, summary: dict) -> None:
    """Add a node and everything under it to per-site totals."""
    stack = [node]
    while stack:
        st, en, site, _span, kids, summ, self_ns, _ = stack.pop()
        row = summary.get(site)
        if row is None:
            summary[site] = [1, self_ns]
        else:
            row[0] += 1
            row[1] += self_ns
        if summ:
            for s, (c, v) in summ.items():
                row = summary.get(s)
                if row is None:
                    summary[s] = [c, v]
                else:
                    row[0] += c
                    row[1] += v
        if kids:
            stack.extend(kids)


class Children:
    """The closed children of one open parent: a final prefix, then an unsettled tail."""

    __slots__ = ("kids", "fixed", "summary", "covered", "folded", "size")

    def __init__(self):
        self.kids = []
        self.fixed = 0
        self.summary = None
        self.covered = 0      # duration of folded top-level kids
        self.folded = 0       # how many top-level kids were folded
        self.size = 0         # explicit nodes held in the fixed prefix

    def settle(self, now: int) -> None:
        """Make the tail final: keep only the children the backward walk picks."""
        kids, fixed = self.kids, self.fixed
        if len(kids) - fixed == 1 and (fixed == 0 or kids[fixed - 1][1] <= kids[fixed][0]):
            chosen = [kids[fixed]] if kids[fixed][1] <= now else []
            if not chosen:
                del kids[fixed:]
        else:
            chosen = []
            t = now
            for i in range(len(kids) - 1, fixed - 1, -1):
                k = kids[i]
                if k[1] <= t:
                    chosen.append(k)
                    t = k[0]
            chosen.reverse()
            del kids[fixed:]
            kids.extend(chosen)
        for k in chosen:
            self.size += k[7]
        self.fixed = len(kids)
        if self.fixed > KEEP:
            self._fold_from(KEEP)

    def _fold_from(self, index: int) -> None:
        summary = self.summary if self.summary is not None else {}
        for k in self.kids[index:self.fixed]:
            fold(k, summary)
            self.covered += k[1] - k[0]
            self.folded += 1
            self.size -= k[7]
        del self.kids[index:self.fixed]
        self.fixed = index
        self.summary = summary

    def close(self, start: int, end: int, site: int, span: int) -> tuple:
        """The node of the parent once it ends: its chain, summary and self time."""
        self.settle(end)
        kids = self.kids
        covered = self.covered + sum(k[1] - k[0] for k in kids)
        size = self.size + 1
        if size > NODE_CAP:
            self._fold_from(0)
            kids, size = None, 1
        return (start, end, site, span, kids or None, self.summary, max(0, end - start - covered),
                size)


def leaf(start: int, end: int, site: int, span: int) -> tuple:
    return (start, end, site, span, None, None, end - start, 1)


def flatten(nodes, limit: int):
    """The explicit path in time order as (depth, node), at most `limit` rows."""
    out = []
    stack = [(0, n) for n in reversed(nodes)]
    while stack and len(out) < limit:
        depth, node = stack.pop()
        out.append((depth, node))
        if node[4]:
            stack.extend((depth + 1, k) for k in reversed(node[4]))
    return out, bool(stack)


def totals(nodes, summary) -> dict:
    """Per-site (count, self_ns) over the whole path, explicit and folded."""
    acc: dict = {}
    for node in nodes:
        fold(node, acc)
    if summary:
        for s, (c, v) in summary.items():
            row = acc.setdefault(s, [0, 0])
            row[0] += c
            row[1] += v
    return acc
