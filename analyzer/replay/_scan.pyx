# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled core of the answer book's scan: the twin of `pyscan.py`, with the same book.

It walks a batch's columns through their C buffers, reads each boundary's hash from its
payload's tail in the chunk body without copying it, decodes answers with the reader
core's plain decoder called directly, and checks the common answer shapes on exact types.
Everything else goes to the same `slow` handlers as the twin's, in the same order.
"""
from cpython.array cimport array
from cpython.dict cimport PyDict_DelItem, PyDict_GetItem, PyDict_SetItem
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memcmp

from array import array as _array

from n3core.tracing.payload import NotPlain
from n3core.tracing.reqhash import TAIL_BYTES, TAIL_PREFIX, recorded_digest

from .entry import LAZY, Entry
from .keys import ORDINALS

IS_COMPILED = True

cdef bytes _PREFIX = TAIL_PREFIX
cdef Py_ssize_t _PREFIX_N = len(TAIL_PREFIX)
cdef Py_ssize_t _TAIL_N = TAIL_BYTES
cdef tuple _ORD = ORDINALS
cdef Py_ssize_t _NORD = len(ORDINALS)
cdef str _OK = "ok"
cdef str _ERROR = "error"
cdef str _LLM = "llm"
cdef str _CLOCK = "clock"


cdef array _col(object values, str code):
    if isinstance(values, array) and (<array>values).typecode == code:
        return <array>values
    return _array(code, values)


cdef list _by_id(dict table, Py_ssize_t size):
    cdef list out = [None] * size
    for sid, value in table.items():
        if 0 <= sid < size:
            out[sid] = value
    return out


cdef object _LAZY = LAZY


cdef class BookScan:
    """The keys of the open spans and the calls still waiting for their answer (see
    `pyscan.BookScan`, whose interface this is)."""

    cdef object book, slow, roots
    cdef dict sites, names, boundary, entries
    cdef list names_by_id, kinds_by_id
    cdef Py_ssize_t size
    cdef bint check
    cdef public dict paths, counts, open
    cdef public Py_ssize_t seq
    cdef public bint rooted

    def __init__(self, book, dict sites, dict names, dict boundary, roots, slow, bint check):
        self.book, self.sites, self.names, self.boundary = book, sites, names, boundary
        self.roots, self.slow, self.check = roots, slow, check
        self.entries = book.entries
        # site ids are small and dense; larger ones (a header's own business) use the dicts
        self.size = min(max([sid for sid in sites if type(sid) is int and sid >= 0] or [0]) + 1,
                        1 << 16)
        self.names_by_id = _by_id(names, self.size)
        self.kinds_by_id = _by_id(boundary, self.size)
        self.paths, self.counts, self.open = {}, {}, {}
        self.seq = 0
        self.rooted = False

    cdef inline object _name(self, unsigned int site):
        cdef object name = self.names_by_id[site] if site < <size_t>self.size else self.names.get(site)
        return name if name else f"site:{site}"

    cdef inline object _kind(self, unsigned int site):
        return self.kinds_by_id[site] if site < <size_t>self.size else self.boundary.get(site)

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
        decode, body_o, base_o, offsets, lengths = batch.direct_plain()
        cdef bytes body = body_o
        cdef Py_ssize_t base = base_o, blen = len(body)
        cdef array a_off = _col(offsets, "I")
        cdef array a_len = _col(lengths, "I")
        cdef unsigned int* off = a_off.data.as_uints
        cdef unsigned int* plen = a_len.data.as_uints
        cdef const unsigned char* buf = body
        cdef const unsigned char* tail
        cdef dict paths = self.paths, counts = self.counts, open_calls = self.open
        cdef dict below
        cdef PyObject* found
        cdef Py_ssize_t i, j, at, count
        cdef unsigned char k
        cdef object sp, par, key, path, above, call_kind, digest, request, call
        cdef str suffix
        cdef object chunk = batch.seq
        for i in range(n):
            k = kind[i]
            if k == 0:
                key = self._name(site[i])
                par = parent[i]
                found = PyDict_GetItem(counts, par)
                if found == NULL:
                    below = {}
                    PyDict_SetItem(counts, par, below)
                else:
                    below = <dict>found
                found = PyDict_GetItem(below, key)
                count = 1 if found == NULL else (<object>found) + 1
                PyDict_SetItem(below, key, count)
                found = PyDict_GetItem(paths, par)
                above = <object>found if found != NULL else None
                suffix = <str>_ORD[count] if count < _NORD else f"#{count}"
                path = f"{above} / {key}{suffix}" if above else key + suffix
                sp = span[i]
                PyDict_SetItem(paths, sp, path)
                call_kind = self._kind(site[i])
                if call_kind is not None:
                    digest = None
                    at = base + off[i]
                    if plen[i] >= _TAIL_N and at + plen[i] <= blen:
                        tail = buf + at + plen[i] - _TAIL_N
                        if memcmp(tail, <const char*>_PREFIX, _PREFIX_N) == 0:
                            for j in range(_PREFIX_N, _TAIL_N):
                                if tail[j] >= 0x80:
                                    break
                            else:
                                digest = PyUnicode_DecodeASCII(<const char*>tail + _PREFIX_N,
                                                               _TAIL_N - _PREFIX_N, NULL)
                    elif plen[i] >= _TAIL_N:  # offsets past the body: the batch's own path
                        digest = recorded_digest(batch.raw_payload(i))
                    if digest is None:
                        request, digest = self.slow.request(batch, i)
                    else:
                        request = _LAZY
                    self.seq += 1
                    PyDict_SetItem(open_calls, sp, Entry(
                        path, call_kind, self.sites[site[i]], request, digest, self.seq, ts[i],
                        0, "", None, self.book, (chunk, i)))
                elif not self.rooted and parent[i] == 0 and site[i] in self.roots:
                    self.rooted = True
                    self.slow.root(self.sites[site[i]], batch, i)
            elif k == 3:
                if site[i] == 0:
                    found = PyDict_GetItem(paths, parent[i])
                    self.slow.error(<object>found if found != NULL else "", batch, i)
            else:
                sp = span[i]
                if PyDict_GetItem(counts, sp) != NULL:
                    PyDict_DelItem(counts, sp)
                if PyDict_GetItem(paths, sp) != NULL:
                    PyDict_DelItem(paths, sp)
                if not open_calls:
                    continue
                found = PyDict_GetItem(open_calls, sp)
                if found == NULL:
                    continue
                call = <object>found
                PyDict_DelItem(open_calls, sp)
                call.end_ns = ts[i]
                call.outcome = _OK if k == 1 else _ERROR
                self._answer(call, k != 1, batch, i, decode, body, base + off[i], plen[i])
                PyDict_SetItem(self.entries, call.key, call)
        self.book.events += n

    cdef int _answer(self, call, bint error, batch, Py_ssize_t i, decode, bytes body,
                     Py_ssize_t at, Py_ssize_t size) except -1:
        cdef object answer
        try:
            answer = decode(body, at, size) if size else None
        except Exception:  # undecodable or not plain: the batch's own path tells which
            try:
                answer = batch.recorded(i, True)
            except NotPlain:
                self.slow.answer(call, batch, i)
                return 0
        call.answer = answer
        if self.check and not _quick(call.kind, error, answer):
            self.slow.check(call)
        return 0


cdef bint _quick(object kind, bint error, object answer):
    """`pyscan.quick`: the shape the runtime records, on exact types."""
    if type(answer) is not dict:
        return False
    cdef dict d = <dict>answer
    if error:
        return type(d.get("type")) is str and type(d.get("message")) is str
    if kind == _LLM:
        return _llm(d)
    cdef PyObject* out = PyDict_GetItem(d, "output")
    if out == NULL:
        return False
    if kind != _CLOCK:
        return True
    return type(<object>out) is int or type(<object>out) is float or type(<object>out) is str


cdef bint _llm(dict answer):
    if type(answer.get("text")) is not str:
        return False
    calls, usage = answer.get("tool_calls"), answer.get("usage")
    if type(calls) is not list:
        return False
    for call in <list>calls:
        if (type(call) is not dict or type((<dict>call).get("name")) is not str
                or type((<dict>call).get("arguments")) is not dict):
            return False
    if usage is None:
        return True
    if type(usage) is not dict:
        return False
    return (type((<dict>usage).get("prompt_tokens")) is int
            and type((<dict>usage).get("completion_tokens")) is int
            and type((<dict>usage).get("total_tokens")) is int)
