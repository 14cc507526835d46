"""State and rarely-run handlers shared by both cores of the analysis pass.

The pass has two implementations with one interface (`_pass.pyi`): the compiled core
`analyzer._pass` and its pure-Python twin `analyzer.pypass`; `analyzer.passcore` picks
one. Both subclass PassBase, which sets up the state the result code reads, decides which
(site, kind) pairs need a payload, and holds the handlers for rare events (errors,
prompt ends, rss samples), so those are written once. The per-event and per-span work
(filing starts, pairing ends, the critical path, llm usage and tool repeats) is each
core's own.
"""
from __future__ import annotations

from collections import Counter

from .costs import PriceTable
from .model import END, ERROR_END, INSTANT, START
from .stats import summarize
from .values import MAX_COUNT, amount, label

SECTIONS = ("performance", "errors", "memory", "summary")
SLOW_K = 10
SERIES_MAX = 512
ERROR_SAMPLES = 5
MAX_ANCESTORS = 64
MAX_SEEN_PER_SCOPE = 10_000

# Every top-level payload key the analysis reads; the reader decodes only these.
KEYS = frozenset(("rss", "model", "provider", "usage", "cost_estimate", "arguments",
                  "attempts", "type", "error_type", "message", "error"))
ERROR_KEYS = frozenset(("type", "error_type", "message", "error"))
CLOSE_KINDS = (END, ERROR_END)
ROLES = {"llm_call": "llm", "tool_call": "tool", "prompt_execution": "prompt",
         "agent_execution": "agent", "chain_execution": "chain", "agent_turn": "turn",
         "error_occurred": "error", "performance_marker": "marker",
         "memory_sample": "marker"}
RSS_ROLES = ("llm", "tool", "prompt", "agent", "chain", "turn", "error", "marker")


def fingerprint(value):
    """What makes two tool calls the same; arguments that cannot be shown match nothing."""
    try:
        if isinstance(value, dict):
            return repr(sorted(value.items(), key=lambda kv: str(kv[0])))
        return repr(value)
    except (ValueError, RecursionError, TypeError):  # huge ints, deep nesting
        return object()


class PassBase:
    """Feed it batches in file order (`feed`), then build the result from its state."""

    def __init__(self, info, sections=SECTIONS, prices: PriceTable | None = None):
        self.info = info
        self.sections = set(sections)
        self.prices = prices or PriceTable()
        want = self.sections
        self._tokens_on = bool(want & {"performance", "summary", "errors"})
        self._errors_on = "errors" in want
        self._memory_on = "memory" in want
        self._rss_everywhere = True
        self.roles: dict = {}
        self.payload_sites: set = set()
        self._names: dict = {}
        # (site << 2 | kind) -> handler name: run for every such event (_always) or only
        # when it carries a payload (_cond, None = rss only); rss is looked for at _rss_sites.
        self._always: dict = {}
        self._cond: dict = {}
        self._rss_sites: set = set()
        for sid, site in info.sites.items():
            self._classify(sid, site)
        self.open: dict = {}          # span -> (start ts, parent, site)
        self.open_children: Counter = Counter()  # span -> open children
        self.children: dict = {}      # span -> Children of the core
        self.durations: dict = {}     # site -> array('q')
        self.failed: Counter = Counter()
        self.instants: Counter = Counter()
        self.slow: list = []
        self.orphans = 0
        self.unusable = 0  # decoded values treated as absent (see analyzer/values.py)
        self.first_ts = None
        self.last_ts = None
        self.base = 0
        # tokens and costs
        self.llm_info: dict = {}
        self.by_llm: dict = {}
        self.by_agent: dict = {}
        self.by_chain: dict = {}
        self.by_prompt_acc: dict = {}
        self.total = self.Tokens()
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
        role = ROLES.get(site.event_type, "")
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
        if self._memory_on and role in RSS_ROLES:
            self._rss_sites.add(sid)
            for k in (START, END, ERROR_END, INSTANT):
                cond[code | k] = None
        if role == "llm" and self._tokens_on:
            cond[code | START] = "_llm_start"
            for k in CLOSE_KINDS:
                always[code | k] = "_llm_end"
        elif role == "error":
            for k in (START, END, ERROR_END, INSTANT):
                always[code | k] = "_error"
        elif not self._errors_on:
            pass
        elif role == "tool":  # its ends are looked at with the repeated ends
            always[code | START] = "_tool_start"
        elif role == "prompt":
            for k in CLOSE_KINDS:
                always[code | k] = "_prompt_end"
        elif role in ("agent", "chain"):
            for k in CLOSE_KINDS:
                always[code | k] = "_scope_end"
        for k in always:
            cond.pop(k, None)

    # -- decoded values: what the analysis cannot use is absent, and counted once ------

    def _count(self, value) -> int:
        """A count (rss bytes, attempts) from a payload, or -1 when absent or unusable."""
        if type(value) is int and 0 <= value < MAX_COUNT:
            return value
        if value is not None:
            self.unusable += 1
        return -1

    def summarize(self, durations, failed: int = 0) -> dict:
        """One operation's duration statistics (stats.summarize; the compiled core selects
        the percentiles in C instead)."""
        return summarize(durations, failed)

    def _text(self, value):
        """A name (model, provider) from a payload: a string, or None."""
        if value is None or type(value) is str:
            return value or None
        self.unusable += 1
        return None

    def _amount(self, value):
        """A cost from a payload: a finite non-negative float, or None."""
        got = amount(value)
        if got is None:
            self.unusable += 1
        return got

    def _name(self, sid) -> str:
        name = self._names.get(sid)
        if name is None:
            name = self._names[sid] = self.info.site(sid).name
        return name

    # -- rare events, the same for both cores ---------------------------------------------

    def _prompt_end(self, batch, i, data) -> None:
        sp = batch.span[i]
        acc = self.by_prompt_acc.pop(sp, None)
        name = self.info.site(batch.site[i]).name
        row = self.prompt_runs.setdefault(name, [0, 0, 0, 0, 0, 0.0])
        row[0] += 1
        attempts = self._count(data.get("attempts"))
        if attempts < 0 and acc:
            attempts = acc[0]  # the runtime records no count: one llm call per attempt
        if attempts > 1:
            row[1] += 1
            row[2] += attempts - 1
            if acc and acc[0] > 1:
                row[3] += acc[5] - acc[6]
                row[4] += acc[1] - acc[3]
                row[5] += acc[2] - acc[4]

    def _error_end(self, batch, i, index) -> None:
        """A failed span is an error of its own only when nothing inside it failed first:
        one exception leaving a tool, its step and its chain is one error, not three."""
        sp = batch.span[i]
        rec = self.open.get(sp)
        if rec is not None and rec[1] in self.open:
            self.errored_spans.add(rec[1])
        if sp in self.errored_spans:
            self.errored_spans.discard(sp)
            return
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
        etype = label(data.get("type") or data.get("error_type"), "Error", 200)
        self.err_types[etype] += 1
        self.err_where[(where.component, where.name)] += 1
        if len(self.err_samples) < ERROR_SAMPLES:
            self.err_samples.append({
                "event": index, "type": etype,
                "message": label(data.get("message"), "", 500),
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

    # -- the end of the trace -------------------------------------------------------------

    def close_open(self) -> int:
        """Spans still open when the trace ends count for the critical path, not the stats."""
        pending = sorted(self.open.items(), key=lambda kv: kv[1][0], reverse=True)
        end = self.last_ts or 0
        new = self.Children
        for sp, (st, par, s) in pending:
            mine = self.children.pop(sp, None)
            node = (st, end, s, sp, None, None, end - st, 1) if mine is None else mine.close(
                st, end, s, sp)
            pc = self.children.get(par)
            if pc is None:
                pc = self.children[par] = new()
            pc.kids.append(node)
        return len(pending)
