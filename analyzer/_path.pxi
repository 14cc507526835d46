# The critical path in C arrays, included by _pass.pyx: the twin of critical_path.py.
#
# A node is a struct in a pool, not an 8-tuple; an open parent's children are an array of
# node ids, not a Children object in a dict; a folded summary is a small array of
# (site, count, self_ns) rows in first-seen order, not a dict of lists. The walk, the
# folding and their order are the twin's, so that `materialize` hands the result code the
# very tuples, lists and dicts the twin would hold at the end of the trace.

cdef struct Summ:
    Py_ssize_t n, cap
    uint32_t* site
    int64_t* cnt
    int64_t* ns
    int32_t* index      # site hash -> row + 1, once the rows outgrow a linear scan
    Py_ssize_t icap


cdef struct Node:
    int64_t start, end, self_ns, size
    uint32_t site, span
    int32_t* kids       # NULL: no explicit kids
    Py_ssize_t nkids
    Summ* summ          # NULL: nothing folded below


cdef struct Kin:       # the closed children of one open parent
    int32_t* items
    Py_ssize_t n, cap, fixed
    Summ* summ
    int64_t covered, folded, size


cdef enum:
    SUMM_LINEAR = 8


cdef Summ* _summ_new() except NULL:
    cdef Summ* s = <Summ*>calloc(1, sizeof(Summ))
    if s == NULL:
        raise MemoryError()
    return s


cdef void _summ_free(Summ* s) noexcept nogil:
    if s != NULL:
        free(s.site)
        free(s.cnt)
        free(s.ns)
        free(s.index)
        free(s)


cdef inline size_t _summ_home(uint32_t site, Py_ssize_t icap) noexcept nogil:
    cdef uint64_t h = (<uint64_t>site * <uint64_t>11400714819323198485ULL) >> 32
    return <size_t>h & <size_t>(icap - 1)


cdef int _summ_reindex(Summ* s) except -1:
    cdef Py_ssize_t icap = 16, r
    cdef size_t h
    while icap < s.cap * 2:
        icap *= 2
    free(s.index)
    s.index = <int32_t*>calloc(icap, sizeof(int32_t))
    if s.index == NULL:
        raise MemoryError()
    s.icap = icap
    for r in range(s.n):
        h = _summ_home(s.site[r], icap)
        while s.index[h]:
            h = (h + 1) & <size_t>(icap - 1)
        s.index[h] = <int32_t>(r + 1)
    return 0


cdef int _summ_add(Summ* s, uint32_t site, int64_t cnt, int64_t ns) except -1:
    """row[site] += (cnt, ns), a new row going last, as a dict keeps insertion order."""
    cdef Py_ssize_t r, cap
    cdef size_t h = 0
    if s.index == NULL:
        for r in range(s.n):
            if s.site[r] == site:
                s.cnt[r] += cnt
                s.ns[r] += ns
                return 0
    else:
        h = _summ_home(site, s.icap)
        while s.index[h]:
            r = s.index[h] - 1
            if s.site[r] == site:
                s.cnt[r] += cnt
                s.ns[r] += ns
                return 0
            h = (h + 1) & <size_t>(s.icap - 1)
    if s.n == s.cap:
        cap = s.cap * 2 if s.cap else 4
        s.site = <uint32_t*>_grow(s.site, cap * sizeof(uint32_t))
        s.cnt = <int64_t*>_grow(s.cnt, cap * sizeof(int64_t))
        s.ns = <int64_t*>_grow(s.ns, cap * sizeof(int64_t))
        s.cap = cap
    r = s.n
    s.site[r] = site
    s.cnt[r] = cnt
    s.ns[r] = ns
    s.n += 1
    if s.n > SUMM_LINEAR and (s.index == NULL or s.cap * 2 > s.icap):
        _summ_reindex(s)
    elif s.index != NULL:
        s.index[h] = <int32_t>(r + 1)
    return 0


cdef void* _grow(void* p, size_t size) except NULL:
    cdef void* q = realloc(p, size)
    if q == NULL:
        raise MemoryError()
    return q


cdef class _Path:
    """Open parents' children and the closed nodes they hold, in pools of structs."""

    cdef Node* nodes
    cdef Py_ssize_t ncap, nused
    cdef int32_t* nfree
    cdef Py_ssize_t nfree_n, nfree_cap
    cdef Kin* kins
    cdef Py_ssize_t kcap, kused
    cdef int32_t* kfree
    cdef Py_ssize_t kfree_n, kfree_cap
    cdef int32_t* stack
    cdef Py_ssize_t stack_cap
    cdef _SpanMap by_span    # open parent span -> its Kin (in `st`), filed in dict order

    def __cinit__(self):
        self.by_span = _SpanMap()

    def __dealloc__(self):
        cdef Py_ssize_t i
        cdef bytearray gone
        if self.nodes != NULL:
            # a node is live unless its id is on the free list
            gone = bytearray(self.nused)
            for i in range(self.nfree_n):
                gone[self.nfree[i]] = 1
            for i in range(self.nused):
                if not gone[i]:
                    free(self.nodes[i].kids)
                    _summ_free(self.nodes[i].summ)
        if self.kins != NULL:
            gone = bytearray(self.kused)
            for i in range(self.kfree_n):
                gone[self.kfree[i]] = 1
            for i in range(self.kused):
                if not gone[i]:
                    free(self.kins[i].items)
                    _summ_free(self.kins[i].summ)
        free(self.nodes)
        free(self.nfree)
        free(self.kins)
        free(self.kfree)
        free(self.stack)

    # -- pools --------------------------------------------------------------------------

    cdef int32_t _node(self, int64_t start, int64_t end, uint32_t site, uint32_t span,
                       int64_t self_ns, int64_t size) except -1:
        cdef int32_t i
        if self.nfree_n:
            self.nfree_n -= 1
            i = self.nfree[self.nfree_n]
        else:
            if self.nused == self.ncap:
                self.ncap = self.ncap * 2 if self.ncap else 1024
                self.nodes = <Node*>_grow(self.nodes, self.ncap * sizeof(Node))
            i = <int32_t>self.nused
            self.nused += 1
        cdef Node* nd = &self.nodes[i]
        nd.start, nd.end, nd.site, nd.span = start, end, site, span
        nd.self_ns, nd.size = self_ns, size
        nd.kids, nd.nkids, nd.summ = NULL, 0, NULL
        return i

    cdef int _release(self, int32_t i) except -1:
        cdef Node* nd = &self.nodes[i]
        free(nd.kids)
        _summ_free(nd.summ)
        nd.kids, nd.summ = NULL, NULL
        if self.nfree_n == self.nfree_cap:
            self.nfree_cap = self.nfree_cap * 2 if self.nfree_cap else 1024
            self.nfree = <int32_t*>_grow(self.nfree, self.nfree_cap * sizeof(int32_t))
        self.nfree[self.nfree_n] = i
        self.nfree_n += 1
        return 0

    cdef Py_ssize_t _kin_new(self, uint32_t span) except -1:
        cdef Py_ssize_t i
        if self.kfree_n:
            self.kfree_n -= 1
            i = self.kfree[self.kfree_n]
        else:
            if self.kused == self.kcap:
                self.kcap = self.kcap * 2 if self.kcap else 256
                self.kins = <Kin*>_grow(self.kins, self.kcap * sizeof(Kin))
            i = self.kused
            self.kused += 1
        memset(&self.kins[i], 0, sizeof(Kin))
        self.by_span.put(span, i, 0, 0)
        return i

    cdef int _kin_free(self, Py_ssize_t i) except -1:
        if self.kfree_n == self.kfree_cap:
            self.kfree_cap = self.kfree_cap * 2 if self.kfree_cap else 256
            self.kfree = <int32_t*>_grow(self.kfree, self.kfree_cap * sizeof(int32_t))
        self.kfree[self.kfree_n] = <int32_t>i
        self.kfree_n += 1
        return 0

    cdef int _push(self, Py_ssize_t depth, int32_t node) except -1:
        if depth == self.stack_cap:
            self.stack_cap = self.stack_cap * 2 if self.stack_cap else 256
            self.stack = <int32_t*>_grow(self.stack, self.stack_cap * sizeof(int32_t))
        self.stack[depth] = node
        return 0

    # -- the walk -----------------------------------------------------------------------

    cdef int _fold(self, int32_t node, Summ* into) except -1:
        """critical_path.fold, freeing the nodes it adds: a folded node is gone."""
        cdef Py_ssize_t depth = 1, r, c
        cdef Node* nd
        cdef Summ* s
        self._push(0, node)
        while depth:
            depth -= 1
            node = self.stack[depth]
            nd = &self.nodes[node]
            _summ_add(into, nd.site, 1, nd.self_ns)
            s = nd.summ
            if s != NULL:
                for r in range(s.n):
                    _summ_add(into, s.site[r], s.cnt[r], s.ns[r])
            for c in range(nd.nkids):
                self._push(depth, self.nodes[node].kids[c])
                depth += 1
            self._release(node)
        return 0

    cdef int _drop(self, int32_t node) except -1:
        """Free a node and everything under it (a child the backward walk left out)."""
        cdef Py_ssize_t depth = 1, c
        self._push(0, node)
        while depth:
            depth -= 1
            node = self.stack[depth]
            for c in range(self.nodes[node].nkids):
                self._push(depth, self.nodes[node].kids[c])
                depth += 1
            self._release(node)
        return 0

    cdef int _fold_from(self, Kin* k, Py_ssize_t index) except -1:
        cdef Py_ssize_t i
        cdef int32_t nd
        if k.summ == NULL:
            k.summ = _summ_new()
        for i in range(index, k.fixed):
            nd = k.items[i]
            k.covered += self.nodes[nd].end - self.nodes[nd].start
            k.folded += 1
            k.size -= self.nodes[nd].size
            self._fold(nd, k.summ)
        memmove(&k.items[index], &k.items[k.fixed], (k.n - k.fixed) * sizeof(int32_t))
        k.n -= k.fixed - index
        k.fixed = index
        return 0

    cdef int _settle(self, Kin* k, int64_t now) except -1:
        """Children.settle: the tail keeps the kids the backward walk from `now` picks."""
        cdef Py_ssize_t i, w = k.n - 1, kept
        cdef int32_t nd
        cdef int64_t t = now
        for i in range(k.n - 1, k.fixed - 1, -1):
            nd = k.items[i]
            if self.nodes[nd].end <= t:
                t = self.nodes[nd].start
                k.size += self.nodes[nd].size
                k.items[w] = nd
                w -= 1
            else:
                self._drop(nd)
        kept = k.n - 1 - w
        if kept and w + 1 != k.fixed:
            memmove(&k.items[k.fixed], &k.items[w + 1], kept * sizeof(int32_t))
        k.fixed += kept
        k.n = k.fixed
        if k.fixed > KEEP:
            self._fold_from(k, KEEP)
        return 0

    cdef int32_t _close(self, Py_ssize_t ki, int64_t start, int64_t end, uint32_t site,
                        uint32_t span) except -1:
        """Children.close: the parent's node, holding its kids' array and summary."""
        cdef Kin* k = &self.kins[ki]
        cdef Py_ssize_t i
        cdef int64_t covered, size
        self._settle(k, end)
        covered = k.covered
        for i in range(k.n):
            covered += self.nodes[k.items[i]].end - self.nodes[k.items[i]].start
        size = k.size + 1
        if size > NODE_CAP:
            self._fold_from(k, 0)
            size = 1
        cdef int64_t self_ns = end - start - covered
        cdef int32_t node = self._node(start, end, site, span, self_ns if self_ns > 0 else 0,
                                       size)
        cdef Node* nd = &self.nodes[node]
        k = &self.kins[ki]
        if k.n:
            nd.kids, nd.nkids = k.items, k.n
        else:
            free(k.items)
        nd.summ = k.summ
        self._kin_free(ki)
        return node

    cdef int end(self, uint32_t span, uint32_t par, int64_t st, int64_t t, uint32_t site,
                 bint last_open) except -1:
        """One span ended: its node joins its parent's children, as _ends did with tuples.
        `last_open`: no other child of the parent is open any more."""
        cdef OSlot o
        cdef int32_t node
        cdef Py_ssize_t pi, f
        cdef Kin* pk
        cdef OSlot* rec
        if self.by_span.take(span, &o):
            node = self._close(<Py_ssize_t>o.st, st, t, site, span)
        else:
            node = self._node(st, t, site, span, t - st, 1)
        rec = self.by_span.find(par)
        pi = self._kin_new(par) if rec == NULL else <Py_ssize_t>rec.st
        pk = &self.kins[pi]
        if pk.n == pk.cap:
            pk.cap = pk.cap * 2 if pk.cap else 4
            pk.items = <int32_t*>_grow(pk.items, pk.cap * sizeof(int32_t))
        pk.items[pk.n] = node
        pk.n += 1
        if not last_open:
            return 0
        f = pk.fixed
        if pk.n - f == 1 and (f == 0 or self.nodes[pk.items[f - 1]].end <= st):
            pk.fixed = f + 1
            pk.size += self.nodes[node].size
            if f >= KEEP:
                self._fold_from(pk, KEEP)
        else:
            self._settle(pk, t)
        return 0

    # -- the end of the trace -----------------------------------------------------------

    cdef object _summary(self, Summ* s):
        if s == NULL:
            return None
        cdef dict out = {}
        cdef Py_ssize_t r
        for r in range(s.n):
            out[s.site[r]] = [s.cnt[r], s.ns[r]]
        return out

    cdef tuple _tuple(self, int32_t node):
        cdef Node* nd = &self.nodes[node]
        cdef list kids = None
        cdef Py_ssize_t c
        if nd.nkids:
            kids = [self._tuple(nd.kids[c]) for c in range(nd.nkids)]
        nd = &self.nodes[node]
        return (nd.start, nd.end, nd.site, nd.span, kids, self._summary(nd.summ), nd.self_ns,
                nd.size)

    def materialize(self):
        """{span: Children} of the open parents, in the order the twin's dict has them."""
        cdef dict out = {}
        cdef Kin* k
        cdef Children ch
        cdef Py_ssize_t i
        for span, (ki, _, _) in self.by_span.items():
            k = &self.kins[<Py_ssize_t>ki]
            ch = Children.__new__(Children)
            ch.kids = [self._tuple(k.items[i]) for i in range(k.n)]
            ch.fixed = k.fixed
            ch.summary = self._summary(k.summ)
            ch.covered = k.covered
            ch.folded = k.folded
            ch.size = k.size
            out[span] = ch
        return out
