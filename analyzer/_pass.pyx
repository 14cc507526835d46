# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled core of the analysis pass: the twin of `pypass.py`, with the same result.

It walks a batch's columns through their C buffers (`array.array` data pointers) in the
same phases as the twin (file the starts and count the instants, run the payload handlers,
time the repeated tool calls, count the failed spans, pair the ends), so that every dict,
heap and list ends up with the same contents in the same order. The open spans live in a
C hash map (`_SpanMap`, read by the shared handlers through dict methods), as do the
open-children counts. The critical path lives in pools of C structs (`_path.pxi`): a
tuple, a list and a dict per span cost more than all the rest of the pass. It becomes the
twin's `children` ({span: Children} of tuples) only when the trace ends (`close_open`).
The rest of the state stays in the Python objects the result code reads (`durations`,
the token tables). Rare events (errors, prompt ends, rss samples) go to the shared
handlers of `passbase.PassBase`.
"""
from cpython.array cimport array, resize_smart
from libc.stdint cimport INT64_MAX, INT64_MIN, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort, realloc
from libc.string cimport memcpy, memmove, memset

import heapq
from array import array as _array

from n3core.tracing.errors import TraceFormatError
from n3core.tracing.reader import Batch as _ReaderBatch

from .costs import PriceTable
from .critical_path import KEEP as _PY_KEEP, NODE_CAP as _PY_NODE_CAP
from .passbase import KEYS, MAX_ANCESTORS, MAX_SEEN_PER_SCOPE, SLOW_K, PassBase, fingerprint
from .stats import ms, nearest_rank_index, summarize as _py_summarize
from .values import MAX_COUNT as _MAX_COUNT, count

IS_COMPILED = True

cdef Py_ssize_t KEEP = _PY_KEEP
cdef Py_ssize_t NODE_CAP = _PY_NODE_CAP
cdef Py_ssize_t C_SLOW_K = SLOW_K
cdef Py_ssize_t C_MAX_ANCESTORS = MAX_ANCESTORS
cdef Py_ssize_t C_MAX_SEEN = MAX_SEEN_PER_SCOPE
cdef object _KEYS = KEYS
cdef dict _EMPTY = {}
cdef object _heappush = heapq.heappush
cdef object _heappushpop = heapq.heappushpop
cdef object _fingerprint = fingerprint
cdef tuple _FREE = (0.0, 0.0)
cdef object _UNSEEN = object()

# handler ids (low bits of an action) and how an event is picked (high bits)
cdef enum:
    H_LLM_START = 1
    H_LLM_END = 2
    H_ERROR = 3
    H_TOOL_START = 4
    H_PROMPT_END = 5
    H_SCOPE_END = 6
    A_ALWAYS = 0x40
    A_COND = 0x80
    R_PROMPT = 3
    R_AGENT = 4
    R_CHAIN = 5
    TABLE_MAX = 65536

cdef dict _HANDLERS = {"_llm_start": H_LLM_START, "_llm_end": H_LLM_END, "_error": H_ERROR,
                       "_tool_start": H_TOOL_START, "_prompt_end": H_PROMPT_END,
                       "_scope_end": H_SCOPE_END, None: 0}
cdef dict _ROLE_CODES = {"llm": 1, "tool": 2, "prompt": 3, "agent": 4, "chain": 5, "turn": 6,
                         "error": 7, "marker": 8}


# -- spans in a C hash map: open spans (-> start, parent, site), open-children counts ----

cdef struct OSlot:
    uint64_t key        # span + 1; 0 = empty slot
    int64_t st          # the start ts, or the count of open children
    uint64_t seq        # when the span was filed: the map iterates in that order, as a dict
    uint32_t par
    uint32_t site


cdef class _SpanMap:
    """Span -> (start ts, parent, site) without a tuple per span: `open` of the twin, read
    by the shared handlers through the dict methods they use (get, in, items); also the
    open-children counts (`count_add`, `count_take`)."""

    cdef OSlot* slots
    cdef size_t cap, n, mask
    cdef int shift
    cdef uint64_t seq

    def __cinit__(self):
        self.slots = NULL
        self.seq = 0
        self._alloc(16)

    def __dealloc__(self):
        free(self.slots)

    cdef int _alloc(self, size_t cap) except -1:
        cdef int bits = 0
        while (<size_t>1 << bits) < cap:
            bits += 1
        self.slots = <OSlot*>calloc(<size_t>1 << bits, sizeof(OSlot))
        if self.slots == NULL:
            raise MemoryError()
        self.cap = <size_t>1 << bits
        self.mask = self.cap - 1
        self.shift = 64 - bits
        self.n = 0
        return 0

    cdef inline size_t _home(self, uint64_t key) noexcept nogil:
        return <size_t>((key * <uint64_t>11400714819323198485ULL) >> self.shift) & self.mask

    cdef inline size_t _slot(self, uint64_t key) noexcept nogil:
        cdef size_t i = self._home(key)
        while self.slots[i].key != 0 and self.slots[i].key != key:
            i = (i + 1) & self.mask
        return i

    cdef inline OSlot* find(self, uint32_t span) noexcept nogil:
        cdef uint64_t key = <uint64_t>span + 1
        cdef size_t i = self._slot(key)
        return &self.slots[i] if self.slots[i].key == key else NULL

    cdef int put(self, uint32_t span, int64_t st, uint32_t par, uint32_t site) except -1:
        cdef uint64_t key = <uint64_t>span + 1
        cdef size_t i = self._slot(key), j, old_cap
        cdef OSlot* old
        if self.slots[i].key != key:
            if (self.n + 1) * 2 > self.cap:
                old, old_cap = self.slots, self.cap
                self._alloc(old_cap * 2)
                for j in range(old_cap):
                    if old[j].key:
                        self.slots[self._slot(old[j].key)] = old[j]
                        self.n += 1
                free(old)
                i = self._slot(key)
            self.slots[i].key = key
            self.slots[i].seq = self.seq
            self.seq += 1
            self.n += 1
        self.slots[i].st = st
        self.slots[i].par = par
        self.slots[i].site = site
        return 0

    cdef bint take(self, uint32_t span, OSlot* out) noexcept nogil:
        """Remove `span` into `out`; false when it is not open."""
        cdef uint64_t key = <uint64_t>span + 1
        cdef size_t i = self._slot(key), j, h
        if self.slots[i].key != key:
            return False
        out[0] = self.slots[i]
        self.n -= 1
        j = i
        while True:   # a backward shift keeps the probe chains unbroken
            j = (j + 1) & self.mask
            if self.slots[j].key == 0:
                break
            h = self._home(self.slots[j].key)
            if (j > i and (h <= i or h > j)) or (j < i and (h <= i and h > j)):
                self.slots[i] = self.slots[j]
                i = j
        self.slots[i].key = 0
        return True

    cdef int count_add(self, uint32_t span) except -1:
        cdef OSlot* o = self.find(span)
        if o == NULL:
            self.put(span, 1, 0, 0)
        else:
            o.st += 1
        return 0

    cdef int64_t count_take(self, uint32_t span) noexcept nogil:
        """Count one child of `span` closed: the count left, -1 when there was none."""
        cdef OSlot* o = self.find(span)
        cdef OSlot gone
        if o == NULL:
            return -1
        if o.st > 1:
            o.st -= 1
            return o.st
        self.take(span, &gone)
        return 0

    cdef OSlot* _lookup(self, object span):
        if type(span) is int and 0 <= span <= 0xFFFFFFFF:
            return self.find(<uint32_t>span)
        return NULL

    def get(self, span, default=None):
        cdef OSlot* o = self._lookup(span)
        return default if o == NULL else (o.st, o.par, o.site)

    def __contains__(self, span):
        return self._lookup(span) != NULL

    def items(self):
        """(span, (start ts, parent, site)) in the order the spans were filed."""
        cdef list rows = []
        cdef size_t j
        cdef OSlot* o
        for j in range(self.cap):
            if self.slots[j].key:
                o = &self.slots[j]
                rows.append((o.seq, <uint32_t>(o.key - 1), (o.st, o.par, o.site)))
        rows.sort()
        return [(r[1], r[2]) for r in rows]


# -- the critical path (the twin of critical_path.Children / fold) ----------------------

cdef int _fold(tuple node, dict summary) except -1:
    """Add a node and everything under it to per-site totals."""
    cdef list stack = [node]
    cdef tuple nd
    cdef list row
    cdef object summ, kids, site, self_ns, s, c, v
    while stack:
        nd = <tuple>stack.pop()
        site = nd[2]
        kids = nd[4]
        summ = nd[5]
        self_ns = nd[6]
        row = summary.get(site)
        if row is None:
            summary[site] = [1, self_ns]
        else:
            row[0] += 1
            row[1] += self_ns
        if summ:
            for s, (c, v) in (<dict>summ).items():
                row = summary.get(s)
                if row is None:
                    summary[s] = [c, v]
                else:
                    row[0] += c
                    row[1] += v
        if kids:
            stack.extend(kids)
    return 0


cdef class Children:
    """The closed children of one open parent: a final prefix, then an unsettled tail."""

    cdef public list kids
    cdef public Py_ssize_t fixed
    cdef public object summary
    cdef public object covered
    cdef public Py_ssize_t folded
    cdef public Py_ssize_t size

    def __cinit__(self):
        self.kids = []
        self.fixed = 0
        self.summary = None
        self.covered = 0
        self.folded = 0
        self.size = 0

    cpdef settle(self, int64_t now):
        """Make the tail final: keep only the children the backward walk picks."""
        cdef list kids = self.kids
        cdef Py_ssize_t fixed = self.fixed, n = len(kids), i
        cdef tuple k
        cdef list chosen
        cdef int64_t t, a, b
        if n - fixed == 1 and (fixed == 0 or <int64_t>(<tuple>kids[fixed - 1])[1]
                               <= <int64_t>(<tuple>kids[fixed])[0]):
            k = <tuple>kids[fixed]
            b = k[1]
            if b <= now:
                self.size += <Py_ssize_t>k[7]
            else:
                del kids[fixed:]
        else:
            chosen = []
            t = now
            for i in range(n - 1, fixed - 1, -1):
                k = <tuple>kids[i]
                b = k[1]
                if b <= t:
                    chosen.append(k)
                    t = k[0]
            chosen.reverse()
            del kids[fixed:]
            kids.extend(chosen)
            for k in chosen:
                self.size += <Py_ssize_t>k[7]
        self.fixed = len(kids)
        if self.fixed > KEEP:
            self._fold_from(KEEP)

    cpdef _fold_from(self, Py_ssize_t index):
        cdef dict summary = self.summary if self.summary is not None else {}
        cdef tuple k
        for k in self.kids[index:self.fixed]:
            _fold(k, summary)
            self.covered += k[1] - k[0]
            self.folded += 1
            self.size -= <Py_ssize_t>k[7]
        del self.kids[index:self.fixed]
        self.fixed = index
        self.summary = summary

    cpdef tuple close(self, object start, object end, object site, object span):
        """The node of the parent once it ends: its chain, summary and self time."""
        self.settle(end)
        cdef object kids = self.kids
        cdef object covered = self.covered
        cdef tuple k
        for k in self.kids:
            covered += k[1] - k[0]
        cdef Py_ssize_t size = self.size + 1
        if size > NODE_CAP:
            self._fold_from(0)
            kids, size = None, 1
        return (start, end, site, span, kids or None, self.summary,
                max(0, end - start - covered), size)


include "_path.pxi"


# -- tokens -----------------------------------------------------------------------------

cdef inline bint _fits(int64_t a, int64_t b) noexcept nogil:
    """a + b does not overflow an int64."""
    return (b <= 0 or a <= INT64_MAX - b) and (b >= 0 or a >= INT64_MIN - b)


cdef class Tokens:
    """Token sums in int64 until one would overflow, then in Python ints, as the twin's."""

    cdef public Py_ssize_t calls, unpriced
    cdef object _prompt, _completion, _total, _ns     # the sums moved out of C
    cdef int64_t _cp, _cc, _ct, _cns                   # the sums still in C
    cdef public double cost
    cdef public set models
    cdef object _last_model

    def __cinit__(self):
        self.calls = self.unpriced = 0
        self._prompt = self._completion = self._total = self._ns = 0
        self._cp = self._cc = self._ct = self._cns = 0
        self.cost = 0.0
        self.models = set()
        self._last_model = None

    cdef int _spill(self) except -1:
        self._prompt += self._cp
        self._completion += self._cc
        self._total += self._ct
        self._ns += self._cns
        self._cp = self._cc = self._ct = self._cns = 0
        return 0

    cdef inline int _add(self, int64_t p, int64_t c, int64_t t, object cost, object model,
                         int64_t dur) except -1:
        if not (_fits(self._cp, p) and _fits(self._cc, c) and _fits(self._ct, t)
                and _fits(self._cns, dur)):
            self._spill()
        self._cp += p
        self._cc += c
        self._ct += t
        self._cns += dur
        return self._tally(cost, model)

    cdef inline int _tally(self, object cost, object model) except -1:
        """What one call adds besides its tokens and time."""
        self.calls += 1
        if cost is None:
            self.unpriced += 1
        else:
            self.cost += <double>cost
        if model and model is not self._last_model:
            self.models.add(model)
            self._last_model = model
        return 0

    def add(self, p, c, t, cost, model, dur):
        """From Python, with ints of any size: added to the sums already out of C."""
        self._spill()
        self._prompt += p
        self._completion += c
        self._total += t
        self._ns += dur
        self._tally(cost, model)

    @property
    def prompt(self):
        return self._prompt + self._cp

    @property
    def completion(self):
        return self._completion + self._cc

    @property
    def total(self):
        return self._total + self._ct

    @property
    def ns(self):
        return self._ns + self._cns

    def to_json(self, name: str) -> dict:
        return {"name": name, "models": sorted(self.models), "calls": self.calls,
                "prompt_tokens": self.prompt, "completion_tokens": self.completion,
                "total_tokens": self.total, "cost_usd": round(self.cost, 6),
                "unpriced_calls": self.unpriced, "llm_ms": ms(self.ns)}


cdef inline int64_t _int(object value) except? -2:
    """`analyzer.values.count`: 0 when absent, -1 when present but unusable."""
    if value is None:
        return 0
    if type(value) is int:
        return value if 0 <= value < _MAX_COUNT else -1
    if type(value) is float:
        return <int64_t>int(value) if 0.0 <= <double>value < <double>_MAX_COUNT else -1
    return count(value)


cdef inline object _get(object d, str key, object default):
    """`d.get` without a method call when d is a plain dict, as decoded payloads are."""
    if type(d) is dict:
        return (<dict>d).get(key, default)
    return d.get(key, default)


cdef array _col(object values, str code):
    if isinstance(values, array) and (<array>values).typecode == code:
        return <array>values
    return _array(code, values)


# -- duration statistics (the twin of stats.summarize) ----------------------------------

cdef int _cmp64(const void* a, const void* b) noexcept nogil:
    cdef int64_t x = (<const int64_t*>a)[0], y = (<const int64_t*>b)[0]
    return (x > y) - (x < y)


cdef int64_t _select(int64_t* v, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """The k-th smallest of v[0:n] (0-based), v reordered around it: quickselect with a
    median-of-three pivot, handing a range that keeps not shrinking to qsort."""
    cdef Py_ssize_t lo = 0, hi = n - 1, i, j, budget = 64
    cdef int64_t pivot, t, a, b, c
    while hi > lo:
        budget -= 1
        if budget < 0:
            qsort(&v[lo], hi - lo + 1, sizeof(int64_t), _cmp64)
            return v[k]
        a, b, c = v[lo], v[(lo + hi) // 2], v[hi]
        pivot = b if (a <= b <= c or c <= b <= a) else (a if (b <= a <= c or c <= a <= b) else c)
        i, j = lo, hi
        while i <= j:
            while v[i] < pivot:
                i += 1
            while v[j] > pivot:
                j -= 1
            if i <= j:
                t = v[i]
                v[i] = v[j]
                v[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return v[k]
    return v[k]


def _summarize(durations, failed=0):
    """stats.summarize without sorting a list of ints: the two ranks are selected in C."""
    cdef array a = _col(durations, "q")
    cdef Py_ssize_t n = len(a), i, k50, k95
    if n == 0:
        return _py_summarize(a, failed)
    cdef int64_t* src = <int64_t*>a.data.as_longlongs
    cdef int64_t top = src[0], acc = 0, x
    cdef bint exact = True
    for i in range(n):
        x = src[i]
        if x > top:
            top = x
        if exact:
            if _fits(acc, x):
                acc += x
            else:
                exact = False
    total = acc if exact else sum(a)
    k50, k95 = nearest_rank_index(n, 50), nearest_rank_index(n, 95)
    cdef int64_t* v = <int64_t*>malloc(n * sizeof(int64_t))
    if v == NULL:
        raise MemoryError()
    try:
        memcpy(v, src, n * sizeof(int64_t))
        p95 = _select(v, n, k95)
        p50 = _select(v, k95 + 1, k50)   # what is left of k95 is no larger than it
    finally:
        free(v)
    return {"count": n, "failed": failed, "total_ms": ms(total), "mean_ms": ms(total / n),
            "p50_ms": ms(p50), "p95_ms": ms(p95), "max_ms": ms(top)}


# -- the pass ---------------------------------------------------------------------------

cdef class _CPass:
    """The compiled half of `Pass`: typed state and the per-event work."""

    cdef public object open
    cdef public dict children, durations, llm_info, by_llm, by_agent, by_chain
    cdef public dict by_prompt_acc, tool_seen, tool_repeated, roles, _names
    cdef public object open_children, failed, instants, prices, info, total
    cdef public object first_ts, last_ts
    cdef public list slow
    cdef public set repeated_spans, errored_spans, _rss_sites
    cdef public long long base, orphans, unusable
    cdef public bint _errors_on
    cdef _SpanMap _oc      # span -> open children
    cdef _Path _cp         # the critical path's open parents and nodes
    cdef _SpanMap _rep     # repeated tool calls still open (`repeated_spans` of the twin)
    cdef list _tool_rows   # site -> its tool_repeated row, for sites < _tsize
    cdef _SpanMap _open    # the same object as `open`
    cdef uint8_t* _has_dur   # site -> has its durations array, for sites < _tsize
    cdef dict _prices_seen   # model -> PriceTable.lookup (None: ask the table every time)
    cdef uint8_t* _act       # (site << 2 | kind) -> action, for sites < _tsize
    cdef uint8_t* _role      # site -> role code (bit 7: rss is looked for)
    cdef Py_ssize_t _tsize
    cdef bint _payloads

    def __dealloc__(self):
        free(self._act)
        free(self._role)
        free(self._has_dur)

    def _setup(self):
        """Build the C tables from the dispatch PassBase decided; called once by __init__."""
        always, cond = self._always, self._cond
        sids = list(self.roles)
        self._tsize = min(max(sids) + 1, TABLE_MAX) if sids else 1
        self._act = <uint8_t*>calloc(self._tsize * 4, 1)
        self._role = <uint8_t*>calloc(self._tsize, 1)
        self._has_dur = <uint8_t*>calloc(self._tsize, 1)
        if self._act == NULL or self._role == NULL or self._has_dur == NULL:
            raise MemoryError()
        self._oc = _SpanMap()
        self._cp = _Path()
        self._rep = _SpanMap()
        self._tool_rows = [None] * self._tsize
        for code, h in always.items():
            if code >> 2 < self._tsize:
                self._act[code] = A_ALWAYS | <uint8_t>_HANDLERS[h]
        for code, h in cond.items():
            if code >> 2 < self._tsize:
                self._act[code] = A_COND | <uint8_t>_HANDLERS[h]
        for sid, role in self.roles.items():
            if sid < self._tsize:
                self._role[sid] = <uint8_t>_ROLE_CODES.get(role, 0)
        for sid in self._rss_sites:
            if sid < self._tsize:
                self._role[sid] |= 0x80
        self._payloads = bool(always or cond)
        self.open_children = None   # kept in the C map _oc
        self.open = self._open = _SpanMap()
        # only a PriceTable's lookup is known to be a pure function of the model
        self._prices_seen = {} if type(self.prices) is PriceTable else None

    def _path_children(self):
        """The critical path's state as the twin holds it: {span: Children}."""
        return self._cp.materialize()

    cdef inline int _action(self, uint32_t s, int k) except -1:
        cdef object h
        if s < self._tsize:
            return self._act[(s << 2) | k]
        code = (s << 2) | k
        h = self._always.get(code, False)
        if h is not False:
            return A_ALWAYS | <int>_HANDLERS[h]
        h = self._cond.get(code, False)
        if h is not False:
            return A_COND | <int>_HANDLERS[h]
        return 0

    cdef inline int _role_at(self, uint32_t s) except -1:
        if s < self._tsize:
            return self._role[s] & 0x7F
        return _ROLE_CODES.get(self.roles.get(s), 0)

    cdef inline bint _rss_at(self, uint32_t s) except -1:
        if s < self._tsize:
            return self._role[s] & 0x80
        return s in self._rss_sites

    cdef inline object _ctext(self, object value):
        """PassBase._text without a Python call for a str or None."""
        if value is None or type(value) is str:
            return value or None
        return self._text(value)

    cdef inline object _nm(self, object s):
        name = self._names.get(s)
        if name is None:
            name = self._name(s)
        return name

    def feed(self, batch):
        cdef Py_ssize_t n = len(batch)
        if n == 0:
            return
        cdef array a_ts = _col(batch.ts, "q")
        cdef array a_site = _col(batch.site, "I")
        cdef array a_kind = _col(batch.kind, "B")
        cdef array a_span = _col(batch.span, "I")
        cdef array a_par = _col(batch.parent, "I")
        cdef long long* ts = a_ts.data.as_longlongs
        cdef unsigned int* site = a_site.data.as_uints
        cdef unsigned char* kind = a_kind.data.as_uchars
        cdef unsigned int* span = a_span.data.as_uints
        cdef unsigned int* parent = a_par.data.as_uints
        if self.first_ts is None:
            self.first_ts = ts[0]
        self.last_ts = ts[n - 1]
        cdef long long base = self.base
        self.base += n
        cdef Py_ssize_t i, nend = 0, nerr = 0
        cdef unsigned char k
        cdef _SpanMap open_ = self._open
        cdef dict inst = <dict>self.instants
        cdef object cnt, s
        # starts and instants
        for i in range(n):
            k = kind[i]
            if k == 0:
                open_.put(span[i], ts[i], parent[i], site[i])
                self._oc.count_add(parent[i])
            elif k == 3:
                s = site[i]
                cnt = inst.get(s)
                inst[s] = 1 if cnt is None else cnt + 1
            else:
                nend += 1
                if k == 2:
                    nerr += 1
        if self._payloads:
            self._payload_events(batch, n, ts, site, kind, span, parent)
        if self._rep.n:
            self._repeated_ends(n, ts, site, kind, span)
        if nerr:
            for i in range(n):
                if kind[i] == 2:
                    self._error_end(batch, i, base + i)
        if nend:
            self._ends(n, base, ts, site, kind, span, nend)

    cdef int _payload_events(self, batch, Py_ssize_t n, long long* ts, unsigned int* site,
                             unsigned char* kind, unsigned int* span,
                             unsigned int* parent) except -1:
        cdef object lengths = getattr(batch, "lengths", None)
        cdef array a_len = None
        cdef unsigned int* plen = NULL
        if lengths is not None:
            a_len = _col(lengths, "I")
            plen = a_len.data.as_uints
        cdef object get = batch.payload_get
        cdef Py_ssize_t i
        cdef int k, a, h
        cdef uint32_t s
        cdef bint has
        cdef dict data
        cdef object rss
        # A reader batch's payload_get is two Python calls deep; with no llm history put
        # back it is the decoder's payload_get on the chunk body, called here directly.
        cdef object decode = None, body = None, offsets = None
        cdef Py_ssize_t pbase = 0
        cdef object direct = batch.direct_get() if plen != NULL and type(batch) is _ReaderBatch else None
        if direct is not None:
            decode, body, pbase, offsets = direct
        for i in range(n):
            s = site[i]
            k = kind[i]
            if k > 3:
                k = 1
            a = self._action(s, k)
            if a == 0:
                continue
            has = plen == NULL or plen[i] != 0
            if not has and not (a & A_ALWAYS):
                continue
            if not has:
                data = _EMPTY
            elif decode is None:
                data = get(i, _KEYS)
            else:
                try:
                    data = decode(body, pbase + offsets[i], plen[i], _KEYS)
                except TraceFormatError as exc:
                    batch.undecodable(i, exc)
                    data = {}
            if has and "rss" in data and self._rss_at(s):
                rss = data["rss"]
                if type(rss) is int and 0 <= rss < _MAX_COUNT:
                    self._rss(ts[i], rss, self.roles.get(s, ""), s, k, span[i])
                elif rss is not None:
                    self.unusable += 1
            h = a & 0x0F
            if h == H_LLM_END:
                self._llm_end(ts[i], s, span[i], data)
            elif h == H_TOOL_START:
                self._tool_start(s, span[i], parent[i], data)
            elif h == H_LLM_START:
                if data:
                    self.llm_info[span[i]] = (self._ctext(data.get("model")),
                                              self._ctext(data.get("provider")))
            elif h == H_SCOPE_END:
                if self.tool_seen:
                    self.tool_seen.pop(span[i], None)
            elif h == H_ERROR:
                self._error(batch, i, data)
            elif h == H_PROMPT_END:
                self._prompt_end(batch, i, data)
        return 0

    cdef int _repeated_ends(self, Py_ssize_t n, long long* ts, unsigned int* site,
                            unsigned char* kind, unsigned int* span) except -1:
        """The time of repeated tool calls that end in this batch (their starts are filed)."""
        cdef Py_ssize_t i
        cdef unsigned char k
        cdef OSlot gone
        cdef OSlot* rec
        cdef list row
        for i in range(n):
            k = kind[i]
            if k == 0 or k == 3:
                continue
            if self._rep.take(span[i], &gone):
                rec = self._open.find(span[i])
                if rec != NULL:
                    # a span id reused by another site (a damaged trace) has no tool row
                    row = self._tool_row(site[i], False)
                    if row is not None:
                        row[1] += ts[i] - rec.st
        return 0

    cdef list _tool_row(self, uint32_t s, bint make):
        """tool_repeated's row of site `s`'s name; `make`: filed if there is none."""
        cdef object row = self._tool_rows[s] if s < self._tsize else None
        if row is None:
            name = self._nm(s)
            row = self.tool_repeated.get(name)
            if row is None and make:
                row = self.tool_repeated[name] = [0, 0, 0]
            if row is not None and s < self._tsize:
                self._tool_rows[s] = row
        return row

    cdef int _ends(self, Py_ssize_t n, long long base, long long* ts, unsigned int* site,
                   unsigned char* kind, unsigned int* span, Py_ssize_t nend) except -1:
        """Pair the ends of one batch with their starts: durations, slow spans, the path."""
        cdef _SpanMap open_ = self._open
        cdef OSlot o
        cdef dict durations = self.durations
        cdef dict failed = <dict>self.failed
        cdef list slow = self.slow
        cdef Py_ssize_t* idx = <Py_ssize_t*>malloc(nend * sizeof(Py_ssize_t))
        cdef long long* st = <long long*>malloc(nend * sizeof(long long))
        cdef unsigned int* par = <unsigned int*>malloc(nend * sizeof(unsigned int))
        if idx == NULL or st == NULL or par == NULL:
            free(idx)
            free(st)
            free(par)
            raise MemoryError()
        cdef Py_ssize_t i, j, m = 0
        cdef unsigned char k
        cdef object s_o, cnt, item
        cdef bint fresh = False
        cdef long long d, t, slow_min
        cdef unsigned int s, last_site = 0
        cdef array arr = None
        cdef Py_ssize_t alen
        cdef set here
        try:
            for i in range(n):
                k = kind[i]
                if k == 0 or k == 3:
                    continue
                if not open_.take(span[i], &o):
                    self.orphans += 1
                    continue
                idx[m] = i
                st[m] = o.st
                par[m] = o.par
                m += 1
                if not fresh:
                    s = site[i]
                    if s >= self._tsize or not self._has_dur[s]:
                        if s in durations:
                            if s < self._tsize:
                                self._has_dur[s] = 1
                        else:
                            fresh = True
            if m == 0:
                return 0
            if fresh:
                # as the twin does: new sites get their arrays in the order of a set of them
                here = set()
                for j in range(m):
                    here.add(site[idx[j]])
                for s_o in here:
                    if s_o not in durations:
                        durations[s_o] = _array("q")
            slow_min = slow[0][0] if len(slow) >= C_SLOW_K else -1
            for j in range(m):
                i = idx[j]
                t = ts[i]
                s = site[i]
                d = t - st[j]
                if arr is None or s != last_site:
                    arr = <array>durations[s]
                    last_site = s
                alen = len(arr)
                resize_smart(arr, alen + 1)
                arr.data.as_longlongs[alen] = d
                k = kind[i]
                if k != 1:
                    s_o = s
                    cnt = failed.get(s_o)
                    failed[s_o] = 1 if cnt is None else cnt + 1
                if d > slow_min:
                    item = (d, base + i, span[i], s, st[j])
                    if len(slow) < C_SLOW_K:
                        _heappush(slow, item)
                    else:
                        _heappushpop(slow, item)
                    slow_min = slow[0][0] if len(slow) >= C_SLOW_K else -1
                self._cp.end(span[i], par[j], st[j], t, s, self._oc.count_take(par[j]) <= 0)
        finally:
            free(idx)
            free(st)
            free(par)
        return 0

    cdef int _llm_end(self, long long ts, uint32_t s, uint32_t sp, dict data) except -1:
        cdef object sp_o = sp
        cdef object model, provider, cost, usage, name, tokens, asp_o
        cdef object aname, key
        cdef int64_t p, c, t, dur
        cdef OSlot* rec = self._open.find(sp)
        cdef OSlot* arec
        cdef bint has_rec = rec != NULL
        cdef uint32_t asp = rec.par if has_rec else 0, asite
        cdef tuple info = self.llm_info.pop(sp_o, None)
        if info is None:
            model = provider = None
        else:
            model, provider = info
        model = model or self._ctext(data.get("model"))
        dur = ts - rec.st if has_rec else 0
        usage = data.get("usage")
        if isinstance(usage, dict):
            p = _int(_get(usage, "prompt_tokens", _get(usage, "input_tokens", None)))
            c = _int(_get(usage, "completion_tokens", _get(usage, "output_tokens", None)))
            t = _int(_get(usage, "total_tokens", None))
            if p < 0 or c < 0 or t < 0:
                self.unusable += (p < 0) + (c < 0) + (t < 0)
                p, c, t = max(p, 0), max(c, 0), max(t, 0)
            t = t or p + c
        else:
            p = c = t = 0
            if usage is not None:
                self.unusable += 1
        if p or c or t:
            # PriceTable.cost without a Python call per llm call: the price of a model
            # cannot change during a pass, so it is looked up once per (model, mock)
            price = (_FREE if provider == "mock"
                     else self._prices_seen.get(model, _UNSEEN) if self._prices_seen is not None
                     else _UNSEEN)
            if price is _UNSEEN:
                price = self.prices.lookup(model, provider)
                if self._prices_seen is not None:
                    self._prices_seen[model] = price
            if price is None:
                cost = self.prices.cost(model, provider, p, c)   # notes the unpriced model
            else:
                cost = (p * (<tuple>price)[0] + c * (<tuple>price)[1]) / 1000.0
        else:
            cost = 0.0
        if cost is None:
            est = data.get("cost_estimate")
            if est is not None:
                cost = self._amount(est)
        name = self._nm(s)
        tokens = self.by_llm.get(name)
        if tokens is None:
            tokens = self.by_llm[name] = Tokens.__new__(Tokens)
        (<Tokens>tokens)._add(p, c, t, cost, model, dur)
        (<Tokens>self.total)._add(p, c, t, cost, model, dur)
        if not has_rec:
            return 0
        cdef set seen = None
        cdef int role, first_role = 0
        cdef object first_name = None
        cdef bint fresh
        cdef Py_ssize_t _
        cdef _SpanMap open_ = self._open
        cdef dict table
        cdef list acc
        for _ in range(C_MAX_ANCESTORS):
            arec = open_.find(asp)
            if arec == NULL:
                break
            asite = arec.site
            role = self._role_at(asite)
            if role == R_AGENT or role == R_CHAIN:
                aname = self._nm(asite)
                # (role, name) once per call: most calls have one agent or chain above
                if first_role == 0:
                    first_role, first_name, fresh = role, aname, True
                else:
                    if seen is None:
                        seen = {(first_role, first_name)}
                    key = (role, aname)
                    fresh = key not in seen
                    if fresh:
                        seen.add(key)
                if fresh:
                    table = self.by_agent if role == R_AGENT else self.by_chain
                    tokens = table.get(aname)
                    if tokens is None:
                        tokens = table[aname] = Tokens.__new__(Tokens)
                    (<Tokens>tokens)._add(p, c, t, cost, model, dur)
            elif role == R_PROMPT and self._errors_on:
                asp_o = asp
                acc = self.by_prompt_acc.get(asp_o)
                if acc is None:
                    acc = self.by_prompt_acc[asp_o] = [0, 0, 0.0, 0, 0.0, 0, 0]
                acc[0] += 1
                acc[1] += t
                acc[2] += cost or 0.0
                acc[3] = t
                acc[4] = cost or 0.0
                acc[5] += dur
                acc[6] = dur
            asp = arec.par
        return 0

    cdef int _tool_start(self, uint32_t s, uint32_t sp, uint32_t parent, dict data) except -1:
        cdef object scope = 0, sid = s, args
        cdef uint32_t asp = parent
        cdef OSlot* arec
        cdef _SpanMap open_ = self._open
        cdef Py_ssize_t _
        cdef int role
        cdef list row
        cdef set seen
        for _ in range(C_MAX_ANCESTORS):
            arec = open_.find(asp)
            if arec == NULL:
                break
            role = self._role_at(arec.site)
            if role == R_AGENT or role == R_CHAIN:
                scope = asp
                break
            asp = arec.par
        row = self._tool_row(s, True)
        row[2] += 1
        args = data.get("arguments")
        key = (sid, "None" if args is None else _fingerprint(args))
        seen = self.tool_seen.get(scope)
        if seen is None:
            seen = self.tool_seen[scope] = set()
        if key in seen:
            row[0] += 1
            self._rep.put(sp, 0, 0, 0)
        elif len(seen) < C_MAX_SEEN:
            seen.add(key)
        return 0


class Pass(PassBase, _CPass):
    """The analysis pass, one batch at a time, compiled."""

    Tokens = Tokens
    Children = Children
    core = "c"

    def __init__(self, *args, **kwargs):
        PassBase.__init__(self, *args, **kwargs)
        self._setup()

    def close_open(self):
        self.children = self._path_children()
        return PassBase.close_open(self)

    def summarize(self, durations, failed=0):
        return _summarize(durations, failed)
